package dev.convnet.internal.jvm;

import dev.convnet.internal.kernels.LayerKernel;
import dev.convnet.internal.kernels.MathFunctions;
import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.internal.train.DropoutKernel;
import dev.convnet.internal.train.ElementDerivatives;
import dev.convnet.internal.train.GradKernel;
import dev.convnet.internal.train.OpGeometry;
import dev.convnet.internal.train.OpKernel;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;

import java.util.Arrays;
import java.util.List;
import java.util.function.DoubleUnaryOperator;
import java.util.function.IntConsumer;

/**
 * The Java training kernels of the operations without parameters: the forward pass is the Java inference kernel
 * ({@link JavaOps}; activations and softmax compute exactly what {@link JavaKernels} computes), the backward pass the
 * same adjoints as {@code ReferenceOpGradients}, in float where the result is one rounding of a double expression
 * and with double sums, parallel over chunks or rows. Index maps (row offsets, broadcast and reduction sub-spaces,
 * pad sources) and the scratch of broadcast gradients are computed when a kernel is created, so a step allocates
 * nothing but the fork-join tasks. Internal.
 *
 * <p>Thread-safety: the kernels are not thread-safe (broadcast gradients use a kernel-owned scratch array, dropout
 * keeps its mask).
 */
final class JavaOpGradients {
    /** Elements per parallel task. */
    private static final int CHUNK = 1 << 14;

    private final Parallel parallel;
    private final JavaOps ops;

    private JavaOpGradients(Parallel parallel) {
        this.parallel = parallel;
        this.ops = new JavaOps(parallel);
    }

    static GradKernel create(Parallel parallel, Layer layer, List<Shape> inputs, Shape output) {
        return new JavaOpGradients(parallel).kernel(layer, inputs, output);
    }

    private GradKernel kernel(Layer layer, List<Shape> inputs, Shape output) {
        Shape in = inputs.getFirst();
        return switch (layer) {
            case Dropout d -> new DropoutKernel(d.ratio(), (int) in.elementCount(), this::multiply);
            case Activation a -> activation(a);
            case Unary u -> new OpKernel(single(ops.unary(u)), elementwise(ElementDerivatives.of(u)));
            case Flatten _, Reshape _ -> new OpKernel((x, y) -> System.arraycopy(x[0], 0, y, 0, y.length), (x, y, dy, dx) -> {
                if (dx[0] != null) System.arraycopy(dy, 0, dx[0], 0, dy.length);
            });
            case Transpose t -> transpose(t, in, output);
            case Pad p -> new OpKernel(single(ops.pad(p, in, output)), pad(p, in, output));
            case Slice s -> new OpKernel(single(ops.slice(s, in, output)), slice(s, in, output));
            case Concat c -> new OpKernel(ops.concat(c, inputs, output), concat(c, inputs, output));
            case Binary b -> new OpKernel(ops.binary(b, inputs.get(0), inputs.get(1), output),
                    binary(b, inputs.get(0), inputs.get(1), output));
            case Reduce r -> new OpKernel(single(ops.reduce(r, in, output)), reduce(r, in));
            case Softmax _ -> softmax(AxisSoftmax.of(AxisSoftmax.Function.SOFTMAX, 1, false), in);
            case AxisSoftmax s -> softmax(s, in);
            case dev.convnet.layer.QuantizeLinear _, dev.convnet.layer.DequantizeLinear _ -> throw new UnsupportedOperationException(
                    "the Java backend cannot train " + layer.kind() + ": a graph in Q/DQ form (quantized) has no gradients"
                    + " (straight-through estimation is not implemented); train the float graph, then quantize it");
            default -> throw new UnsupportedOperationException("the Java backend cannot train " + layer.kind());
        };
    }

    private static NodeKernel single(LayerKernel k) {
        return (x, y) -> k.forward(x[0], y);
    }

    /** A loop body over the elements {@code [from, to)}. */
    @FunctionalInterface
    private interface Range {
        void run(int from, int to);
    }

    /** Runs {@code body} over {@code [0, n)} in parallel chunks of {@link #CHUNK} elements. */
    private void chunks(int n, Range body) {
        int tasks = (n + CHUNK - 1) / CHUNK;
        parallel.forEach(tasks, t -> body.run(t * CHUNK, Math.min(n, (t + 1) * CHUNK)));
    }

