package dev.convnet.internal.reference;

import dev.convnet.internal.kernels.ElementFunctions;
import dev.convnet.internal.kernels.LayerKernel;
import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * Reference kernels of the graph operations: each output element computed from its definition, with its
 * full multi-index decoded every time, accumulating in double and rounding once. Slow on purpose; the
 * oracle of the Java kernels. Internal; stateless.
 */
final class ReferenceOps {
    private ReferenceOps() {
    }

    /** The row-major multi-index of flat index {@code flat} in {@code dims}. */
    static int[] index(long flat, int[] dims) {
        int[] idx = new int[dims.length];
        for (int i = dims.length - 1; i >= 0; i--) {
            idx[i] = (int) (flat % dims[i]);
            flat /= dims[i];
        }
        return idx;
    }

    /** The flat row-major offset of {@code idx} in {@code dims}. */
    static long offset(int[] idx, int[] dims) {
        long off = 0;
        for (int i = 0; i < dims.length; i++) off = off * dims[i] + idx[i];
        return off;
    }

    /** The element of {@code in} (shape {@code s}) that broadcasting maps to output index {@code outIdx}. */
    static long broadcastOffset(int[] outIdx, Shape s) {
        int shift = outIdx.length - s.rank();
        long off = 0;
        for (int i = 0; i < s.rank(); i++) {
            int d = s.dim(i);
            off = off * d + (d == 1 ? 0 : outIdx[i + shift]);
        }
        return off;
    }

    static NodeKernel binary(Binary b, Shape sa, Shape sb, Shape out) {
        int[] dims = out.dims();
        return (x, y) -> {
            for (int i = 0; i < y.length; i++) {
                int[] idx = index(i, dims);
                double a = x[0][(int) broadcastOffset(idx, sa)];
                double c = x[1][(int) broadcastOffset(idx, sb)];
                y[i] = (float) ElementFunctions.binary(b.op(), a, c);
            }
        };
    }

    /** NumPy matmul: y[batch, i, j] = Σ_k a[batch, i, k]·b[batch, k, j] with broadcast batch axes. */
    static NodeKernel matMul(Shape sa, Shape sb, Shape out) {
        Shape a = sa.rank() == 1 ? Shape.of(1, sa.dim(0)) : sa;
        Shape b = sb.rank() == 1 ? Shape.of(sb.dim(0), 1) : sb;
        int[] batch = MatMul.batchDims(a, b);
        int m = a.dim(a.rank() - 2);
        int k = a.dim(a.rank() - 1);
        int p = b.dim(b.rank() - 1);
        int[] full = new int[batch.length + 2];
        System.arraycopy(batch, 0, full, 0, batch.length);
        full[batch.length] = m;
        full[batch.length + 1] = p;
        return (x, y) -> {
            for (int o = 0; o < y.length; o++) {
                int[] idx = index(o, full);
                int i = idx[batch.length];
                int j = idx[batch.length + 1];
                double acc = 0;
                for (int t = 0; t < k; t++) {
                    idx[batch.length] = i;
                    idx[batch.length + 1] = t;
                    double av = x[0][(int) broadcastOffset(idx, a)];
                    idx[batch.length] = t;
                    idx[batch.length + 1] = j;
                    double bv = x[1][(int) broadcastOffset(idx, b)];
                    acc += av * bv;
                }
                y[o] = (float) acc;
            }
        };
    }

    static NodeKernel concat(Concat c, List<Shape> in, Shape out) {
        int axis = c.axis(out.rank());
        int[] dims = out.dims();
        return (x, y) -> {
            for (int o = 0; o < y.length; o++) {
                int[] idx = index(o, dims);
                int pos = idx[axis];
                int input = 0;
                while (pos >= in.get(input).dim(axis)) {
                    pos -= in.get(input).dim(axis);
                    input++;
                }
                idx[axis] = pos;
                y[o] = x[input][(int) offset(idx, in.get(input).dims())];
            }
        };
    }

    static LayerKernel transpose(Transpose t, Shape in, Shape out) {
        int[] perm = t.perm(in.rank());
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        return (x, y) -> {
            for (int o = 0; o < y.length; o++) {
                int[] idx = index(o, outDims);
                int[] src = new int[idx.length];
                for (int k = 0; k < idx.length; k++) src[perm[k]] = idx[k];
                y[o] = x[(int) offset(src, inDims)];
            }
        };
    }

