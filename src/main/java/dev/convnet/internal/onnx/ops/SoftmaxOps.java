package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Softmax;
import dev.convnet.shape.Shape;

/**
 * Softmax, LogSoftmax and Hardmax. Before opset 13 the axis defaults to 1 and the input is coerced to 2-D at the axis
 * (every axis from it on is one row); from 13 on the axis defaults to −1 and only that axis is normalized.
 */
final class SoftmaxOps {
    private SoftmaxOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        for (AxisSoftmax.Function f : AxisSoftmax.Function.values()) {
            String op = switch (f) {
                case SOFTMAX -> "Softmax";
                case LOG_SOFTMAX -> "LogSoftmax";
                case HARDMAX -> "Hardmax";
            };
            r.add(op, 1, 12, cx -> softmax(cx, f, true));
            r.add(op, 13, cx -> softmax(cx, f, false));
        }
    }

    /** @param coerced2d the opset's semantics: the input seen as 2-D at the axis, default axis 1 */
    private static void softmax(ImportContext cx, AxisSoftmax.Function f, boolean coerced2d) {
        int axis = (int) cx.attrInt("axis", coerced2d ? 1 : -1);
        Shape s = cx.shapeOf(cx.in(0));
        int rank = s.rank();
        int a = axis < 0 ? axis + rank : axis;
        boolean coerce = coerced2d && a < rank - 1;
        if (f == AxisSoftmax.Function.SOFTMAX && a == 1 && rank >= 2 && (!coerce || rank == 2)) {
            cx.emit(cx.out(), new Softmax(), cx.in(0));
        } else {
            cx.emit(cx.out(), AxisSoftmax.of(f, axis, coerce), cx.in(0));
        }
    }
}
