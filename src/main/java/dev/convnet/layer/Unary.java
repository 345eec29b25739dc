package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Objects;

/**
 * An element-wise function beyond {@link Activation}'s (ONNX's unary operators); the output shape equals the
 * input shape. Parameters α and β where a function has them:
 * <ul>
 *   <li>CLIP {@code min(max(x, α), β)} (α = min, β = max; ReLU6 is {@code clip(0, 6)})</li>
 *   <li>HARD_SIGMOID {@code max(0, min(1, α·x + β))} (ONNX defaults α = 0.2, β = 0.5)</li>
 *   <li>HARD_SWISH {@code x·max(0, min(1, x/6 + ½))} (MobileNetV3)</li>
 *   <li>ABS, NEG, EXP, LOG, SQRT, RECIPROCAL {@code 1/x}, FLOOR, CEIL, ERF</li>
 *   <li>SOFTPLUS {@code ln(1 + e^x)}, SOFTSIGN {@code x/(1 + |x|)}</li>
 *   <li>SELU {@code γ·(x > 0 ? x : α·(e^x − 1))} (α, γ = β)</li>
 *   <li>THRESHOLDED_RELU {@code x > α ? x : 0}</li>
 * </ul>
 *
 * <p>Thread-safety: immutable.
 */
public final class Unary implements Layer {
    /** The function. */
    public enum Function {
        /** {@code min(max(x, α), β)}. */
        CLIP,
        /** {@code max(0, min(1, α·x + β))}. */
        HARD_SIGMOID,
        /** {@code x·max(0, min(1, x/6 + ½))}. */
        HARD_SWISH,
        /** {@code |x|}. */
        ABS,
        /** {@code −x}. */
        NEG,
        /** {@code e^x}. */
        EXP,
        /** {@code ln x}. */
        LOG,
        /** {@code √x}. */
        SQRT,
        /** {@code 1/x}. */
        RECIPROCAL,
        /** {@code ⌊x⌋}. */
        FLOOR,
        /** {@code ⌈x⌉}. */
        CEIL,
        /** {@code erf(x)}. */
        ERF,
        /** {@code ln(1 + e^x)}. */
        SOFTPLUS,
        /** {@code x/(1 + |x|)}. */
        SOFTSIGN,
        /** {@code β·(x > 0 ? x : α·(e^x − 1))}. */
        SELU,
        /** {@code x > α ? x : 0}. */
        THRESHOLDED_RELU
    }

    private final Function function;
    private final float alpha;
    private final float beta;

    private Unary(Function function, float alpha, float beta) {
        this.function = Objects.requireNonNull(function, "function");
        this.alpha = alpha;
        this.beta = beta;
    }

    /** A parameterless function (or one whose α, β are 0). */
    public static Unary of(Function function) {
        return of(function, 0f, 0f);
    }

    /** A function with parameters α and β. */
    public static Unary of(Function function, float alpha, float beta) {
        if (Float.isNaN(alpha) || Float.isNaN(beta)) {
            throw new ShapeException(function + ": α = " + alpha + ", β = " + beta + " must not be NaN");
        }
        return new Unary(function, alpha, beta);
    }

    /** {@code min(max(x, min), max)}; ±∞ for no bound. */
    public static Unary clip(float min, float max) {
        return of(Function.CLIP, min, max);
    }

    /** {@code max(0, min(1, α·x + β))}. */
    public static Unary hardSigmoid(float alpha, float beta) {
        return of(Function.HARD_SIGMOID, alpha, beta);
    }

    /** {@code x·max(0, min(1, x/6 + ½))}. */
    public static Unary hardSwish() {
        return of(Function.HARD_SWISH);
    }

    /** The function. */
    public Function function() {
        return function;
    }

    /** α (CLIP's min). */
    public float alpha() {
        return alpha;
    }

    /** β (CLIP's max, SELU's γ). */
    public float beta() {
        return beta;
    }

    @Override
    public Shape outputShape(Shape input) {
        return input;
    }

    @Override
    public String kind() {
        StringBuilder sb = new StringBuilder();
        for (String part : function.name().split("_")) {
            sb.append(part.charAt(0)).append(part.substring(1).toLowerCase(java.util.Locale.ROOT));
        }
        return sb.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Unary u && u.function == function && Float.compare(u.alpha, alpha) == 0
                && Float.compare(u.beta, beta) == 0;
    }

    @Override
    public int hashCode() {
        return function.hashCode() * 31 + Float.hashCode(alpha) * 7 + Float.hashCode(beta);
    }

    @Override
    public String toString() {
        return switch (function) {
            case CLIP -> "Clip(" + alpha + ", " + beta + ")";
            case HARD_SIGMOID, SELU -> kind() + "(α=" + alpha + ", β=" + beta + ")";
            case THRESHOLDED_RELU -> kind() + "(α=" + alpha + ")";
            default -> kind() + "()";
        };
    }
}
