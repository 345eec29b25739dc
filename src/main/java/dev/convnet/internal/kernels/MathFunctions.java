package dev.convnet.internal.kernels;

/**
 * Special functions that {@link Math} lacks, shared by the Java backends. Internal; stateless.
 */
public final class MathFunctions {
    private static final double TWO_OVER_SQRT_PI = 2.0 / Math.sqrt(Math.PI);

    private MathFunctions() {
    }

    /**
     * The error function, to about 1e-15 relative accuracy, from the series
     * {@code erf(x) = 2/√π · e^(−x²) · Σ_n 2^n x^(2n+1) / (1·3·…·(2n+1))} whose terms are all
     * positive (no cancellation); {@code |erf(x)|} rounds to 1 in double for {@code |x| ≥ 6}.
     */
    public static double erf(double x) {
        if (Double.isNaN(x)) {
            return x;
        }
        double a = Math.abs(x);
        if (a >= 6.0) {
            return Math.copySign(1.0, x);
        }
        double x2 = a * a;
        double term = a;
        double sum = a;
        for (int n = 0; n < 400; n++) {
            term *= 2.0 * x2 / (2 * n + 3);
            sum += term;
            if (term <= sum * 1e-17) {
                break;
            }
        }
        double r = TWO_OVER_SQRT_PI * Math.exp(-x2) * sum;
        return Math.copySign(Math.min(r, 1.0), x);
    }

    /** GELU, erf form: {@code x·½·(1 + erf(x/√2))}. */
    public static double gelu(double x) {
        return x * 0.5 * (1.0 + erf(x / Math.sqrt(2.0)));
    }
}
