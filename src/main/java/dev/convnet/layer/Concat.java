package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.List;

/**
 * Concatenation of one or more tensors along an axis (ONNX Concat): every input has the same rank and the
 * same sizes except on {@code axis}, where the output size is their sum. A negative axis counts from the
 * end. Inception / GoogLeNet branches and DenseNet's growing feature maps use it on the channel axis 1.
 *
 * <p>Thread-safety: immutable.
 */
public final class Concat implements Layer {
    private final int axis;

    private Concat(int axis) {
        this.axis = axis;
    }

    /** Concatenation along {@code axis} (negative: from the end). */
    public static Concat of(int axis) {
        return new Concat(axis);
    }

    /** The axis as given (possibly negative). */
    public int axis() {
        return axis;
    }

    /** The axis in {@code [0, rank)} for inputs of rank {@code rank}. */
    public int axis(int rank) {
        return Broadcasting.axis("Concat", axis, rank);
    }

    @Override
    public int arity() {
        return VARIADIC;
    }

    @Override
    public Shape outputShape(Shape input) {
        return outputShape(List.of(input));
    }

    @Override
    public Shape outputShape(List<Shape> inputs) {
        if (inputs.isEmpty()) {
            throw new ShapeException("Concat needs at least one input");
        }
        Shape first = inputs.getFirst();
        int a = axis(first.rank());
        long total = 0;
        for (int i = 0; i < inputs.size(); i++) {
            Shape s = inputs.get(i);
            if (s.rank() != first.rank()) {
                throw new ShapeException("Concat: input " + i + " " + s + " has rank " + s.rank() + ", input 0 " + first
                        + " rank " + first.rank() + "; all must be equal");
            }
            for (int d = 0; d < s.rank(); d++) {
                if (d != a && s.dim(d) != first.dim(d)) {
                    throw new ShapeException("Concat on axis " + a + ": input " + i + " " + s + " differs from input 0 "
                            + first + " on axis " + d + " (" + s.dim(d) + " vs " + first.dim(d) + "); only axis " + a + " may");
                }
            }
            total += s.dim(a);
        }
        if (total > Integer.MAX_VALUE) {
            throw new ShapeException("Concat: the axis " + a + " sizes sum to " + total + ", more than an int");
        }
        int[] out = first.dims();
        out[a] = (int) total;
        return Shape.of(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Concat c && c.axis == axis;
    }

    @Override
    public int hashCode() {
        return 29 + axis;
    }

    @Override
    public String toString() {
        return "Concat(axis " + axis + ")";
    }
}
