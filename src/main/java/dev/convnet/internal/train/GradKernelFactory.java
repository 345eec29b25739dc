package dev.convnet.internal.train;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * A backend's way of preparing a validated graph node for training. Internal.
 *
 * <p>Thread-safety: {@link #create} is called from one thread while a training session is built.
 */
public interface GradKernelFactory extends AutoCloseable {
    /**
     * The training kernel for {@code layer} on inputs of the given shapes (batch first) producing {@code output}.
     *
     * @throws UnsupportedOperationException if the backend cannot train this layer, naming it
     */
    GradKernel create(Layer layer, List<Shape> inputs, Shape output);

    /** Releases worker threads, if any. Idempotent. */
    @Override
    void close();
}
