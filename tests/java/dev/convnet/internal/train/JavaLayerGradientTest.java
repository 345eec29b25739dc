package dev.convnet.internal.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Java training kernels of the layers with parameters and of pooling against the reference kernels, over
 * hundreds of random geometries per layer type with batch sizes 1–8 and 1–3 threads.
 *
 * <p>Tolerance: every result the Java kernels compute in float is a sum of n rounded terms (products, or shares
 * {@code ∂y/divisor}) in some order, so {@code |java − ref| ≤ γ_n·S + u·|ref|} (Higham §3.1, §4.2;
 * {@code γ_n = n·u/(1 − n·u)}, u = 2⁻²⁴; the reference is within u·|ref| of the exact value), where S = Σ|tᵢ| is the
 * same result computed by the reference from absolute values ({@link GradientHarness#checkJavaAgainstReferenceBound}).
 * n per result: convolution output {@code C_g·kH·kW + 1}, ∂x {@code O_g·kH·kW}, ∂W and ∂b {@code N·H_out·W_out};
 * Linear output {@code D + 1}, ∂x {@code K}, ∂W and ∂b {@code N}; MatMul {@code K}, and for each operand the
 * other's free dimension times its broadcast multiplicity; pooling {@code kH·kW + 2}. A worst-case bound: a failure
 * is a bug. Batch norm computes in double and rounds once, so it is held to {@code 2.5·u·|ref|} plus 1e-9 of its
 * terms' magnitude.
 */
class JavaLayerGradientTest {
    private static final double U = 0x1p-24;

    private static float[] abs(float[] v) {
        if (v == null) return null;
        float[] a = v.clone();
        for (int i = 0; i < a.length; i++) a[i] = Math.abs(a[i]);
        return a;
    }

    private static float[][] abs(float[][] v) {
        float[][] a = new float[v.length][];
        for (int i = 0; i < v.length; i++) a[i] = abs(v[i]);
        return a;
    }

    /** Term counts of one case (see the class comment). */
    private interface TermCounter {
        GradientHarness.Terms terms(Layer layer, List<Shape> inputs, Shape output);
    }

    private static GradientHarness.Terms convTerms(ConvGeometry g) {
        long columns = (long) g.batch() * g.positions();
        return new GradientHarness.Terms(g.reduction() + 1, new long[] {(long) g.groupOut() * g.kh() * g.kw()},
                new long[] {columns, columns});
    }

    private static GradientHarness.Terms terms(Layer layer, List<Shape> inputs, Shape output) {
        Shape in = inputs.getFirst();
        return switch (layer) {
            case Conv2d c -> convTerms(ConvGeometry.of(c, in));
            case Conv1d c -> convTerms(ConvGeometry.of(c, in));
            case Linear l -> new GradientHarness.Terms(l.inFeatures() + 1, new long[] {l.outFeatures()},
                    new long[] {in.dim(0), in.dim(0)});
            case MatMul m -> {
                Shape a = inputs.get(0).rank() == 1 ? Shape.of(1, inputs.get(0).dim(0)) : inputs.get(0);
                Shape b = inputs.get(1).rank() == 1 ? Shape.of(inputs.get(1).dim(0), 1) : inputs.get(1);
                long rows = a.dim(a.rank() - 2);
                long k = a.dim(a.rank() - 1);
                long cols = b.dim(b.rank() - 1);
                long batch = output.elementCount() / (rows * cols);
                long aBatch = a.elementCount() / (rows * k);
                long bBatch = b.elementCount() / (k * cols);
                yield new GradientHarness.Terms(k, new long[] {cols * (batch / aBatch), rows * (batch / bBatch)}, new long[0]);
            }
            case MaxPool2d p -> poolTerms(p.kernelHeight() * p.kernelWidth());
            case AvgPool2d p -> poolTerms(p.kernelHeight() * p.kernelWidth());
            case GlobalPool2d g -> poolTerms((int) in.elementCount(2));
            case DepthPool d -> poolTerms(d.window());
            default -> throw new IllegalArgumentException(layer.toString());
        };
    }

    private static GradientHarness.Terms poolTerms(int window) {
        return new GradientHarness.Terms(window + 2, new long[] {window + 2}, new long[0]);
    }

    private static void againstReference(String name, long seed, int count, LayerCases.Generator gen) {
        int valid = 0;
        GradientHarness.Report worst = GradientHarness.Report.NONE;
        for (int i = 0; i < count; i++) {
            long caseSeed = seed * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(caseSeed);
            LayerCases.Spec spec;
            GradientHarness.Case c;
            try {
                spec = gen.next(r, 8);
                c = GradientHarness.random(spec.layer(), spec.inputs(), caseSeed);
            } catch (ShapeException invalid) {
                continue;
            }
            valid++;
            // max-like layers route gradients by comparing inputs: keep them, take |·| of the rest
            float[][] sx = spec.maxLike() ? c.x() : abs(c.x());
            GradientHarness.Case magnitudes = new GradientHarness.Case(c.layer(), c.inputs(), c.output(), sx, abs(c.params()),
                    abs(c.r()));
            int threads = r.nextInt(1, 4);
            worst = worst.max(GradientHarness.checkJavaAgainstReferenceBound(c, magnitudes,
                    terms(c.layer(), c.inputs(), c.output()), threads));
        }
        int v = valid;
        assertTrue(valid > count / 2, () -> name + ": only " + v + " of " + count + " random geometries were valid");
        System.out.printf("Java vs reference, %-12s %3d cases, %8d values: max |java − ref| %.2e, worst error/bound %.3f%n",
                name, valid, worst.checked(), worst.maxError(), worst.worstRatio());
    }

    @Test
    void conv2dMatchesReference() {
        againstReference("Conv2d", 101, 300, LayerCases::conv2d);
    }

    @Test
    void conv1dMatchesReference() {
        againstReference("Conv1d", 102, 200, LayerCases::conv1d);
    }

    @Test
    void linearAndMatMulMatchReference() {
        againstReference("Linear", 103, 200, LayerCases::linear);
        againstReference("MatMul", 104, 300, LayerCases::matMul);
    }

    @Test
    void poolingMatchesReference() {
        againstReference("MaxPool2d", 105, 300, LayerCases::maxPool);
        againstReference("AvgPool2d", 106, 300, LayerCases::avgPool);
        againstReference("GlobalPool2d", 107, 200, LayerCases::globalPool);
        againstReference("DepthPool", 108, 200, LayerCases::depthPool);
    }
}
