package dev.convnet.internal.train;

import dev.convnet.internal.kernels.MathFunctions;
import dev.convnet.layer.Activation;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Unary;

/**
 * The derivatives of the element-wise operations ({@link Activation}, {@link Unary}, {@link Binary}), in double,
 * shared by the reference and Java training kernels. Where a function has a kink the value there is PyTorch's
 * (its {@code derivatives.yaml} and backward kernels), and where PyTorch's backward reads the forward result
 * ({@code sigmoid}, {@code tanh}, {@code exp}, {@code sqrt}, {@code reciprocal}, {@code pow}'s exponent) so does
 * this one:
 * <ul>
 *   <li>ReLU: 0 at {@code x = 0}; leaky ReLU: α at 0; ELU and SELU: {@code α·e^0 = α} (times γ) at 0;
 *       thresholded ReLU: 0 at {@code x = α};</li>
 *   <li>CLIP: 1 on the closed interval {@code α ≤ x ≤ β}, 0 outside (as {@code torch.clamp}; note that
 *       {@code nn.ReLU6}/{@code hardtanh} give 0 at the bounds), 0 for NaN;</li>
 *   <li>HARD_SIGMOID: α on the open interval {@code 0 < α·x + β < 1}, 0 elsewhere (as {@code hardsigmoid});</li>
 *   <li>HARD_SWISH: 0 for {@code x < −3}, {@code x/3 + ½} for {@code −3 ≤ x ≤ 3}, 1 above (as
 *       {@code hardswish_backward});</li>
 *   <li>ABS: {@code sgn x}, 0 at 0; FLOOR, CEIL: 0 everywhere;</li>
 *   <li>MAX, MIN: where {@code a == b} each operand gets half the gradient (as {@code torch.maximum});</li>
 *   <li>POW: ∂/∂a is 0 where the exponent is 0; ∂/∂b is 0 where {@code a = 0} and {@code b ≥ 0}, else
 *       {@code y·ln a} (NaN for a negative base, as in PyTorch);</li>
 *   <li>PRELU {@code a < 0 ? b·a : a}: ∂/∂a is 1 for {@code a > 0}, else {@code b}; ∂/∂b is 0 for
 *       {@code a > 0}, else {@code a} (as {@code _prelu_kernel_backward}).</li>
 * </ul>
 * Internal; stateless.
 */
public final class ElementDerivatives {
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);
    private static final double INV_SQRT_2PI = 1.0 / Math.sqrt(2.0 * Math.PI);
    private static final double INV_SQRT_2 = 1.0 / Math.sqrt(2.0);

    private ElementDerivatives() {
    }

    /** {@code dy/dx} of a one-input function at input {@code x} with output {@code y}. */
    @FunctionalInterface
    public interface Derivative {
        /** The derivative at {@code x}, whose output is {@code y}. */
        double at(double x, double y);
    }

    /** A partial derivative of a two-input function at {@code (a, b)} with output {@code y}. */
    @FunctionalInterface
    public interface Partial {
        /** The partial derivative at {@code (a, b)}, whose output is {@code y}. */
        double at(double a, double b, double y);
    }

    /** The derivative of an activation. */
    public static Derivative of(Activation a) {
        double alpha = a.alpha();
        return switch (a.function()) {
            case RELU -> (x, y) -> x > 0 ? 1 : 0;
            case LEAKY_RELU -> (x, y) -> x > 0 ? 1 : alpha;
            case SIGMOID -> (x, y) -> y * (1 - y);
            case TANH -> (x, y) -> 1 - y * y;
            case ELU -> (x, y) -> x > 0 ? 1 : alpha * Math.exp(x);
            case GELU -> (x, y) -> 0.5 * (1 + MathFunctions.erf(x * INV_SQRT_2)) + x * INV_SQRT_2PI * Math.exp(-0.5 * x * x);
        };
    }

    /** The derivative of a unary function. */
    public static Derivative of(Unary u) {
        double alpha = u.alpha();
        double beta = u.beta();
        return switch (u.function()) {
            case CLIP -> (x, y) -> x >= alpha && x <= beta ? 1 : 0;
            case HARD_SIGMOID -> (x, y) -> {
                double v = alpha * x + beta;
                return v > 0 && v < 1 ? alpha : 0;
            };
            case HARD_SWISH -> (x, y) -> x < -3 ? 0 : x <= 3 ? x / 3 + 0.5 : 1;
            case ABS -> (x, y) -> Math.signum(x);
            case NEG -> (x, y) -> -1;
            case EXP -> (x, y) -> y;
            case LOG -> (x, y) -> 1 / x;
            case SQRT -> (x, y) -> 0.5 / y;
            case RECIPROCAL -> (x, y) -> -y * y;
            case FLOOR, CEIL -> (x, y) -> 0;
            case ERF -> (x, y) -> TWO_OVER_SQRT_PI * Math.exp(-x * x);
            case SOFTPLUS -> (x, y) -> x > 30 ? 1 : 1 / (1 + Math.exp(-x));
            case SOFTSIGN -> (x, y) -> {
                double d = 1 + Math.abs(x);
                return 1 / (d * d);
            };
            case SELU -> (x, y) -> x > 0 ? beta : beta * alpha * Math.exp(x);
            case THRESHOLDED_RELU -> (x, y) -> x > alpha ? 1 : 0;
        };
    }

    /** ∂y/∂a of a binary operation. */
    public static Partial first(Binary.Op op) {
        return switch (op) {
            case ADD, SUB -> (a, b, y) -> 1;
            case MUL -> (a, b, y) -> b;
            case DIV -> (a, b, y) -> 1 / b;
            case MAX -> (a, b, y) -> a < b ? 0 : a == b ? 0.5 : 1;
            case MIN -> (a, b, y) -> a > b ? 0 : a == b ? 0.5 : 1;
            case POW -> (a, b, y) -> b == 0 ? 0 : b * Math.pow(a, b - 1);
            case PRELU -> (a, b, y) -> a > 0 ? 1 : b;
        };
    }

    /** ∂y/∂b of a binary operation. */
    public static Partial second(Binary.Op op) {
        return switch (op) {
            case ADD -> (a, b, y) -> 1;
            case SUB -> (a, b, y) -> -1;
            case MUL -> (a, b, y) -> a;
            case DIV -> (a, b, y) -> -a / (b * b);
            case MAX -> (a, b, y) -> b < a ? 0 : a == b ? 0.5 : 1;
            case MIN -> (a, b, y) -> b > a ? 0 : a == b ? 0.5 : 1;
            case POW -> (a, b, y) -> a == 0 && b >= 0 ? 0 : y * Math.log(a);
            case PRELU -> (a, b, y) -> a > 0 ? 0 : a;
        };
    }
}
