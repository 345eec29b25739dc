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

    /** Larger geometries that reach the tiling paths: column tiles within an image, weight blocks, several panels. */
    @Test
    void largeGeometriesMatchReference() {
        SplittableRandom r = new SplittableRandom(7);
        List<LayerCases.Spec> specs = List.of(
                // 1200 positions per image: two column tiles per image
                new LayerCases.Spec(Conv2d.builder(3, 5, 3).padding(dev.convnet.shape.Padding.same()).randomWeights(r).build(),
                        Shape.of(2, 3, 40, 30), false),
                // 576 reduction rows: two weight-gradient blocks; stride 2
                new LayerCases.Spec(Conv2d.builder(64, 8, 3).stride(2).padding(dev.convnet.shape.Padding.symmetric(1))
                        .randomWeights(r).build(), Shape.of(3, 64, 9, 9), false),
                // grouped, dilated, asymmetric padding, large images
                new LayerCases.Spec(Conv2d.builder(6, 4, 3, 2).groups(2).dilation(2, 1)
                        .padding(dev.convnet.shape.Padding.explicit2d(0, 1, 2, 0)).randomWeights(r).build(),
                        Shape.of(2, 6, 31, 29), false),
                // depthwise 3×3 same (the forward's fast path), column tiles
                new LayerCases.Spec(Conv2d.builder(8, 8, 3).groups(8).padding(dev.convnet.shape.Padding.same())
                        .randomWeights(r).build(), Shape.of(2, 8, 33, 33), false),
                // the benchmark's second convolution at batch 16
                new LayerCases.Spec(Conv2d.builder(32, 64, 3).padding(dev.convnet.shape.Padding.same()).randomWeights(r).build(),
                        Shape.of(16, 32, 14, 14), false),
                new LayerCases.Spec(Conv1d.builder(4, 6, 5).stride(2).trueConvolution(true).padding(dev.convnet.shape.Padding.same())
                        .randomWeights(r).build(), Shape.of(3, 4, 2000), false),
                new LayerCases.Spec(Linear.random(1100, 300, r), Shape.of(5, 1100), false),
                new LayerCases.Spec(Linear.random(3136, 128, r), Shape.of(9, 64, 7, 7), false),
                new LayerCases.Spec(new MatMul(), List.of(Shape.of(2, 40, 150), Shape.of(150, 530)), false),
                new LayerCases.Spec(MaxPool2d.of(2, 2), Shape.of(8, 32, 28, 28), true),
                new LayerCases.Spec(AvgPool2d.builder(3, 3).stride(2).padding(dev.convnet.shape.Padding.symmetric(1))
                        .ceilMode(true).countIncludePad(false).build(), Shape.of(4, 5, 37, 41), false));
        GradientHarness.Report worst = GradientHarness.Report.NONE;
        for (int i = 0; i < specs.size(); i++) {
            LayerCases.Spec spec = specs.get(i);
            GradientHarness.Case c = GradientHarness.random(spec.layer(), spec.inputs(), 1000 + i);
            GradientHarness.Case magnitudes = new GradientHarness.Case(c.layer(), c.inputs(), c.output(),
                    spec.maxLike() ? c.x() : abs(c.x()), abs(c.params()), abs(c.r()));
            for (int threads = 1; threads <= 3; threads += 2) {
                worst = worst.max(GradientHarness.checkJavaAgainstReferenceBound(c, magnitudes,
                        terms(c.layer(), c.inputs(), c.output()), threads));
            }
        }
        System.out.printf("Java vs reference, large geometries, %d values: max |java − ref| %.2e, worst error/bound %.3f%n",
                worst.checked(), worst.maxError(), worst.worstRatio());
    }

    /** A forward pass in the given mode, then a backward pass asking for every gradient (running statistics: none). */
    private static GradientHarness.Gradients runMode(GradKernel k, GradientHarness.Case c, float[][] params, boolean training) {
        float[] y = new float[(int) c.output().elementCount()];
        k.forward(GradientHarness.copy(c.x()), params, y, training);
        float[][] dx = {new float[c.x()[0].length]};
        float[][] dp = {new float[params[0].length], new float[params[1].length], null, null};
        k.backward(GradientHarness.copy(c.x()), y, c.r().clone(), params, dx, dp);
        return new GradientHarness.Gradients(y, dx, dp);
    }

    /**
     * Batch norm in both modes against the reference. Both compute in double and round once; the bound is
     * {@code 2.5·u·|ref|} (two roundings of nearly equal doubles) plus {@code 1e-9·T}, T the magnitude of the terms
     * of the formula (double rounding over at most a few hundred terms is below 1e-13·T).
     */
    @Test
    void batchNormMatchesReferenceInBothModes() {
        double worst = 0;
        double maxErr = 0;
        int cases = 0;
        for (int i = 0; i < 200; i++) {
            long seed = 109L * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(seed);
            LayerCases.Spec spec = LayerCases.batchNorm(r, 8);
            GradientHarness.Case c = GradientHarness.random(spec.layer(), spec.inputs(), seed);
            BatchNorm bn = (BatchNorm) c.layer();
            int threads = r.nextInt(1, 4);
            for (boolean training : new boolean[] {true, false}) {
                float[][] refParams = GradientHarness.copy(c.params());
                float[][] javaParams = GradientHarness.copy(c.params());
                GradientHarness.Gradients ref = runMode(new ReferenceGradients().create(bn, c.inputs(), c.output()), c, refParams,
                        training);
                GradientHarness.Gradients got;
                try (JavaGradients java = new JavaGradients(threads)) {
                    got = runMode(java.create(bn, c.inputs(), c.output()), c, javaParams, training);
                }
                double[][] t = batchNormTerms(c, training);
                String where = bn + " on " + c.inputs() + (training ? ", training" : ", inference") + ", seed " + seed;
                double[] w = {0, 0};
                compare(where + ": output", ref.output(), got.output(), t[0], w);
                compare(where + ": ∂x", ref.inputs()[0], got.inputs()[0], t[1], w);
                compare(where + ": ∂γ", ref.params()[0], got.params()[0], t[2], w);
                compare(where + ": ∂β", ref.params()[1], got.params()[1], t[3], w);
                compare(where + ": running mean", refParams[2], javaParams[2], t[4], w);
                compare(where + ": running variance", refParams[3], javaParams[3], t[5], w);
                worst = Math.max(worst, w[0]);
                maxErr = Math.max(maxErr, w[1]);
                cases++;
            }
        }
        System.out.printf("Java vs reference, BatchNorm    %3d cases (both modes): max |java − ref| %.2e, worst error/bound %.3f%n",
                cases, maxErr, worst);
    }

    private static void compare(String what, float[] ref, float[] got, double[] terms, double[] worst) {
        for (int i = 0; i < ref.length; i++) {
            double err = Math.abs((double) got[i] - ref[i]);
            double tol = 2.5 * U * Math.abs(ref[i]) + 1e-9 * terms[i];
            if (!(err <= tol)) fail(what + "[" + i + "] = " + got[i] + ", reference " + ref[i] + ", |diff| " + err + " > " + tol);
            if (err > 0) worst[0] = Math.max(worst[0], err / tol);
            worst[1] = Math.max(worst[1], err);
        }
    }

    /** T per element: output, ∂x, ∂γ, ∂β, running mean, running variance (see the batch-norm test). */
    private static double[][] batchNormTerms(GradientHarness.Case c, boolean training) {
        float[] x = c.x()[0];
        float[] g = c.r();
        float[][] p = c.params();
        BatchNorm bn = (BatchNorm) c.layer();
        Shape in = c.inputs().getFirst();
        int batch = in.dim(0);
        int channels = in.dim(1);
        int inner = (int) in.elementCount(2);
        int m = batch * inner;
        double[][] t = {new double[x.length], new double[x.length], new double[channels], new double[channels],
                new double[channels], new double[channels]};
        for (int ch = 0; ch < channels; ch++) {
            double mean = 0;
            double var = 0;
            for (int n = 0; n < batch; n++) for (int s = 0; s < inner; s++) mean += x[(n * channels + ch) * inner + s];
            mean /= m;
            for (int n = 0; n < batch; n++) {
                for (int s = 0; s < inner; s++) var += Math.pow(x[(n * channels + ch) * inner + s] - mean, 2);
            }
            var /= m;
            t[4][ch] = Math.abs(p[2][ch]) + Math.abs(mean);
            t[5][ch] = Math.abs(p[3][ch]) + var * m / (m - 1);
            if (!training) {
                mean = p[2][ch];
                var = p[3][ch];
            }
            double sigma = Math.sqrt(var + bn.epsilon());
            double sumG = 0;
            double sumGX = 0;
            for (int n = 0; n < batch; n++) {
                for (int s = 0; s < inner; s++) {
                    int i = (n * channels + ch) * inner + s;
                    double xhat = (x[i] - mean) / sigma;
                    sumG += g[i];
                    sumGX += g[i] * xhat;
                    t[2][ch] += Math.abs(g[i] * xhat);
                    t[3][ch] += Math.abs(g[i]);
                }
            }
            for (int n = 0; n < batch; n++) {
                for (int s = 0; s < inner; s++) {
                    int i = (n * channels + ch) * inner + s;
                    double xhat = (x[i] - mean) / sigma;
                    t[0][i] = Math.abs(p[0][ch] * xhat) + Math.abs(p[1][ch]);
                    t[1][i] = Math.abs(p[0][ch]) / sigma
                            * (Math.abs(g[i]) + (training ? Math.abs(sumG) / m + Math.abs(xhat * sumGX) / m : 0));
                }
            }
        }
        return t;
    }
}
