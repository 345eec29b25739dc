package dev.convnet.onnx;

/**
 * The one exception the ONNX reader throws for content it cannot or will not read: a file that is not a
 * valid ONNX protobuf (truncated, corrupted), a tensor whose data does not match its shape, absurd or
 * negative dimensions, a graph with a cycle or with an input that nothing produces, external tensor data
 * that points outside the model's folder, and content convnet does not support (for example asking for
 * the floats of an INT8 tensor).
 *
 * <p>The message names what is wrong and where (tensor, node, attribute). A cause, when there is one, is
 * the protobuf or I/O exception underneath. It extends {@link IllegalArgumentException} because the
 * problem is always in the input given to the reader, never in the reader's state.
 *
 * <p>Exceptions are immutable after construction and safe to pass between threads.
 */
public class OnnxFormatException extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;

    /** @param message what is wrong, and where */
    public OnnxFormatException(String message) {
        super(message);
    }

    /**
     * @param message what is wrong, and where
     * @param cause   the underlying protobuf or I/O exception
     */
    public OnnxFormatException(String message, Throwable cause) {
        super(message, cause);
    }
}
