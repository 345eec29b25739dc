package dev.convnet.internal.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.layer.Layer;
import dev.convnet.layer.ParameterSpec;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Checks one node's training kernels: the reference backward pass against central finite differences of the
 * reference forward pass, and the Java backward pass against the reference. The loss is {@code L = Σ r·y} for a
 * fixed random {@code r}, so ∂L/∂y = r.
 */
public final class GradientHarness {
    /** What a check compares and how. */
    public record Case(Layer layer, List<Shape> inputs, Shape output, float[][] x, float[][] params, float[] r) {
    }

    private GradientHarness() {
    }

    /** A case with inputs and parameters uniform in [-1, 1] (the layer's own parameter values are replaced). */
    public static Case random(Layer layer, List<Shape> inputs, long seed) {
        SplittableRandom rng = new SplittableRandom(seed);
        Shape out = layer.outputShape(inputs);
        float[][] x = new float[inputs.size()][];
        for (int i = 0; i < x.length; i++) x[i] = uniform(rng, (int) inputs.get(i).elementCount());
        List<ParameterSpec> specs = layer.parameters();
        float[][] p = new float[specs.size()][];
        for (int j = 0; j < p.length; j++) {
            p[j] = uniform(rng, specs.get(j).values().length);
            if (specs.get(j).role() == ParameterSpec.Role.RUNNING_VARIANCE) {
                for (int e = 0; e < p[j].length; e++) p[j][e] = 0.5f + Math.abs(p[j][e]);
            }
        }
        return new Case(layer, inputs, out, x, p, uniform(rng, (int) out.elementCount()));
    }

