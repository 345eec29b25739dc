package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Objects;

/**
 * An element-wise non-linearity (Sec. 2.2, "Non-Linear Layers"); the output shape equals the
 * input shape.
 * <ul>
 *   <li>ReLU: {@code max(0, x)}</li>
 *   <li>leaky ReLU: {@code x} if {@code x > 0}, else {@code α·x}</li>
 *   <li>sigmoid: {@code 1/(1 + e^(−x))}</li>
 *   <li>tanh</li>
 *   <li>ELU: {@code x} if {@code x > 0}, else {@code α·(e^x − 1)}</li>
 *   <li>GELU (erf form): {@code x·½·(1 + erf(x/√2))}</li>
 * </ul>
 *
 * <p>Thread-safety: immutable.
 */
public final class Activation implements Layer {
    /** The function applied. */
    public enum Function {
        /** {@code max(0, x)}. */
        RELU,
        /** {@code x > 0 ? x : α·x}. */
        LEAKY_RELU,
        /** {@code 1/(1 + e^(−x))}. */
        SIGMOID,
        /** {@code tanh(x)}. */
        TANH,
        /** {@code x > 0 ? x : α·(e^x − 1)}. */
        ELU,
        /** {@code x·½·(1 + erf(x/√2))}. */
        GELU
    }

    private static final Activation RELU = new Activation(Function.RELU, 0);
    private static final Activation SIGMOID = new Activation(Function.SIGMOID, 0);
    private static final Activation TANH = new Activation(Function.TANH, 0);
    private static final Activation GELU = new Activation(Function.GELU, 0);

    private final Function function;
    private final float alpha;

    private Activation(Function function, float alpha) {
        this.function = Objects.requireNonNull(function, "function");
        if (!Float.isFinite(alpha)) {
            throw new ShapeException(function + ": α = " + alpha + " must be finite");
        }
        this.alpha = alpha;
    }

    /** ReLU. */
    public static Activation relu() {
        return RELU;
    }

    /** Leaky ReLU with slope {@code alpha} for negative inputs (PyTorch default 0.01). */
    public static Activation leakyRelu(float alpha) {
        return new Activation(Function.LEAKY_RELU, alpha);
    }

    /** Logistic sigmoid. */
    public static Activation sigmoid() {
        return SIGMOID;
    }

    /** Hyperbolic tangent. */
    public static Activation tanh() {
        return TANH;
    }

    /** ELU with scale {@code alpha} (default 1). */
    public static Activation elu(float alpha) {
        return new Activation(Function.ELU, alpha);
    }

    /** GELU, exact erf form. */
    public static Activation gelu() {
        return GELU;
    }

    /** The function. */
    public Function function() {
        return function;
    }

    /** α of leaky ReLU and ELU; 0 for the others. */
    public float alpha() {
        return alpha;
    }

    @Override
    public Shape outputShape(Shape input) {
        return input;
    }

    @Override
    public String kind() {
        return switch (function) {
            case RELU -> "ReLU";
            case LEAKY_RELU -> "LeakyReLU";
            case SIGMOID -> "Sigmoid";
            case TANH -> "Tanh";
            case ELU -> "ELU";
            case GELU -> "GELU";
        };
    }

    @Override
    public String toString() {
        return function == Function.LEAKY_RELU || function == Function.ELU ? kind() + "(α=" + alpha + ")"
                : kind() + "()";
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Activation a && a.function == function && Float.compare(a.alpha, alpha) == 0;
    }

    @Override
    public int hashCode() {
        return function.hashCode() * 31 + Float.hashCode(alpha);
    }

}
