package dev.convnet.layer;

import dev.convnet.shape.Shape;

/**
 * One layer of a sequential network. Every layer maps an input tensor shape (batch first) to
 * an output shape and validates the input while doing so; the arithmetic is done by a backend
 * (see {@code dev.convnet.net.BackendKind}).
 *
 * <p>Layers are immutable: weight arrays are copied on the way in and on the way out.
 *
 * <p>Thread-safety: all implementations are immutable and safe to share between threads and
 * networks.
 */
public sealed interface Layer permits Conv1d, Conv2d, MaxPool2d, AvgPool2d, GlobalPool2d, DepthPool, Activation,
        Flatten, Linear, Softmax, BatchNorm {

    /**
     * The output shape for {@code input} (both with the batch dimension first).
     *
     * @throws dev.convnet.shape.ShapeException if the input does not fit the layer; the message
     *                                          names the equation or rule and the numbers
     */
    Shape outputShape(Shape input);

    /** The number of weights (multiplicative parameters); 0 for layers without any. */
    default long weightCount() {
        return 0;
    }

    /** The number of biases (additive parameters); 0 for layers without any. */
    default long biasCount() {
        return 0;
    }

    /** A short type name, e.g. {@code Conv2d}. */
    default String kind() {
        return getClass().getSimpleName();
    }
}
