package dev.convnet.internal;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Softmax;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.SplittableRandom;
import java.util.function.BiFunction;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Property-based comparison of a backend (the Java one, oneDNN) against the reference backend over thousands
 * of random valid geometries of every layer type and batch sizes 1–8. Subclasses name the backend.
 *
 * <p>Two regimes:
 * <ul>
 *   <li><b>Exact</b>: inputs, weights and biases are small integers, so every partial sum is an
 *       integer far below 2²⁴ and exact in float whatever the summation order; averages divide
 *       an exact float sum once (the reference's double-then-float rounding of a quotient equals
 *       the single float rounding because 53 ≥ 2·24 + 2). Results must be bitwise equal.</li>
 *   <li><b>Real</b>: uniform inputs in (−1, 1). For an output {@code y = Σ_{i<n} t_i} (n terms,
 *       the bias counting as one) computed in float in any order, with or without FMA, the
 *       classic bound (Higham, <i>Accuracy and Stability of Numerical Algorithms</i>, §4.2) is
 *       {@code |ŷ − y| ≤ γ_n·Σ|t_i|} with {@code γ_n = n·u/(1 − n·u)}, {@code u = 2⁻²⁴}. The
 *       reference is accurate to {@code u·|y|} (double accumulation, one rounding). So we
 *       require {@code |java − ref| ≤ γ_n·S + u·|ref|}, where {@code S = Σ|t_i|} is computed
 *       by the reference backend itself on the same layer with absolute weights and absolute
 *       input. This is a worst-case bound, so a failure is a real bug, not bad luck.</li>
 * </ul>
 * A failure message names the seed, the layer and the input shape.
 */
abstract class BackendEquivalenceTestBase {
    /** The backend compared against the reference. */
    protected abstract BackendKind backend();

    /**
     * Allowed |got − ref| for element-wise functions (activations, softmax) on real inputs, where the backend
     * may use its own approximations of exp, tanh and erf; 0 demands bitwise equality.
     *
     * @param x the input element (GELU's error grows with |x| times the error of its erf)
     */
    protected double elementwiseTolerance(double x, double ref) {
        return 0;
    }

    private static final double U = 0x1p-24;

    private static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    static float[] run(Layer layer, Shape in, float[] x, BackendKind backend, int threads) {
        try (Session s = Network.of(layer).compile(in, backend, threads)) {
            return s.run(x);
        }
    }

    private static float[] values(SplittableRandom r, int n, boolean integers) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = integers ? r.nextInt(-4, 5) : (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    private static float[] abs(float[] v) {
        float[] a = new float[v.length];
        for (int i = 0; i < v.length; i++) {
            a[i] = Math.abs(v[i]);
        }
        return a;
    }

    /** Random NCHW-ish input shape pieces. */
    private static int batch(SplittableRandom r) {
        return r.nextInt(4) == 0 ? r.nextInt(1, 9) : r.nextInt(1, 3);
    }

    private static Padding padding(SplittableRandom r, int spatialRank) {
        return switch (r.nextInt(7)) {
            case 0 -> Padding.valid();
            case 1 -> Padding.same();
            case 2 -> Padding.full();
            case 3 -> Padding.sameUpper();
            case 4 -> Padding.sameLower();
            case 5 -> Padding.symmetric(r.nextInt(3));
            default -> spatialRank == 2 ? Padding.explicit2d(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3))
                    : Padding.explicit(r.nextInt(3), r.nextInt(3));
        };
    }

    /** A random case: the layer, its twin with absolute parameters (for S), the input shape and n. */
    private record Case(Layer layer, Layer absLayer, Shape input, long terms) {
    }

    private interface Generator {
        Case next(SplittableRandom r, boolean integers);
    }

