package dev.convnet.layer;

import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.shape.SizeEquations;

import java.util.Objects;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * 2-D convolution (cross-correlation, as in oneDNN, ONNX and PyTorch; see the errata to Eq. 2–4
 * and Eq. 10). Input NCHW {@code [N, C_in, H, W]}, weights OIHW
 * {@code [C_out, C_in/groups, kH, kW]}, optional bias {@code [C_out]}, output
 * {@code [N, C_out, H_out, W_out]} with the sizes from Eq. 8:
 * <pre>
 *   out[n, z, y, x] = b[z] + Σ_{c, i, j} in[n, g·C_in/groups + c, y·s_h − p_top + i·d_h, x·s_w − p_left + j·d_w]
 *                                         · K[z, c, i, j]       (g = z / (C_out/groups); zero outside the input)
 * </pre>
 * {@code groups = C_in = C_out} is a depthwise convolution.
 *
 * <p>Thread-safety: immutable.
 */
public final class Conv2d implements Layer {
    private final int inChannels;
    private final int outChannels;
    private final int kernelHeight;
    private final int kernelWidth;
    private final int strideHeight;
    private final int strideWidth;
    private final int dilationHeight;
    private final int dilationWidth;
    private final int groups;
    private final Padding padding;
    private final float[] weights;
    private final float[] bias;

    private Conv2d(Builder b) {
        Params.positive("Conv2d", "input channels", b.inChannels);
        Params.positive("Conv2d", "output channels", b.outChannels);
        Params.positive("Conv2d", "kernel height", b.kernelHeight);
        Params.positive("Conv2d", "kernel width", b.kernelWidth);
        if (b.strideHeight < 1 || b.strideWidth < 1) {
            throw new ShapeException("Conv2d: Eq. 8: stride s = " + b.strideHeight + "×" + b.strideWidth
                    + " must be ≥ 1 (the equation divides by s; the notes' \"s = 0\" is an erratum)");
        }
        if (b.dilationHeight < 1 || b.dilationWidth < 1) {
            throw new ShapeException("Conv2d: dilation d = " + b.dilationHeight + "×" + b.dilationWidth + " must be ≥ 1");
        }
        Params.checkGroups("Conv2d", b.inChannels, b.outChannels, b.groups);
        this.inChannels = b.inChannels;
        this.outChannels = b.outChannels;
        this.kernelHeight = b.kernelHeight;
        this.kernelWidth = b.kernelWidth;
        this.strideHeight = b.strideHeight;
        this.strideWidth = b.strideWidth;
        this.dilationHeight = b.dilationHeight;
        this.dilationWidth = b.dilationWidth;
        this.groups = b.groups;
        this.padding = b.padding;
        Shape ws = weightShape();
        if (b.random != null) {
            long fanIn = ws.elementCount(1);
            this.weights = Params.randomWeights(b.random, Params.arraySize("Conv2d weights", ws), fanIn);
            this.bias = b.withBias ? Params.randomBias(b.random, outChannels, fanIn) : null;
        } else {
            if (b.weights == null) {
                throw new IllegalStateException("Conv2d: no weights: call weights(float[]) or randomWeights(RandomGenerator)");
            }
            this.weights = Params.copyChecked("Conv2d weights", ws, " (O, I/groups, kH, kW)", b.weights);
            this.bias = b.bias == null ? null : Params.copyChecked("Conv2d bias", Shape.of(outChannels), " (O)", b.bias);
        }
    }

    /** A builder for a square {@code k×k} kernel. */
    public static Builder builder(int inChannels, int outChannels, int kernelSize) {
        return new Builder(inChannels, outChannels, kernelSize, kernelSize);
    }

    /** A builder for a {@code kernelHeight×kernelWidth} kernel. */
    public static Builder builder(int inChannels, int outChannels, int kernelHeight, int kernelWidth) {
        return new Builder(inChannels, outChannels, kernelHeight, kernelWidth);
    }

    /** A builder with every setting of this layer, to derive a modified copy. */
    public Builder toBuilder() {
        Builder b = new Builder(inChannels, outChannels, kernelHeight, kernelWidth)
                .stride(strideHeight, strideWidth).dilation(dilationHeight, dilationWidth)
                .padding(padding).groups(groups).weights(weights);
        return bias == null ? b : b.bias(bias);
    }

    /** Input channels C_in. */
    public int inChannels() {
        return inChannels;
    }

    /** Output channels (number of kernels) C_out. */
    public int outChannels() {
        return outChannels;
    }

    /** Kernel height kH. */
    public int kernelHeight() {
        return kernelHeight;
    }

    /** Kernel width kW. */
    public int kernelWidth() {
        return kernelWidth;
    }

    /** Vertical stride. */
    public int strideHeight() {
        return strideHeight;
    }

    /** Horizontal stride. */
    public int strideWidth() {
        return strideWidth;
    }

    /** Vertical dilation. */
    public int dilationHeight() {
        return dilationHeight;
    }

    /** Horizontal dilation. */
    public int dilationWidth() {
        return dilationWidth;
    }

    /** Number of groups (1 = ordinary, C_in = depthwise). */
    public int groups() {
        return groups;
    }

    /** The padding rule. */
    public Padding padding() {
        return padding;
    }

    /** The weight shape {@code [C_out, C_in/groups, kH, kW]} (OIHW). */
    public Shape weightShape() {
        return Shape.of(outChannels, inChannels / groups, kernelHeight, kernelWidth);
    }

    /** A copy of the weights, OIHW row-major. */
    public float[] weights() {
        return weights.clone();
    }

    /** A copy of the bias, if the layer has one. */
    public Optional<float[]> bias() {
        return bias == null ? Optional.empty() : Optional.of(bias.clone());
    }

