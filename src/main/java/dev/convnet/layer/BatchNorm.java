package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

/**
 * Batch normalization in inference form, per channel c (axis 1 of an input of rank ≥ 2):
 * {@code y = γ_c·(x − μ_c)/√(σ²_c + ε) + β_c}.
 *
 * <p>{@link #foldInto(Conv2d)} folds it into the preceding convolution:
 * {@code W'[z] = W[z]·γ_z/√(σ²_z + ε)} and {@code b'_z = (b_z − μ_z)·γ_z/√(σ²_z + ε) + β_z}
 * (computed in double, rounded once to float).
 *
 * <p>Thread-safety: immutable.
 */
public final class BatchNorm implements Layer {
    private final float[] gamma;
    private final float[] beta;
    private final float[] mean;
    private final float[] variance;
    private final double epsilon;
    private final double momentum;

    private BatchNorm(float[] gamma, float[] beta, float[] mean, float[] variance, double epsilon, double momentum) {
        this.momentum = momentum;
        this.gamma = gamma;
        this.beta = beta;
        this.mean = mean;
        this.variance = variance;
        this.epsilon = epsilon;
    }

    /**
     * A layer with per-channel scale γ, shift β, running mean μ and variance σ² (all copied,
     * same length) and ε ≥ 0 with {@code σ² + ε > 0} for every channel.
     */
    public static BatchNorm of(float[] gamma, float[] beta, float[] mean, float[] variance, double epsilon) {
        if (gamma == null || beta == null || mean == null || variance == null) {
            throw new IllegalArgumentException("BatchNorm: gamma, beta, mean and variance must not be null");
        }
        int c = gamma.length;
        if (c == 0 || beta.length != c || mean.length != c || variance.length != c) {
            throw new ShapeException("BatchNorm: gamma, beta, mean, variance need one value per channel, got lengths "
                    + gamma.length + ", " + beta.length + ", " + mean.length + ", " + variance.length);
        }
        if (!(epsilon >= 0) || Double.isInfinite(epsilon)) {
            throw new ShapeException("BatchNorm: ε = " + epsilon + " must be finite and ≥ 0");
        }
        for (int i = 0; i < c; i++) {
            if (!(variance[i] + epsilon > 0)) {
                throw new ShapeException("BatchNorm: channel " + i + ": σ² + ε = " + variance[i] + " + " + epsilon
                        + " must be > 0 (it is under a square root in a divisor)");
            }
        }
        return new BatchNorm(gamma.clone(), beta.clone(), mean.clone(), variance.clone(), epsilon, DEFAULT_MOMENTUM);
    }

    /** PyTorch's default momentum of the running statistics. */
    public static final double DEFAULT_MOMENTUM = 0.1;

    /**
     * A batch norm over {@code channels} channels as PyTorch initializes one: γ = 1, β = 0, μ = 0, σ² = 1,
     * ε = 1e-5, momentum 0.1.
     */
    public static BatchNorm initial(int channels) {
        Params.positive("BatchNorm", "channels", channels);
        float[] ones = new float[channels];
        java.util.Arrays.fill(ones, 1f);
        return of(ones, new float[channels], new float[channels], ones, 1e-5);
    }

    /**
     * This layer with another momentum for the running statistics in training:
     * {@code running ← (1 − momentum)·running + momentum·batch} (PyTorch's convention; the batch variance is the
     * unbiased one). ONNX's {@code momentum} attribute is the weight of the old value, i.e. {@code 1 − momentum}
     * here.
     *
     * @throws ShapeException if momentum is not in [0, 1]
     */
    public BatchNorm withMomentum(double momentum) {
        if (!(momentum >= 0 && momentum <= 1)) {
            throw new ShapeException("BatchNorm: momentum = " + momentum + " must be in [0, 1]");
        }
        return new BatchNorm(gamma, beta, mean, variance, epsilon, momentum);
    }

    /** The momentum of the running statistics in training (PyTorch's convention, default 0.1). */
    public double momentum() {
        return momentum;
    }