    private static Case conv2d(SplittableRandom r, boolean integers) {
        int g = r.nextInt(1, 4);
        int cg = r.nextInt(1, 4);
        int og = r.nextInt(1, 4);
        int kh = r.nextInt(1, 5);
        int kw = r.nextInt(1, 5);
        Conv2d.Builder b = Conv2d.builder(g * cg, g * og, kh, kw).groups(g)
                .stride(r.nextInt(1, 4), r.nextInt(1, 4)).dilation(r.nextInt(1, 3), r.nextInt(1, 3))
                .padding(padding(r, 2));
        float[] w = values(r, g * og * cg * kh * kw, integers);
        float[] bias = r.nextBoolean() ? values(r, g * og, integers) : null;
        Conv2d conv = (bias == null ? b.weights(w) : b.weights(w).bias(bias)).build();
        Conv2d absConv = (bias == null ? b.weights(abs(w)) : b.weights(abs(w)).bias(abs(bias))).build();
        Shape in = Shape.of(batch(r), g * cg, r.nextInt(1, 10), r.nextInt(1, 10));
        return new Case(conv, absConv, in, (long) cg * kh * kw + 1);
    }

    private static Case conv1d(SplittableRandom r, boolean integers) {
        int g = r.nextInt(1, 4);
        int cg = r.nextInt(1, 4);
        int og = r.nextInt(1, 4);
        int k = r.nextInt(1, 6);
        Conv1d.Builder b = Conv1d.builder(g * cg, g * og, k).groups(g).stride(r.nextInt(1, 4))
                .dilation(r.nextInt(1, 3)).padding(padding(r, 1)).trueConvolution(r.nextBoolean());
        float[] w = values(r, g * og * cg * k, integers);
        float[] bias = r.nextBoolean() ? values(r, g * og, integers) : null;
        Conv1d conv = (bias == null ? b.weights(w) : b.weights(w).bias(bias)).build();
        Conv1d absConv = (bias == null ? b.weights(abs(w)) : b.weights(abs(w)).bias(abs(bias))).build();
        return new Case(conv, absConv, Shape.of(batch(r), g * cg, r.nextInt(1, 14)), (long) cg * k + 1);
    }

    private static Case pool(SplittableRandom r, boolean max) {
        int kh = r.nextInt(1, 5);
        int kw = r.nextInt(1, 5);
        Padding p = r.nextInt(3) == 0 ? padding(r, 2)
                : Padding.explicit2d(r.nextInt(kh), r.nextInt(kw), r.nextInt(kh), r.nextInt(kw));
        int sh = r.nextInt(1, 4);
        int sw = r.nextInt(1, 4);
        boolean ceil = r.nextBoolean();
        Layer layer = max ? MaxPool2d.builder(kh, kw).stride(sh, sw).padding(p).ceilMode(ceil).build()
                : AvgPool2d.builder(kh, kw).stride(sh, sw).padding(p).ceilMode(ceil).countIncludePad(r.nextBoolean()).build();
        return new Case(layer, layer, Shape.of(batch(r), r.nextInt(1, 5), r.nextInt(1, 10), r.nextInt(1, 10)),
                (long) kh * kw + 1);
    }

    private static Case linear(SplittableRandom r, boolean integers) {
        int d = r.nextInt(1, 40);
        int k = r.nextInt(1, 40);
        float[] w = values(r, d * k, integers);
        float[] b = r.nextBoolean() ? values(r, k, integers) : null;
        return new Case(Linear.of(d, k, w, b), Linear.of(d, k, abs(w), b == null ? null : abs(b)),
                Shape.of(batch(r), d), d + 1);
    }

    private static Shape smallNchw(SplittableRandom r) {
        return Shape.of(batch(r), r.nextInt(1, 7), r.nextInt(1, 6), r.nextInt(1, 6));
    }