    /** {@code weight} (OIHW) and, if the layer has one, {@code bias}. */
    @Override
    public java.util.List<ParameterSpec> parameters() {
        Shape ws = weightShape();
        long fanIn = ws.elementCount(1);
        long fanOut = (long) (outChannels / groups) * kernelHeight * kernelWidth;
        ParameterSpec w = new ParameterSpec("weight", ws, ParameterSpec.Role.WEIGHT, fanIn, fanOut, weights.clone());
        return bias == null ? java.util.List.of(w)
                : java.util.List.of(w, new ParameterSpec("bias", Shape.of(outChannels), ParameterSpec.Role.BIAS, fanIn, fanOut,
                        bias.clone()));
    }

    @Override
    public Conv2d withParameters(java.util.List<float[]> values) {
        Params.checkCount("Conv2d", bias == null ? 1 : 2, values);
        Builder b = toBuilder().weights(values.get(0));
        return (bias == null ? b : b.bias(values.get(1))).build();
    }

    @Override
    public java.util.List<String> parameterNames() {
        return bias == null ? java.util.List.of("weight") : java.util.List.of("weight", "bias");
    }

    @Override
    public long weightCount() {
        return weights.length;
    }

    @Override
    public long biasCount() {
        return bias == null ? 0 : bias.length;
    }

    /**
     * The validated geometry for an NCHW input (Eq. 8 on each spatial axis).
     *
     * @throws ShapeException if the input is not rank 4, has the wrong channel count, or a kernel
     *                        is larger than the padded input
     */
    public Geometry2d geometry(Shape input) {
        Params.checkRank("Conv2d", "NCHW", input, 4);
        if (input.dim(1) != inChannels) {
            throw new ShapeException("Eq. 10: Conv2d kernels " + weightShape() + " expect " + inChannels
                    + " input channels, the input " + input + " has " + input.dim(1));
        }
        ConvAxis h = SizeEquations.axis("Eq. 8", "height", input.dim(2), kernelHeight, strideHeight, dilationHeight,
                padding, 0, 2, false);
        ConvAxis w = SizeEquations.axis("Eq. 8", "width", input.dim(3), kernelWidth, strideWidth, dilationWidth,
                padding, 1, 2, false);
        return new Geometry2d(h, w);
    }

    @Override
    public Shape outputShape(Shape input) {
        Geometry2d g = geometry(input);
        return Shape.of(input.dim(0), outChannels, g.height().output(), g.width().output());
    }

    @Override
    public String toString() {
        return "Conv2d(" + inChannels + "→" + outChannels + ", " + kernelHeight + "×" + kernelWidth
                + ", s=" + (strideHeight == strideWidth ? strideHeight : strideHeight + "×" + strideWidth)
                + ", " + padding
                + (dilationHeight != 1 || dilationWidth != 1 ? ", d=" + dilationHeight + "×" + dilationWidth : "")
                + (groups != 1 ? ", groups=" + groups : "") + (bias == null ? ", no bias" : "") + ")";
    }

    /**
     * Collects the settings of a {@link Conv2d}. Defaults: stride 1, valid padding, dilation 1,
     * groups 1, no bias unless {@link #bias(float[])} or {@link #randomWeights(RandomGenerator)}.
     *
     * <p>Thread-safety: not thread-safe; use from one thread.
     */
    public static final class Builder {
        private final int inChannels;
        private final int outChannels;
        private final int kernelHeight;
        private final int kernelWidth;
        private int strideHeight = 1;
        private int strideWidth = 1;
        private int dilationHeight = 1;
        private int dilationWidth = 1;
        private int groups = 1;
        private Padding padding = Padding.valid();
        private float[] weights;
        private float[] bias;
        private RandomGenerator random;
        private boolean withBias = true;

        private Builder(int inChannels, int outChannels, int kernelHeight, int kernelWidth) {
            this.inChannels = inChannels;
            this.outChannels = outChannels;
            this.kernelHeight = kernelHeight;
            this.kernelWidth = kernelWidth;
        }

        /** The same stride on both axes. */
        public Builder stride(int stride) {
            return stride(stride, stride);
        }

        /** Per-axis stride. */
        public Builder stride(int height, int width) {
            this.strideHeight = height;
            this.strideWidth = width;
            return this;
        }

        /** The same dilation on both axes. */
        public Builder dilation(int dilation) {
            return dilation(dilation, dilation);
        }

        /** Per-axis dilation. */
        public Builder dilation(int height, int width) {
            this.dilationHeight = height;
            this.dilationWidth = width;
            return this;
        }

        /** The padding rule. */
        public Builder padding(Padding padding) {
            this.padding = Objects.requireNonNull(padding, "padding");
            return this;
        }

        /** Number of groups; both channel counts must be divisible by it. */
        public Builder groups(int groups) {
            this.groups = groups;
            return this;
        }

        /** Weights in OIHW order (copied when the layer is built). */
        public Builder weights(float[] weights) {
            this.weights = weights;
            this.random = null;
            return this;
        }

        /** Biases, one per output channel (copied when the layer is built). */
        public Builder bias(float[] bias) {
            this.bias = bias;
            this.withBias = true;
            return this;
        }

        /** Random weights (He uniform) and, unless {@link #withoutBias()}, random biases. */
        public Builder randomWeights(RandomGenerator random) {
            this.random = Objects.requireNonNull(random, "random");
            return this;
        }

        /** No bias term. */
        public Builder withoutBias() {
            this.bias = null;
            this.withBias = false;
            return this;
        }

        /**
         * Builds the layer.
         *
         * @throws ShapeException        if a setting or the weight length is invalid
         * @throws IllegalStateException if no weights were given
         */
        public Conv2d build() {
            return new Conv2d(this);
        }
    }
}
