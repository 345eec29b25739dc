package dev.convnet.internal.onnx;

/**
 * Maps one ONNX node, at the opsets it is registered for in a {@link ConverterRegistry}, to layers, constants or
 * aliases through the {@link ImportContext} (which holds the node being converted). A converter holds no opset
 * branches: an operation whose meaning changed between opsets has one converter per range. Internal.
 *
 * <p>Thread-safety: converters are stateless; each import has its own context.
 */
@FunctionalInterface
public interface Converter {
    /** Converts {@link ImportContext#node()}. */
    void convert(ImportContext cx);
}
