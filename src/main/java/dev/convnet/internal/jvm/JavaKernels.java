package dev.convnet.internal.jvm;

import dev.convnet.internal.kernels.KernelFactory;
import dev.convnet.internal.kernels.LayerKernel;
import dev.convnet.internal.kernels.MathFunctions;
import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.layer.Softmax;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;

import java.util.List;
import java.util.function.DoubleUnaryOperator;

/**
 * The pure-Java backend: convolutions as im2col + cache-blocked SGEMM ({@link ConvKernel},
 * {@link FloatKernels}), fully-connected layers as SGEMM against the transposed weights, and simple
 * loops for the cheap layers; all parallel over a private fork-join pool of the configured size.
 * The inner loops run on the Vector API or as scalar loops, as {@link Vectorization} decides.
 * Internal.
 *
 * <p>Thread-safety: {@link #create} is called once per layer while compiling; the kernels are
 * thread-safe. {@link #close()} shuts the pool down.
 */
public final class JavaKernels implements KernelFactory {
    /** Elements per task of the element-wise layers. */
    private static final int CHUNK = 1 << 14;

    private final Parallel parallel;
    private final JavaOps ops;

    /**
     * A backend with {@code threads} worker threads (1 = the calling thread only), on the kernels
     * {@link Vectorization} chose.
     */
    public JavaKernels(int threads) {
        this(new Parallel(threads));
    }

    /** The same on the given kernels (tests run each implementation this way). */
    JavaKernels(int threads, FloatKernels kernels) {
        this(new Parallel(threads, kernels));
    }

    private JavaKernels(Parallel parallel) {
        this.parallel = parallel;
        this.ops = new JavaOps(parallel);
    }

    @Override
    public LayerKernel create(Layer layer, Shape in, Shape out) {
        return switch (layer) {
            case Conv2d c -> conv2d(c, in, out);
            case Conv1d c -> conv1d(c, in, out);
            case MaxPool2d p -> pool(p.geometry(in), in, true, true);
            case AvgPool2d p -> pool(p.geometry(in), in, false, p.countIncludePad());
            case GlobalPool2d g -> globalPool(g.poolKind(), in);
            case DepthPool d -> depthPool(d, in, out);
            case Activation a -> activation(a);
            case Flatten f -> (x, y) -> System.arraycopy(x, 0, y, 0, x.length);
            case Linear l -> linear(l, in);
            case Softmax s -> softmax(in);
            case BatchNorm b -> batchNorm(b, in);
            case Reshape r -> (x, y) -> System.arraycopy(x, 0, y, 0, x.length);
            case Dropout d -> (x, y) -> System.arraycopy(x, 0, y, 0, x.length); // identity in inference
            case QuantizeLinear q -> dev.convnet.internal.kernels.QuantKernels.kernel(q.params(), in, true);
            case DequantizeLinear q -> dev.convnet.internal.kernels.QuantKernels.kernel(q.params(), in, false);
            case Transpose t -> ops.transpose(t, in, out);
            case Pad p -> ops.pad(p, in, out);
            case Unary u -> ops.unary(u);
            case Slice sl -> ops.slice(sl, in, out);
            case Reduce r -> ops.reduce(r, in, out);
            case AxisSoftmax s -> ops.axisSoftmax(s, in);
            case Concat c -> (x, y) -> System.arraycopy(x, 0, y, 0, x.length);
            case Binary b -> throw new IllegalArgumentException(b + " takes 2 inputs");
            case MatMul m -> throw new IllegalArgumentException(m + " takes 2 inputs");
        };
    }

    @Override
    public NodeKernel create(Layer layer, List<Shape> inputs, Shape output) {
        return switch (layer) {
            case Binary b -> ops.binary(b, inputs.get(0), inputs.get(1), output);
            case MatMul m -> ops.matMul(inputs.get(0), inputs.get(1), output);
            case Concat c -> ops.concat(c, inputs, output);
            default -> KernelFactory.super.create(layer, inputs, output);
        };
    }

    private LayerKernel conv2d(Conv2d c, Shape in, Shape out) {
        Geometry2d g = c.geometry(in);
        return new ConvKernel(parallel, in.dim(0), in.dim(1), in.dim(2), in.dim(3), out.dim(1), out.dim(2), out.dim(3),
                c.groups(), c.kernelHeight(), c.kernelWidth(), c.strideHeight(), c.strideWidth(),
                c.dilationHeight(), c.dilationWidth(), g.height().padBefore(), g.width().padBefore(),
                c.weights(), c.bias().orElse(null));
    }

