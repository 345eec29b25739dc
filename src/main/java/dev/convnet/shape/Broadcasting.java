package dev.convnet.shape;

/**
 * NumPy / ONNX multidirectional broadcasting: two shapes are aligned at their last axes (the shorter one is
 * padded with leading 1s); on each axis the sizes must be equal or one of them 1, and the result takes the
 * larger. For example {@code [N, C, H, W]} with {@code [C, 1, 1]}, {@code [1]} or {@code [N, C, 1, 1]}.
 *
 * <p>Thread-safety: stateless.
 */
public final class Broadcasting {
    private Broadcasting() {
    }

    /**
     * The broadcast shape of {@code a} and {@code b}.
     *
     * @param op the operation named in the error, e.g. {@code "Add"}
     * @throws ShapeException naming the axis and both sizes if they are incompatible
     */
    public static Shape shape(String op, Shape a, Shape b) {
        int rank = Math.max(a.rank(), b.rank());
        int[] out = new int[rank];
        for (int i = 0; i < rank; i++) {
            int da = dimFromEnd(a, rank - 1 - i);
            int db = dimFromEnd(b, rank - 1 - i);
            if (da != db && da != 1 && db != 1) {
                throw new ShapeException(op + ": NumPy broadcasting: " + a + " and " + b + " differ on axis " + i
                        + " of the aligned rank-" + rank + " shapes (" + da + " vs " + db + "); sizes must be equal or 1");
            }
            out[i] = Math.max(da, db);
        }
        return Shape.of(out);
    }

    /** The size of {@code s} at the axis {@code fromEnd} places before its last one, 1 beyond its rank. */
    private static int dimFromEnd(Shape s, int fromEnd) {
        int axis = s.rank() - 1 - fromEnd;
        return axis < 0 ? 1 : s.dim(axis);
    }

    /**
     * The element strides of {@code in} as seen from the broadcast shape {@code out}: one stride per axis of
     * {@code out}, 0 where {@code in} is broadcast (size 1 or missing).
     */
    public static long[] strides(Shape in, Shape out) {
        long[] strides = new long[out.rank()];
        long stride = 1;
        for (int i = out.rank() - 1; i >= 0; i--) {
            int axis = in.rank() - (out.rank() - i);
            if (axis < 0) {
                strides[i] = 0;
                continue;
            }
            strides[i] = in.dim(axis) == 1 ? 0 : stride;
            stride *= in.dim(axis);
        }
        return strides;
    }

    /** Normalizes an axis in {@code [−rank, rank)} to {@code [0, rank)}; {@code what} names it in the error. */
    public static int axis(String what, int axis, int rank) {
        if (axis < -rank || axis >= rank) {
            throw new ShapeException(what + ": axis " + axis + " is outside [" + -rank + ", " + rank + ") for rank " + rank);
        }
        return axis < 0 ? axis + rank : axis;
    }
}
