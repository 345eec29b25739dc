package dev.convnet.internal.train;

import java.util.SplittableRandom;

/**
 * Inverted dropout, shared by the reference and Java backends (which differ only in how they multiply): a
 * training-mode forward pass draws a mask from a {@link SplittableRandom} seeded by {@link #reseed} (each element
 * kept when {@code nextDouble() ≥ ratio}, in row-major order, so equal seeds draw equal masks on every backend), keeps
 * {@code mask = kept ? 1/(1 − ratio) : 0} and writes {@code y = x·mask}; the backward pass writes
 * {@code dx = dy·mask}. An inference-mode forward pass is the identity (and so is a backward pass after one). Without
 * a {@code reseed} between two training passes the second continues the first's random sequence, so it draws a new
 * mask. Internal.
 *
 * <p>Thread-safety: not thread-safe (it keeps the mask of the last step).
 */
public final class DropoutKernel implements GradKernel {
    /** {@code out[i] = a[i]·b[i]} (float products) over the whole arrays. */
    @FunctionalInterface
    public interface Multiply {
        /** Writes the element-wise product of {@code a} and {@code b} into {@code out}. */
        void apply(float[] a, float[] b, float[] out);
    }

    private final float ratio;
    private final float scale;
    private final float[] mask;
    private final Multiply multiply;
    private SplittableRandom random = new SplittableRandom(0);
    private boolean masked;

    /** Dropout of {@code ratio} on {@code size} elements, multiplying with {@code multiply}. */
    public DropoutKernel(float ratio, int size, Multiply multiply) {
        this.ratio = ratio;
        this.scale = (float) (1.0 / (1.0 - ratio));
        this.mask = new float[size];
        this.multiply = multiply;
    }

    /** The scale {@code 1/(1 − ratio)} of kept elements, rounded to float. */
    public float scale() {
        return scale;
    }

    @Override
    public void reseed(long seed) {
        random = new SplittableRandom(seed);
    }

    @Override
    public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
        float[] x = inputs[0];
        masked = training && ratio > 0;
        if (!masked) {
            System.arraycopy(x, 0, output, 0, x.length);
            return;
        }
        for (int i = 0; i < mask.length; i++) mask[i] = random.nextDouble() < ratio ? 0f : scale;
        multiply.apply(x, mask, output);
    }

    @Override
    public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                         float[][] dParams) {
        float[] dx = dInputs[0];
        if (dx == null) return;
        if (masked) {
            multiply.apply(dOutput, mask, dx);
        } else {
            System.arraycopy(dOutput, 0, dx, 0, dx.length);
        }
    }
}
