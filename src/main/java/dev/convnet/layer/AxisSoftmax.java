package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Objects;

/**
 * Softmax, log-softmax or hardmax over a chosen axis, in either of ONNX's two conventions:
 * <ul>
 *   <li>single axis (opset ≥ 13): the function runs over axis {@code axis} at every position of the other
 *       axes;</li>
 *   <li>coerced to 2-D (opset &lt; 13): the input is read as a matrix {@code [d_0·…·d_(axis−1),
 *       d_axis·…·d_(r−1)]} and the function runs over each row, i.e. over all axes from {@code axis} on.</li>
 * </ul>
 * SOFTMAX {@code e^(x_i − m)/Σ_j e^(x_j − m)}, LOG_SOFTMAX {@code x_i − m − ln Σ_j e^(x_j − m)} with
 * {@code m} the maximum, HARDMAX 1 at the first maximum and 0 elsewhere. {@link Softmax} is the
 * single-axis softmax over axis 1.
 *
 * <p>Thread-safety: immutable.
 */
public final class AxisSoftmax implements Layer {
    /** The function. */
    public enum Function {
        /** Softmax. */
        SOFTMAX,
        /** Log of the softmax. */
        LOG_SOFTMAX,
        /** One-hot of the first maximum. */
        HARDMAX
    }

    private final Function function;
    private final int axis;
    private final boolean coerce2d;

    private AxisSoftmax(Function function, int axis, boolean coerce2d) {
        this.function = Objects.requireNonNull(function, "function");
        this.axis = axis;
        this.coerce2d = coerce2d;
    }

    /**
     * The function over {@code axis} (negative: from the end); {@code coerce2d} selects the opset &lt; 13
     * convention (over all axes from {@code axis} on).
     */
    public static AxisSoftmax of(Function function, int axis, boolean coerce2d) {
        return new AxisSoftmax(function, axis, coerce2d);
    }

    /** Log-softmax over a single axis. */
    public static AxisSoftmax logSoftmax(int axis) {
        return new AxisSoftmax(Function.LOG_SOFTMAX, axis, false);
    }

    /** The function. */
    public Function function() {
        return function;
    }

    /** Whether the input is coerced to 2-D at the axis (opset &lt; 13). */
    public boolean coerce2d() {
        return coerce2d;
    }

    /** The axis for an input of rank {@code rank}, in {@code [0, rank)}. */
    public int axis(int rank) {
        if (coerce2d && axis == rank) {
            return rank; // ONNX allows axis = rank when coerced: rows of length 1
        }
        return Broadcasting.axis(kind(), axis, rank);
    }

    /**
     * The input read as {@code [outer, length, inner]}: the function runs over {@code length} elements
     * {@code inner} apart.
     */
    public int[] geometry(Shape input) {
        int a = axis(input.rank());
        long outer = 1;
        for (int i = 0; i < a; i++) outer *= input.dim(i);
        if (coerce2d) {
            return new int[] {(int) outer, (int) (input.elementCount() / outer), 1};
        }
        return new int[] {(int) outer, input.dim(a), (int) input.elementCount(a + 1)};
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.elementCount() > Integer.MAX_VALUE - 8) {
            throw new ShapeException(kind() + ": " + input + " is too large for an array");
        }
        axis(input.rank());
        return input;
    }

    @Override
    public String kind() {
        return switch (function) {
            case SOFTMAX -> "Softmax";
            case LOG_SOFTMAX -> "LogSoftmax";
            case HARDMAX -> "Hardmax";
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof AxisSoftmax s && s.function == function && s.axis == axis && s.coerce2d == coerce2d;
    }

    @Override
    public int hashCode() {
        return function.hashCode() * 31 + axis * 2 + (coerce2d ? 1 : 0);
    }

    @Override
    public String toString() {
        return kind() + "(axis " + axis + (coerce2d ? ", as 2-D" : "") + ")";
    }
}