    /** Uniform floats in [-1, 1). */
    public static float[] uniform(SplittableRandom rng, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) rng.nextDouble(-1, 1);
        return v;
    }

    /** The gradients of one backward pass: per input and per parameter (null where not requested). */
    public record Gradients(float[] output, float[][] inputs, float[][] params) {
    }

    /** Forward (training mode) then backward with {@code kernel}; every input and parameter gradient requested. */
    public static Gradients run(GradKernel kernel, Case c) {
        return run(kernel, c, 0f);
    }

    /**
     * {@link #run}, with the gradient arrays filled with {@code fill} before the backward pass (NaN checks that the
     * kernel overwrites them completely, as the contract requires).
     */
    public static Gradients run(GradKernel kernel, Case c, float fill) {
        float[][] params = copy(c.params());
        float[] y = new float[(int) c.output().elementCount()];
        kernel.reseed(42);
        kernel.forward(copy(c.x()), params, y, true);
        float[][] dx = new float[c.x().length][];
        for (int i = 0; i < dx.length; i++) dx[i] = new float[c.x()[i].length];
        float[][] dp = new float[params.length][];
        List<ParameterSpec> specs = c.layer().parameters();
        for (int j = 0; j < dp.length; j++) if (specs.get(j).role().trainable()) dp[j] = new float[params[j].length];
        if (fill != 0f) {
            for (float[] d : dx) java.util.Arrays.fill(d, fill);
            for (float[] d : dp) if (d != null) java.util.Arrays.fill(d, fill);
        }
        kernel.backward(copy(c.x()), y, c.r().clone(), params, dx, dp);
        return new Gradients(y, dx, dp);
    }

    /** L = Σ r·y of a training-mode forward pass, in double. */
    static double loss(GradKernel kernel, Case c, float[][] x, float[][] params) {
        float[] y = new float[(int) c.output().elementCount()];
        kernel.reseed(42);
        kernel.forward(x, copy(params), y, true);
        double l = 0;
        for (int i = 0; i < y.length; i++) l += (double) c.r()[i] * y[i];
        return l;
    }

    /**
     * Checks the reference backward pass against central differences with step {@code h}: every element of every
     * input and trainable parameter (at most {@code maxPerTensor} of each, spread evenly) must agree within
     * {@code atol + rtol·|fd|}.
     */
    public static void checkFiniteDifferences(Case c, double h, double rtol, double atol, int maxPerTensor) {
        finiteDifferences(c, h, rtol, atol, maxPerTensor);
    }

    /** How far a check came from its tolerance: the largest |error| and the largest |error|/tolerance seen. */
    public record Report(double maxError, double worstRatio, int checked) {
        /** The larger of both reports, element by element. */
        public Report max(Report o) {
            return new Report(Math.max(maxError, o.maxError), Math.max(worstRatio, o.worstRatio), checked + o.checked);
        }

        /** Nothing checked yet. */
        public static final Report NONE = new Report(0, 0, 0);

        /** The same maxima as {@link Errors}. */
        public Errors errors() {
            return new Errors(maxError, worstRatio);
        }
    }

    /** The largest absolute error a check saw, and the largest ratio of an error to its tolerance (≤ 1 passes). */
    public record Errors(double maxAbs, double maxRatio) {
        /** No error seen yet. */
        public static final Errors NONE = new Errors(0, 0);

        /** The larger of both fields. */
        public Errors max(Errors o) {
            return new Errors(Math.max(maxAbs, o.maxAbs), Math.max(maxRatio, o.maxRatio));
        }
    }

    /** {@link #checkFiniteDifferences}, returning how close the worst element came to the tolerance. */
    public static Report finiteDifferences(Case c, double h, double rtol, double atol, int maxPerTensor) {
        return finiteDifferences(new ReferenceGradients().create(c.layer(), c.inputs(), c.output()), c, h, rtol, atol, maxPerTensor);
    }

    /** {@link #checkFiniteDifferences} of the given kernel (for tests of the check itself). */
    public static Report finiteDifferences(GradKernel k, Case c, double h, double rtol, double atol, int maxPerTensor) {
        Gradients g = run(k, c);
        List<String> failures = new ArrayList<>();
        double[] worst = new double[3];
        for (int i = 0; i < c.x().length; i++) {
            compareFd(k, c, c.x(), i, true, g.inputs()[i], h, rtol, atol, maxPerTensor, "input " + i, failures, worst);
        }
        for (int j = 0; j < c.params().length; j++) {
            if (g.params()[j] == null) continue;
            compareFd(k, c, c.params(), j, false, g.params()[j], h, rtol, atol, maxPerTensor,
                    "parameter " + c.layer().parameterNames().get(j), failures, worst);
        }
        if (!failures.isEmpty()) {
            fail(c.layer() + " on " + c.inputs() + ": " + failures.size() + " gradient elements differ from finite differences, e.g. "
                    + failures.subList(0, Math.min(5, failures.size())));
        }
        return new Report(worst[0], worst[1], (int) worst[2]);
    }

    private static void compareFd(GradKernel k, Case c, float[][] tensors, int t, boolean isInput, float[] analytic, double h,
                                  double rtol, double atol, int max, String what, List<String> failures, double[] worst) {
        int n = tensors[t].length;
        int step = Math.max(1, n / max);
        for (int e = 0; e < n; e += step) {
            float[][] plus = copy(tensors);
            float[][] minus = copy(tensors);
            plus[t][e] += (float) h;
            minus[t][e] -= (float) h;
            double hp = plus[t][e] - (double) tensors[t][e];
            double hm = (double) tensors[t][e] - minus[t][e];
            double lp = isInput ? loss(k, c, plus, c.params()) : loss(k, c, copy(c.x()), plus);
            double lm = isInput ? loss(k, c, minus, c.params()) : loss(k, c, copy(c.x()), minus);
            double fd = (lp - lm) / (hp + hm);
            double err = Math.abs(fd - analytic[e]);
            double tol = atol + rtol * Math.abs(fd);
            worst[0] = Math.max(worst[0], err);
            worst[1] = Math.max(worst[1], tol > 0 ? err / tol : err == 0 ? 0 : Double.POSITIVE_INFINITY);
            worst[2]++;
            if (!(err <= tol)) {
                failures.add(what + "[" + e + "]: analytic " + analytic[e] + ", finite difference " + fd);
            }
        }
    }

    /**
     * Checks the Java backward (and training forward) pass against the reference: every element within
     * {@code atol + rtol·|ref|}.
     */
    public static void checkJavaAgainstReference(Case c, double rtol, double atol) {
        javaAgainstReference(c, rtol, atol);
    }

    /** {@link #checkJavaAgainstReference}, returning the largest errors it saw. */
    public static Errors javaAgainstReference(Case c, double rtol, double atol) {
        Gradients ref = run(new ReferenceGradients().create(c.layer(), c.inputs(), c.output()), c);
        double[] t = new double[2];
        try (JavaGradients java = new JavaGradients(2)) {
            Gradients got = run(java.create(c.layer(), c.inputs(), c.output()), c);
            assertClose("output", ref.output(), got.output(), rtol, atol, c);
            track(t, ref.output(), got.output(), rtol, atol);
            for (int i = 0; i < ref.inputs().length; i++) {
                assertClose("∂L/∂input " + i, ref.inputs()[i], got.inputs()[i], rtol, atol, c);
                track(t, ref.inputs()[i], got.inputs()[i], rtol, atol);
            }
            for (int j = 0; j < ref.params().length; j++) {
                if (ref.params()[j] != null) {
                    assertClose("∂L/∂" + c.layer().parameterNames().get(j), ref.params()[j], got.params()[j], rtol, atol, c);
                    track(t, ref.params()[j], got.params()[j], rtol, atol);
                }
            }
        }
        return new Errors(t[0], t[1]);
    }

    private static void track(double[] t, float[] expected, float[] actual, double rtol, double atol) {
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) expected[i] - actual[i]);
            double tol = atol + rtol * Math.abs(expected[i]);
            if (Double.isNaN(err)) err = Double.POSITIVE_INFINITY;
            t[0] = Math.max(t[0], err);
            t[1] = Math.max(t[1], tol > 0 ? err / tol : err == 0 ? 0 : Double.POSITIVE_INFINITY);
        }
    }

    private static final double U = 0x1p-24;

    /** Higham's {@code γ_n = n·u/(1 − n·u)}, {@code u = 2⁻²⁴}: the relative error bound of an n-term float sum of products. */
    public static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    /**
     * The number of rounded terms behind each result of one case: the output and each input and parameter gradient
     * (an entry per input and per parameter; unused for gradients that are not computed).
     */
    public record Terms(long output, long[] inputs, long[] params) {
    }

    /**
     * Checks the Java training forward and backward passes against the reference with a worst-case bound: every
     * element must satisfy {@code |java − ref| ≤ γ_n·S + u·|ref|}, where n is the element's tensor's term count and
     * S the same element computed by the reference on {@code magnitudes}, the case with the absolute values of every
     * factor (so S = Σ|tᵢ| for results that are sums of products tᵢ, Higham §3.1 and §4.2, in any summation order,
     * with or without FMA). A failure is a bug, not bad luck.
     *
     * @return how close the worst element came: its |error| and its |error| / bound
     */
    public static Report checkJavaAgainstReferenceBound(Case c, Case magnitudes, Terms n, int threads) {
        Gradients ref = run(new ReferenceGradients().create(c.layer(), c.inputs(), c.output()), c);
        Gradients s = run(new ReferenceGradients().create(c.layer(), c.inputs(), c.output()), magnitudes);
        try (JavaGradients java = new JavaGradients(threads)) {
            GradKernel kernel = java.create(c.layer(), c.inputs(), c.output());
            Gradients first = run(kernel, c, Float.NaN);
            Gradients got = run(kernel, c, Float.NaN); // a second step on the same kernel: no stale per-step state
            assertSame("a second step's output", first.output(), got.output(), c);
            for (int i = 0; i < got.inputs().length; i++) assertSame("a second step's ∂L/∂input " + i, first.inputs()[i], got.inputs()[i], c);
            for (int j = 0; j < got.params().length; j++) {
                if (got.params()[j] != null) assertSame("a second step's ∂L/∂parameter " + j, first.params()[j], got.params()[j], c);
            }
            Report r = bound("output", ref.output(), s.output(), got.output(), n.output(), c, threads);
            for (int i = 0; i < ref.inputs().length; i++) {
                r = r.max(bound("∂L/∂input " + i, ref.inputs()[i], s.inputs()[i], got.inputs()[i], n.inputs()[i], c, threads));
            }
            for (int j = 0; j < ref.params().length; j++) {
                if (ref.params()[j] == null) continue;
                r = r.max(bound("∂L/∂" + c.layer().parameterNames().get(j), ref.params()[j], s.params()[j], got.params()[j],
                        n.params()[j], c, threads));
            }
            return r;
        }
    }

    private static void assertSame(String what, float[] expected, float[] actual, Case c) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToIntBits(expected[i]) != Float.floatToIntBits(actual[i])) {
                fail(c.layer() + " on " + c.inputs() + ": " + what + "[" + i + "] = " + actual[i] + ", first step " + expected[i]);
            }
        }
    }

    private static Report bound(String what, float[] ref, float[] s, float[] got, long terms, Case c, int threads) {
        double g = gamma(terms);
        double maxErr = 0;
        double worst = 0;
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs((double) got[i] - ref[i]);
            double tol = g * Math.abs(s[i]) + U * Math.abs(ref[i]);
            if (!(err <= tol)) {
                fail(c.layer() + " on " + c.inputs() + ", " + threads + " threads: " + what + "[" + i + "] = " + got[i]
                        + ", reference " + ref[i] + ", |diff| " + err + " > γ_" + terms + "·S + u·|ref| = " + tol);
            }
            maxErr = Math.max(maxErr, err);
            if (err > 0) worst = Math.max(worst, err / tol);
        }
        return new Report(maxErr, worst, ref.length);
    }

    /** Element-wise closeness with a message naming the worst element. */
    public static void assertClose(String what, float[] expected, float[] actual, double rtol, double atol, Case c) {
        assertTrue(expected.length == actual.length, what + ": lengths " + expected.length + " and " + actual.length);
        int worst = -1;
        double worstExcess = 0;
        for (int i = 0; i < expected.length; i++) {
            double err = Math.abs((double) expected[i] - actual[i]);
            double excess = err - (atol + rtol * Math.abs(expected[i]));
            if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Double.isNaN(excess))) {
                worst = i;
                worstExcess = excess;
            }
        }
        if (worst >= 0) {
            fail(c.layer() + " on " + c.inputs() + ": " + what + "[" + worst + "] = " + actual[worst] + ", reference " + expected[worst]
                    + " (rtol " + rtol + ", atol " + atol + ")");
        }
    }

    static float[][] copy(float[][] a) {
        float[][] c = new float[a.length][];
        for (int i = 0; i < a.length; i++) c[i] = a[i] == null ? null : a[i].clone();
        return c;
    }
}