    static LayerKernel pad(Pad p, Shape in, Shape out) {
        int[] before = p.before();
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        return (x, y) -> {
            for (int o = 0; o < y.length; o++) {
                int[] idx = index(o, outDims);
                boolean outside = false;
                for (int k = 0; k < idx.length; k++) {
                    int s = idx[k] - before[k];
                    int n = inDims[k];
                    if (s < 0 || s >= n) {
                        switch (p.mode()) {
                            case CONSTANT -> outside = true;
                            case EDGE -> s = s < 0 ? 0 : n - 1;
                            case REFLECT -> s = s < 0 ? -s : 2 * (n - 1) - s;
                        }
                    }
                    idx[k] = s;
                }
                y[o] = outside ? p.value() : x[(int) offset(idx, inDims)];
            }
        };
    }

    static LayerKernel slice(Slice s, Shape in, Shape out) {
        long[][] w = s.window(in);
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        return (x, y) -> {
            for (int o = 0; o < y.length; o++) {
                int[] idx = index(o, outDims);
                for (int k = 0; k < idx.length; k++) idx[k] = (int) (w[k][0] + idx[k] * w[k][1]);
                y[o] = x[(int) offset(idx, inDims)];
            }
        };
    }

    static LayerKernel unary(Unary u) {
        return (x, y) -> {
            for (int i = 0; i < x.length; i++) y[i] = (float) ElementFunctions.unary(u, x[i]);
        };
    }

    /** Every input element is added into its output element's accumulator; then each is finished. */
    static LayerKernel reduce(Reduce r, Shape in) {
        boolean[] reduced = r.reducedAxes(in.rank());
        int[] inDims = in.dims();
        int[] keptDims = new int[in.rank()];
        long count = 1;
        for (int i = 0; i < in.rank(); i++) {
            keptDims[i] = reduced[i] ? 1 : inDims[i];
            if (reduced[i]) count *= inDims[i];
        }
        long n = count;
        Reduce.Kind kind = r.reduceKind();
        return (x, y) -> {
            double[] acc = new double[y.length];
            double init = switch (kind) {
                case MAX -> Double.NEGATIVE_INFINITY;
                case MIN -> Double.POSITIVE_INFINITY;
                case PROD -> 1;
                default -> 0;
            };
            java.util.Arrays.fill(acc, init);
            for (int i = 0; i < x.length; i++) {
                int[] idx = index(i, inDims);
                for (int k = 0; k < idx.length; k++) if (reduced[k]) idx[k] = 0;
                int o = (int) offset(idx, keptDims);
                double v = x[i];
                acc[o] = switch (kind) {
                    case MEAN, SUM, LOG_SUM -> acc[o] + v;
                    case MAX -> Math.max(acc[o], v);
                    case MIN -> Math.min(acc[o], v);
                    case PROD -> acc[o] * v;
                    case L1 -> acc[o] + Math.abs(v);
                    case L2, SUM_SQUARE -> acc[o] + v * v;
                    case LOG_SUM_EXP -> acc[o] + Math.exp(v);
                };
            }
            for (int o = 0; o < y.length; o++) {
                double a = acc[o];
                y[o] = (float) switch (kind) {
                    case MEAN -> a / n;
                    case L2 -> Math.sqrt(a);
                    case LOG_SUM, LOG_SUM_EXP -> Math.log(a);
                    default -> a;
                };
            }
        };
    }

    static LayerKernel axisSoftmax(AxisSoftmax s, Shape in) {
        int[] g = s.geometry(in);
        int outer = g[0];
        int length = g[1];
        int inner = g[2];
        return (x, y) -> {
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    int base = o * length * inner + i;
                    double max = Double.NEGATIVE_INFINITY;
                    int argmax = 0;
                    for (int c = 0; c < length; c++) {
                        if (x[base + c * inner] > max) {
                            max = x[base + c * inner];
                            argmax = c;
                        }
                    }
                    double sum = 0;
                    for (int c = 0; c < length; c++) sum += Math.exp(x[base + c * inner] - max);
                    for (int c = 0; c < length; c++) {
                        int e = base + c * inner;
                        y[e] = (float) switch (s.function()) {
                            case SOFTMAX -> Math.exp(x[e] - max) / sum;
                            case LOG_SOFTMAX -> x[e] - max - Math.log(sum);
                            case HARDMAX -> c == argmax ? 1 : 0;
                        };
                    }
                }
            }
        };
    }
}
