package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.List;
import java.util.Objects;

/**
 * An element-wise operation of two tensors {@code a} and {@code b} with NumPy / ONNX multidirectional
 * broadcasting ({@link Broadcasting}): same shapes, a per-channel operand {@code [C, 1, 1]} or
 * {@code [1, C, 1, 1]} against {@code [N, C, H, W]}, a scalar {@code [1]}, squeeze-excitation's
 * {@code [N, C, 1, 1] × [N, C, H, W]}, and every other compatible pair. Two inputs; in a graph either may
 * be a constant.
 * <ul>
 *   <li>ADD {@code a + b}, SUB {@code a − b}, MUL {@code a·b}, DIV {@code a/b} (IEEE: x/0 = ±∞)</li>
 *   <li>MAX, MIN: the larger / smaller (NaN if either is NaN)</li>
 *   <li>POW {@code a^b} ({@link Math#pow})</li>
 *   <li>PRELU {@code a < 0 ? b·a : a} (ONNX PRelu, b the slope)</li>
 * </ul>
 *
 * <p>Thread-safety: immutable.
 */
public final class Binary implements Layer {
    /** The operation. */
    public enum Op {
        /** {@code a + b}. */
        ADD,
        /** {@code a − b}. */
        SUB,
        /** {@code a·b}. */
        MUL,
        /** {@code a/b}. */
        DIV,
        /** {@code max(a, b)}. */
        MAX,
        /** {@code min(a, b)}. */
        MIN,
        /** {@code a^b}. */
        POW,
        /** {@code a < 0 ? b·a : a}. */
        PRELU
    }

    private final Op op;

    private Binary(Op op) {
        this.op = Objects.requireNonNull(op, "op");
    }

    /** The operation {@code op}. */
    public static Binary of(Op op) {
        return new Binary(op);
    }

    /** {@code a + b} (residual connections, biases). */
    public static Binary add() {
        return new Binary(Op.ADD);
    }

    /** {@code a·b} (scales, squeeze-excitation, SiLU's {@code x·σ(x)}). */
    public static Binary mul() {
        return new Binary(Op.MUL);
    }

    /** The operation. */
    public Op op() {
        return op;
    }

    @Override
    public int arity() {
        return 2;
    }

    /** Always throws: a binary operation needs two inputs (use it in a {@code Graph}). */
    @Override
    public Shape outputShape(Shape input) {
        throw new ShapeException(kind() + " takes 2 inputs (use it in a Graph), got 1: " + input);
    }

    @Override
    public Shape outputShape(List<Shape> inputs) {
        if (inputs.size() != 2) {
            throw new ShapeException(kind() + " takes 2 inputs, got " + inputs.size());
        }
        return Broadcasting.shape(kind(), inputs.get(0), inputs.get(1));
    }

    @Override
    public String kind() {
        return switch (op) {
            case ADD -> "Add";
            case SUB -> "Sub";
            case MUL -> "Mul";
            case DIV -> "Div";
            case MAX -> "Max";
            case MIN -> "Min";
            case POW -> "Pow";
            case PRELU -> "PRelu";
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Binary b && b.op == op;
    }

    @Override
    public int hashCode() {
        return op.hashCode();
    }

    @Override
    public String toString() {
        return kind() + "()";
    }
}
