package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Transpose;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.function.UnaryOperator;
import java.util.stream.IntStream;

/**
 * Flatten, Reshape (target as an attribute before opset 5, an input from 5 on), Squeeze and Unsqueeze (axes as
 * attributes before opset 13, inputs from 13 on) and Transpose. Known tensors are reshaped at import.
 */
final class ReshapeOps {
    private ReshapeOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Flatten", ReshapeOps::flatten);
        r.add("Transpose", ReshapeOps::transpose);
        r.add("Reshape", 1, 4, cx -> reshape(cx, cx.attrInts("shape")));
        r.add("Reshape", 5, cx -> reshape(cx, cx.longsInput(1, "Reshape's shape")));
        r.add("Squeeze", 1, 12, cx -> squeeze(cx, cx.attrInts("axes")));
        r.add("Squeeze", 13, cx -> squeeze(cx, cx.hasInput(1) ? cx.longsInput(1, "Squeeze's axes") : null));
        r.add("Unsqueeze", 1, 12, cx -> unsqueeze(cx, cx.attrInts("axes")));
        r.add("Unsqueeze", 13, cx -> unsqueeze(cx, cx.longsInput(1, "Unsqueeze's axes")));
    }

    private static void flatten(ImportContext cx) {
        int axis = (int) cx.attrInt("axis", 1);
        String x = cx.in(0);
        if (cx.isIntConst(x)) {
            IntFolding.move(cx, Reshape.flatten(axis));
            return;
        }
        Shape s = cx.shapeOf(x);
        int a = axis < 0 ? axis + s.rank() : axis;
        cx.emit(cx.out(), a == 1 && s.rank() >= 2 ? new Flatten() : Reshape.flatten(axis), x);
    }

    private static void transpose(ImportContext cx) {
        long[] perm = cx.attrInts("perm");
        Transpose t = Transpose.of(perm == null ? new int[0] : ImportContext.ints(perm));
        if (cx.isIntConst(cx.in(0))) {
            IntFolding.move(cx, t);
        } else {
            cx.emit(cx.out(), t, cx.in(0));
        }
    }

    private static void reshape(ImportContext cx, long[] shape) {
        if (shape == null) throw cx.malformed("no shape");
        boolean allowZero = cx.attrInt("allowzero", 0) != 0;
        if (allowZero && Arrays.stream(shape).anyMatch(v -> v == 0)) throw cx.unsupported("Reshape to a zero-sized shape");
        to(cx, in -> reshapeDims(in, shape));
    }

    private static void squeeze(ImportContext cx, long[] axes) {
        to(cx, in -> squeezeDims(in, axes));
    }

    private static void unsqueeze(ImportContext cx, long[] axes) {
        if (axes == null) throw cx.malformed("no axes");
        to(cx, in -> unsqueezeDims(in, axes));
    }

    /** Input 0 with the dimensions {@code target} computes from its own: a known tensor reshaped here, else a node. */
    private static void to(ImportContext cx, UnaryOperator<long[]> target) {
        String x = cx.in(0);
        long[] dims = target.apply(cx.onnxDims(x));
        Const c = cx.constant(x);
        if (c != null) {
            cx.define(cx.out(), new Const(dims, c.f(), c.l(), c.type()));
            return;
        }
        if (dims.length == 0) dims = new long[] {1};
        cx.emit(cx.out(), Reshape.to(ImportContext.ints(dims)), x);
    }

    private static long[] reshapeDims(long[] in, long[] shape) {
        long[] out = shape.clone();
        long total = 1;
        for (long d : in) total *= d;
        long known = 1;
        int inferred = -1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == 0) {
                if (i >= in.length) throw new ShapeException("Reshape " + Arrays.toString(shape) + ": 0 at axis " + i + " beyond the input rank " + in.length);
                out[i] = in[i];
            }
            if (out[i] == -1) {
                if (inferred >= 0) throw new ShapeException("Reshape " + Arrays.toString(shape) + ": two −1");
                inferred = i;
            } else if (out[i] < 0) {
                throw new ShapeException("Reshape " + Arrays.toString(shape) + ": size " + out[i]);
            } else {
                known *= out[i];
            }
        }
        if (inferred >= 0) {
            if (known == 0 || total % known != 0) {
                throw new ShapeException("Reshape " + Arrays.toString(shape) + ": " + total + " elements do not divide by " + known);
            }
            out[inferred] = total / known;
        } else if (known != total) {
            throw new ShapeException("Reshape " + Arrays.toString(shape) + ": " + total + " elements, the target has " + known);
        }
        return out;
    }

    private static long[] squeezeDims(long[] in, long[] axes) {
        boolean[] drop = new boolean[in.length];
        if (axes == null || axes.length == 0) {
            for (int i = 0; i < in.length; i++) drop[i] = in[i] == 1;
        } else {
            for (long a : axes) {
                int n = (int) (a < 0 ? a + in.length : a);
                if (n < 0 || n >= in.length || in[n] != 1) {
                    throw new ShapeException("Squeeze: axis " + a + " of " + Arrays.toString(in) + " is not of size 1");
                }
                drop[n] = true;
            }
        }
        return IntStream.range(0, in.length).filter(i -> !drop[i]).mapToLong(i -> in[i]).toArray();
    }

    private static long[] unsqueezeDims(long[] in, long[] axes) {
        int rank = in.length + axes.length;
        boolean[] ins = new boolean[rank];
        for (long a : axes) {
            int n = (int) (a < 0 ? a + rank : a);
            if (n < 0 || n >= rank || ins[n]) {
                throw new ShapeException("Unsqueeze: axis " + a + " is invalid or repeated for output rank " + rank);
            }
            ins[n] = true;
        }
        long[] out = new long[rank];
        int j = 0;
        for (int i = 0; i < rank; i++) out[i] = ins[i] ? 1 : in[j++];
        return out;
    }
}
