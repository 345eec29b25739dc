package dev.convnet.shape;

/**
 * The padding added on each side of one spatial axis: {@code before} elements at the start
 * (top / left) and {@code after} at the end (bottom / right).
 *
 * <p>Thread-safety: immutable.
 *
 * @param before padding at the start of the axis, ≥ 0
 * @param after  padding at the end of the axis, ≥ 0
 */
public record AxisPadding(int before, int after) {
    /** Checks that both sides are ≥ 0. */
    public AxisPadding {
        if (before < 0 || after < 0) {
            throw new ShapeException("padding must be ≥ 0 on each side, got before = " + before + ", after = " + after);
        }
    }

    /** {@code before + after}. */
    public long total() {
        return (long) before + after;
    }
}
