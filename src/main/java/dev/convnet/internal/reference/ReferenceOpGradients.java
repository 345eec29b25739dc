package dev.convnet.internal.reference;

import dev.convnet.internal.kernels.LayerKernel;
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
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * The reference training kernels of the operations without parameters (activations, unary and binary element-wise
 * functions, data movement, reductions, softmax, dropout). The forward pass is the reference inference kernel
 * ({@link ReferenceKernels}); the backward pass is each operation's adjoint as a plain loop over multi-indices with
 * double accumulation. Derivatives at kinks follow PyTorch ({@link ElementDerivatives}); reductions: MAX and MIN
 * share the gradient equally among tied maxima (as {@code torch.amax}), PROD gives a zero element the product of the
 * others (0 if there are several zeros), L1 {@code sgn x} (0 at 0), L2 {@code x/‖x‖} (0 where the norm is 0); HARDMAX
 * has zero gradient. Internal; stateless.
 */
final class ReferenceOpGradients {
    private ReferenceOpGradients() {
    }

    static GradKernel create(Layer layer, List<Shape> inputs, Shape output) {
        Shape in = inputs.getFirst();
        if (layer instanceof Dropout d) {
            return new DropoutKernel(d.ratio(), (int) in.elementCount(), ReferenceOpGradients::multiply);
        }
        NodeKernel forward = new ReferenceKernels().create(layer, inputs, output);
        OpKernel.Backward backward = switch (layer) {
            case Activation a -> elementwise(ElementDerivatives.of(a));
            case Unary u -> elementwise(ElementDerivatives.of(u));
            case Flatten _, Reshape _ -> (x, y, dy, dx) -> {
                if (dx[0] != null) System.arraycopy(dy, 0, dx[0], 0, dy.length);
            };
            case Transpose t -> transpose(t, in, output);
            case Pad p -> pad(p, in, output);
            case Slice s -> slice(s, in, output);
            case Concat c -> concat(c, inputs, output);
            case Binary b -> binary(b, inputs.get(0), inputs.get(1), output);
            case Reduce r -> reduce(r, in, output);
            case Softmax _ -> softmax(AxisSoftmax.of(AxisSoftmax.Function.SOFTMAX, 1, false), in);
            case AxisSoftmax s -> softmax(s, in);
            case dev.convnet.layer.QuantizeLinear _, dev.convnet.layer.DequantizeLinear _ -> throw new UnsupportedOperationException(
                    "the reference backend cannot train " + layer.kind() + ": a graph in Q/DQ form (quantized) has no gradients"
                    + " (straight-through estimation is not implemented); train the float graph, then quantize it");
            default -> throw new UnsupportedOperationException("the reference backend cannot train " + layer.kind());
        };
        return new OpKernel(forward, backward);
    }

    private static void multiply(float[] a, float[] b, float[] out) {
        for (int i = 0; i < out.length; i++) out[i] = (float) ((double) a[i] * b[i]);
    }

    /** dx = dy·f'(x, y). */
    private static OpKernel.Backward elementwise(ElementDerivatives.Derivative d) {
        return (x, y, dy, dx) -> {
            if (dx[0] == null) return;
            for (int i = 0; i < dy.length; i++) dx[0][i] = (float) (dy[i] * d.at(x[0][i], y[i]));
        };
    }

    /** The transpose by the inverse permutation. */
    private static OpKernel.Backward transpose(Transpose t, Shape in, Shape out) {
        LayerKernel back = ReferenceOps.transpose(Transpose.of(OpGeometry.inverse(t.perm(in.rank()))), out, in);
        return (x, y, dy, dx) -> {
            if (dx[0] != null) back.forward(dy, dx[0]);
        };
    }

    /** Every output element adds its gradient into the input element it was read from (none for constant padding). */
    private static OpKernel.Backward pad(Pad p, Shape in, Shape out) {
        int[][] map = OpGeometry.padSources(p, in, out);
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        return (x, y, dy, dx) -> {
            if (dx[0] == null) return;
            double[] acc = new double[dx[0].length];
            for (int o = 0; o < dy.length; o++) {
                int[] idx = ReferenceOps.index(o, outDims);
                boolean outside = false;
                for (int k = 0; k < idx.length; k++) {
                    idx[k] = map[k][idx[k]];
                    outside |= idx[k] < 0;
                }
                if (!outside) acc[(int) ReferenceOps.offset(idx, inDims)] += dy[o];
            }
            store(acc, dx[0]);
        };
    }

    /** Zeros, then each output element's gradient at the input element it was read from. */
    private static OpKernel.Backward slice(Slice s, Shape in, Shape out) {
        long[][] w = s.window(in);
        int[] inDims = in.dims();
        int[] outDims = out.dims();
        return (x, y, dy, dx) -> {
            if (dx[0] == null) return;
            java.util.Arrays.fill(dx[0], 0f);
            for (int o = 0; o < dy.length; o++) {
                int[] idx = ReferenceOps.index(o, outDims);
                for (int k = 0; k < idx.length; k++) idx[k] = (int) (w[k][0] + idx[k] * w[k][1]);
                dx[0][(int) ReferenceOps.offset(idx, inDims)] = dy[o];
            }
        };
    }

