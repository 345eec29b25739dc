package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Reduce;

/**
 * The Reduce family (Mean, Sum, Max, Min, Prod, L1, L2, SumSquare, LogSum, LogSumExp). The axes are an attribute until
 * they became an input: at opset 13 for ReduceSum, at 18 for the others.
 */
final class ReduceOps {
    private ReduceOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        reduce(r, "ReduceMean", Reduce.Kind.MEAN, 18);
        reduce(r, "ReduceSum", Reduce.Kind.SUM, 13);
        reduce(r, "ReduceMax", Reduce.Kind.MAX, 18);
        reduce(r, "ReduceMin", Reduce.Kind.MIN, 18);
        reduce(r, "ReduceProd", Reduce.Kind.PROD, 18);
        reduce(r, "ReduceL1", Reduce.Kind.L1, 18);
        reduce(r, "ReduceL2", Reduce.Kind.L2, 18);
        reduce(r, "ReduceSumSquare", Reduce.Kind.SUM_SQUARE, 18);
        reduce(r, "ReduceLogSum", Reduce.Kind.LOG_SUM, 18);
        reduce(r, "ReduceLogSumExp", Reduce.Kind.LOG_SUM_EXP, 18);
    }

    /** {@code op} with its axes as an attribute before {@code axesInputSince}, as an optional input from then on. */
    private static void reduce(ConverterRegistry.Builder r, String op, Reduce.Kind kind, int axesInputSince) {
        r.add(op, 1, axesInputSince - 1, cx -> reduce(cx, kind, cx.attrInts("axes")));
        r.add(op, axesInputSince, cx -> reduce(cx, kind, cx.hasInput(1) ? cx.longsInput(1, op + "'s axes") : null));
    }

    private static void reduce(ImportContext cx, Reduce.Kind kind, long[] axes) {
        boolean keep = cx.attrInt("keepdims", 1) != 0;
        if ((axes == null || axes.length == 0) && cx.attrInt("noop_with_empty_axes", 0) != 0) {
            cx.alias(cx.out(), cx.in(0));
            return;
        }
        cx.emit(cx.out(), Reduce.of(kind, axes == null ? new int[0] : ImportContext.ints(axes), keep), cx.in(0));
    }
}