    /** {@code weight} (γ), {@code bias} (β), {@code running_mean} and {@code running_var}, PyTorch's names. */
    @Override
    public java.util.List<ParameterSpec> parameters() {
        Shape s = Shape.of(gamma.length);
        return java.util.List.of(
                new ParameterSpec("weight", s, ParameterSpec.Role.SCALE, 1, 1, gamma.clone()),
                new ParameterSpec("bias", s, ParameterSpec.Role.SHIFT, 1, 1, beta.clone()),
                new ParameterSpec("running_mean", s, ParameterSpec.Role.RUNNING_MEAN, 1, 1, mean.clone()),
                new ParameterSpec("running_var", s, ParameterSpec.Role.RUNNING_VARIANCE, 1, 1, variance.clone()));
    }

    @Override
    public java.util.List<String> parameterNames() {
        return java.util.List.of("weight", "bias", "running_mean", "running_var");
    }

    @Override
    public BatchNorm withParameters(java.util.List<float[]> values) {
        Params.checkCount("BatchNorm", 4, values);
        return of(values.get(0), values.get(1), values.get(2), values.get(3), epsilon).withMomentum(momentum);
    }

    /** Number of channels. */
    public int channels() {
        return gamma.length;
    }

    /** A copy of γ. */
    public float[] gamma() {
        return gamma.clone();
    }

    /** A copy of β. */
    public float[] beta() {
        return beta.clone();
    }

    /** A copy of μ. */
    public float[] mean() {
        return mean.clone();
    }

    /** A copy of σ². */
    public float[] variance() {
        return variance.clone();
    }

    /** ε. */
    public double epsilon() {
        return epsilon;
    }

    /** γ/√(σ² + ε) per channel, in double. */
    public double[] scale() {
        double[] s = new double[gamma.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = gamma[i] / Math.sqrt((double) variance[i] + epsilon);
        }
        return s;
    }

    /** β − μ·γ/√(σ² + ε) per channel, in double. */
    public double[] shift() {
        double[] s = scale();
        double[] t = new double[gamma.length];
        for (int i = 0; i < t.length; i++) {
            t[i] = beta[i] - mean[i] * s[i];
        }
        return t;
    }

    /** γ and β count as weights and biases, μ and σ² are statistics and not counted. */
    @Override
    public long weightCount() {
        return gamma.length;
    }

    @Override
    public long biasCount() {
        return beta.length;
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.rank() < 2) {
            throw new ShapeException("BatchNorm normalizes axis 1 (channels) and needs rank ≥ 2, got " + input);
        }
        if (input.dim(1) != gamma.length) {
            throw new ShapeException("BatchNorm has " + gamma.length + " channels, the input " + input + " has " + input.dim(1));
        }
        return input;
    }

    /**
     * A new convolution equal to this batch norm applied after {@code conv}.
     *
     * @throws ShapeException if the channel counts differ
     */
    public Conv2d foldInto(Conv2d conv) {
        if (conv.outChannels() != gamma.length) {
            throw new ShapeException("BatchNorm fold: the convolution has " + conv.outChannels()
                    + " output channels, the batch norm " + gamma.length);
        }
        double[] s = scale();
        float[] w = conv.weights();
        int perChannel = w.length / conv.outChannels();
        for (int z = 0; z < conv.outChannels(); z++) {
            for (int i = z * perChannel; i < (z + 1) * perChannel; i++) {
                w[i] = (float) (w[i] * s[z]);
            }
        }
        float[] b = conv.bias().orElse(new float[conv.outChannels()]);
        for (int z = 0; z < b.length; z++) {
            b[z] = (float) ((b[z] - (double) mean[z]) * s[z] + beta[z]);
        }
        return conv.toBuilder().weights(w).bias(b).build();
    }

    @Override
    public String toString() {
        return "BatchNorm(" + gamma.length + " channels, ε=" + epsilon + ")";
    }
}