    /** Runs {@code rows} tasks of about {@code rowLength} elements each, grouped so that a task has ≥ CHUNK elements. */
    private void rows(int rows, int rowLength, IntConsumer row) {
        int perTask = Math.max(1, CHUNK / Math.max(1, rowLength));
        int tasks = (rows + perTask - 1) / perTask;
        parallel.forEach(tasks, t -> {
            for (int r = t * perTask; r < Math.min(rows, (t + 1) * perTask); r++) row.accept(r);
        });
    }

    /**
     * The offset {@code Σ_k idx[k]·strides[k]} of every point {@code idx} of the row-major grid {@code dims}, in
     * row-major order.
     */
    static int[] gridOffsets(int[] dims, long[] strides) {
        long count = 1;
        for (int d : dims) count *= d;
        int[] offsets = new int[(int) count];
        int[] idx = new int[dims.length];
        long off = 0;
        for (int p = 0; p < offsets.length; p++) {
            offsets[p] = (int) off;
            for (int k = dims.length - 1; k >= 0; k--) {
                idx[k]++;
                off += strides[k];
                if (idx[k] < dims[k]) break;
                off -= strides[k] * dims[k];
                idx[k] = 0;
            }
        }
        return offsets;
    }

    private void multiply(float[] a, float[] b, float[] out) {
        chunks(out.length, (from, to) -> {
            for (int i = from; i < to; i++) out[i] = a[i] * b[i];
        });
    }

    /**
     * ReLU and leaky ReLU as float loops, the others through their double function, as {@link JavaKernels} does. The
     * ReLU and leaky ReLU backward passes select with {@code p = max(sgn x, 0)} instead of a branch (C2 vectorizes it;
     * a branch on random signs mispredicts half the time, 25x slower): {@code dy·p} and {@code p·dy + (1 − p)·α·dy}
     * equal the reference's {@code x > 0 ? dy : α·dy} for finite values (a NaN input gives NaN instead of 0).
     */
    private GradKernel activation(Activation a) {
        float alpha = a.alpha();
        return switch (a.function()) {
            case RELU -> new OpKernel((x, y) -> chunks(y.length, (from, to) -> {
                float[] xs = x[0];
                for (int i = from; i < to; i++) y[i] = Math.max(xs[i], 0f);
            }), (x, y, dy, dx) -> {
                float[] xs = x[0];
                float[] d = dx[0];
                if (d == null) return;
                chunks(dy.length, (from, to) -> {
                    for (int i = from; i < to; i++) d[i] = dy[i] * Math.max(Math.signum(xs[i]), 0f);
                });
            });
            case LEAKY_RELU -> new OpKernel((x, y) -> chunks(y.length, (from, to) -> {
                float[] xs = x[0];
                for (int i = from; i < to; i++) {
                    float v = xs[i];
                    y[i] = v > 0 ? v : (float) (alpha * (double) v);
                }
            }), (x, y, dy, dx) -> {
                float[] xs = x[0];
                float[] d = dx[0];
                if (d == null) return;
                chunks(dy.length, (from, to) -> {
                    for (int i = from; i < to; i++) {
                        float p = Math.max(Math.signum(xs[i]), 0f);
                        float g = dy[i];
                        d[i] = p * g + (1f - p) * (alpha * g);
                    }
                });
            });
            case SIGMOID -> mapped(v -> 1.0 / (1.0 + Math.exp(-v)), a);
            case TANH -> mapped(Math::tanh, a);
            case ELU -> mapped(v -> v > 0 ? v : alpha * Math.expm1(v), a);
            case GELU -> mapped(MathFunctions::gelu, a);
        };
    }

    private GradKernel mapped(DoubleUnaryOperator f, Activation a) {
        return new OpKernel((x, y) -> chunks(y.length, (from, to) -> {
            float[] xs = x[0];
            for (int i = from; i < to; i++) y[i] = (float) f.applyAsDouble(xs[i]);
        }), elementwise(ElementDerivatives.of(a)));
    }

    /** dx = dy·f'(x, y), each element one rounding of a double product. */
    private OpKernel.Backward elementwise(ElementDerivatives.Derivative f) {
        return (x, y, dy, dx) -> {
            float[] xs = x[0];
            float[] d = dx[0];
            if (d == null) return;
            chunks(dy.length, (from, to) -> {
                for (int i = from; i < to; i++) d[i] = (float) (dy[i] * f.at(xs[i], y[i]));
            });
        };
    }

    /** Forward and backward are transposes, by the permutation and by its inverse. */
    private GradKernel transpose(Transpose t, Shape in, Shape out) {
        LayerKernel back = ops.transpose(Transpose.of(OpGeometry.inverse(t.perm(in.rank()))), out, in);
        return new OpKernel(single(ops.transpose(t, in, out)), (x, y, dy, dx) -> {
            if (dx[0] != null) back.forward(dy, dx[0]);
        });
    }

