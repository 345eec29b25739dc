package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Pad;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;

/**
 * Pad (constant, reflect, edge): {@code paddings} and {@code value} attributes at opset 1, {@code pads} and
 * {@code value} attributes at opsets 2–10, inputs (pads, constant value, axes) from 11 on.
 */
final class PadOps {
    private PadOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Pad", 1, 1, cx -> pad(cx, mode(cx), cx.attrInts("paddings"), cx.attrFloat("value", 0f), null));
        r.add("Pad", 2, 10, cx -> pad(cx, mode(cx), cx.attrInts("pads"), cx.attrFloat("value", 0f), null));
        r.add("Pad", 11, cx -> {
            Pad.Mode m = mode(cx);
            long[] pads = cx.longsInput(1, "Pad's pads");
            float value = cx.hasInput(2) ? cx.scalarInput(2, "Pad's constant_value") : 0f;
            pad(cx, m, pads, value, cx.hasInput(3) ? cx.longsInput(3, "Pad's axes") : null);
        });
    }

    private static Pad.Mode mode(ImportContext cx) {
        String mode = cx.attrString("mode", "constant");
        return switch (mode) {
            case "constant" -> Pad.Mode.CONSTANT;
            case "reflect" -> Pad.Mode.REFLECT;
            case "edge" -> Pad.Mode.EDGE;
            default -> throw cx.unsupported("Pad mode '" + mode + "'");
        };
    }

    /** @param axes the axes {@code pads} is for, or null for every axis */
    private static void pad(ImportContext cx, Pad.Mode m, long[] pads, float value, long[] axes) {
        if (pads == null) throw cx.malformed("no pads");
        int rank = cx.shapeOf(cx.in(0)).rank();
        int[] before = new int[rank];
        int[] after = new int[rank];
        if (axes != null) {
            if (pads.length != 2 * axes.length) throw cx.malformed("pads and axes differ in length");
            for (int i = 0; i < axes.length; i++) {
                int a = (int) (axes[i] < 0 ? axes[i] + rank : axes[i]);
                before[a] = (int) pads[i];
                after[a] = (int) pads[axes.length + i];
            }
        } else {
            if (pads.length != 2 * rank) {
                throw new ShapeException("Pad: pads " + Arrays.toString(pads) + " need 2·rank = " + 2 * rank + " entries");
            }
            for (int i = 0; i < rank; i++) {
                before[i] = (int) pads[i];
                after[i] = (int) pads[rank + i];
            }
        }
        cx.emit(cx.out(), Pad.of(before, after, m, value), cx.in(0));
    }
}
