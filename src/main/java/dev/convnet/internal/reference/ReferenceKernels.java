package dev.convnet.internal.reference;

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

/**
 * The reference backend: each layer's equation from the lecture notes (with the errata) written
 * as plainly as possible, one output element at a time, accumulating in double and rounding
 * once to float. Slow on purpose; the oracle every other backend is tested against. Internal.
 *
 * <p>Thread-safety: stateless; its kernels are stateless.
 */
public final class ReferenceKernels implements KernelFactory {

    @Override
    public LayerKernel create(Layer layer, Shape in, Shape out) {
        return switch (layer) {
            case Conv2d c -> conv2d(c, in, out);
            case Conv1d c -> conv1d(c, in, out);
            case MaxPool2d p -> pool(p.geometry(in), in, PoolKind.MAX, true);
            case AvgPool2d p -> pool(p.geometry(in), in, PoolKind.AVERAGE, p.countIncludePad());
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
            case Transpose t -> ReferenceOps.transpose(t, in, out);
            case Pad p -> ReferenceOps.pad(p, in, out);
            case Unary u -> ReferenceOps.unary(u);
            case Slice sl -> ReferenceOps.slice(sl, in, out);
            case Reduce r -> ReferenceOps.reduce(r, in);
            case AxisSoftmax s -> ReferenceOps.axisSoftmax(s, in);
            case Concat c -> {
                NodeKernel k = ReferenceOps.concat(c, List.of(in), out);
                yield (x, y) -> k.forward(new float[][] {x}, y);
            }
            case Binary b -> throw new IllegalArgumentException(b + " takes 2 inputs");
            case MatMul m -> throw new IllegalArgumentException(m + " takes 2 inputs");
        };
    }

    @Override
    public NodeKernel create(Layer layer, List<Shape> inputs, Shape output) {
        return switch (layer) {
            case Binary b -> ReferenceOps.binary(b, inputs.get(0), inputs.get(1), output);
            case MatMul m -> ReferenceOps.matMul(inputs.get(0), inputs.get(1), output);
            case Concat c -> ReferenceOps.concat(c, inputs, output);
            default -> KernelFactory.super.create(layer, inputs, output);
        };
    }

