package dev.convnet.train;

import java.util.random.RandomGenerator;

/**
 * How a parameter's initial values are drawn, from its fan-in and fan-out (PyTorch's {@code torch.nn.init}
 * formulas).
 *
 * <p>Thread-safety: stateless.
 */
public enum Initializer {
    /** Kaiming (He) uniform for ReLU: U(±√(6/fanIn)). */
    KAIMING_UNIFORM,
    /** Kaiming (He) normal for ReLU: N(0, 2/fanIn). */
    KAIMING_NORMAL,
    /** Xavier (Glorot) uniform: U(±√(6/(fanIn + fanOut))). */
    XAVIER_UNIFORM,
    /** Xavier (Glorot) normal: N(0, 2/(fanIn + fanOut)). */
    XAVIER_NORMAL,
    /** U(±1/√fanIn): PyTorch's default for convolution and linear layers (weights and biases). */
    UNIFORM_FAN_IN,
    /** All zeros. */
    ZEROS,
    /** All ones. */
    ONES;

    /** Fills {@code values} for a parameter with the given fans, drawing from {@code random}. */
    public void fill(float[] values, long fanIn, long fanOut, RandomGenerator random) {
        double fi = Math.max(1, fanIn);
        double fo = Math.max(1, fanOut);
        switch (this) {
            case KAIMING_UNIFORM -> uniform(values, Math.sqrt(6.0 / fi), random);
            case KAIMING_NORMAL -> normal(values, Math.sqrt(2.0 / fi), random);
            case XAVIER_UNIFORM -> uniform(values, Math.sqrt(6.0 / (fi + fo)), random);
            case XAVIER_NORMAL -> normal(values, Math.sqrt(2.0 / (fi + fo)), random);
            case UNIFORM_FAN_IN -> uniform(values, 1.0 / Math.sqrt(fi), random);
            case ZEROS -> java.util.Arrays.fill(values, 0f);
            case ONES -> java.util.Arrays.fill(values, 1f);
        }
    }

    private static void uniform(float[] v, double bound, RandomGenerator r) {
        for (int i = 0; i < v.length; i++) v[i] = (float) r.nextDouble(-bound, bound);
    }

    private static void normal(float[] v, double sd, RandomGenerator r) {
        for (int i = 0; i < v.length; i++) v[i] = (float) (r.nextGaussian() * sd);
    }
}
