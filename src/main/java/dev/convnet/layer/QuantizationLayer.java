package dev.convnet.layer;

import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * What {@link QuantizeLinear} and {@link DequantizeLinear} share: their {@link QuantParams} and the shape rule (the
 * output shape is the input shape; per-axis parameters need one scale per index of their axis).
 *
 * <p>Thread-safety: immutable.
 */
public abstract sealed class QuantizationLayer implements Layer permits QuantizeLinear, DequantizeLinear {
    private final QuantParams params;

    QuantizationLayer(QuantParams params) {
        this.params = Objects.requireNonNull(params, "params");
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
        return o != null && o.getClass() == getClass() && ((QuantizationLayer) o).params.equals(params);
    }

    @Override
    public int hashCode() {
        return params.hashCode() * 31 + getClass().getSimpleName().hashCode();
    }

    @Override
    public String toString() {
        return getClass().getSimpleName() + "(" + params + ")";
    }
}
