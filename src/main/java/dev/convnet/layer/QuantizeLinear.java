package dev.convnet.layer;

import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * ONNX's {@code QuantizeLinear}: each value becomes {@code saturate(round(x / scale) + zeroPoint)} (round half to
 * even), an integer of {@link QuantParams#type()} carried as a float. With a {@link DequantizeLinear} after it this is
 * the "Q/DQ" form of a quantized network: the Java and reference backends compute it as written, and oneDNN runs the
 * operations between a dequantize and a quantize in 8-bit integers. The output shape equals the input shape.
 *
 * <p>Thread-safety: immutable.
 */
public final class QuantizeLinear implements Layer {
    private final QuantParams params;

    private QuantizeLinear(QuantParams params) {
        this.params = Objects.requireNonNull(params, "params");
    }

    /** Quantization with these parameters. */
    public static QuantizeLinear of(QuantParams params) {
        return new QuantizeLinear(params);
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
        return o instanceof QuantizeLinear q && q.params.equals(params);
    }

    @Override
    public int hashCode() {
        return params.hashCode() * 3 + 1;
    }

    @Override
    public String toString() {
        return "QuantizeLinear(" + params + ")";
    }
}
