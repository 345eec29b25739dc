package dev.convnet.shape;

/**
 * The lecture's output-size equations, with the validation the errata require.
 *
 * <ul>
 *   <li>Eq. 5: {@code L = ⌊(M − N)/s⌋ + 1}</li>
 *   <li>Eq. 6: {@code L = ⌊(M + 2p − N)/s⌋ + 1} (here with per-side padding
 *       {@code p_before + p_after} in place of {@code 2p}, and the dilated kernel span
 *       {@code d(N − 1) + 1} in place of N)</li>
 *   <li>Eq. 8: Eq. 6 applied to each of the two spatial axes.</li>
 *   <li>Same padding: {@code p = (s(L − 1) + N − M)/2} with {@code L = M}.</li>
 * </ul>
 * The equations are only defined for {@code s ≥ 1} and {@code M + 2p ≥ N}; anything else is a
 * {@link ShapeException} naming the equation and the numbers.
 *
 * <p>Thread-safety: stateless.
 */
public final class SizeEquations {
    private SizeEquations() {
    }

    /**
     * Eq. 6 with per-side padding, dilation and optional ceil rounding (ONNX / PyTorch
     * {@code ceil_mode}, where a last window that would start in the end padding is dropped).
     *
     * @param equation  the equation named in error messages, e.g. {@code "Eq. 8"}
     * @param axisName  the axis named in error messages, e.g. {@code "height"}; may be empty
     * @param input     M
     * @param kernel    N, before dilation
     * @param stride    s
     * @param dilation  d
     * @param padBefore padding at the start
     * @param padAfter  padding at the end
     * @param ceilMode  round the division up instead of down
     * @return L ≥ 1
     * @throws ShapeException if {@code s < 1}, {@code d < 1}, {@code N < 1}, a padding is
     *                        negative, the kernel is larger than the padded input, or L
     *                        overflows an int
     */
    public static int outputSize(String equation, String axisName, int input, int kernel, int stride, int dilation,
                                 int padBefore, int padAfter, boolean ceilMode) {
        String where = axisName == null || axisName.isEmpty() ? equation : equation + " (" + axisName + ")";
        if (input < 1) {
            throw new ShapeException(where + ": input size M = " + input + " must be ≥ 1");
        }
        if (kernel < 1) {
            throw new ShapeException(where + ": kernel size N = " + kernel + " must be ≥ 1");
        }
        if (stride < 1) {
            throw new ShapeException(where + ": stride s = " + stride + " must be ≥ 1 (the equation divides by s)");
        }
        if (dilation < 1) {
            throw new ShapeException(where + ": dilation d = " + dilation + " must be ≥ 1");
        }
        if (padBefore < 0 || padAfter < 0) {
            throw new ShapeException(where + ": padding p must be ≥ 0, got before = " + padBefore + ", after = " + padAfter);
        }
        long span = (long) dilation * (kernel - 1) + 1;
        long padded = (long) input + padBefore + padAfter;
        long numerator = padded - span;
        long quotient = ceilMode ? Math.ceilDiv(numerator, (long) stride) : Math.floorDiv(numerator, (long) stride);
        long out = quotient + 1;
        String pads = padBefore == padAfter ? "2·" + padBefore : padBefore + " + " + padAfter;
        String formula = (ceilMode ? "⌈(" : "⌊(") + input + " + " + pads + " − " + span + ")/" + stride
                + (ceilMode ? "⌉" : "⌋") + " + 1 = " + out;
        if (out < 1) {
            String what = dilation == 1 ? "kernel " + kernel
                    : "kernel " + kernel + " with dilation " + dilation + " (span " + span + ")";
            throw new ShapeException(where + ": " + formula + " < 1: " + what + " is larger than the padded input " + padded);
        }
        if (ceilMode && (out - 1) * stride >= input + padBefore) {
            out--; // the last window would start inside the end padding: drop it
        }
        if (out > Integer.MAX_VALUE) {
            throw new ShapeException(where + ": " + formula + " overflows int");
        }
        return (int) out;
    }

    /** Eq. 5, {@code ⌊(M − N)/s⌋ + 1}, validated. */
    public static int outputSize(int input, int kernel, int stride) {
        return outputSize("Eq. 5", "", input, kernel, stride, 1, 0, 0, false);
    }

    /** Eq. 6, {@code ⌊(M + 2p − N)/s⌋ + 1}, validated. */
    public static int outputSize(int input, int padding, int kernel, int stride) {
        return outputSize("Eq. 6", "", input, kernel, stride, 1, padding, padding, false);
    }

    /**
     * The lecture's same padding: Eq. 6 solved for p with {@code L = M},
     * {@code total = s(M − 1) + N − M}, split as {@code ⌊total/2⌋} before and the rest after.
     * N is the dilated span.
     */
    public static AxisPadding samePadding(int input, int kernel, int stride, int dilation) {
        if (stride < 1) {
            throw new ShapeException("same padding p = (s(L − 1) + N − M)/2: stride s = " + stride + " must be ≥ 1");
        }
        if (dilation < 1 || kernel < 1) {
            throw new ShapeException("same padding: kernel N = " + kernel + " and dilation d = " + dilation + " must be ≥ 1");
        }
        long span = (long) dilation * (kernel - 1) + 1;
        long total = (long) stride * (input - 1) + span - input;
        long before = Math.floorDiv(total, 2);
        long after = total - before;
        if (total < 0 || after > Integer.MAX_VALUE) {
            throw new ShapeException("same padding: p = (s(L − 1) + N − M)/2 = (" + stride + "·(" + input + " − 1) + "
                    + span + " − " + input + ")/2 = " + total + "/2 is out of range");
        }
        return new AxisPadding((int) before, (int) after);
    }

    /**
     * Resolves and validates one spatial axis of a convolution or pooling layer.
     *
     * @param equation    equation named in errors ({@code "Eq. 6"} for 1-D, {@code "Eq. 8"} for 2-D, ...)
     * @param axisName    axis named in errors
     * @param input       M
     * @param kernel      N
     * @param stride      s
     * @param dilation    d
     * @param padding     the padding rule
     * @param axis        index of this spatial axis
     * @param spatialRank number of spatial axes
     * @param ceilMode    round up (pooling only)
     */
    public static ConvAxis axis(String equation, String axisName, int input, int kernel, int stride, int dilation,
                                Padding padding, int axis, int spatialRank, boolean ceilMode) {
        if (stride < 1) {
            throw new ShapeException(equation + " (" + axisName + "): stride s = " + stride + " must be ≥ 1 (the equation divides by s)");
        }
        if (dilation < 1) {
            throw new ShapeException(equation + " (" + axisName + "): dilation d = " + dilation + " must be ≥ 1");
        }
        AxisPadding p = padding.resolve(axis, spatialRank, input, kernel, stride, dilation);
        int out = outputSize(equation, axisName, input, kernel, stride, dilation, p.before(), p.after(), ceilMode);
        return new ConvAxis(input, kernel, stride, dilation, p.before(), p.after(), out);
    }
}