    /**
     * A gather, parallel over input rows (all axes but the last): each input element sums the output elements that
     * read it. Per input row the output rows reading it and per last-axis index the output columns are precomputed
     * (for CONSTANT padding at most one each; REFLECT and EDGE several near the borders), so the sum runs in the
     * reference's order.
     */
    private OpKernel.Backward pad(Pad p, Shape in, Shape out) {
        int rank = in.rank();
        int[][] map = OpGeometry.padSources(p, in, out);
        int[][][] readers = new int[rank][][]; // per axis and input index: the output indices that read it
        for (int k = 0; k < rank; k++) {
            int[] count = new int[in.dim(k)];
            for (int s : map[k]) if (s >= 0) count[s]++;
            readers[k] = new int[in.dim(k)][];
            for (int i = 0; i < count.length; i++) readers[k][i] = new int[count[i]];
            Arrays.fill(count, 0);
            for (int o = 0; o < map[k].length; o++) {
                int s = map[k][o];
                if (s >= 0) readers[k][s][count[s]++] = o;
            }
        }
        int lenIn = in.dim(rank - 1);
        int lenOut = out.dim(rank - 1);
        int rowsIn = (int) (in.elementCount() / lenIn);
        int[][] outRows = new int[rowsIn][]; // per input row: the offsets of the output rows that read it
        int[] idx = new int[rank - 1];
        for (int r = 0; r < rowsIn; r++) {
            int[] rowsOut = {0};
            for (int k = 0; k < rank - 1; k++) {
                int[] at = readers[k][idx[k]];
                int[] next = new int[rowsOut.length * at.length];
                int e = 0;
                for (int base : rowsOut) for (int o : at) next[e++] = base * out.dim(k) + o;
                rowsOut = next;
            }
            for (int e = 0; e < rowsOut.length; e++) rowsOut[e] *= lenOut;
            outRows[r] = rowsOut;
            for (int k = rank - 2; k >= 0; k--) {
                if (++idx[k] < in.dim(k)) break;
                idx[k] = 0;
            }
        }
        int[][] columns = readers[rank - 1];
        return (x, y, dy, dx) -> {
            float[] d = dx[0];
            if (d == null) return;
            rows(rowsIn, lenIn, r -> {
                int[] src = outRows[r];
                int base = r * lenIn;
                for (int j = 0; j < lenIn; j++) {
                    double s = 0;
                    for (int ro : src) for (int oc : columns[j]) s += dy[ro + oc];
                    d[base + j] = (float) s;
                }
            });
        };
    }

    /** Zeros, then each output row scattered back to the input elements it was read from. */
    private OpKernel.Backward slice(Slice s, Shape in, Shape out) {
        long[][] w = s.window(in);
        int rank = in.rank();
        long[] inStrides = OpGeometry.strides(in);
        long[] strides = new long[rank];
        long base = 0;
        for (int k = 0; k < rank; k++) {
            strides[k] = inStrides[k] * w[k][1];
            base += inStrides[k] * w[k][0];
        }
        int[] outDims = out.dims();
        int[] rowStart = gridOffsets(Arrays.copyOf(outDims, rank - 1), Arrays.copyOf(strides, rank - 1));
        int len = outDims[rank - 1];
        int inc = (int) strides[rank - 1];
        int first = (int) base;
        return (x, y, dy, dx) -> {
            float[] d = dx[0];
            if (d == null) return;
            chunks(d.length, (from, to) -> Arrays.fill(d, from, to, 0f));
            rows(rowStart.length, len, r -> {
                int dst = first + rowStart[r];
                int o = r * len;
                for (int j = 0; j < len; j++, dst += inc) d[dst] = dy[o + j];
            });
        };
    }

    /** For each outer index, each wanted input's block of the output row copied back. */
    private OpKernel.Backward concat(Concat c, List<Shape> in, Shape out) {
        int axis = c.axis(out.rank());
        int outer = 1;
        for (int i = 0; i < axis; i++) outer *= out.dim(i);
        int inner = (int) out.elementCount(axis + 1);
        int[] blocks = in.stream().mapToInt(s -> s.dim(axis) * inner).toArray();
        int outBlock = out.dim(axis) * inner;
        int rowCount = outer;
        return (x, y, dy, dx) -> rows(rowCount, outBlock, o -> {
            int src = o * outBlock;
            for (int i = 0; i < blocks.length; i++) {
                if (dx[i] != null) System.arraycopy(dy, src, dx[i], o * blocks[i], blocks[i]);
                src += blocks[i];
            }
        });
    }

