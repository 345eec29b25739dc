package dev.convnet.shape;

import java.util.Arrays;
import java.util.Objects;

/**
 * How much padding (zeros for convolution, ignored elements for max pooling) a layer adds
 * around each spatial axis.
 *
 * <ul>
 *   <li>{@link Mode#VALID}: {@code p = 0} (narrow convolution).</li>
 *   <li>{@link Mode#SAME}: the lecture's definition, output size = input size for any stride;
 *       the total padding is {@code s(L − 1) + N − M} with {@code L = M} (from Eq. 6 solved for
 *       p); when it is odd, {@code ⌊total/2⌋} goes before and the rest after.</li>
 *   <li>{@link Mode#FULL}: {@code p = N − 1} each side (wide convolution, output
 *       {@code M + N − 1} at stride 1; Eq. 6 with that p otherwise).</li>
 *   <li>{@link Mode#SAME_UPPER} / {@link Mode#SAME_LOWER}: ONNX / TensorFlow "same", output
 *       {@code ⌈M/s⌉}; the odd element goes after (upper) or before (lower).</li>
 *   <li>{@link Mode#EXPLICIT}: given numbers, symmetric or per side and per axis.</li>
 * </ul>
 * N is always the dilated kernel span {@code d(N − 1) + 1}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Padding {
    /** The padding rule. */
    public enum Mode {
        /** No padding. */
        VALID,
        /** Output size equals input size for any stride (the lecture's "same"). */
        SAME,
        /** {@code p = N − 1} on each side. */
        FULL,
        /** ONNX SAME_UPPER: output {@code ⌈M/s⌉}, extra padding element at the end. */
        SAME_UPPER,
        /** ONNX SAME_LOWER: output {@code ⌈M/s⌉}, extra padding element at the start. */
        SAME_LOWER,
        /** Explicit numbers. */
        EXPLICIT
    }

    private static final Padding VALID = new Padding(Mode.VALID, null, null);
    private static final Padding SAME = new Padding(Mode.SAME, null, null);
    private static final Padding FULL = new Padding(Mode.FULL, null, null);
    private static final Padding SAME_UPPER = new Padding(Mode.SAME_UPPER, null, null);
    private static final Padding SAME_LOWER = new Padding(Mode.SAME_LOWER, null, null);

    private final Mode mode;
    private final int[] before;
    private final int[] after;

    private Padding(Mode mode, int[] before, int[] after) {
        this.mode = mode;
        this.before = before;
        this.after = after;
    }

    /** No padding, {@code p = 0}. */
    public static Padding valid() {
        return VALID;
    }

    /** The lecture's same padding: output size = input size, for any stride. */
    public static Padding same() {
        return SAME;
    }

    /** Full padding: {@code p = N − 1} on each side. */
    public static Padding full() {
        return FULL;
    }

    /** ONNX SAME_UPPER: output {@code ⌈M/s⌉}. */
    public static Padding sameUpper() {
        return SAME_UPPER;
    }

    /** ONNX SAME_LOWER: output {@code ⌈M/s⌉}. */
    public static Padding sameLower() {
        return SAME_LOWER;
    }

    /** {@code p} elements on both sides of every spatial axis. */
    public static Padding symmetric(int p) {
        return explicit(p, p);
    }

    /** {@code before} elements at the start and {@code after} at the end of every spatial axis. */
    public static Padding explicit(int before, int after) {
        return perAxis(new int[] {before}, new int[] {after});
    }

    /** Per-side padding of a 2-D layer. */
    public static Padding explicit2d(int top, int left, int bottom, int right) {
        return perAxis(new int[] {top, left}, new int[] {bottom, right});
    }

    /**
     * Per-axis, per-side padding, outermost spatial axis first (ONNX order would be
     * {@code before = [x1_begin, x2_begin]}, {@code after = [x1_end, x2_end]}). Arrays of length 1
     * apply to every axis.
     */
    public static Padding perAxis(int[] before, int[] after) {
        Objects.requireNonNull(before, "before");
        Objects.requireNonNull(after, "after");
        if (before.length != after.length || before.length == 0) {
            throw new ShapeException("padding: before " + Arrays.toString(before) + " and after "
                    + Arrays.toString(after) + " must have the same, non-zero length");
        }
        for (int i = 0; i < before.length; i++) {
            if (before[i] < 0 || after[i] < 0) {
                throw new ShapeException("padding must be ≥ 0 on each side (Eq. 6: p counts added elements), got before "
                        + Arrays.toString(before) + ", after " + Arrays.toString(after));
            }
        }
        return new Padding(Mode.EXPLICIT, before.clone(), after.clone());
    }

    /** The rule. */
    public Mode mode() {
        return mode;
    }

    /**
     * Resolves the padding of one spatial axis.
     *
     * @param axis        index of the spatial axis (0 = outermost spatial axis)
     * @param spatialRank number of spatial axes of the layer
     * @param input       input size M
     * @param kernel      kernel size N
     * @param stride      stride s ≥ 1
     * @param dilation    dilation d ≥ 1
     * @return the padding before and after
     * @throws ShapeException if explicit padding was given for a different number of axes
     */
    public AxisPadding resolve(int axis, int spatialRank, int input, int kernel, int stride, int dilation) {
        long span = (long) dilation * (kernel - 1) + 1;
        return switch (mode) {
            case VALID -> new AxisPadding(0, 0);
            case SAME -> SizeEquations.samePadding(input, kernel, stride, dilation);
            case FULL -> {
                if (span - 1 > Integer.MAX_VALUE) {
                    throw new ShapeException("full padding p = N − 1 = " + (span - 1) + " overflows int");
                }
                yield new AxisPadding((int) (span - 1), (int) (span - 1));
            }
            case SAME_UPPER, SAME_LOWER -> {
                long out = ((long) input + stride - 1) / stride;
                long total = Math.max(0, (out - 1) * stride + span - input);
                long small = total / 2;
                long large = total - small;
                yield mode == Mode.SAME_UPPER ? new AxisPadding((int) small, (int) large)
                        : new AxisPadding((int) large, (int) small);
            }
            case EXPLICIT -> {
                if (before.length == 1) {
                    yield new AxisPadding(before[0], after[0]);
                }
                if (before.length != spatialRank) {
                    throw new ShapeException("padding " + this + " has " + before.length
                            + " axes but the layer has " + spatialRank + " spatial axes");
                }
                yield new AxisPadding(before[axis], after[axis]);
            }
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Padding p && p.mode == mode && Arrays.equals(p.before, before) && Arrays.equals(p.after, after);
    }

    @Override
    public int hashCode() {
        return 31 * mode.hashCode() + 7 * Arrays.hashCode(before) + Arrays.hashCode(after);
    }

    /** E.g. {@code same}, {@code p=1}, {@code p=[0, 1]/[1, 0]}. */
    @Override
    public String toString() {
        if (mode != Mode.EXPLICIT) {
            return mode.name().toLowerCase(java.util.Locale.ROOT);
        }
        if (Arrays.equals(before, after) && Arrays.stream(before).distinct().count() == 1) {
            return "p=" + before[0];
        }
        return "p=" + Arrays.toString(before) + "/" + Arrays.toString(after);
    }
}
