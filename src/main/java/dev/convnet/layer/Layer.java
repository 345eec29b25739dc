package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.List;

/**
 * One layer of a network, or one operation of a graph. Every layer maps its input tensor shapes
 * (batch first) to an output shape and validates the inputs while doing so; the arithmetic is done
 * by a backend (see {@code dev.convnet.net.BackendKind}).
 *
 * <p>Most layers take one input ({@link #arity()} 1) and can be used in a sequential
 * {@code Network}. Layers with several inputs ({@link Binary}, {@link MatMul}: 2; {@link Concat}:
 * {@link #VARIADIC}) are used in a {@code Graph}, where each input is a named tensor; they compute
 * their output shape with {@link #outputShape(List)}, and their single-input
 * {@link #outputShape(Shape)} throws a {@link ShapeException}.
 *
 * <p>Layers are immutable: weight arrays are copied on the way in and on the way out.
 *
 * <p>Thread-safety: all implementations are immutable and safe to share between threads and
 * networks.
 */
public sealed interface Layer permits Conv1d, Conv2d, MaxPool2d, AvgPool2d, GlobalPool2d, DepthPool, Activation,
        Flatten, Linear, Softmax, BatchNorm, Binary, MatMul, Concat, Reshape, Transpose, Pad, Unary, Reduce,
        AxisSoftmax, Slice, Dropout, QuantizationLayer {

    /** {@link #arity()} of a layer that takes any number ≥ 1 of inputs. */
    int VARIADIC = -1;

    /**
     * The output shape for {@code input} (both with the batch dimension first).
     *
     * @throws dev.convnet.shape.ShapeException if the input does not fit the layer; the message
     *                                          names the equation or rule and the numbers
     */
    Shape outputShape(Shape input);

    /** The number of inputs: 1 for most layers, 2 for binary operations, {@link #VARIADIC} for any count ≥ 1. */
    default int arity() {
        return 1;
    }

    /**
     * The output shape for {@code inputs} (in order, each batch first). For a single-input layer this is
     * {@link #outputShape(Shape)} of the only input.
     *
     * @throws ShapeException if the number of inputs differs from {@link #arity()} or the shapes do not fit;
     *                        the message names the rule and the numbers
     */
    default Shape outputShape(List<Shape> inputs) {
        if (inputs.size() != 1) {
            throw new ShapeException(kind() + " takes 1 input, got " + inputs.size());
        }
        return outputShape(inputs.getFirst());
    }

    /** The number of weights (multiplicative parameters); 0 for layers without any. */
    default long weightCount() {
        return 0;
    }

    /** The number of biases (additive parameters); 0 for layers without any. */
    default long biasCount() {
        return 0;
    }

    /**
     * The parameters this layer declares, in a fixed order, with its current values (copies): for example
     * {@code weight} and {@code bias} of a convolution. Empty for layers without parameters.
     */
    default java.util.List<ParameterSpec> parameters() {
        return java.util.List.of();
    }

    /** The local names of {@link #parameters()}, in order, without copying values. */
    default java.util.List<String> parameterNames() {
        return parameters().stream().map(ParameterSpec::name).toList();
    }

    /**
     * A copy of this layer with new values for its parameters, one array per {@link #parameters()} entry in the same
     * order (copied). A layer without parameters returns itself for an empty list.
     *
     * @throws ShapeException if the count or a length differs from the declared parameters
     */
    default Layer withParameters(java.util.List<float[]> values) {
        if (!values.isEmpty()) {
            throw new ShapeException(kind() + " declares no parameters, got " + values.size() + " arrays");
        }
        return this;
    }

    /** A short type name, e.g. {@code Conv2d}. */
    default String kind() {
        return getClass().getSimpleName();
    }
}