    /**
     * Sums an output-shaped array over the axes on which an operand is broadcast: one sum per operand element (in
     * its row-major order), over the output elements that read it, in increasing output order.
     */
    private final class BroadcastSum {
        private final int[] kept;    // per operand element: its first output offset
        private final int[] reduced; // offsets, relative to that, of the output elements reading it

        BroadcastSum(Shape operand, Shape out) {
            long[] operandStrides = Broadcasting.strides(operand, out);
            long[] outStrides = OpGeometry.strides(out);
            int[] keptDims = out.dims();
            int[] reducedDims = out.dims();
            for (int k = 0; k < keptDims.length; k++) {
                if (operandStrides[k] == 0) keptDims[k] = 1;
                else reducedDims[k] = 1;
            }
            kept = gridOffsets(keptDims, outStrides);
            reduced = gridOffsets(reducedDims, outStrides);
        }

        void sum(double[] src, float[] dst) {
            rows(kept.length, reduced.length, e -> {
                double s = 0;
                for (int off : reduced) s += src[kept[e] + off];
                dst[e] = (float) s;
            });
        }

        void sum(float[] src, float[] dst, double sign) {
            rows(kept.length, reduced.length, e -> {
                double s = 0;
                for (int off : reduced) s += src[kept[e] + off] * sign;
                dst[e] = (float) s;
            });
        }
    }

    /**
     * Rows of the last axis with precomputed operand offsets (as the forward pass). An operand of the output's size
     * gets {@code dy·∂y/∂operand} directly; a broadcast operand gets the terms in a double scratch array, summed over
     * its broadcast axes. ADD and SUB skip the products ({@code ±dy}).
     */
    private OpKernel.Backward binary(Binary b, Shape sa, Shape sb, Shape out) {
        Binary.Op op = b.op();
        int n = (int) out.elementCount();
        int rank = out.rank();
        int[] dims = out.dims();
        int len = dims[rank - 1];
        long[] strideA = Broadcasting.strides(sa, out);
        long[] strideB = Broadcasting.strides(sb, out);
        int[] rowDims = Arrays.copyOf(dims, rank - 1);
        int[] rowA = gridOffsets(rowDims, Arrays.copyOf(strideA, rank - 1));
        int[] rowB = gridOffsets(rowDims, Arrays.copyOf(strideB, rank - 1));
        int incA = (int) strideA[rank - 1];
        int incB = (int) strideB[rank - 1];
        BroadcastSum sumA = sa.elementCount() == n ? null : new BroadcastSum(sa, out);
        BroadcastSum sumB = sb.elementCount() == n ? null : new BroadcastSum(sb, out);
        boolean linear = op == Binary.Op.ADD || op == Binary.Op.SUB;
        double[] termsA = sumA == null || linear ? null : new double[n];
        double[] termsB = sumB == null || linear ? null : new double[n];
        ElementDerivatives.Partial pa = ElementDerivatives.first(op);
        ElementDerivatives.Partial pb = ElementDerivatives.second(op);
        double signB = op == Binary.Op.SUB ? -1 : 1;
        return (x, y, dy, dx) -> {
            float[] da = dx[0];
            float[] db = dx[1];
            if (linear) {
                if (da != null) {
                    if (sumA == null) System.arraycopy(dy, 0, da, 0, n);
                    else sumA.sum(dy, da, 1);
                }
                if (db != null) {
                    if (sumB != null) sumB.sum(dy, db, signB);
                    else if (signB > 0) System.arraycopy(dy, 0, db, 0, n);
                    else chunks(n, (from, to) -> {
                        for (int i = from; i < to; i++) db[i] = -dy[i];
                    });
                }
                return;
            }
            boolean wantA = da != null;
            boolean wantB = db != null;
            if (!wantA && !wantB) return;
            float[] a = x[0];
            float[] c = x[1];
            rows(rowA.length, len, r -> {
                int ia = rowA[r];
                int ib = rowB[r];
                int o = r * len;
                for (int j = 0; j < len; j++, o++, ia += incA, ib += incB) {
                    double g = dy[o];
                    if (wantA) {
                        double t = g * pa.at(a[ia], c[ib], y[o]);
                        if (termsA == null) da[o] = (float) t;
                        else termsA[o] = t;
                    }
                    if (wantB) {
                        double t = g * pb.at(a[ia], c[ib], y[o]);
                        if (termsB == null) db[o] = (float) t;
                        else termsB[o] = t;
                    }
                }
            });
            if (wantA && termsA != null) sumA.sum(termsA, da);
            if (wantB && termsB != null) sumB.sum(termsB, db);
        };
    }

