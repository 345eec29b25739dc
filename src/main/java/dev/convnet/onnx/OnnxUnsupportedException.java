package dev.convnet.onnx;

/**
 * A valid ONNX model (or part of one) that convnet cannot run: an operator or opset it does not map, a data
 * type other than float32 where values flow at run time, a dynamic shape it cannot fix, a zero-sized tensor.
 * The message names the operator, the opset and the node. A subclass of {@link OnnxFormatException} so that
 * callers that only care whether a file can be used catch one type; {@code convnet onnx-test} reports these
 * cases as SKIP.
 *
 * <p>Immutable after construction.
 */
public final class OnnxUnsupportedException extends OnnxFormatException {
    private static final long serialVersionUID = 1L;

    /** @param message what is not supported, and where */
    public OnnxUnsupportedException(String message) {
        super(message);
    }
}