    /** A 1-D convolution is a 2-D one with height 1; true convolution flips each kernel first. */
    private LayerKernel conv1d(Conv1d c, Shape in, Shape out) {
        ConvAxis a = c.geometry(in);
        float[] w = c.weights();
        int k = c.kernelSize();
        if (c.trueConvolution()) {
            for (int r = 0; r < w.length; r += k) {
                for (int m = 0; m < k / 2; m++) {
                    float t = w[r + m];
                    w[r + m] = w[r + k - 1 - m];
                    w[r + k - 1 - m] = t;
                }
            }
        }
        return new ConvKernel(parallel, in.dim(0), in.dim(1), 1, in.dim(2), out.dim(1), 1, out.dim(2), c.groups(),
                1, k, 1, a.stride(), 1, a.dilation(), 0, a.padBefore(), w, c.bias().orElse(null));
    }

    /** Max (padding ignored) or average pooling, one task per group of channel planes. */
    private LayerKernel pool(Geometry2d g, Shape in, boolean max, boolean countIncludePad) {
        ConvAxis gh = g.height();
        ConvAxis gw = g.width();
        int planes = in.dim(0) * in.dim(1);
        int inH = in.dim(2);
        int inW = in.dim(3);
        int outH = gh.output();
        int outW = gw.output();
        int perTask = Math.max(1, CHUNK / Math.max(1, outH * outW * gh.kernel() * gw.kernel()));
        int tasks = (planes + perTask - 1) / perTask;
        return (x, y) -> parallel.forEach(tasks, t -> {
            for (int p = t * perTask; p < Math.min(planes, (t + 1) * perTask); p++) {
                int xp = p * inH * inW;
                int yp = p * outH * outW;
                for (int oy = 0; oy < outH; oy++) {
                    int y0 = oy * gh.stride() - gh.padBefore();
                    int yLo = Math.max(0, y0);
                    int yHi = Math.min(inH, y0 + gh.kernel());
                    int yCount = Math.min(inH + gh.padAfter(), y0 + gh.kernel()) - Math.max(-gh.padBefore(), y0);
                    for (int ox = 0; ox < outW; ox++) {
                        int x0 = ox * gw.stride() - gw.padBefore();
                        int xLo = Math.max(0, x0);
                        int xHi = Math.min(inW, x0 + gw.kernel());
                        float result;
                        if (max) {
                            float m = Float.NEGATIVE_INFINITY;
                            for (int iy = yLo; iy < yHi; iy++) {
                                int r = xp + iy * inW;
                                for (int ix = xLo; ix < xHi; ix++) {
                                    m = Math.max(m, x[r + ix]);
                                }
                            }
                            result = m;
                        } else {
                            float s = 0f;
                            for (int iy = yLo; iy < yHi; iy++) {
                                int r = xp + iy * inW;
                                for (int ix = xLo; ix < xHi; ix++) {
                                    s += x[r + ix];
                                }
                            }
                            int count = countIncludePad
                                    ? yCount * (Math.min(inW + gw.padAfter(), x0 + gw.kernel()) - Math.max(-gw.padBefore(), x0))
                                    : (yHi - yLo) * (xHi - xLo);
                            result = s / count;
                        }
                        y[yp + oy * outW + ox] = result;
                    }
                }
            }
        });
    }

    private LayerKernel globalPool(PoolKind kind, Shape in) {
        int planes = in.dim(0) * in.dim(1);
        int size = in.dim(2) * in.dim(3);
        return (x, y) -> parallel.forEach(planes, p -> {
            int off = p * size;
            if (kind == PoolKind.MAX) {
                float m = Float.NEGATIVE_INFINITY;
                for (int i = 0; i < size; i++) {
                    m = Math.max(m, x[off + i]);
                }
                y[p] = m;
            } else {
                double s = 0;
                for (int i = 0; i < size; i++) {
                    s += x[off + i];
                }
                y[p] = (float) (s / size);
            }
        });
    }

    /** Channel windows; the inner loop runs over contiguous spatial positions. */
    private LayerKernel depthPool(DepthPool d, Shape in, Shape out) {
        int inC = in.dim(1);
        int outC = out.dim(1);
        int size = in.dim(2) * in.dim(3);
        boolean max = d.poolKind() == PoolKind.MAX;
        int window = d.window();
        return (x, y) -> parallel.forEach(in.dim(0) * outC, t -> {
            int n = t / outC;
            int z = t % outC;
            int dst = (n * outC + z) * size;
            int src = (n * inC + z * d.stride()) * size;
            System.arraycopy(x, src, y, dst, size);
            for (int k = 1; k < window; k++) {
                int s = src + k * size;
                for (int i = 0; i < size; i++) {
                    y[dst + i] = max ? Math.max(y[dst + i], x[s + i]) : y[dst + i] + x[s + i];
                }
            }
            if (!max && window > 1) {
                for (int i = 0; i < size; i++) {
                    y[dst + i] = y[dst + i] / window;
                }
            }
        });
    }

