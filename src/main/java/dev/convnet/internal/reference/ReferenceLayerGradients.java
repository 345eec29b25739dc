package dev.convnet.internal.reference;

import dev.convnet.internal.kernels.LayerKernel;
import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.internal.train.ConvGeometry;
import dev.convnet.internal.train.GradKernel;
import dev.convnet.internal.train.TrainingModes;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.List;

/**
 * Reference training kernels of the layers with parameters and of pooling: convolutions, fully-connected layers,
 * MatMul, the 2-D, global and depth pooling layers and batch norm. Internal.
 *
 * <p>Forward passes are the {@link ReferenceKernels inference reference kernels} themselves (built on the current
 * parameters), except batch norm in training mode, which normalizes with the batch statistics. Backward passes are
 * the forward loops run once more with every product {@code y += a·b} turned into its two adjoints
 * {@code ∂a += ∂y·b} and {@code ∂b += ∂y·a}, accumulated in double and rounded once. Max pooling sends the gradient
 * to the first maximum of each window in window order (padding is never a maximum); average pooling spreads it
 * over the window with the forward divisor.
 *
 * <p>Thread-safety: the kernels are not thread-safe (batch norm keeps its batch statistics between the passes).
 */
final class ReferenceLayerGradients {
    private ReferenceLayerGradients() {
    }

    static GradKernel create(Layer layer, List<Shape> inputs, Shape output) {
        Shape in = inputs.getFirst();
        return switch (layer) {
            case Conv2d c -> new Convolution(c, ConvGeometry.of(c, in), in, output);
            case Conv1d c -> new Convolution(c, ConvGeometry.of(c, in), in, output);
            case Linear l -> new Dense(l, in, output);
            case MatMul m -> new MatrixProduct(inputs.get(0), inputs.get(1), output);
            case MaxPool2d p -> new Pool(layer, p.geometry(in), in, output, true, true);
            case AvgPool2d p -> new Pool(layer, p.geometry(in), in, output, false, p.countIncludePad());
            case GlobalPool2d g -> new GlobalPool(layer, in, output, g.poolKind() == PoolKind.MAX);
            case DepthPool d -> new DepthPooling(d, in, output);
            case BatchNorm b -> new Normalization(b, in);
            default -> throw new UnsupportedOperationException("the reference backend cannot train " + layer.kind());
        };
    }

    /** The inference reference kernel of a single-input layer. */
    private static LayerKernel inference(Layer layer, Shape in, Shape out) {
        return new ReferenceKernels().create(layer, in, out);
    }

    /** The inference reference kernel of {@code layer} with the parameter values {@code params}. */
    private static LayerKernel inference(Layer layer, float[][] params, Shape in, Shape out) {
        return inference(layer.withParameters(List.of(params)), in, out);
    }

    private static float[] round(double[] v, float[] dst) {
        for (int i = 0; i < v.length; i++) dst[i] = (float) v[i];
        return dst;
    }

    private static double[] accumulator(float[] wanted) {
        return wanted == null ? null : new double[wanted.length];
    }

    /**
     * Conv2d and Conv1d (Eq. 10 with the errata; see {@link ConvGeometry}):
     * {@code ∂x[n, g·C_g + c, iy, ix] += ∂y[n, z, oy, ox]·K[z, c, i, j']}, {@code ∂K[z, c, i, j'] += ∂y·x},
     * {@code ∂b[z] += ∂y} over every output element and every tap that lies inside the input.
     */
    private static final class Convolution implements GradKernel {
        private final Layer layer;
        private final ConvGeometry g;
        private final Shape in;
        private final Shape out;

