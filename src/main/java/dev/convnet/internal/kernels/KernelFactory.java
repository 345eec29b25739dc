package dev.convnet.internal.kernels;

import dev.convnet.net.NetworkSummary;

/**
 * A backend's way of turning a planned layer into a {@link LayerKernel}. Internal.
 *
 * <p>Thread-safety: {@link #create} is called from one thread while a session is built; the
 * kernels it returns must be thread-safe.
 */
public interface KernelFactory extends AutoCloseable {
    /** The kernel for one validated row of a plan. */
    LayerKernel create(NetworkSummary.Row row);

    /** Releases worker threads, if any. Idempotent. */
    @Override
    void close();
}