    /**
     * Runs {@code count} random cases; returns how many were valid (invalid geometries are
     * skipped, and must be a minority).
     */
    private void property(String name, long seed, int count, boolean integers, Generator gen) {
        int valid = 0;
        for (int i = 0; i < count; i++) {
            long caseSeed = seed * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(caseSeed);
            Case c;
            try {
                c = gen.next(r, integers);
                Network.of(c.layer()).plan(c.input());
            } catch (ShapeException invalid) {
                continue;
            }
            valid++;
            float[] x = values(r, (int) c.input().elementCount(), integers);
            int threads = r.nextInt(1, 4);
            String where = name + " case seed " + caseSeed + ": " + c.layer() + " on " + c.input() + ", threads " + threads;
            float[] ref = run(c.layer(), c.input(), x, BackendKind.REFERENCE, 1);
            logCase(where);
            float[] java = run(c.layer(), c.input(), x, backend(), threads);
            if (integers) {
                for (int j = 0; j < ref.length; j++) {
                    if (Float.floatToIntBits(ref[j]) != Float.floatToIntBits(java[j])) {
                        fail(where + ": element " + j + " " + backend() + " " + java[j] + " ≠ reference " + ref[j] + " (exact regime)");
                    }
                }
            } else {
                float[] s = run(c.absLayer(), c.input(), abs(x), BackendKind.REFERENCE, 1);
                double g = gamma(c.terms());
                for (int j = 0; j < ref.length; j++) {
                    double tol = g * s[j] + U * Math.abs(ref[j]);
                    if (!(Math.abs(java[j] - (double) ref[j]) <= tol)) {
                        fail(where + ": element " + j + " " + backend() + " " + java[j] + " vs reference " + ref[j] + ", |diff| "
                                + Math.abs(java[j] - (double) ref[j]) + " > γ_" + c.terms() + "·S + u|ref| = " + tol);
                    }
                }
            }
        }
        int v = valid;
        assertTrue(valid > count / 2, () -> name + ": only " + v + " of " + count + " random geometries were valid");
    }

    @Test
    void conv2dExact() {
        property("conv2d exact", 11, 1500, true, BackendEquivalenceTestBase::conv2d);
    }

    @Test
    void conv2dReal() {
        property("conv2d real", 12, 600, false, BackendEquivalenceTestBase::conv2d);
    }

    @Test
    void conv1dExactAndReal() {
        property("conv1d exact", 21, 1000, true, BackendEquivalenceTestBase::conv1d);
        property("conv1d real", 22, 400, false, BackendEquivalenceTestBase::conv1d);
    }

    @Test
    void poolingExactAndReal() {
        property("max pool exact", 31, 600, true, (r, ints) -> pool(r, true));
        property("max pool real", 32, 300, false, (r, ints) -> pool(r, true));
        property("avg pool exact", 33, 600, true, (r, ints) -> pool(r, false));
        property("avg pool real", 34, 400, false, (r, ints) -> pool(r, false));
    }

    @Test
    void globalAndDepthPooling() {
        property("global pool exact", 41, 300, true, (r, ints) -> {
            Layer l = r.nextBoolean() ? GlobalPool2d.max() : GlobalPool2d.average();
            Shape in = smallNchw(r);
            return new Case(l, l, in, in.elementCount(2) + 1);
        });
        property("global pool real", 42, 200, false, (r, ints) -> {
            Layer l = r.nextBoolean() ? GlobalPool2d.max() : GlobalPool2d.average();
            Shape in = smallNchw(r);
            return new Case(l, l, in, in.elementCount(2) + 1);
        });
        BiFunction<SplittableRandom, Boolean, Case> depth = (r, ints) -> {
            int w = r.nextInt(1, 4);
            Layer l = r.nextBoolean() ? DepthPool.max(w, r.nextInt(1, 4)) : DepthPool.average(w, r.nextInt(1, 4));
            return new Case(l, l, smallNchw(r), w + 1);
        };
        property("depth pool exact", 43, 400, true, depth::apply);
        property("depth pool real", 44, 200, false, depth::apply);
    }

    @Test
    void linearExactAndReal() {
        property("linear exact", 51, 400, true, BackendEquivalenceTestBase::linear);
        property("linear real", 52, 300, false, BackendEquivalenceTestBase::linear);
    }

