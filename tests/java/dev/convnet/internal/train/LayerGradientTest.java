package dev.convnet.internal.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Layer;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The reference training kernels of the layers with parameters and of pooling against central finite differences
 * of their own forward passes, over random small geometries (batch 1–3, 1–4 channels, sizes 3–7, strides 1–3,
 * dilation 1–2, every padding rule, groups and depthwise, ceil mode).
 *
 * <p>Step and tolerance: the reference computes in double and rounds each output to float once, so the loss
 * {@code Σ r·y} carries a rounding error of about {@code u·Σ|r·y|} over the outputs a perturbation changes
 * (u = 2⁻²⁴); divided by the step 2h = 0.02 that is a few 1e-5 to 1e-4 for these sizes. Convolutions, linear layers,
 * MatMul and average pooling are linear in every input and parameter, so the central difference has no truncation
 * error; max-like pooling is linear near inputs spaced 0.05 apart (> 2h, {@link LayerCases#separate}); batch norm is
 * smooth, with a truncation error of order h²·|f'''| for the ≥ 4 values per channel drawn here. Hence
 * {@code atol = 2e-4, rtol = 1e-3} ({@code atol = 1e-3, rtol = 1e-2} for batch norm); a wrong gradient is off by
 * O(0.1–1).
 */
class LayerGradientTest {
    private static final double H = 1e-2;
    private static final int PER_TENSOR = 40;

    private static GradientHarness.Report finiteDifferences(String name, long seed, int count, LayerCases.Generator gen,
                                                            double rtol, double atol) {
        int valid = 0;
        GradientHarness.Report worst = GradientHarness.Report.NONE;
        for (int i = 0; i < count; i++) {
            long caseSeed = seed * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(caseSeed);
            LayerCases.Spec spec;
            GradientHarness.Case c;
            try {
                spec = gen.next(r, 3);
                c = GradientHarness.random(spec.layer(), spec.inputs(), caseSeed);
            } catch (ShapeException invalid) {
                continue;
            }
            if (spec.maxLike()) LayerCases.separate(c.x()[0], 0.05, r);
            valid++;
            worst = worst.max(GradientHarness.finiteDifferences(c, H, rtol, atol, PER_TENSOR));
        }
        int v = valid;
        assertTrue(valid > count / 2, () -> name + ": only " + v + " of " + count + " random geometries were valid");
        System.out.printf("finite differences, %-12s %3d cases, %6d elements: max |analytic − fd| %.2e, worst error/tolerance %.3f%n",
                name, valid, worst.checked(), worst.maxError(), worst.worstRatio());
        return worst;
    }

    @Test
    void conv2dMatchesFiniteDifferences() {
        finiteDifferences("Conv2d", 1, 80, LayerCases::conv2d, 1e-3, 2e-4);
    }

    @Test
    void conv1dMatchesFiniteDifferences() {
        finiteDifferences("Conv1d", 2, 60, LayerCases::conv1d, 1e-3, 2e-4);
    }

    @Test
    void linearMatchesFiniteDifferences() {
        finiteDifferences("Linear", 3, 40, LayerCases::linear, 1e-3, 2e-4);
    }

    @Test
    void matMulMatchesFiniteDifferences() {
        finiteDifferences("MatMul", 4, 60, LayerCases::matMul, 1e-3, 2e-4);
    }

    @Test
    void poolingMatchesFiniteDifferences() {
        finiteDifferences("MaxPool2d", 5, 60, LayerCases::maxPool, 1e-3, 2e-4);
        finiteDifferences("AvgPool2d", 6, 60, LayerCases::avgPool, 1e-3, 2e-4);
        finiteDifferences("GlobalPool2d", 7, 30, LayerCases::globalPool, 1e-3, 2e-4);
        finiteDifferences("DepthPool", 8, 40, LayerCases::depthPool, 1e-3, 2e-4);
    }

    @Test
    void batchNormMatchesFiniteDifferences() {
        finiteDifferences("BatchNorm", 9, 60, LayerCases::batchNorm, 1e-2, 1e-3);
    }

    private static final LayerCases.Generator[] ALL = {LayerCases::conv2d, LayerCases::conv1d, LayerCases::linear,
            LayerCases::matMul, LayerCases::maxPool, LayerCases::avgPool, LayerCases::globalPool, LayerCases::depthPool,
            LayerCases::batchNorm};

    /** The training kernels' forward pass in inference mode is the inference reference kernel, bit for bit. */
    @Test
    void referenceForwardEqualsTheInferenceKernels() {
        int checked = 0;
        for (int t = 0; t < ALL.length; t++) {
            for (int i = 0; i < 40; i++) {
                long seed = 200L * 1_000_003L + t * 1000L + i;
                SplittableRandom r = new SplittableRandom(seed);
                GradientHarness.Case c;
                try {
                    LayerCases.Spec spec = ALL[t].next(r, 4);
                    c = GradientHarness.random(spec.layer(), spec.inputs(), seed);
                } catch (ShapeException invalid) {
                    continue;
                }
                Layer layer = c.layer().withParameters(List.of(c.params()));
                float[] expected = new float[(int) c.output().elementCount()];
                new ReferenceKernels().create(layer, c.inputs(), c.output()).forward(c.x(), expected);
                GradKernel k = new ReferenceGradients().create(c.layer(), c.inputs(), c.output());
                for (boolean training : new boolean[] {false, true}) {
                    if (training && layer instanceof BatchNorm) continue; // batch statistics: see the batch-norm tests
                    float[] y = new float[expected.length];
                    k.forward(GradientHarness.copy(c.x()), GradientHarness.copy(c.params()), y, training);
                    for (int e = 0; e < y.length; e++) {
                        if (Float.floatToIntBits(y[e]) != Float.floatToIntBits(expected[e])) {
                            fail(layer + " on " + c.inputs() + (training ? " (training)" : "") + ": output[" + e + "] = " + y[e]
                                    + ", inference kernel " + expected[e]);
                        }
                    }
                }
                checked++;
            }
        }
        assertTrue(checked > 200, "only " + checked + " cases were valid");
    }

    /**
     * The running statistics after one training step, computed by hand: channel 0 holds 1…6 (mean 3.5, unbiased
     * variance 17.5/5 = 3.5, biased 17.5/6), channel 1 holds −2, 0, 2, 0, 0, 0 (mean 0, unbiased variance 8/5 = 1.6);
     * with momentum 0.3 from running mean (1, −1) and variance (2, 0.5): mean (0.7 + 1.05, −0.7) = (1.75, −0.7),
     * variance (1.4 + 1.05, 0.35 + 0.48) = (2.45, 0.83). The output normalizes with the biased variance. An inference
     * forward pass leaves the statistics alone.
     */
    @Test
    void batchNormRunningStatisticsByHand() {
        BatchNorm bn = BatchNorm.of(new float[] {2, 1}, new float[] {1, 0}, new float[] {1, -1}, new float[] {2, 0.5f}, 1e-5)
                .withMomentum(0.3);
        Shape in = Shape.of(2, 2, 3);
        float[] x = {1, 2, 3, -2, 0, 2, 4, 5, 6, 0, 0, 0};
        for (GradKernelFactory f : List.<GradKernelFactory>of(new ReferenceGradients(), new JavaGradients(2))) {
            try (f) {
                GradKernel k = f.create(bn, List.of(in), in);
                float[][] params = {{2, 1}, {1, 0}, {1, -1}, {2, 0.5f}};
                float[] y = new float[12];
                k.forward(new float[][] {x}, params, y, false);
                assertArrayEquals(new float[] {1, -1}, params[2], f + ": inference must not update the running mean");
                assertArrayEquals(new float[] {2, 0.5f}, params[3], f + ": inference must not update the running variance");
                k.forward(new float[][] {x}, params, y, true);
                assertEquals(1.75f, params[2][0], 1e-6f, f + ": running mean, channel 0");
                assertEquals(-0.7f, params[2][1], 1e-6f, f + ": running mean, channel 1");
                assertEquals(2.45f, params[3][0], 1e-6f, f + ": running variance, channel 0");
                assertEquals(0.83f, params[3][1], 1e-6f, f + ": running variance, channel 1");
                double sigma0 = Math.sqrt(17.5 / 6 + 1e-5);
                assertEquals((float) (2 * (1 - 3.5) / sigma0 + 1), y[0], 1e-6f, f + ": y[0]");
                assertEquals((float) (2 * (6 - 3.5) / sigma0 + 1), y[8], 1e-6f, f + ": y[8]");
                assertEquals((float) (-2 / Math.sqrt(8.0 / 6 + 1e-5)), y[3], 1e-6f, f + ": y[3]");
            }
        }
    }

    /**
     * A frozen batch norm runs in inference mode and gradients still flow through it: the backward pass after an
     * inference forward pass must differentiate the inference formula (checked against finite differences of the
     * inference forward pass and against the closed form {@code ∂x = ∂y·γ/√(σ²_run + ε)} on both backends), and the
     * kernel must follow the mode of its last forward pass when the mode changes.
     */
    @Test
    void frozenBatchNormBackwardIsTheInferenceFormula() {
        double worst = 0;
        for (int i = 0; i < 40; i++) {
            long seed = 300L * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(seed);
            LayerCases.Spec spec = LayerCases.batchNorm(r, 3);
            GradientHarness.Case c = GradientHarness.random(spec.layer(), spec.inputs(), seed);
            BatchNorm bn = (BatchNorm) c.layer();
            int channels = bn.channels();
            int inner = (int) (c.x()[0].length / c.inputs().getFirst().dim(0) / channels);
            for (GradKernelFactory f : List.<GradKernelFactory>of(new ReferenceGradients(), new JavaGradients(2))) {
                try (f) {
                    GradKernel k = f.create(bn, c.inputs(), c.output());
                    float[][] trainDx = backwardAfter(k, c, true);
                    float[][] dx = backwardAfter(k, c, false);
                    float[][] again = backwardAfter(k, c, true);
                    assertArrayEquals(trainDx[0], again[0], f + ": training-mode gradient after a mode switch");
                    boolean differs = false;
                    for (int e = 0; e < dx[0].length; e++) {
                        int ch = (e / inner) % channels;
                        double expected = c.r()[e] * c.params()[0][ch] / Math.sqrt(c.params()[3][ch] + bn.epsilon());
                        assertEquals(expected, dx[0][e], 1e-6 * (1 + Math.abs(expected)), f + ": inference-mode ∂x[" + e + "]");
                        differs |= Math.abs(dx[0][e] - trainDx[0][e]) > 1e-3;
                    }
                    assertTrue(differs, f + ": the inference and training gradients of " + bn + " should differ");
                }
            }
            worst = Math.max(worst, inferenceFiniteDifferences(c));
        }
        System.out.printf("finite differences, frozen BatchNorm: worst error/tolerance %.3f%n", worst);
    }

    /** ∂L/∂x, ∂L/∂γ, ∂L/∂β after a forward pass in the given mode (on copies of the case's parameters). */
    private static float[][] backwardAfter(GradKernel k, GradientHarness.Case c, boolean training) {
        float[][] params = GradientHarness.copy(c.params());
        float[] y = new float[(int) c.output().elementCount()];
        k.forward(GradientHarness.copy(c.x()), params, y, training);
        float[][] dx = {new float[c.x()[0].length]};
        float[][] dp = {new float[params[0].length], new float[params[1].length], null, null};
        k.backward(GradientHarness.copy(c.x()), y, c.r().clone(), params, dx, dp);
        return new float[][] {dx[0], dp[0], dp[1]};
    }

    /** Central differences of {@code Σ r·y} with the reference's inference forward pass; returns the worst error/tolerance. */
    private static double inferenceFiniteDifferences(GradientHarness.Case c) {
        GradKernel k = new ReferenceGradients().create(c.layer(), c.inputs(), c.output());
        float[][] analytic = backwardAfter(k, c, false);
        double worst = 0;
        // tensors: the input, γ, β
        float[][] base = {c.x()[0], c.params()[0], c.params()[1]};
        for (int t = 0; t < 3; t++) {
            for (int e = 0; e < base[t].length; e++) {
                double[] l = new double[2];
                double[] step = new double[2];
                for (int s = 0; s < 2; s++) {
                    float[] x = c.x()[0].clone();
                    float[][] params = GradientHarness.copy(c.params());
                    float[] v = t == 0 ? x : params[t - 1];
                    v[e] += (float) (s == 0 ? H : -H);
                    step[s] = Math.abs(v[e] - (double) base[t][e]);
                    float[] y = new float[(int) c.output().elementCount()];
                    k.forward(new float[][] {x}, params, y, false);
                    for (int o = 0; o < y.length; o++) l[s] += (double) c.r()[o] * y[o];
                }
                double fd = (l[0] - l[1]) / (step[0] + step[1]);
                double err = Math.abs(fd - analytic[t][e]);
                double tol = 2e-4 + 1e-3 * Math.abs(fd);
                if (!(err <= tol)) {
                    fail(c.layer() + " on " + c.inputs() + ", inference mode: tensor " + t + "[" + e + "] analytic " + analytic[t][e]
                            + ", finite difference " + fd);
                }
                worst = Math.max(worst, err / tol);
            }
        }
        return worst;
    }

    /**
     * Ties: the gradient goes to the first maximum in window order, which is what the forward pass picks. By hand on
     * a constant plane (2×2 windows, stride 2: the top-left element of each window; 3×3 windows, stride 1, padding 1:
     * the first real element of each window), then the Java kernels against the reference, exactly, on inputs and
     * output gradients that are small integers (many ties; every sum exact).
     */
    @Test
    void maxPoolingTiesGoToTheFirstMaximum() {
        float[] x = new float[16];
        java.util.Arrays.fill(x, -5f);
        float[] dy = {1, 2, 3, 4};
        float[] expected = new float[16];
        expected[0] = 1;
        expected[2] = 2;
        expected[8] = 3;
        expected[10] = 4;
        MaxPool2d p = MaxPool2d.of(2, 2);
        MaxPool2d padded = MaxPool2d.builder(3, 3).stride(1).padding(Padding.symmetric(1)).build();
        float[] dy9 = new float[16];
        for (int i = 0; i < 16; i++) dy9[i] = i + 1;
        // output (oy, ox) sends its gradient to input (max(oy − 1, 0), max(ox − 1, 0))
        float[] expected9 = new float[16];
        for (int oy = 0; oy < 4; oy++) for (int ox = 0; ox < 4; ox++) expected9[Math.max(oy - 1, 0) * 4 + Math.max(ox - 1, 0)] += dy9[oy * 4 + ox];
        for (GradKernelFactory f : List.<GradKernelFactory>of(new ReferenceGradients(), new JavaGradients(2))) {
            try (f) {
                assertArrayEquals(expected, inputGradient(f, p, Shape.of(1, 1, 4, 4), x, dy), f + ": 2×2 ties");
                assertArrayEquals(expected9, inputGradient(f, padded, Shape.of(1, 1, 4, 4), x, dy9), f + ": 3×3 padded ties");
            }
        }
        int checked = 0;
        LayerCases.Generator[] maxLike = {LayerCases::maxPool, LayerCases::globalPool, LayerCases::depthPool};
        for (int t = 0; t < maxLike.length; t++) {
            for (int i = 0; i < 150; i++) {
                long seed = 400L * 1_000_003L + t * 1000L + i;
                SplittableRandom r = new SplittableRandom(seed);
                LayerCases.Spec spec;
                Shape out;
                try {
                    spec = maxLike[t].next(r, 8);
                    out = spec.layer().outputShape(spec.inputs().getFirst());
                } catch (ShapeException invalid) {
                    continue;
                }
                if (!spec.maxLike()) continue;
                Shape in = spec.inputs().getFirst();
                float[] xi = new float[(int) in.elementCount()];
                float[] g = new float[(int) out.elementCount()];
                for (int e = 0; e < xi.length; e++) xi[e] = r.nextInt(-1, 2);
                for (int e = 0; e < g.length; e++) g[e] = r.nextInt(-4, 5);
                float[] ref = inputGradient(new ReferenceGradients(), spec.layer(), in, xi, g);
                try (JavaGradients java = new JavaGradients(r.nextInt(1, 4))) {
                    assertArrayEquals(ref, inputGradient(java, spec.layer(), in, xi, g), spec.layer() + " on " + in + ", seed " + seed);
                }
                checked++;
            }
        }
        assertTrue(checked > 200, "only " + checked + " tie cases");
    }

    /** ∂L/∂x of a single-input layer without parameters after a training forward pass. */
    private static float[] inputGradient(GradKernelFactory f, Layer layer, Shape in, float[] x, float[] dy) {
        GradKernel k = f.create(layer, List.of(in), layer.outputShape(in));
        float[] y = new float[dy.length];
        k.forward(new float[][] {x}, new float[0][], y, true);
        float[][] dx = {new float[x.length]};
        java.util.Arrays.fill(dx[0], Float.NaN); // must be overwritten completely
        k.backward(new float[][] {x}, y, dy, new float[0][], dx, new float[0][]);
        return dx[0];
    }

    /**
     * MatMul with a constant operand: its gradient is not requested (null) and the other's is unchanged; checked on
     * both backends for either operand, with broadcasting.
     */
    @Test
    void matMulWithAConstantOperand() {
        int checked = 0;
        for (int i = 0; i < 60; i++) {
            long seed = 500L * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(seed);
            GradientHarness.Case c;
            try {
                LayerCases.Spec spec = LayerCases.matMul(r, 4);
                c = GradientHarness.random(spec.layer(), spec.inputs(), seed);
            } catch (ShapeException invalid) {
                continue;
            }
            for (GradKernelFactory f : List.<GradKernelFactory>of(new ReferenceGradients(), new JavaGradients(2))) {
                try (f) {
                    GradKernel k = f.create(c.layer(), c.inputs(), c.output());
                    float[] y = new float[(int) c.output().elementCount()];
                    k.forward(c.x(), new float[0][], y, true);
                    float[][] both = {new float[c.x()[0].length], new float[c.x()[1].length]};
                    k.backward(c.x(), y, c.r(), new float[0][], both, new float[0][]);
                    for (int keep = 0; keep < 2; keep++) {
                        float[][] one = new float[2][];
                        one[keep] = new float[c.x()[keep].length];
                        java.util.Arrays.fill(one[keep], Float.NaN);
                        k.backward(c.x(), y, c.r(), new float[0][], one, new float[0][]);
                        assertArrayEquals(both[keep], one[keep], f + ": " + c.inputs() + ", gradient of input " + keep + " alone");
                    }
                }
            }
            checked++;
        }
        assertTrue(checked > 30, "only " + checked + " cases");
    }

    /** Training needs two values per channel for the unbiased batch variance (PyTorch refuses too); inference does not. */
    @Test
    void batchNormTrainingNeedsTwoValuesPerChannel() {
        BatchNorm bn = BatchNorm.initial(3);
        Shape in = Shape.of(1, 3, 1, 1);
        for (GradKernelFactory f : List.<GradKernelFactory>of(new ReferenceGradients(), new JavaGradients(2))) {
            try (f) {
                GradKernel k = f.create(bn, List.of(in), in);
                float[][] params = {{1, 1, 1}, {0, 0, 0}, {0, 0, 0}, {1, 1, 1}};
                float[] y = new float[3];
                k.forward(new float[][] {{1, 2, 3}}, params, y, false);
                assertArrayEquals(new float[] {1, 2, 3}, y, 1e-4f, f + ": inference");
                ShapeException e = org.junit.jupiter.api.Assertions.assertThrows(ShapeException.class,
                        () -> k.forward(new float[][] {{1, 2, 3}}, params, y, true));
                assertTrue(e.getMessage().contains("more than one value per channel"), e.getMessage());
            }
        }
    }
}
