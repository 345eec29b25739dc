package dev.convnet.internal.train;

/**
 * One graph node prepared for training on fixed input shapes: a forward pass that may keep what its backward pass
 * needs (a pooling argmax, batch statistics, a dropout mask), and the backward pass. Works on row-major heap
 * arrays. Internal.
 *
 * <p>Contract:
 * <ul>
 *   <li>{@code inputs[i]} holds exactly the node's planned input {@code i} and is only read; {@code output} is
 *       written completely.</li>
 *   <li>{@code params[j]} holds the layer's {@link dev.convnet.layer.Layer#parameters() parameter} {@code j}
 *       (current values, the layer's order). A training-mode forward of a batch norm updates its running
 *       statistics in place in {@code params} (PyTorch's rule: {@code running ← (1 − m)·running + m·batch},
 *       unbiased batch variance); nothing else writes {@code params}.</li>
 *   <li>{@link #backward} follows a forward with {@code training = true} on the same arrays. Every non-null
 *       {@code dInputs[i]} and {@code dParams[j]} is overwritten completely with ∂L/∂input and ∂L/∂param; a null
 *       entry is not wanted and need not be computed. The caller sums contributions when a value has several
 *       readers.</li>
 * </ul>
 *
 * <p>Thread-safety: not thread-safe (it keeps per-step state); one training session uses it from one thread.
 */
public interface GradKernel {
    /**
     * The forward pass: with {@code training}, batch norm uses (and updates) batch statistics and dropout drops;
     * without, both behave as in inference.
     */
    void forward(float[][] inputs, float[][] params, float[] output, boolean training);

    /** The backward pass from ∂L/∂output (see the class contract). */
    void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs, float[][] dParams);

    /** Seeds the random draws of the next training forward (dropout masks); a no-op for deterministic nodes. */
    default void reseed(long seed) {
    }
}
