package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.random.RandomGenerator;

/** Shared checks and helpers for layer parameters. Stateless. */
final class Params {
    /** Largest array length the JVM reliably allocates. */
    static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private Params() {
    }

    static int arraySize(String what, Shape shape) {
        if (shape.elementCount() > MAX_ARRAY) {
            throw new ShapeException(what + " " + shape + " has " + shape.elementCount()
                    + " elements, more than a Java array holds (" + MAX_ARRAY + ")");
        }
        return (int) shape.elementCount();
    }

    static float[] copyChecked(String what, Shape shape, String layout, float[] values) {
        if (values == null) {
            throw new IllegalArgumentException(what + " must not be null");
        }
        int expected = arraySize(what, shape);
        if (values.length != expected) {
            throw new ShapeException(what + ": shape " + shape + layout + " needs " + expected + " floats, got " + values.length);
        }
        return values.clone();
    }

    static void checkCount(String layer, int expected, java.util.List<float[]> values) {
        if (values.size() != expected) {
            throw new ShapeException(layer + " declares " + expected + " parameter(s), got " + values.size() + " arrays");
        }
    }

    static void positive(String layer, String what, int value) {
        if (value < 1) {
            throw new ShapeException(layer + ": " + what + " = " + value + " must be ≥ 1");
        }
    }

    static void checkRank(String layer, String layout, Shape input, int rank) {
        if (input.rank() != rank) {
            throw new ShapeException(layer + " expects a " + layout + " input of rank " + rank + ", got " + input
                    + " of rank " + input.rank());
        }
    }

    static void checkGroups(String layer, int in, int out, int groups) {
        positive(layer, "groups", groups);
        if (in % groups != 0) {
            throw new ShapeException(layer + ": groups: input channels " + in + " are not divisible by groups = " + groups);
        }
        if (out % groups != 0) {
            throw new ShapeException(layer + ": groups: output channels " + out + " are not divisible by groups = " + groups);
        }
    }

    /** Uniform in ±sqrt(6 / fanIn) (He uniform), the usual initialisation for ReLU networks. */
    static float[] randomWeights(RandomGenerator rng, int count, long fanIn) {
        double bound = Math.sqrt(6.0 / fanIn);
        float[] w = new float[count];
        for (int i = 0; i < count; i++) {
            w[i] = (float) rng.nextDouble(-bound, bound);
        }
        return w;
    }

    /** Uniform in ±1/sqrt(fanIn), as PyTorch initialises biases. */
    static float[] randomBias(RandomGenerator rng, int count, long fanIn) {
        double bound = 1.0 / Math.sqrt(fanIn);
        float[] b = new float[count];
        for (int i = 0; i < count; i++) {
            b[i] = (float) rng.nextDouble(-bound, bound);
        }
        return b;
    }

    static String shapeString(int... dims) {
        return Arrays.toString(dims);
    }
}
