package dev.convnet.layer;

/**
 * ONNX's {@code DequantizeLinear}: each value, an integer of {@link QuantParams#type()} carried as a float, becomes
 * {@code (q − zeroPoint)·scale}. After a {@link QuantizeLinear} this is the "Q/DQ" form of a quantized network: the
 * Java and reference backends compute it as written, and oneDNN runs the operations between a dequantize and a
 * quantize in 8-bit integers. The output shape equals the input shape.
 *
 * <p>Thread-safety: immutable.
 */
public final class DequantizeLinear extends QuantizationLayer {
    private DequantizeLinear(QuantParams params) {
        super(params);
    }

    /** Dequantization with these parameters. */
    public static DequantizeLinear of(QuantParams params) {
        return new DequantizeLinear(params);
    }
}