    private LayerKernel activation(Activation a) {
        float alpha = a.alpha();
        return switch (a.function()) {
            case RELU -> chunked((x, y, from, to) -> {
                for (int i = from; i < to; i++) {
                    y[i] = Math.max(x[i], 0f);
                }
            });
            case LEAKY_RELU -> chunked((x, y, from, to) -> {
                for (int i = from; i < to; i++) {
                    float v = x[i];
                    y[i] = v > 0 ? v : (float) (alpha * (double) v);
                }
            });
            case SIGMOID -> mapped(v -> 1.0 / (1.0 + Math.exp(-v)));
            case TANH -> mapped(Math::tanh);
            case ELU -> mapped(v -> v > 0 ? v : alpha * Math.expm1(v));
            case GELU -> mapped(MathFunctions::gelu);
        };
    }

    private interface Block {
        void run(float[] x, float[] y, int from, int to);
    }

    private LayerKernel chunked(Block block) {
        return (x, y) -> {
            int tasks = (x.length + CHUNK - 1) / CHUNK;
            parallel.forEach(tasks, t -> block.run(x, y, t * CHUNK, Math.min(x.length, (t + 1) * CHUNK)));
        };
    }

    private LayerKernel mapped(DoubleUnaryOperator f) {
        return chunked((x, y, from, to) -> {
            for (int i = from; i < to; i++) {
                y[i] = (float) f.applyAsDouble(x[i]);
            }
        });
    }

    /** Y[N × K] = X[N × D]·Wᵀ + b, with Wᵀ stored [D × K] so the SGEMM streams its rows. */
    private LayerKernel linear(Linear l, Shape in) {
        int batch = in.dim(0);
        int d = l.inFeatures();
        int k = l.outFeatures();
        float[] w = l.weights();
        float[] wt = new float[w.length];
        for (int o = 0; o < k; o++) {
            for (int i = 0; i < d; i++) {
                wt[i * k + o] = w[o * d + i];
            }
        }
        float[] b = l.bias().orElse(null);
        int block = Math.max(16, Math.min(Sgemm.NC, (k + 4 * parallel.threads() - 1) / (4 * parallel.threads())));
        int tasks = (k + block - 1) / block;
        return (x, y) -> parallel.forEach(tasks, t -> {
            int k0 = t * block;
            int kb = Math.min(block, k - k0);
            for (int n = 0; n < batch; n++) {
                for (int o = k0; o < k0 + kb; o++) {
                    y[n * k + o] = b == null ? 0f : b[o];
                }
            }
            parallel.kernels().multiplyAdd(batch, kb, d, x, 0, d, wt, k0, k, y, k0, k);
        });
    }

    private LayerKernel softmax(Shape in) {
        int batch = in.dim(0);
        int channels = in.dim(1);
        int inner = (int) in.elementCount(2);
        return (x, y) -> parallel.forEach(batch, n -> {
            int base = n * channels * inner;
            for (int s = 0; s < inner; s++) {
                float max = Float.NEGATIVE_INFINITY;
                for (int c = 0; c < channels; c++) {
                    max = Math.max(max, x[base + c * inner + s]);
                }
                double sum = 0;
                for (int c = 0; c < channels; c++) {
                    sum += Math.exp((double) x[base + c * inner + s] - max);
                }
                for (int c = 0; c < channels; c++) {
                    int i = base + c * inner + s;
                    y[i] = (float) (Math.exp((double) x[i] - max) / sum);
                }
            }
        });
    }

    /** y = x·scale + shift with scale = γ/√(σ² + ε), shift = β − μ·scale, precomputed per channel. */
    private LayerKernel batchNorm(BatchNorm bn, Shape in) {
        double[] scaleD = bn.scale();
        double[] shiftD = bn.shift();
        float[] scale = new float[scaleD.length];
        float[] shift = new float[shiftD.length];
        for (int c = 0; c < scale.length; c++) {
            scale[c] = (float) scaleD[c];
            shift[c] = (float) shiftD[c];
        }
        int channels = in.dim(1);
        int inner = (int) in.elementCount(2);
        return (x, y) -> parallel.forEach(in.dim(0) * channels, t -> {
            int c = t % channels;
            float sc = scale[c];
            float sh = shift[c];
            int off = t * inner;
            for (int i = off; i < off + inner; i++) {
                y[i] = Math.fma(x[i], sc, sh);
            }
        });
    }

    @Override
    public void close() {
        parallel.close();
    }
}
