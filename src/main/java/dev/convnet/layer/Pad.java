package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.Objects;

/**
 * Pads every axis of a tensor (ONNX Pad): axis {@code i} gets {@code before[i]} elements at its start and
 * {@code after[i]} at its end; a negative count removes elements instead. The new elements are
 * <ul>
 *   <li>CONSTANT: {@code value};</li>
 *   <li>REFLECT: the mirror image without repeating the edge ({@code …, x2, x1 | x0, x1, x2, …});</li>
 *   <li>EDGE: copies of the edge element.</li>
 * </ul>
 * Output size on axis i: {@code d_i + before[i] + after[i]}, which must be ≥ 1.
 *
 * <p>Thread-safety: immutable.
 */
public final class Pad implements Layer {
    /** What the new elements are. */
    public enum Mode {
        /** A constant value. */
        CONSTANT,
        /** The mirror image, edge not repeated. */
        REFLECT,
        /** The edge element repeated. */
        EDGE
    }

    private final int[] before;
    private final int[] after;
    private final Mode mode;
    private final float value;

    private Pad(int[] before, int[] after, Mode mode, float value) {
        this.before = before;
        this.after = after;
        this.mode = mode;
        this.value = value;
    }

    /** Constant padding with {@code value}; {@code before} and {@code after} have one entry per axis. */
    public static Pad constant(int[] before, int[] after, float value) {
        return of(before, after, Mode.CONSTANT, value);
    }

    /**
     * Padding of the given mode ({@code value} is used by CONSTANT only).
     *
     * @throws ShapeException if the arrays differ in length
     */
    public static Pad of(int[] before, int[] after, Mode mode, float value) {
        Objects.requireNonNull(mode, "mode");
        if (before.length != after.length || before.length == 0) {
            throw new ShapeException("Pad: before " + Arrays.toString(before) + " and after " + Arrays.toString(after)
                    + " need the same, non-zero number of axes");
        }
        return new Pad(before.clone(), after.clone(), mode, value);
    }

    /** Elements added at the start of each axis (negative: removed); a copy. */
    public int[] before() {
        return before.clone();
    }

    /** Elements added at the end of each axis (negative: removed); a copy. */
    public int[] after() {
        return after.clone();
    }

    /** The mode. */
    public Mode mode() {
        return mode;
    }

    /** The constant of CONSTANT mode. */
    public float value() {
        return value;
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.rank() != before.length) {
            throw new ShapeException("Pad: " + before.length + " axes of padding for the input " + input + " of rank " + input.rank());
        }
        int[] out = new int[input.rank()];
        for (int i = 0; i < out.length; i++) {
            long size = (long) input.dim(i) + before[i] + after[i];
            if (size < 1 || size > Integer.MAX_VALUE) {
                throw new ShapeException("Pad: axis " + i + ": " + input.dim(i) + " + " + before[i] + " + " + after[i]
                        + " = " + size + " is not a valid size (≥ 1)");
            }
            if (mode == Mode.REFLECT && (before[i] >= input.dim(i) || after[i] >= input.dim(i))) {
                throw new ShapeException("Pad: reflect on axis " + i + ": padding " + before[i] + "/" + after[i]
                        + " must be smaller than the size " + input.dim(i));
            }
            out[i] = (int) size;
        }
        return Shape.of(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Pad p && Arrays.equals(p.before, before) && Arrays.equals(p.after, after) && p.mode == mode
                && Float.compare(p.value, value) == 0;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(before) * 31 + Arrays.hashCode(after) + mode.hashCode();
    }

    @Override
    public String toString() {
        return "Pad(" + Arrays.toString(before) + "/" + Arrays.toString(after) + ", "
                + (mode == Mode.CONSTANT ? "constant " + value : mode.name().toLowerCase(java.util.Locale.ROOT)) + ")";
    }
}
