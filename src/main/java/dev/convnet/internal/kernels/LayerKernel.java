package dev.convnet.internal.kernels;

/**
 * One layer prepared for one input shape by a backend. Internal.
 *
 * <p>Contract: {@code input} and {@code output} hold exactly the row-major elements of the
 * planned input and output shapes (whole batch); the kernel does not validate (validation
 * happened when the network was planned) and writes every output element.
 *
 * <p>Thread-safety: implementations are stateless after construction and may be called from
 * several threads at once with different arrays.
 */
@FunctionalInterface
public interface LayerKernel {
    /** Computes {@code output} from {@code input}. */
    void forward(float[] input, float[] output);
}