    /** Eq. 10 with the errata: out[n,z,y,x] = b[z] + Σ_{c,i,j} in[n, c_g, y·s − p + i·d, x·s − p + j·d]·K[z,c,i,j]. */
    private static LayerKernel conv2d(Conv2d conv, Shape in, Shape out) {
        Geometry2d g = conv.geometry(in);
        ConvAxis gh = g.height();
        ConvAxis gw = g.width();
        float[] w = conv.weights();
        float[] b = conv.bias().orElse(null);
        int batch = in.dim(0);
        int inC = in.dim(1);
        int inH = in.dim(2);
        int inW = in.dim(3);
        int outC = out.dim(1);
        int outH = out.dim(2);
        int outW = out.dim(3);
        int groupIn = inC / conv.groups();
        int groupOut = outC / conv.groups();
        int kh = conv.kernelHeight();
        int kw = conv.kernelWidth();
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int z = 0; z < outC; z++) {
                    int group = z / groupOut;
                    for (int oy = 0; oy < outH; oy++) {
                        for (int ox = 0; ox < outW; ox++) {
                            double acc = b == null ? 0.0 : b[z];
                            for (int c = 0; c < groupIn; c++) {
                                int ci = group * groupIn + c;
                                for (int i = 0; i < kh; i++) {
                                    int iy = oy * gh.stride() - gh.padBefore() + i * gh.dilation();
                                    if (iy < 0 || iy >= inH) {
                                        continue; // zero padding
                                    }
                                    for (int j = 0; j < kw; j++) {
                                        int ix = ox * gw.stride() - gw.padBefore() + j * gw.dilation();
                                        if (ix < 0 || ix >= inW) {
                                            continue;
                                        }
                                        double xv = x[((n * inC + ci) * inH + iy) * inW + ix];
                                        double wv = w[((z * groupIn + c) * kh + i) * kw + j];
                                        acc += xv * wv;
                                    }
                                }
                            }
                            y[((n * outC + z) * outH + oy) * outW + ox] = (float) acc;
                        }
                    }
                }
            }
        };
    }

    /** Eq. 6 sizes; out[n] = Σ_m f[n·s + m·d]·g[m] (or g[N − 1 − m] for true convolution) over the padded input. */
    private static LayerKernel conv1d(Conv1d conv, Shape in, Shape out) {
        ConvAxis a = conv.geometry(in);
        float[] w = conv.weights();
        float[] b = conv.bias().orElse(null);
        int batch = in.dim(0);
        int inC = in.dim(1);
        int inL = in.dim(2);
        int outC = out.dim(1);
        int outL = out.dim(2);
        int groupIn = inC / conv.groups();
        int groupOut = outC / conv.groups();
        int k = conv.kernelSize();
        boolean flip = conv.trueConvolution();
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int z = 0; z < outC; z++) {
                    int group = z / groupOut;
                    for (int o = 0; o < outL; o++) {
                        double acc = b == null ? 0.0 : b[z];
                        for (int c = 0; c < groupIn; c++) {
                            int ci = group * groupIn + c;
                            for (int m = 0; m < k; m++) {
                                int i = o * a.stride() - a.padBefore() + m * a.dilation();
                                if (i < 0 || i >= inL) {
                                    continue;
                                }
                                int km = flip ? k - 1 - m : m;
                                acc += (double) x[(n * inC + ci) * inL + i] * w[(z * groupIn + c) * k + km];
                            }
                        }
                        y[(n * outC + z) * outL + o] = (float) acc;
                    }
                }
            }
        };
    }

    /** Eq. 11 (max, padding ignored) and Eq. 12 (mean; divisor with or without padded positions). */
    private static LayerKernel pool(Geometry2d g, Shape in, PoolKind kind, boolean countIncludePad) {
        ConvAxis gh = g.height();
        ConvAxis gw = g.width();
        int planes = in.dim(0) * in.dim(1);
        int inH = in.dim(2);
        int inW = in.dim(3);
        int outH = gh.output();
        int outW = gw.output();
        return (x, y) -> {
            for (int p = 0; p < planes; p++) {
                for (int oy = 0; oy < outH; oy++) {
                    for (int ox = 0; ox < outW; ox++) {
                        double max = Double.NEGATIVE_INFINITY;
                        double sum = 0;
                        int real = 0;
                        int padded = 0;
                        for (int i = 0; i < gh.kernel(); i++) {
                            int iy = oy * gh.stride() - gh.padBefore() + i;
                            for (int j = 0; j < gw.kernel(); j++) {
                                int ix = ox * gw.stride() - gw.padBefore() + j;
                                boolean insidePadded = iy >= -gh.padBefore() && iy < inH + gh.padAfter()
                                        && ix >= -gw.padBefore() && ix < inW + gw.padAfter();
                                if (insidePadded) {
                                    padded++;
                                }
                                if (iy < 0 || iy >= inH || ix < 0 || ix >= inW) {
                                    continue;
                                }
                                double v = x[(p * inH + iy) * inW + ix];
                                max = Math.max(max, v);
                                sum += v;
                                real++;
                            }
                        }
                        double result = kind == PoolKind.MAX ? max : sum / (countIncludePad ? padded : real);
                        y[(p * outH + oy) * outW + ox] = (float) result;
                    }
                }
            }
        };
    }

    private static LayerKernel globalPool(PoolKind kind, Shape in) {
        int planes = in.dim(0) * in.dim(1);
        int size = in.dim(2) * in.dim(3);
        return (x, y) -> {
            for (int p = 0; p < planes; p++) {
                double max = Double.NEGATIVE_INFINITY;
                double sum = 0;
                for (int i = 0; i < size; i++) {
                    max = Math.max(max, x[p * size + i]);
                    sum += x[p * size + i];
                }
                y[p] = (float) (kind == PoolKind.MAX ? max : sum / size);
            }
        };
    }

    /** Note 5: pooling across depth, windows of channels at each spatial position. */
    private static LayerKernel depthPool(DepthPool d, Shape in, Shape out) {
        int batch = in.dim(0);
        int inC = in.dim(1);
        int outC = out.dim(1);
        int size = in.dim(2) * in.dim(3);
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int z = 0; z < outC; z++) {
                    for (int s = 0; s < size; s++) {
                        double max = Double.NEGATIVE_INFINITY;
                        double sum = 0;
                        for (int k = 0; k < d.window(); k++) {
                            double v = x[(n * inC + z * d.stride() + k) * size + s];
                            max = Math.max(max, v);
                            sum += v;
                        }
                        y[(n * outC + z) * size + s] = (float) (d.poolKind() == PoolKind.MAX ? max : sum / d.window());
                    }
                }
            }
        };
    }

    private static LayerKernel activation(Activation a) {
        double alpha = a.alpha();
        return switch (a.function()) {
            case RELU -> elementwise(v -> Math.max(0.0, v));
            case LEAKY_RELU -> elementwise(v -> v > 0 ? v : alpha * v);
            case SIGMOID -> elementwise(v -> 1.0 / (1.0 + Math.exp(-v)));
            case TANH -> elementwise(Math::tanh);
            case ELU -> elementwise(v -> v > 0 ? v : alpha * Math.expm1(v));
            case GELU -> elementwise(MathFunctions::gelu);
        };
    }

    private static LayerKernel elementwise(java.util.function.DoubleUnaryOperator f) {
        return (x, y) -> {
            for (int i = 0; i < x.length; i++) {
                y[i] = (float) f.applyAsDouble(x[i]);
            }
        };
    }

    /** Eq. 14: y = W·x + b for each flattened image. */
    private static LayerKernel linear(Linear l, Shape in) {
        float[] w = l.weights();
        float[] b = l.bias().orElse(null);
        int batch = in.dim(0);
        int d = l.inFeatures();
        int k = l.outFeatures();
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int o = 0; o < k; o++) {
                    double acc = b == null ? 0.0 : b[o];
                    for (int i = 0; i < d; i++) {
                        acc += (double) w[o * d + i] * x[n * d + i];
                    }
                    y[n * k + o] = (float) acc;
                }
            }
        };
    }

    /** Softmax over axis 1 at every position of the remaining axes. */
    private static LayerKernel softmax(Shape in) {
        int batch = in.dim(0);
        int channels = in.dim(1);
        int inner = (int) in.elementCount(2);
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int s = 0; s < inner; s++) {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int c = 0; c < channels; c++) {
                        max = Math.max(max, x[(n * channels + c) * inner + s]);
                    }
                    double sum = 0;
                    for (int c = 0; c < channels; c++) {
                        sum += Math.exp(x[(n * channels + c) * inner + s] - max);
                    }
                    for (int c = 0; c < channels; c++) {
                        int i = (n * channels + c) * inner + s;
                        y[i] = (float) (Math.exp(x[i] - max) / sum);
                    }
                }
            }
        };
    }

    /** y = γ·(x − μ)/√(σ² + ε) + β per channel. */
    private static LayerKernel batchNorm(BatchNorm bn, Shape in) {
        float[] gamma = bn.gamma();
        float[] beta = bn.beta();
        float[] mean = bn.mean();
        float[] var = bn.variance();
        double eps = bn.epsilon();
        int batch = in.dim(0);
        int channels = in.dim(1);
        int inner = (int) in.elementCount(2);
        return (x, y) -> {
            for (int n = 0; n < batch; n++) {
                for (int c = 0; c < channels; c++) {
                    double denom = Math.sqrt(var[c] + eps);
                    for (int s = 0; s < inner; s++) {
                        int i = (n * channels + c) * inner + s;
                        y[i] = (float) (gamma[c] * ((x[i] - (double) mean[c]) / denom) + beta[c]);
                    }
                }
            }
        };
    }

    @Override
    public void close() {
        // no resources
    }
}
