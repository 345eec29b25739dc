package dev.convnet.layer;

import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * ONNX's {@code DequantizeLinear}: each value, an integer of {@link QuantParams#type()} carried as a float, becomes
 * {@code (q − zeroPoint)·scale}. After a {@link QuantizeLinear} this is the "Q/DQ" form of a quantized network: the Java and reference backends compute it as written, and oneDNN runs the
 * operations between a dequantize and a quantize in 8-bit integers. The output shape equals the input shape.
 *
 * <p>Thread-safety: immutable.
 */
public final class DequantizeLinear implements Layer {
    private final QuantParams params;

    private DequantizeLinear(QuantParams params) {
        this.params = Objects.requireNonNull(params, "params");
    }

    /** Dequantization with these parameters. */
    public static DequantizeLinear of(QuantParams params) {
        return new DequantizeLinear(params);
    }

    /** The scale(s), zero point(s) and integer type. */
    public QuantParams params() {
        return params;
    }

    @Override
    public Shape outputShape(Shape input) {
        params.check(kind(), input);
        return input;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof DequantizeLinear q && q.params.equals(params);
    }

    @Override
    public int hashCode() {
        return params.hashCode() * 3 + 2;
    }

    @Override
    public String toString() {
        return "DequantizeLinear(" + params + ")";
    }
}
