package dev.convnet.layer;

import dev.convnet.shape.Shape;

/**
 * Flattens every dimension after the batch into one (Eq. 13):
 * {@code [N, D_1, …, D_k] → [N, D_1·…·D_k]}; the data is unchanged (row-major).
 *
 * <p>Thread-safety: immutable.
 */
public final class Flatten implements Layer {
    /** Creates the layer. */
    public Flatten() {
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.rank() < 2) {
            throw new dev.convnet.shape.ShapeException("Flatten expects a batch dimension and at least one more, got " + input);
        }
        long d = input.elementCount(1);
        Params.arraySize("Flatten output", input);
        return Shape.of(input.dim(0), (int) d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Flatten;
    }

    @Override
    public int hashCode() {
        return 17;
    }

    @Override
    public String toString() {
        return "Flatten()";
    }
}
