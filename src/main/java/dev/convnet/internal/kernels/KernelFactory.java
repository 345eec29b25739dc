package dev.convnet.internal.kernels;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * A backend's way of turning a planned layer into a {@link LayerKernel}. Internal.
 *
 * <p>Thread-safety: {@link #create} is called from one thread while a session is built; the
 * kernels it returns must be thread-safe.
 */
public interface KernelFactory extends AutoCloseable {
    /** The kernel for one validated single-input layer: {@code layer} on {@code input}, producing {@code output}. */
    LayerKernel create(Layer layer, Shape input, Shape output);

    /**
     * The kernel for one validated graph node: {@code layer} on inputs of the given shapes, producing
     * {@code output}. The default handles single-input layers through {@link #create(Layer, Shape, Shape)};
     * backends override it for layers with several inputs.
     *
     * @throws UnsupportedOperationException if the backend has no kernel for a multi-input layer
     */
    default NodeKernel create(Layer layer, List<Shape> inputs, Shape output) {
        if (inputs.size() != 1) {
            throw new UnsupportedOperationException(getClass().getSimpleName() + " has no kernel for " + layer + " on "
                    + inputs.size() + " inputs");
        }
        LayerKernel k = create(layer, inputs.getFirst(), output);
        return (x, y) -> k.forward(x[0], y);
    }

    /** Releases worker threads, if any. Idempotent. */
    @Override
    void close();
}
