package dev.convnet.layer;

/**
 * ONNX's {@code QuantizeLinear}: each value becomes {@code saturate(round(x / scale) + zeroPoint)} (round half to
 * even), an integer of {@link QuantParams#type()} carried as a float. With a {@link DequantizeLinear} after it this is
 * the "Q/DQ" form of a quantized network: the Java and reference backends compute it as written, and oneDNN runs the
 * operations between a dequantize and a quantize in 8-bit integers. The output shape equals the input shape.
 *
 * <p>Thread-safety: immutable.
 */
public final class QuantizeLinear extends QuantizationLayer {
    private QuantizeLinear(QuantParams params) {
        super(params);
    }

    /** Quantization with these parameters. */
    public static QuantizeLinear of(QuantParams params) {
        return new QuantizeLinear(params);
    }
}
