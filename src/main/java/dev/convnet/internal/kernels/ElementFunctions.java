package dev.convnet.internal.kernels;

import dev.convnet.layer.Binary;
import dev.convnet.layer.Unary;

/**
 * The scalar definitions of {@link Unary} and {@link Binary}, in double, shared by the reference and Java
 * kernels (which round once to float). Internal; stateless.
 */
public final class ElementFunctions {
    private ElementFunctions() {
    }

    /** {@code u} applied to {@code x}. */
    public static double unary(Unary u, double x) {
        double alpha = u.alpha();
        double beta = u.beta();
        return switch (u.function()) {
            case CLIP -> Double.isNaN(x) ? x : Math.min(Math.max(x, alpha), beta);
            case HARD_SIGMOID -> Math.max(0, Math.min(1, alpha * x + beta));
            case HARD_SWISH -> x * Math.max(0, Math.min(1, x / 6 + 0.5));
            case ABS -> Math.abs(x);
            case NEG -> -x;
            case EXP -> Math.exp(x);
            case LOG -> Math.log(x);
            case SQRT -> Math.sqrt(x);
            case RECIPROCAL -> 1 / x;
            case FLOOR -> Math.floor(x);
            case CEIL -> Math.ceil(x);
            case ERF -> MathFunctions.erf(x);
            case SOFTPLUS -> x > 30 ? x : Math.log1p(Math.exp(x));
            case SOFTSIGN -> x / (1 + Math.abs(x));
            case SELU -> beta * (x > 0 ? x : alpha * Math.expm1(x));
            case THRESHOLDED_RELU -> x > alpha ? x : 0;
        };
    }

    /** {@code op(a, b)}. */
    public static double binary(Binary.Op op, double a, double b) {
        return switch (op) {
            case ADD -> a + b;
            case SUB -> a - b;
            case MUL -> a * b;
            case DIV -> a / b;
            case MAX -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.max(a, b);
            case MIN -> Double.isNaN(a) || Double.isNaN(b) ? Double.NaN : Math.min(a, b);
            case POW -> Math.pow(a, b);
            case PRELU -> a < 0 ? b * a : a;
        };
    }
}