        Convolution(Layer layer, ConvGeometry g, Shape in, Shape out) {
            this.layer = layer;
            this.g = g;
            this.in = in;
            this.out = out;
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            inference(layer, params, in, out).forward(inputs[0], output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            float[] x = inputs[0];
            float[] w = params[0];
            boolean hasBias = params.length > 1;
            double[] dx = accumulator(dInputs[0]);
            double[] dw = accumulator(dParams[0]);
            double[] db = hasBias ? accumulator(dParams[1]) : null;
            int cg = g.groupIn();
            int og = g.groupOut();
            for (int n = 0; n < g.batch(); n++) {
                for (int z = 0; z < g.outC(); z++) {
                    int group = z / og;
                    for (int oy = 0; oy < g.outH(); oy++) {
                        for (int ox = 0; ox < g.outW(); ox++) {
                            double dy = dOutput[((n * g.outC() + z) * g.outH() + oy) * g.outW() + ox];
                            if (db != null) db[z] += dy;
                            for (int c = 0; c < cg; c++) {
                                int ci = group * cg + c;
                                for (int i = 0; i < g.kh(); i++) {
                                    int iy = oy * g.sh() - g.padTop() + i * g.dh();
                                    if (iy < 0 || iy >= g.inH()) continue;
                                    for (int j = 0; j < g.kw(); j++) {
                                        int ix = ox * g.sw() - g.padLeft() + j * g.dw();
                                        if (ix < 0 || ix >= g.inW()) continue;
                                        int xi = ((n * g.inC() + ci) * g.inH() + iy) * g.inW() + ix;
                                        int wi = ((z * cg + c) * g.kh() + i) * g.kw() + g.weightColumn(j);
                                        if (dx != null) dx[xi] += dy * w[wi];
                                        if (dw != null) dw[wi] += dy * x[xi];
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if (dx != null) round(dx, dInputs[0]);
            if (dw != null) round(dw, dParams[0]);
            if (db != null) round(db, dParams[1]);
        }
    }

    /**
     * Linear (Eq. 14): {@code ∂x[n, i] = Σ_o ∂y[n, o]·W[o, i]}, {@code ∂W[o, i] = Σ_n ∂y[n, o]·x[n, i]},
     * {@code ∂b[o] = Σ_n ∂y[n, o]}, the input read as {@code [N, D]}.
     */
    private static final class Dense implements GradKernel {
        private final Linear layer;
        private final Shape in;
        private final Shape out;

        Dense(Linear layer, Shape in, Shape out) {
            this.layer = layer;
            this.in = in;
            this.out = out;
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            inference(layer, params, in, out).forward(inputs[0], output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            float[] x = inputs[0];
            float[] w = params[0];
            int batch = in.dim(0);
            int d = layer.inFeatures();
            int k = layer.outFeatures();
            double[] dx = accumulator(dInputs[0]);
            double[] dw = accumulator(dParams[0]);
            double[] db = params.length > 1 ? accumulator(dParams[1]) : null;
            for (int n = 0; n < batch; n++) {
                for (int o = 0; o < k; o++) {
                    double dy = dOutput[n * k + o];
                    if (db != null) db[o] += dy;
                    for (int i = 0; i < d; i++) {
                        if (dx != null) dx[n * d + i] += dy * w[o * d + i];
                        if (dw != null) dw[o * d + i] += dy * x[n * d + i];
                    }
                }
            }
            if (dx != null) round(dx, dInputs[0]);
            if (dw != null) round(dw, dParams[0]);
            if (db != null) round(db, dParams[1]);
        }
    }

    /**
     * MatMul with broadcast batch axes: {@code ∂a[ba, i, t] += ∂y[batch, i, j]·b[bb, t, j]} and
     * {@code ∂b[bb, t, j] += ∂y[batch, i, j]·a[ba, i, t]}, where {@code ba} and {@code bb} are the operands' own
     * batch elements under broadcasting, so a broadcast operand sums its gradient over the axes it was broadcast
     * along. Rank-1 operands are the row and column vectors of their own layout.
     */
    private static final class MatrixProduct implements GradKernel {
        private final NodeKernel forward;
        private final Shape a;
        private final Shape b;
        private final int[] full;
        private final int k;

        MatrixProduct(Shape sa, Shape sb, Shape out) {
            this.forward = ReferenceOps.matMul(sa, sb, out);
            this.a = sa.rank() == 1 ? Shape.of(1, sa.dim(0)) : sa;
            this.b = sb.rank() == 1 ? Shape.of(sb.dim(0), 1) : sb;
            int[] batch = MatMul.batchDims(a, b);
            this.k = a.dim(a.rank() - 1);
            this.full = Arrays.copyOf(batch, batch.length + 2);
            full[batch.length] = a.dim(a.rank() - 2);
            full[batch.length + 1] = b.dim(b.rank() - 1);
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            forward.forward(inputs, output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            double[] da = accumulator(dInputs[0]);
            double[] db = accumulator(dInputs[1]);
            int rows = full.length - 2;
            for (int o = 0; o < dOutput.length; o++) {
                int[] idx = ReferenceOps.index(o, full);
                int i = idx[rows];
                int j = idx[rows + 1];
                double dy = dOutput[o];
                for (int t = 0; t < k; t++) {
                    idx[rows] = i;
                    idx[rows + 1] = t;
                    int ai = (int) ReferenceOps.broadcastOffset(idx, a);
                    idx[rows] = t;
                    idx[rows + 1] = j;
                    int bi = (int) ReferenceOps.broadcastOffset(idx, b);
                    if (da != null) da[ai] += dy * inputs[1][bi];
                    if (db != null) db[bi] += dy * inputs[0][ai];
                }
            }
            if (da != null) round(da, dInputs[0]);
            if (db != null) round(db, dInputs[1]);
        }
    }

    /**
     * MaxPool2d (Eq. 11) and AvgPool2d (Eq. 12): the gradient of each output goes to the first maximum of its
     * window, or is divided by the forward divisor (window positions inside the padded input, or real elements
     * only) and added to every real element of the window.
     */
    private static final class Pool implements GradKernel {
        private final LayerKernel forward;
        private final ConvAxis gh;
        private final ConvAxis gw;
        private final int planes;
        private final int inH;
        private final int inW;
        private final boolean max;
        private final boolean countIncludePad;

        Pool(Layer layer, Geometry2d g, Shape in, Shape out, boolean max, boolean countIncludePad) {
            this.forward = inference(layer, in, out);
            this.gh = g.height();
            this.gw = g.width();
            this.planes = in.dim(0) * in.dim(1);
            this.inH = in.dim(2);
            this.inW = in.dim(3);
            this.max = max;
            this.countIncludePad = countIncludePad;
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            forward.forward(inputs[0], output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            if (dInputs[0] == null) return;
            float[] x = inputs[0];
            double[] dx = new double[x.length];
            int outH = gh.output();
            int outW = gw.output();
            for (int p = 0; p < planes; p++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        double dy = dOutput[(p * outH + oy) * outW + ox];
                        int argmax = -1;
                        int real = 0;
                        int padded = 0;
                        for (int i = 0; i < gh.kernel(); i++) {
                            int iy = oy * gh.stride() - gh.padBefore() + i;
                            for (int j = 0; j < gw.kernel(); j++) {
                                int ix = ox * gw.stride() - gw.padBefore() + j;
                                if (iy >= -gh.padBefore() && iy < inH + gh.padAfter()
                                        && ix >= -gw.padBefore() && ix < inW + gw.padAfter()) {
                                    padded++;
                                }
                                if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
                                int xi = (p * inH + iy) * inW + ix;
                                real++;
                                if (argmax < 0 || x[xi] > x[argmax]) argmax = xi;
                            }
                        }
                        if (max) {
                            dx[argmax] += dy;
                            continue;
                        }
                        double share = dy / (countIncludePad ? padded : real);
                        for (int i = 0; i < gh.kernel(); i++) {
                            int iy = oy * gh.stride() - gh.padBefore() + i;
                            for (int j = 0; j < gw.kernel(); j++) {
                                int ix = ox * gw.stride() - gw.padBefore() + j;
                                if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) continue;
                                dx[(p * inH + iy) * inW + ix] += share;
                            }
                        }
                    }
                }
            }
            round(dx, dInputs[0]);
        }
    }

    /** GlobalPool2d: the gradient goes to the first maximum of each plane, or {@code ∂y/(H·W)} to every element. */
    private static final class GlobalPool implements GradKernel {
        private final LayerKernel forward;
        private final int planes;
        private final int size;
        private final boolean max;

        GlobalPool(Layer layer, Shape in, Shape out, boolean max) {
            this.forward = inference(layer, in, out);
            this.planes = in.dim(0) * in.dim(1);
            this.size = in.dim(2) * in.dim(3);
            this.max = max;
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            forward.forward(inputs[0], output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            if (dInputs[0] == null) return;
            float[] x = inputs[0];
            float[] dx = dInputs[0];
            for (int p = 0; p < planes; p++) {
                int argmax = p * size;
                for (int i = p * size; i < (p + 1) * size; i++) {
                    dx[i] = max ? 0f : (float) ((double) dOutput[p] / size);
                    if (x[i] > x[argmax]) argmax = i;
                }
                if (max) dx[argmax] = dOutput[p];
            }
        }
    }

    /** DepthPool (Note 5): per spatial position, as pooling over windows of channels (which may overlap). */
    private static final class DepthPooling implements GradKernel {
        private final LayerKernel forward;
        private final DepthPool pool;
        private final int batch;
        private final int inC;
        private final int outC;
        private final int size;

        DepthPooling(DepthPool pool, Shape in, Shape out) {
            this.forward = inference(pool, in, out);
            this.pool = pool;
            this.batch = in.dim(0);
            this.inC = in.dim(1);
            this.outC = out.dim(1);
            this.size = in.dim(2) * in.dim(3);
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            forward.forward(inputs[0], output);
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            if (dInputs[0] == null) return;
            float[] x = inputs[0];
            double[] dx = new double[x.length];
            for (int n = 0; n < batch; n++) {
                for (int z = 0; z < outC; z++) {
                    for (int s = 0; s < size; s++) {
                        double dy = dOutput[(n * outC + z) * size + s];
                        int argmax = -1;
                        for (int k = 0; k < pool.window(); k++) {
                            int xi = (n * inC + z * pool.stride() + k) * size + s;
                            if (pool.poolKind() == PoolKind.AVERAGE) {
                                dx[xi] += dy / pool.window();
                            } else if (argmax < 0 || x[xi] > x[argmax]) {
                                argmax = xi;
                            }
                        }
                        if (argmax >= 0) dx[argmax] += dy;
                    }
                }
            }
            round(dx, dInputs[0]);
        }
    }

    /**
     * BatchNorm over axis 1; {@code M = N·(elements per channel and image)} values per channel.
     * <ul>
     *   <li>Training: {@code μ = Σx/M}, {@code σ² = Σ(x − μ)²/M}, {@code x̂ = (x − μ)/√(σ² + ε)},
     *       {@code y = γ·x̂ + β}; the running statistics become {@code (1 − m)·running + m·batch} with the unbiased
     *       variance {@code σ²·M/(M − 1)}. Backward: {@code ∂β = Σ∂y}, {@code ∂γ = Σ∂y·x̂},
     *       {@code ∂x = γ/√(σ² + ε)·(∂y − ∂β/M − x̂·∂γ/M)} (μ and σ² depend on x).</li>
     *   <li>Inference (a frozen batch norm): the running statistics, constants, so
     *       {@code ∂x = ∂y·γ/√(σ²_run + ε)}, {@code ∂γ = Σ∂y·(x − μ_run)/√(σ²_run + ε)}, {@code ∂β = Σ∂y}.</li>
     * </ul>
     * The backward pass follows the mode of the last forward pass. Running statistics get no gradient (zeros if
     * asked).
     */
    private static final class Normalization implements GradKernel {
        private final int batch;
        private final int channels;
        private final int inner;
        private final double epsilon;
        private final double momentum;
        private final double[] mean;
        private final double[] variance;
        private boolean training;

        Normalization(BatchNorm bn, Shape in) {
            this.batch = in.dim(0);
            this.channels = in.dim(1);
            this.inner = (int) in.elementCount(2);
            this.epsilon = bn.epsilon();
            this.momentum = bn.momentum();
            this.mean = new double[channels];
            this.variance = new double[channels];
        }

        private int at(int n, int c, int s) {
            return (n * channels + c) * inner + s;
        }

        @Override
        public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
            float[] x = inputs[0];
            float[] gamma = params[0];
            float[] beta = params[1];
            this.training = training;
            int m = batch * inner;
            String refusal = training ? TrainingModes.batchVarianceRefusal(m) : null;
            if (refusal != null) throw new ShapeException(refusal);
            for (int c = 0; c < channels; c++) {
                if (training) {
                    double sum = 0;
                    for (int n = 0; n < batch; n++) for (int s = 0; s < inner; s++) sum += x[at(n, c, s)];
                    mean[c] = sum / m;
                    double sq = 0;
                    for (int n = 0; n < batch; n++) for (int s = 0; s < inner; s++) sq += sq(x[at(n, c, s)] - mean[c]);
                    variance[c] = sq / m;
                } else {
                    mean[c] = params[2][c];
                    variance[c] = params[3][c];
                }
                double denom = Math.sqrt(variance[c] + epsilon);
                for (int n = 0; n < batch; n++) {
                    for (int s = 0; s < inner; s++) {
                        int i = at(n, c, s);
                        output[i] = (float) (gamma[c] * ((x[i] - mean[c]) / denom) + beta[c]);
                    }
                }
                if (training) {
                    params[2][c] = (float) ((1 - momentum) * params[2][c] + momentum * mean[c]);
                    params[3][c] = (float) ((1 - momentum) * params[3][c] + momentum * variance[c] * m / (m - 1));
                }
            }
        }

        private static double sq(double v) {
            return v * v;
        }

        @Override
        public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                             float[][] dParams) {
            float[] x = inputs[0];
            float[] gamma = params[0];
            int m = batch * inner;
            for (int c = 0; c < channels; c++) {
                double denom = Math.sqrt(variance[c] + epsilon);
                double sumDy = 0;
                double sumDyXhat = 0;
                for (int n = 0; n < batch; n++) {
                    for (int s = 0; s < inner; s++) {
                        int i = at(n, c, s);
                        sumDy += dOutput[i];
                        sumDyXhat += dOutput[i] * ((x[i] - mean[c]) / denom);
                    }
                }
                if (dParams[0] != null) dParams[0][c] = (float) sumDyXhat;
                if (dParams[1] != null) dParams[1][c] = (float) sumDy;
                if (dInputs[0] == null) continue;
                for (int n = 0; n < batch; n++) {
                    for (int s = 0; s < inner; s++) {
                        int i = at(n, c, s);
                        double dx = training
                                ? gamma[c] / denom * (dOutput[i] - sumDy / m - (x[i] - mean[c]) / denom * sumDyXhat / m)
                                : gamma[c] / denom * dOutput[i];
                        dInputs[0][i] = (float) dx;
                    }
                }
            }
            for (int j = 2; j < 4; j++) {
                if (dParams[j] != null) Arrays.fill(dParams[j], 0f);
            }
        }
    }
}