    @Test
    void activationsFlattenAndSoftmaxAreExact() {
        // the Java backend evaluates the reference's double formulas element by element: bitwise equal for any input
        Generator gen = (r, ints) -> {
            Layer l = switch (r.nextInt(9)) {
                case 0 -> Activation.relu();
                case 1 -> Activation.leakyRelu((float) r.nextDouble(0, 0.5));
                case 2 -> Activation.sigmoid();
                case 3 -> Activation.tanh();
                case 4 -> Activation.elu((float) r.nextDouble(0.1, 2));
                case 5 -> Activation.gelu();
                case 6 -> new Flatten();
                default -> new Softmax();
            };
            return new Case(l, l, r.nextBoolean() ? smallNchw(r) : Shape.of(batch(r), r.nextInt(1, 30)), 1);
        };
        elementwise("element-wise integers", 61, 400, true, gen);
        elementwise("element-wise real", 62, 400, false, gen);
    }

    /**
     * With {@code CONVNET_CASE_LOG=/path}, appends each case before it runs, so a case that kills the JVM (a native
     * crash cannot report its seed) is the file's last line.
     */
    private static void logCase(String where) {
        String log = System.getenv("CONVNET_CASE_LOG");
        if (log == null) return;
        try {
            Files.writeString(Path.of(log), where + "\n", StandardOpenOption.CREATE, StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private boolean elementwiseClose(float x, float ref, float got) {
        double tol = elementwiseTolerance(x, ref);
        return tol == 0 ? Float.floatToIntBits(ref) == Float.floatToIntBits(got) : Math.abs(got - (double) ref) <= tol;
    }

    /** Element-wise layers: bitwise equal for the Java backend, within {@link #elementwiseTolerance} otherwise. */
    private void elementwise(String name, long seed, int count, boolean integers, Generator gen) {
        for (int i = 0; i < count; i++) {
            long caseSeed = seed * 1_000_003L + i;
            SplittableRandom r = new SplittableRandom(caseSeed);
            Case c = gen.next(r, integers);
            float[] x = values(r, (int) c.input().elementCount(), integers);
            float[] ref = run(c.layer(), c.input(), x, BackendKind.REFERENCE, 1);
            float[] got = run(c.layer(), c.input(), x, backend(), r.nextInt(1, 4));
            for (int j = 0; j < ref.length; j++) {
                // softmax mixes elements, so its tolerance is taken at x = 1 (its outputs are ≤ 1)
                float xj = c.layer() instanceof Softmax ? 1f : x[j];
                if (!elementwiseClose(xj, ref[j], got[j])) {
                    fail(name + " case seed " + caseSeed + ": " + c.layer() + " on " + c.input() + ": element " + j + " "
                            + backend() + " " + got[j] + " vs reference " + ref[j] + ", allowed " + elementwiseTolerance(xj, ref[j]));
                }
            }
        }
    }

    @Test
    void activationsOnRealInputsAndLargeArrays() {
        // a large tensor exercises the chunked parallel path; real inputs over a wide range
        SplittableRandom r = new SplittableRandom(63);
        Shape in = Shape.of(2, 3, 100, 101);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextDouble(-12, 12);
        }
        for (Layer l : new Layer[] {Activation.relu(), Activation.leakyRelu(0.01f), Activation.sigmoid(),
            Activation.tanh(), Activation.elu(1f), Activation.gelu(), new Softmax()}) {
            float[] ref = run(l, in, x, BackendKind.REFERENCE, 1);
            float[] java = run(l, in, x, backend(), 2);
            for (int i = 0; i < ref.length; i++) {
                if (!elementwiseClose(x[i], ref[i], java[i])) {
                    fail(l + " element " + i + ": " + backend() + " " + java[i] + " vs reference " + ref[i]
                            + ", allowed " + elementwiseTolerance(x[i], ref[i]));
                }
            }
        }
    }

    @Test
    void batchNormWithinRoundingOfPrecomputedScaleAndShift() {
        // java computes fma(x, scale, shift) with scale = γ/√(σ²+ε) and shift = β − μ·scale rounded to
        // float: |error| ≤ u·|scale·x| + u·|shift| (rounding scale, shift) + u·|y| (the fma) + the
        // reference's u·|y|; we allow 2u·(|scale·x| + |shift| + |μ·scale| + |β|) + 2u·|y|.
        for (int i = 0; i < 300; i++) {
            long seed = 71_000 + i;
            SplittableRandom r = new SplittableRandom(seed);
            Shape in = r.nextBoolean() ? smallNchw(r) : Shape.of(batch(r), r.nextInt(1, 9));
            int c = in.dim(1);
            float[] var = new float[c];
            for (int j = 0; j < c; j++) {
                var[j] = (float) r.nextDouble(0.01, 4);
            }
            BatchNorm bn = BatchNorm.of(values(r, c, false), values(r, c, false), values(r, c, false), var, 1e-5);
            float[] x = values(r, (int) in.elementCount(), false);
            float[] ref = run(bn, in, x, BackendKind.REFERENCE, 1);
            float[] java = run(bn, in, x, backend(), 2);
            double[] scale = bn.scale();
            double[] shift = bn.shift();
            float[] mean = bn.mean();
            float[] beta = bn.beta();
            int inner = (int) in.elementCount(2);
            for (int j = 0; j < ref.length; j++) {
                int ch = (j / inner) % c;
                double tol = 2 * U * (Math.abs(scale[ch] * x[j]) + Math.abs(shift[ch]) + Math.abs(mean[ch] * scale[ch])
                        + Math.abs(beta[ch])) + 2 * U * Math.abs(ref[j]);
                if (!(Math.abs(java[j] - (double) ref[j]) <= tol)) {
                    fail("batch norm seed " + seed + " on " + in + ": element " + j + " java " + java[j] + " vs " + ref[j]);
                }
            }
        }
    }

    @Test
    void largerConvolutionsUseTilesChannelBlocksAndThePointwisePath() {
        SplittableRandom r = new SplittableRandom(81);
        Object[][] cases = {
            // in, out, k, stride, groups, padding, shape
            {64, 64, 3, 1, 1, Padding.same(), Shape.of(1, 64, 20, 20)},
            {32, 48, 1, 1, 1, Padding.valid(), Shape.of(2, 32, 17, 19)},
            {32, 64, 3, 2, 2, Padding.symmetric(1), Shape.of(3, 32, 23, 21)},
            {16, 16, 3, 1, 16, Padding.same(), Shape.of(2, 16, 18, 18)},
            {3, 40, 7, 2, 1, Padding.sameUpper(), Shape.of(1, 3, 33, 30)},
            {8, 8, 1, 2, 1, Padding.valid(), Shape.of(1, 8, 9, 9)},
        };
        for (Object[] c : cases) {
            int in = (int) c[0];
            int out = (int) c[1];
            int k = (int) c[2];
            int g = (int) c[4];
            Conv2d.Builder b = Conv2d.builder(in, out, k).stride((int) c[3]).groups(g).padding((Padding) c[5]);
            float[] w = values(r, out * in / g * k * k, false);
            float[] bias = values(r, out, false);
            Conv2d conv = b.weights(w).bias(bias).build();
            Conv2d absConv = b.weights(abs(w)).bias(abs(bias)).build();
            Shape shape = (Shape) c[6];
            float[] x = values(r, (int) shape.elementCount(), false);
            float[] ref = run(conv, shape, x, BackendKind.REFERENCE, 1);
            float[] s = run(absConv, shape, abs(x), BackendKind.REFERENCE, 1);
            for (int threads : new int[] {1, 2, 3}) {
                float[] java = run(conv, shape, x, backend(), threads);
                double gm = gamma((long) in / g * k * k + 1);
                for (int j = 0; j < ref.length; j++) {
                    double tol = gm * s[j] + U * Math.abs(ref[j]);
                    if (!(Math.abs(java[j] - (double) ref[j]) <= tol)) {
                        fail(conv + " on " + shape + " threads " + threads + ": element " + j + " java " + java[j]
                                + " vs " + ref[j] + " tol " + tol);
                    }
                }
            }
        }
    }
}
