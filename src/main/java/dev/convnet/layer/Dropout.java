package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

/**
 * Dropout: in training, each element is zeroed with probability {@code ratio} and the others are scaled by
 * {@code 1/(1 − ratio)} (inverted dropout, as PyTorch and ONNX do); in inference it is the identity. The mask of a
 * training step is drawn from the trainer's seeded random state, so a resumed run draws the same masks.
 *
 * <p>Thread-safety: immutable.
 */
public final class Dropout implements Layer {
    private final float ratio;

    private Dropout(float ratio) {
        if (!(ratio >= 0f && ratio < 1f)) {
            throw new ShapeException("Dropout: ratio = " + ratio + " must be in [0, 1)");
        }
        this.ratio = ratio;
    }

    /** Dropout with the given drop probability in [0, 1). */
    public static Dropout of(double ratio) {
        return new Dropout((float) ratio);
    }

    /** The probability of zeroing an element in training. */
    public float ratio() {
        return ratio;
    }

    @Override
    public Shape outputShape(Shape input) {
        return input;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Dropout d && d.ratio == ratio;
    }

    @Override
    public int hashCode() {
        return Float.hashCode(ratio);
    }

    @Override
    public String toString() {
        return "Dropout(" + ratio + ")";
    }
}
