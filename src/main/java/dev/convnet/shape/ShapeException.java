package dev.convnet.shape;

/**
 * Thrown when a shape, a layer's geometry or a weight tensor is invalid.
 *
 * <p>The message names the equation or rule of the lecture notes that was violated and the
 * numbers involved, for example {@code "Eq. 6: ⌊(5 + 2·0 − 7)/1⌋ + 1 = -1 < 1: kernel 7 is larger
 * than the padded input 5"}. Validation happens when a layer is built or a network is planned for
 * an input shape, never while a kernel runs.
 *
 * <p>Thread-safety: instances are immutable once thrown.
 */
public final class ShapeException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** Creates the exception with a message that names the rule and the numbers. */
    public ShapeException(String message) {
        super(message);
    }
}
