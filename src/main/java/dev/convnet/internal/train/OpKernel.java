package dev.convnet.internal.train;

import dev.convnet.internal.kernels.NodeKernel;

/**
 * The training kernel of a deterministic operation without parameters: its inference forward pass (the same kernel an
 * inference session runs, so training and inference compute the same values) and a backward pass from the inputs,
 * the output and ∂L/∂output to the wanted input gradients. Internal.
 *
 * <p>Thread-safety: as thread-safe as its two parts.
 *
 * @param forward  the inference kernel
 * @param backward the backward pass
 */
public record OpKernel(NodeKernel forward, Backward backward) implements GradKernel {
    /** The backward pass of an operation without parameters. */
    @FunctionalInterface
    public interface Backward {
        /**
         * Overwrites every non-null {@code dInputs[i]} with ∂L/∂input {@code i}, given the inputs {@code x}, the output
         * {@code y} and {@code dy} = ∂L/∂output; null entries are not wanted.
         */
        void run(float[][] x, float[] y, float[] dy, float[][] dInputs);
    }

    @Override
    public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
        forward.forward(inputs, output);
    }

    @Override
    public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                         float[][] dParams) {
        backward.run(inputs, output, dOutput, dInputs);
    }
}
