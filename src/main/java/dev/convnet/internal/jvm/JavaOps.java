package dev.convnet.internal.jvm;

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
import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * Java kernels of the graph operations: rows of the last axis with precomputed strides instead of a
 * decoded multi-index per element, {@link System#arraycopy} for contiguous runs, {@link Sgemm} for matrix
 * products, and parallel over rows where the work is large. Internal.
 *
 * <p>Thread-safety: the kernels are stateless.
 */
final class JavaOps {
    /** Elements per parallel task. */
    private static final int CHUNK = 1 << 14;

    private final Parallel parallel;

    JavaOps(Parallel parallel) {
        this.parallel = parallel;
    }

    /** Runs {@code rows} tasks of {@code rowLength} elements each, grouped so that a task has ≥ CHUNK elements. */
    private void rows(int rows, int rowLength, java.util.function.IntConsumer row) {
        int perTask = Math.max(1, CHUNK / Math.max(1, rowLength));
        int tasks = (rows + perTask - 1) / perTask;
        parallel.forEach(tasks, t -> {
            for (int r = t * perTask; r < Math.min(rows, (t + 1) * perTask); r++) row.accept(r);
        });
    }

    /** The offsets, for each row of {@code out} (all axes but the last), of the element a row starts at. */
    private static int[] rowOffsets(long[] strides, int[] outDims) {
        int rank = outDims.length;
        int rows = 1;
        for (int i = 0; i < rank - 1; i++) rows *= outDims[i];
        int[] offsets = new int[rows];
        int[] idx = new int[Math.max(0, rank - 1)];
        long off = 0;
        for (int r = 0; r < rows; r++) {
            offsets[r] = (int) off;
            for (int k = rank - 2; k >= 0; k--) {
                idx[k]++;
                off += strides[k];
                if (idx[k] < outDims[k]) break;
                off -= strides[k] * outDims[k];
                idx[k] = 0;
            }
        }
        return offsets;
    }

    NodeKernel binary(Binary b, Shape sa, Shape sb, Shape out) {
        Binary.Op op = b.op();
        int n = (int) out.elementCount();
        if (sa.equals(out) && sb.equals(out)) {
            return (x, y) -> rows((n + CHUNK - 1) / CHUNK, CHUNK, t -> {
                for (int i = t * CHUNK; i < Math.min(n, (t + 1) * CHUNK); i++) y[i] = apply(op, x[0][i], x[1][i]);
            });
        }
        int[] dims = out.dims();
        int len = dims[dims.length - 1];
        long[] strideA = Broadcasting.strides(sa, out);
        long[] strideB = Broadcasting.strides(sb, out);
        int[] rowA = rowOffsets(strideA, dims);
        int[] rowB = rowOffsets(strideB, dims);
        int incA = (int) strideA[dims.length - 1];
        int incB = (int) strideB[dims.length - 1];
        return (x, y) -> rows(rowA.length, len, r -> {
            float[] a = x[0];
            float[] c = x[1];
            int ia = rowA[r];
            int ib = rowB[r];
            int o = r * len;
            for (int j = 0; j < len; j++, ia += incA, ib += incB) y[o + j] = apply(op, a[ia], c[ib]);
        });
    }

    /** In float where float arithmetic is the correctly rounded result (+, −, ·, /, max, min), else in double. */
    private static float apply(Binary.Op op, float a, float b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            default -> (float) ElementFunctions.binary(op, a, b);
        };
    }

    /** One SGEMM per (broadcast) batch element, parallel over the batch. */
    NodeKernel matMul(Shape sa, Shape sb, Shape out) {
        Shape a = sa.rank() == 1 ? Shape.of(1, sa.dim(0)) : sa;
        Shape b = sb.rank() == 1 ? Shape.of(sb.dim(0), 1) : sb;
        int[] batch = MatMul.batchDims(a, b);
        int m = a.dim(a.rank() - 2);
        int k = a.dim(a.rank() - 1);
        int p = b.dim(b.rank() - 1);
        int batches = 1;
        for (int d : batch) batches *= d;
        int[] batchDims = batch.length == 0 ? new int[] {1} : batch;
        Shape batchShape = Shape.of(batchDims);
        Shape aBatch = a.rank() > 2 ? Shape.of(java.util.Arrays.copyOf(a.dims(), a.rank() - 2)) : Shape.of(1);
        Shape bBatch = b.rank() > 2 ? Shape.of(java.util.Arrays.copyOf(b.dims(), b.rank() - 2)) : Shape.of(1);
        int[] aOff = batchOffsets(aBatch, batchShape, m * k);
        int[] bOff = batchOffsets(bBatch, batchShape, k * p);
        int count = batches;
        return (x, y) -> parallel.forEach(count, t -> {
            int yOff = t * m * p;
            java.util.Arrays.fill(y, yOff, yOff + m * p, 0f);
            parallel.kernels().multiplyAdd(m, p, k, x[0], aOff[t], k, x[1], bOff[t], p, y, yOff, p);
        });
    }

    private static int[] batchOffsets(Shape in, Shape batch, int matrix) {
        long[] strides = Broadcasting.strides(in, batch);
        int[] dims = batch.dims();
        int[] offsets = new int[(int) batch.elementCount()];
        for (int i = 0; i < offsets.length; i++) {
            long rest = i;
            long off = 0;
            for (int d = dims.length - 1; d >= 0; d--) {
                off += (rest % dims[d]) * strides[d];
                rest /= dims[d];
            }
            offsets[i] = (int) off * matrix;
        }
        return offsets;
    }

    /** For each outer index, each input's contiguous block of {@code dim(axis)·inner} elements in turn. */
    NodeKernel concat(Concat c, List<Shape> in, Shape out) {
        int axis = c.axis(out.rank());
        int outer = 1;
        for (int i = 0; i < axis; i++) outer *= out.dim(i);
        int inner = (int) out.elementCount(axis + 1);
        int[] blocks = in.stream().mapToInt(s -> s.dim(axis) * inner).toArray();
        int outBlock = out.dim(axis) * inner;
        int rows = outer;
        return (x, y) -> rows(rows, outBlock, o -> {
            int dst = o * outBlock;
            for (int i = 0; i < blocks.length; i++) {
                System.arraycopy(x[i], o * blocks[i], y, dst, blocks[i]);
                dst += blocks[i];
            }
        });
    }

    LayerKernel transpose(Transpose t, Shape in, Shape out) {
        int[] perm = t.perm(in.rank());
        int rank = in.rank();
        long[] inStrides = new long[rank];
        long s = 1;
        for (int i = rank - 1; i >= 0; i--) {
            inStrides[i] = s;
            s *= in.dim(i);
        }
        long[] strides = new long[rank]; // input stride of each output axis
        for (int k = 0; k < rank; k++) strides[k] = inStrides[perm[k]];
        int[] outDims = out.dims();
        int[] rowStart = rowOffsets(strides, outDims);
        int len = outDims[rank - 1];
        int inc = (int) strides[rank - 1];
        return (x, y) -> rows(rowStart.length, len, r -> {
            int src = rowStart[r];
            int o = r * len;
            for (int j = 0; j < len; j++, src += inc) y[o + j] = x[src];
        });
    }

    /** Per output row: the source row (or the constant), then the last axis with its own padding. */
    LayerKernel pad(Pad p, Shape in, Shape out) {
        int rank = in.rank();
        int[] before = p.before();
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        int rowsOut = (int) (out.elementCount() / outDims[rank - 1]);
        int lenOut = outDims[rank - 1];
        int lenIn = inDims[rank - 1];
        float value = p.value();
        // The source row of each output row, −1 where the row lies in constant padding.
        int[] srcRow = new int[rowsOut];
        for (int r = 0; r < rowsOut; r++) {
            long rest = r;
            long row = 0;
            boolean outside = false;
            long mul = 1;
            for (int k = rank - 2; k >= 0; k--) {
                int o = (int) (rest % outDims[k]);
                rest /= outDims[k];
                int si = source(o - before[k], inDims[k], p.mode());
                if (si < 0) outside = true;
                row += (long) si * mul;
                mul *= inDims[k];
            }
            srcRow[r] = outside ? -1 : (int) row;
        }
        int[] srcCol = new int[lenOut];
        for (int j = 0; j < lenOut; j++) srcCol[j] = source(j - before[rank - 1], lenIn, p.mode());
        return (x, y) -> rows(rowsOut, lenOut, r -> {
            int o = r * lenOut;
            if (srcRow[r] < 0) {
                java.util.Arrays.fill(y, o, o + lenOut, value);
                return;
            }
            int base = srcRow[r] * lenIn;
            for (int j = 0; j < lenOut; j++) y[o + j] = srcCol[j] < 0 ? value : x[base + srcCol[j]];
        });
    }

    /** The source index along one axis of padded index {@code s}, −1 for constant padding. */
    private static int source(int s, int n, Pad.Mode mode) {
        if (s >= 0 && s < n) return s;
        return switch (mode) {
            case CONSTANT -> -1;
            case EDGE -> s < 0 ? 0 : n - 1;
            case REFLECT -> s < 0 ? -s : 2 * (n - 1) - s;
        };
    }

    /** Rows of the last axis: each output row starts at a precomputed input offset and strides by the last step. */
    LayerKernel slice(Slice s, Shape in, Shape out) {
        long[][] w = s.window(in);
        int rank = in.rank();
        long[] inStrides = new long[rank];
        long st = 1;
        for (int i = rank - 1; i >= 0; i--) {
            inStrides[i] = st;
            st *= in.dim(i);
        }
        long[] strides = new long[rank];
        long base = 0;
        for (int k = 0; k < rank; k++) {
            strides[k] = inStrides[k] * w[k][1];
            base += inStrides[k] * w[k][0];
        }
        int[] outDims = out.dims();
        int[] rowStart = rowOffsets(strides, outDims);
        int len = outDims[rank - 1];
        int inc = (int) strides[rank - 1];
        int first = (int) base;
        if (inc == 1) {
            return (x, y) -> rows(rowStart.length, len, r -> System.arraycopy(x, first + rowStart[r], y, r * len, len));
        }
        return (x, y) -> rows(rowStart.length, len, r -> {
            int src = first + rowStart[r];
            int o = r * len;
            for (int j = 0; j < len; j++, src += inc) y[o + j] = x[src];
        });
    }

    LayerKernel unary(Unary u) {
        return (x, y) -> rows((x.length + CHUNK - 1) / CHUNK, CHUNK, t -> {
            for (int i = t * CHUNK; i < Math.min(x.length, (t + 1) * CHUNK); i++) {
                y[i] = (float) ElementFunctions.unary(u, x[i]);
            }
        });
    }

    /**
     * Each output element walks its reduced sub-space with precomputed offsets, accumulating in double;
     * parallel over output elements.
     */
    LayerKernel reduce(Reduce r, Shape in, Shape out) {
        boolean[] reduced = r.reducedAxes(in.rank());
        int rank = in.rank();
        long[] strides = new long[rank];
        long s = 1;
        for (int i = rank - 1; i >= 0; i--) {
            strides[i] = s;
            s *= in.dim(i);
        }
        int keptCount = 1;
        int reducedCount = 1;
        for (int i = 0; i < rank; i++) {
            if (reduced[i]) reducedCount *= in.dim(i);
            else keptCount *= in.dim(i);
        }
        int[] keptOffsets = subspaceOffsets(in, strides, reduced, false, keptCount);
        int[] reducedOffsets = subspaceOffsets(in, strides, reduced, true, reducedCount);
        Reduce.Kind kind = r.reduceKind();
        int n = reducedCount;
        int outputs = keptCount;
        return (x, y) -> rows(outputs, n, o -> {
            int base = keptOffsets[o];
            double acc = switch (kind) {
                case MAX -> Double.NEGATIVE_INFINITY;
                case MIN -> Double.POSITIVE_INFINITY;
                case PROD -> 1;
                default -> 0;
            };
            for (int off : reducedOffsets) {
                double v = x[base + off];
                acc = switch (kind) {
                    case MEAN, SUM, LOG_SUM -> acc + v;
                    case MAX -> Math.max(acc, v);
                    case MIN -> Math.min(acc, v);
                    case PROD -> acc * v;
                    case L1 -> acc + Math.abs(v);
                    case L2, SUM_SQUARE -> acc + v * v;
                    case LOG_SUM_EXP -> acc + Math.exp(v);
                };
            }
            y[o] = (float) switch (kind) {
                case MEAN -> acc / n;
                case L2 -> Math.sqrt(acc);
                case LOG_SUM, LOG_SUM_EXP -> Math.log(acc);
                default -> acc;
            };
        });
    }

    /** Offsets of every point of the sub-space of the axes with {@code reduced[i] == which}, row-major. */
    private static int[] subspaceOffsets(Shape in, long[] strides, boolean[] reduced, boolean which, int count) {
        int[] offsets = new int[count];
        int rank = in.rank();
        for (int i = 0; i < count; i++) {
            long rest = i;
            long off = 0;
            for (int k = rank - 1; k >= 0; k--) {
                if (reduced[k] != which) continue;
                off += (rest % in.dim(k)) * strides[k];
                rest /= in.dim(k);
            }
            offsets[i] = (int) off;
        }
        return offsets;
    }

    LayerKernel axisSoftmax(AxisSoftmax s, Shape in) {
        int[] g = s.geometry(in);
        int outer = g[0];
        int length = g[1];
        int inner = g[2];
        AxisSoftmax.Function f = s.function();
        return (x, y) -> rows(outer * inner, length, t -> {
            int o = t / inner;
            int i = t % inner;
            int base = o * length * inner + i;
            float max = Float.NEGATIVE_INFINITY;
            int argmax = 0;
            for (int c = 0; c < length; c++) {
                float v = x[base + c * inner];
                if (v > max) {
                    max = v;
                    argmax = c;
                }
            }
            double sum = 0;
            for (int c = 0; c < length; c++) sum += Math.exp((double) x[base + c * inner] - max);
            double logSum = Math.log(sum);
            for (int c = 0; c < length; c++) {
                int e = base + c * inner;
                y[e] = switch (f) {
                    case SOFTMAX -> (float) (Math.exp((double) x[e] - max) / sum);
                    case LOG_SOFTMAX -> (float) ((double) x[e] - max - logSum);
                    case HARDMAX -> c == argmax ? 1f : 0f;
                };
            }
        });
    }
}
