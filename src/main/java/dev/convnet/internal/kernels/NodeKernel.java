package dev.convnet.internal.kernels;

/**
 * One graph node prepared for its input shapes by a backend: like {@link LayerKernel}, for any number of
 * inputs. Internal.
 *
 * <p>Contract: {@code inputs[i]} holds exactly the row-major elements of the node's planned input {@code i}
 * and is only read; {@code output} is written completely. Validation happened when the graph was planned.
 *
 * <p>Thread-safety: implementations are stateless after construction and may be called from several
 * threads at once with different arrays.
 */
@FunctionalInterface
public interface NodeKernel {
    /** Computes {@code output} from {@code inputs}. */
    void forward(float[][] inputs, float[] output);
}