    /**
     * Parallel over output elements: each walks its reduced sub-space once for what the derivative needs (ties,
     * product of non-zeros and zero count, sum) and once to write dx = dy·∂y/∂x.
     */
    private OpKernel.Backward reduce(Reduce r, Shape in) {
        boolean[] reduced = r.reducedAxes(in.rank());
        long[] strides = OpGeometry.strides(in);
        int[] keptDims = in.dims();
        int[] reducedDims = in.dims();
        for (int k = 0; k < reduced.length; k++) {
            if (reduced[k]) keptDims[k] = 1;
            else reducedDims[k] = 1;
        }
        int[] kept = gridOffsets(keptDims, strides);
        int[] sub = gridOffsets(reducedDims, strides);
        int n = sub.length;
        Reduce.Kind kind = r.reduceKind();
        return (x, y, dy, dx) -> {
            float[] xs = x[0];
            float[] d = dx[0];
            if (d == null) return;
            rows(kept.length, n, o -> {
                int base = kept[o];
                double g = dy[o];
                float yo = y[o];
                double aux = kind == Reduce.Kind.PROD ? 1 : 0;
                int zeros = 0;
                switch (kind) {
                    case MAX, MIN -> {
                        for (int off : sub) aux += xs[base + off] == yo ? 1 : 0;
                    }
                    case PROD -> {
                        for (int off : sub) {
                            float v = xs[base + off];
                            if (v == 0) zeros++;
                            else aux *= v;
                        }
                    }
                    case LOG_SUM -> {
                        for (int off : sub) aux += xs[base + off];
                    }
                    default -> {
                    }
                }
                switch (kind) {
                    case MEAN -> {
                        float v = (float) (g / n);
                        for (int off : sub) d[base + off] = v;
                    }
                    case SUM -> {
                        for (int off : sub) d[base + off] = (float) g;
                    }
                    case MAX, MIN -> {
                        float v = (float) (g / aux);
                        for (int off : sub) d[base + off] = xs[base + off] == yo ? v : 0f;
                    }
                    case PROD -> {
                        for (int off : sub) {
                            double v = xs[base + off];
                            d[base + off] = (float) (zeros == 0 ? g * (aux / v) : zeros == 1 && v == 0 ? g * aux : 0);
                        }
                    }
                    case L1 -> {
                        for (int off : sub) d[base + off] = (float) (g * Math.signum(xs[base + off]));
                    }
                    case L2 -> {
                        for (int off : sub) d[base + off] = yo == 0 ? 0f : (float) (g * (xs[base + off] / (double) yo));
                    }
                    case SUM_SQUARE -> {
                        for (int off : sub) d[base + off] = (float) (g * 2 * xs[base + off]);
                    }
                    case LOG_SUM -> {
                        float v = (float) (g / aux);
                        for (int off : sub) d[base + off] = v;
                    }
                    case LOG_SUM_EXP -> {
                        for (int off : sub) d[base + off] = (float) (g * Math.exp(xs[base + off] - (double) yo));
                    }
                }
            });
        };
    }

    /** Parallel over the rows of the softmax axis: the reference's formulas, sums in double. */
    private GradKernel softmax(AxisSoftmax s, Shape in) {
        int[] geometry = s.geometry(in);
        int length = geometry[1];
        int inner = geometry[2];
        AxisSoftmax.Function f = s.function();
        return new OpKernel(single(ops.axisSoftmax(s, in)), (x, y, dy, dx) -> {
            float[] d = dx[0];
            if (d == null) return;
            if (f == AxisSoftmax.Function.HARDMAX) {
                chunks(d.length, (from, to) -> Arrays.fill(d, from, to, 0f));
                return;
            }
            boolean soft = f == AxisSoftmax.Function.SOFTMAX;
            rows(geometry[0] * inner, length, t -> {
                int base = t / inner * length * inner + t % inner;
                double sum = 0;
                for (int c = 0; c < length; c++) {
                    int e = base + c * inner;
                    sum += soft ? (double) dy[e] * y[e] : dy[e];
                }
                for (int c = 0; c < length; c++) {
                    int e = base + c * inner;
                    d[e] = (float) (soft ? y[e] * (dy[e] - sum) : dy[e] - Math.exp(y[e]) * sum);
                }
            });
        });
    }
}
