package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

/**
 * Softmax over the channel / feature axis (axis 1): for {@code [N, K]} over the K features, for
 * {@code [N, C, H, W]} over the C channels at every spatial position (which is what a
 * fully-convolutional network's class-score map needs). {@code y_i = e^(x_i − max) / Σ_j e^(x_j − max)}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Softmax implements Layer {
    /** Creates the layer. */
    public Softmax() {
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.rank() < 2) {
            throw new ShapeException("Softmax runs over axis 1 (channels/features) and needs rank ≥ 2, got " + input);
        }
        return input;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Softmax;
    }

    @Override
    public int hashCode() {
        return 19;
    }

    @Override
    public String toString() {
        return "Softmax(axis 1)";
    }
}