    /** Each output element's gradient goes to the input element it was copied from. */
    private static OpKernel.Backward concat(Concat c, List<Shape> in, Shape out) {
        int axis = c.axis(out.rank());
        int[] dims = out.dims();
        return (x, y, dy, dx) -> {
            for (int o = 0; o < dy.length; o++) {
                int[] idx = ReferenceOps.index(o, dims);
                int pos = idx[axis];
                int input = 0;
                while (pos >= in.get(input).dim(axis)) {
                    pos -= in.get(input).dim(axis);
                    input++;
                }
                if (dx[input] == null) continue;
                idx[axis] = pos;
                dx[input][(int) ReferenceOps.offset(idx, in.get(input).dims())] = dy[o];
            }
        };
    }

    /** ∂L/∂a[i] = Σ over the outputs that read a[i] of dy·∂y/∂a: broadcast axes are summed; likewise for b. */
    private static OpKernel.Backward binary(Binary b, Shape sa, Shape sb, Shape out) {
        ElementDerivatives.Partial pa = ElementDerivatives.first(b.op());
        ElementDerivatives.Partial pb = ElementDerivatives.second(b.op());
        int[] dims = out.dims();
        return (x, y, dy, dx) -> {
            double[] ga = dx[0] == null ? null : new double[dx[0].length];
            double[] gb = dx[1] == null ? null : new double[dx[1].length];
            for (int o = 0; o < dy.length; o++) {
                int[] idx = ReferenceOps.index(o, dims);
                int ia = (int) ReferenceOps.broadcastOffset(idx, sa);
                int ib = (int) ReferenceOps.broadcastOffset(idx, sb);
                double av = x[0][ia];
                double bv = x[1][ib];
                if (ga != null) ga[ia] += dy[o] * pa.at(av, bv, y[o]);
                if (gb != null) gb[ib] += dy[o] * pb.at(av, bv, y[o]);
            }
            if (ga != null) store(ga, dx[0]);
            if (gb != null) store(gb, dx[1]);
        };
    }

    /**
     * A first pass gathers what the derivative needs per output element (the tie count of MAX and MIN; the product of
     * the non-zero elements and the number of zeros of PROD; the sum of LOG_SUM), a second writes
     * dx = dy·∂y/∂x.
     */
    private static OpKernel.Backward reduce(Reduce r, Shape in, Shape out) {
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
        int outputs = (int) out.elementCount();
        return (x, y, dy, dx) -> {
            if (dx[0] == null) return;
            float[] xs = x[0];
            int[] target = new int[xs.length];
            for (int i = 0; i < xs.length; i++) {
                int[] idx = ReferenceOps.index(i, inDims);
                for (int k = 0; k < idx.length; k++) if (reduced[k]) idx[k] = 0;
                target[i] = (int) ReferenceOps.offset(idx, keptDims);
            }
            double[] aux = new double[outputs];   // ties (MAX, MIN), product of non-zeros (PROD), sum (LOG_SUM)
            int[] zeros = new int[outputs];
            if (kind == Reduce.Kind.PROD) java.util.Arrays.fill(aux, 1);
            for (int i = 0; i < xs.length; i++) {
                int o = target[i];
                switch (kind) {
                    case MAX, MIN -> aux[o] += xs[i] == y[o] ? 1 : 0;
                    case PROD -> {
                        if (xs[i] == 0) zeros[o]++;
                        else aux[o] *= xs[i];
                    }
                    case LOG_SUM -> aux[o] += xs[i];
                    default -> {
                    }
                }
            }
            for (int i = 0; i < xs.length; i++) {
                int o = target[i];
                double v = xs[i];
                double g = dy[o];
                dx[0][i] = (float) switch (kind) {
                    case MEAN -> g / n;
                    case SUM -> g;
                    case MAX, MIN -> v == y[o] ? g / aux[o] : 0;
                    case PROD -> zeros[o] == 0 ? g * (aux[o] / v) : zeros[o] == 1 && v == 0 ? g * aux[o] : 0;
                    case L1 -> g * Math.signum(v);
                    case L2 -> y[o] == 0 ? 0 : g * (v / y[o]);
                    case SUM_SQUARE -> g * 2 * v;
                    case LOG_SUM -> g / aux[o];
                    case LOG_SUM_EXP -> g * Math.exp(v - y[o]);
                };
            }
        };
    }

    /**
     * Per row of the softmax axis: SOFTMAX {@code dx = y·(dy − Σ dy·y)}, LOG_SOFTMAX {@code dx = dy − e^y·Σ dy},
     * HARDMAX 0.
     */
    private static OpKernel.Backward softmax(AxisSoftmax s, Shape in) {
        int[] g = s.geometry(in);
        int outer = g[0];
        int length = g[1];
        int inner = g[2];
        AxisSoftmax.Function f = s.function();
        return (x, y, dy, dx) -> {
            if (dx[0] == null) return;
            for (int o = 0; o < outer; o++) {
                for (int i = 0; i < inner; i++) {
                    int base = o * length * inner + i;
                    double sum = 0;
                    for (int c = 0; c < length; c++) {
                        int e = base + c * inner;
                        sum += f == AxisSoftmax.Function.SOFTMAX ? (double) dy[e] * y[e] : dy[e];
                    }
                    for (int c = 0; c < length; c++) {
                        int e = base + c * inner;
                        dx[0][e] = (float) switch (f) {
                            case SOFTMAX -> y[e] * (dy[e] - sum);
                            case LOG_SOFTMAX -> dy[e] - Math.exp(y[e]) * sum;
                            case HARDMAX -> 0;
                        };
                    }
                }
            }
        };
    }

    private static void store(double[] acc, float[] dst) {
        for (int i = 0; i < dst.length; i++) dst[i] = (float) acc[i];
    }
}
