package dev.convnet.internal.train;

import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

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
}
