package dev.convnet.layer;

import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.shape.SizeEquations;

import java.util.Objects;
import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * 1-D convolution over an NCL input {@code [N, C_in, L]} with weights {@code [C_out, C_in/groups, K]}
 * and optional bias; the output length is Eq. 6 (with per-side padding and dilation).
 *
 * <p>By default the layer computes cross-correlation, as the lecture's worked examples do:
 * {@code out[n] = Σ_m f[n·s + m·d] · g[m]} over the padded input (errata to Eq. 4). With
 * {@link Builder#trueConvolution(boolean) trueConvolution(true)} the kernel is flipped first,
 * {@code out[n] = Σ_m f[n·s + m·d] · g[N − 1 − m]}, which is Eq. 2–4's {@code g[n − m]}.
 * The two agree only for symmetric kernels such as the notes' {@code g = {2, 1, 2}}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Conv1d implements Layer {
    private final int inChannels;
    private final int outChannels;
    private final int kernelSize;
    private final int stride;
    private final int dilation;
    private final int groups;
    private final Padding padding;
    private final boolean trueConvolution;
    private final float[] weights;
    private final float[] bias;

    private Conv1d(Builder b) {
        Params.positive("Conv1d", "input channels", b.inChannels);
        Params.positive("Conv1d", "output channels", b.outChannels);
        Params.positive("Conv1d", "kernel size", b.kernelSize);
        if (b.stride < 1) {
            throw new ShapeException("Conv1d: Eq. 6: stride s = " + b.stride + " must be ≥ 1 (the equation divides by s)");
        }
        if (b.dilation < 1) {
            throw new ShapeException("Conv1d: dilation d = " + b.dilation + " must be ≥ 1");
        }
        Params.checkGroups("Conv1d", b.inChannels, b.outChannels, b.groups);
        this.inChannels = b.inChannels;
        this.outChannels = b.outChannels;
        this.kernelSize = b.kernelSize;
        this.stride = b.stride;
        this.dilation = b.dilation;
        this.groups = b.groups;
        this.padding = b.padding;
        this.trueConvolution = b.trueConvolution;
        Shape ws = weightShape();
        if (b.random != null) {
            long fanIn = ws.elementCount(1);
            this.weights = Params.randomWeights(b.random, Params.arraySize("Conv1d weights", ws), fanIn);
            this.bias = b.withBias ? Params.randomBias(b.random, outChannels, fanIn) : null;
        } else {
            if (b.weights == null) {
                throw new IllegalStateException("Conv1d: no weights: call weights(float[]) or randomWeights(RandomGenerator)");
            }
            this.weights = Params.copyChecked("Conv1d weights", ws, " (O, I/groups, K)", b.weights);
            this.bias = b.bias == null ? null : Params.copyChecked("Conv1d bias", Shape.of(outChannels), " (O)", b.bias);
        }
    }

    /** A builder for {@code outChannels} kernels of size {@code kernelSize} over {@code inChannels}. */
    public static Builder builder(int inChannels, int outChannels, int kernelSize) {
        return new Builder(inChannels, outChannels, kernelSize);
    }

    /** Input channels. */
    public int inChannels() {
        return inChannels;
    }

    /** Output channels. */
    public int outChannels() {
        return outChannels;
    }

    /** Kernel size N. */
    public int kernelSize() {
        return kernelSize;
    }

    /** Stride s. */
    public int stride() {
        return stride;
    }

    /** Dilation d. */
    public int dilation() {
        return dilation;
    }

    /** Groups. */
    public int groups() {
        return groups;
    }

    /** The padding rule. */
    public Padding padding() {
        return padding;
    }

    /** Whether the kernel is flipped (true convolution, Eq. 2–4) instead of cross-correlation. */
    public boolean trueConvolution() {
        return trueConvolution;
    }

    /** The weight shape {@code [C_out, C_in/groups, K]}. */
    public Shape weightShape() {
        return Shape.of(outChannels, inChannels / groups, kernelSize);
    }

    /** A copy of the weights. */
    public float[] weights() {
        return weights.clone();
    }

    /** A copy of the bias, if any. */
    public Optional<float[]> bias() {
        return bias == null ? Optional.empty() : Optional.of(bias.clone());
    }

    /** {@code weight} (O, I/groups, K) and, if the layer has one, {@code bias}. */
    @Override
    public java.util.List<ParameterSpec> parameters() {
        Shape ws = weightShape();
        long fanIn = ws.elementCount(1);
        long fanOut = (long) (outChannels / groups) * kernelSize;
        ParameterSpec w = new ParameterSpec("weight", ws, ParameterSpec.Role.WEIGHT, fanIn, fanOut, weights.clone());
        return bias == null ? java.util.List.of(w)
                : java.util.List.of(w, new ParameterSpec("bias", Shape.of(outChannels), ParameterSpec.Role.BIAS, fanIn, fanOut,
                        bias.clone()));
    }

    @Override
    public Conv1d withParameters(java.util.List<float[]> values) {
        Params.checkCount("Conv1d", bias == null ? 1 : 2, values);
        Builder b = builder(inChannels, outChannels, kernelSize).stride(stride).dilation(dilation).groups(groups)
                .padding(padding).trueConvolution(trueConvolution).weights(values.get(0));
        return (bias == null ? b.withoutBias() : b.bias(values.get(1))).build();
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

    /** The validated geometry of the length axis (Eq. 6). */
    public ConvAxis geometry(Shape input) {
        Params.checkRank("Conv1d", "NCL", input, 3);
        if (input.dim(1) != inChannels) {
            throw new ShapeException("Eq. 10: Conv1d kernels " + weightShape() + " expect " + inChannels
                    + " input channels, the input " + input + " has " + input.dim(1));
        }
        return SizeEquations.axis("Eq. 6", "length", input.dim(2), kernelSize, stride, dilation, padding, 0, 1, false);
    }

    @Override
    public Shape outputShape(Shape input) {
        return Shape.of(input.dim(0), outChannels, geometry(input).output());
    }

    @Override
    public String toString() {
        return "Conv1d(" + inChannels + "→" + outChannels + ", k=" + kernelSize + ", s=" + stride + ", " + padding
                + (dilation != 1 ? ", d=" + dilation : "") + (groups != 1 ? ", groups=" + groups : "")
                + (trueConvolution ? ", flipped kernel" : "") + (bias == null ? ", no bias" : "") + ")";
    }

    /**
     * Collects the settings of a {@link Conv1d}. Defaults: stride 1, valid padding, dilation 1,
     * groups 1, cross-correlation, no bias unless given or random.
     *
     * <p>Thread-safety: not thread-safe; use from one thread.
     */
    public static final class Builder {
        private final int inChannels;
        private final int outChannels;
        private final int kernelSize;
        private int stride = 1;
        private int dilation = 1;
        private int groups = 1;
        private Padding padding = Padding.valid();
        private boolean trueConvolution;
        private float[] weights;
        private float[] bias;
        private RandomGenerator random;
        private boolean withBias = true;

        private Builder(int inChannels, int outChannels, int kernelSize) {
            this.inChannels = inChannels;
            this.outChannels = outChannels;
            this.kernelSize = kernelSize;
        }

        /** Stride s. */
        public Builder stride(int stride) {
            this.stride = stride;
            return this;
        }

        /** Dilation d. */
        public Builder dilation(int dilation) {
            this.dilation = dilation;
            return this;
        }

        /** Groups. */
        public Builder groups(int groups) {
            this.groups = groups;
            return this;
        }

        /** The padding rule. */
        public Builder padding(Padding padding) {
            this.padding = Objects.requireNonNull(padding, "padding");
            return this;
        }

        /** {@code true}: flip the kernel (true convolution); {@code false} (default): cross-correlation. */
        public Builder trueConvolution(boolean flip) {
            this.trueConvolution = flip;
            return this;
        }

        /** Weights {@code [C_out, C_in/groups, K]} row-major. */
        public Builder weights(float[] weights) {
            this.weights = weights;
            this.random = null;
            return this;
        }

        /** Biases, one per output channel. */
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

        /** Builds the layer; throws {@link ShapeException} on invalid settings. */
        public Conv1d build() {
            return new Conv1d(this);
        }
    }
}
