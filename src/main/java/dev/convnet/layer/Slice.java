package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;

/**
 * A strided window of a tensor (ONNX Slice): on each listed axis the elements {@code start, start + step, …}
 * before {@code end} (for a negative step: after {@code end}), with ONNX's rules: negative starts and ends count
 * from the end of the axis, then they are clamped to {@code [0, d]} ({@code [−1, d − 1]} for a negative step).
 * Unlisted axes are kept whole. Split, and Gather of one index, are slices too.
 *
 * <p>Thread-safety: immutable.
 */
public final class Slice implements Layer {
    private final int[] axes;
    private final long[] starts;
    private final long[] ends;
    private final long[] steps;

    private Slice(int[] axes, long[] starts, long[] ends, long[] steps) {
        this.axes = axes;
        this.starts = starts;
        this.ends = ends;
        this.steps = steps;
    }

    /**
     * A slice of the given axes (negative: from the end).
     *
     * @throws ShapeException if the arrays differ in length or a step is 0
     */
    public static Slice of(int[] axes, long[] starts, long[] ends, long[] steps) {
        if (starts.length != axes.length || ends.length != axes.length || steps.length != axes.length) {
            throw new ShapeException("Slice: axes " + Arrays.toString(axes) + ", starts, ends and steps need the same length");
        }
        for (long s : steps) if (s == 0) throw new ShapeException("Slice: step 0 in " + Arrays.toString(steps));
        return new Slice(axes.clone(), starts.clone(), ends.clone(), steps.clone());
    }

    /** Elements {@code [start, end)} of one axis, step 1. */
    public static Slice range(int axis, long start, long end) {
        return of(new int[] {axis}, new long[] {start}, new long[] {end}, new long[] {1});
    }

    /** The sliced axes as given (negative: from the end); a copy. */
    public int[] axes() {
        return axes.clone();
    }

    /** The start of each listed axis as given (negative: from the end), before clamping; a copy. */
    public long[] starts() {
        return starts.clone();
    }

    /** The end (exclusive) of each listed axis as given (negative: from the end), before clamping; a copy. */
    public long[] ends() {
        return ends.clone();
    }

    /** The step of each listed axis; a copy. */
    public long[] steps() {
        return steps.clone();
    }

    /**
     * The resolved window of an input: per axis {start, step, size}.
     *
     * @throws ShapeException if an axis is out of range or listed twice, or the window is empty
     */
    public long[][] window(Shape input) {
        int rank = input.rank();
        long[][] w = new long[rank][];
        for (int i = 0; i < rank; i++) w[i] = new long[] {0, 1, input.dim(i)};
        boolean[] seen = new boolean[rank];
        for (int i = 0; i < axes.length; i++) {
            int a = Broadcasting.axis("Slice", axes[i], rank);
            if (seen[a]) throw new ShapeException("Slice: axis " + axes[i] + " listed twice");
            seen[a] = true;
            long d = input.dim(a);
            long st = steps[i];
            long b = starts[i] < 0 ? starts[i] + d : starts[i];
            long e = ends[i] < 0 ? ends[i] + d : ends[i];
            long size;
            if (st > 0) {
                b = Math.clamp(b, 0, d);
                e = Math.clamp(e, 0, d);
                size = e > b ? (e - b + st - 1) / st : 0;
            } else {
                b = Math.clamp(b, -1, d - 1);
                e = Math.clamp(e, -1, d - 1);
                size = b > e ? (b - e - st - 1) / -st : 0;
            }
            if (size < 1) {
                throw new ShapeException("Slice: axis " + axes[i] + " of " + input + ": start " + starts[i] + ", end " + ends[i]
                        + ", step " + st + " select no element (empty tensors are not supported)");
            }
            w[a] = new long[] {b, st, size};
        }
        return w;
    }

    @Override
    public Shape outputShape(Shape input) {
        long[][] w = window(input);
        int[] out = new int[w.length];
        for (int i = 0; i < out.length; i++) out[i] = (int) w[i][2];
        return Shape.of(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Slice s && Arrays.equals(s.axes, axes) && Arrays.equals(s.starts, starts)
                && Arrays.equals(s.ends, ends) && Arrays.equals(s.steps, steps);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(axes) * 31 + Arrays.hashCode(starts) + Arrays.hashCode(ends) * 7 + Arrays.hashCode(steps);
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Slice(");
        for (int i = 0; i < axes.length; i++) {
            if (i > 0) sb.append(", ");
            sb.append("axis ").append(axes[i]).append(": ").append(starts[i]).append(':').append(ends[i]);
            if (steps[i] != 1) sb.append(':').append(steps[i]);
        }
        return sb.append(')').toString();
    }
}
