package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Optional;
import java.util.random.RandomGenerator;

/**
 * A fully-connected layer (Eq. 13–14): the input {@code [N, …]} is read as N flattened vectors
 * {@code x ∈ ℝ^D} and each becomes {@code y = W·x + b} with {@code W ∈ ℝ^(K×D)} (row-major
 * {@code [K, D]}) and optional {@code b ∈ ℝ^K}; output {@code [N, K]}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Linear implements Layer {
    private final int inFeatures;
    private final int outFeatures;
    private final float[] weights;
    private final float[] bias;

    private Linear(int inFeatures, int outFeatures, float[] weights, float[] bias) {
        this.inFeatures = inFeatures;
        this.outFeatures = outFeatures;
        this.weights = weights;
        this.bias = bias;
    }

    /**
     * A layer with the given weights {@code [K, D]} and bias {@code [K]} (may be null), copied.
     *
     * @throws ShapeException if the lengths do not match {@code K·D} and {@code K}
     */
    public static Linear of(int inFeatures, int outFeatures, float[] weights, float[] bias) {
        checkSizes(inFeatures, outFeatures);
        Shape ws = Shape.of(outFeatures, inFeatures);
        float[] w = Params.copyChecked("Linear weights", ws, " (K, D)", weights);
        float[] b = bias == null ? null : Params.copyChecked("Linear bias", Shape.of(outFeatures), " (K)", bias);
        return new Linear(inFeatures, outFeatures, w, b);
    }

    /** A layer with He-uniform random weights and random biases drawn from {@code random}. */
    public static Linear random(int inFeatures, int outFeatures, RandomGenerator random) {
        checkSizes(inFeatures, outFeatures);
        int n = Params.arraySize("Linear weights", Shape.of(outFeatures, inFeatures));
        return new Linear(inFeatures, outFeatures, Params.randomWeights(random, n, inFeatures),
                Params.randomBias(random, outFeatures, inFeatures));
    }

    private static void checkSizes(int in, int out) {
        Params.positive("Linear", "input features D", in);
        Params.positive("Linear", "output features K", out);
    }

    /** D, the flattened input size. */
    public int inFeatures() {
        return inFeatures;
    }

    /** K, the output size. */
    public int outFeatures() {
        return outFeatures;
    }

    /** The weight shape {@code [K, D]}. */
    public Shape weightShape() {
        return Shape.of(outFeatures, inFeatures);
    }

    /** A copy of W, row-major {@code [K, D]}. */
    public float[] weights() {
        return weights.clone();
    }

    /** A copy of b, if any. */
    public Optional<float[]> bias() {
        return bias == null ? Optional.empty() : Optional.of(bias.clone());
    }

    /** {@code weight} [K, D] and, if the layer has one, {@code bias} [K]. */
    @Override
    public java.util.List<ParameterSpec> parameters() {
        ParameterSpec w = new ParameterSpec("weight", weightShape(), ParameterSpec.Role.WEIGHT, inFeatures, outFeatures,
                weights.clone());
        return bias == null ? java.util.List.of(w)
                : java.util.List.of(w, new ParameterSpec("bias", Shape.of(outFeatures), ParameterSpec.Role.BIAS, inFeatures,
                        outFeatures, bias.clone()));
    }

    @Override
    public Linear withParameters(java.util.List<float[]> values) {
        Params.checkCount("Linear", bias == null ? 1 : 2, values);
        return of(inFeatures, outFeatures, values.get(0), bias == null ? null : values.get(1));
    }

    @Override
    public java.util.List<String> parameterNames() {
        return bias == null ? java.util.List.of("weight") : java.util.List.of("weight", "bias");
    }

    @Override
    public long weightCount() {
        return weights.length;
    }

    @Override
    public long biasCount() {
        return bias == null ? 0 : bias.length;
    }

    @Override
    public Shape outputShape(Shape input) {
        if (input.rank() < 2) {
            throw new ShapeException("Linear expects a batch dimension and features, got " + input);
        }
        long d = input.elementCount(1);
        if (d != inFeatures) {
            StringBuilder product = new StringBuilder();
            for (int i = 1; i < input.rank(); i++) {
                product.append(i > 1 ? "·" : "").append(input.dim(i));
            }
            throw new ShapeException("Eq. 13–14: the input " + input + " flattens to D = " + product
                    + (input.rank() > 2 ? " = " + d : "") + " features, but W is " + weightShape()
                    + " and expects D = " + inFeatures);
        }
        return Shape.of(input.dim(0), outFeatures);
    }

    @Override
    public String toString() {
        return "Linear(" + inFeatures + "→" + outFeatures + (bias == null ? ", no bias" : "") + ")";
    }
}
