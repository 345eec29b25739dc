package dev.convnet.internal.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Both implementations of {@link FloatKernels}, each built explicitly, on random shapes: sizes around and between
 * multiples of the vector length (ragged columns, leftover rows, reductions longer than a block), offsets and
 * leading dimensions larger than the rows. Each result is checked against a double-precision product with
 * Higham's bound {@code |got − exact| ≤ γ_n·Σ|terms|}, and the two implementations against each other bit for bit
 * (the {@link FloatKernels} contract: the same fused multiply-adds in the same order).
 *
 * <p>Needs the JVM to load {@code jdk.incubator.vector} (the build's Surefire configuration does); without it the
 * vector cases are skipped, with the reason.
 */
class FloatKernelsTest {
    private static final double U = 0x1p-24;

    static FloatKernels vector() {
        assumeTrue(ModuleLayer.boot().findModule(Vectorization.MODULE).isPresent(),
                "the JVM was started without --add-modules " + Vectorization.MODULE);
        return new VectorKernels();
    }

    static List<FloatKernels> both() {
        List<FloatKernels> k = new ArrayList<>();
        k.add(ScalarKernels.INSTANCE);
        if (ModuleLayer.boot().findModule(Vectorization.MODULE).isPresent()) {
            k.add(new VectorKernels());
        }
        return k;
    }

    private static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    private static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    /** A size near a multiple of {@code unit} (±2), or any size up to {@code max}. */
    private static int size(SplittableRandom r, int unit, int max) {
        if (r.nextBoolean()) {
            return r.nextInt(1, max + 1);
        }
        int multiple = unit * r.nextInt(1, Math.max(2, max / unit + 1));
        return Math.max(1, Math.min(max, multiple + r.nextInt(-2, 3)));
    }

    private static void within(String what, double exact, double magnitude, long terms, float got) {
        double tol = gamma(terms) * magnitude + U * Math.abs(exact);
        assertTrue(Math.abs(got - exact) <= tol, what + ": got " + got + ", exact " + exact + ", tolerance " + tol);
    }

    @Test
    void rowFormMatchesTheExactProductOnRaggedShapes() {
        List<FloatKernels> impls = both();
        SplittableRandom r = new SplittableRandom(11);
        for (int t = 0; t < 300; t++) {
            int m = size(r, 4, 13);
            int k = size(r, 8, 70);
            int width = size(r, 16, 300);
            int lda = k + r.nextInt(0, 3);
            int aOff = r.nextInt(0, 5);
            int b0 = r.nextInt(0, 3);
            int c0 = r.nextInt(0, 3);
            int slack = r.nextInt(0, 20); // rows longer than width: only width columns may change
            float[] a = uniform(r, aOff + m * lda);
            float[][] b = new float[b0 + k][];
            for (int p = 0; p < b.length; p++) {
                b[p] = uniform(r, width + slack);
            }
            float[][] c = new float[c0 + m][];
            for (int i = 0; i < c.length; i++) {
                c[i] = uniform(r, width + slack);
            }
            String shape = "m=" + m + " k=" + k + " width=" + width + " lda=" + lda + " slack=" + slack;
            float[][] first = null;
            for (FloatKernels impl : impls) {
                float[][] got = new float[c.length][];
                for (int i = 0; i < c.length; i++) {
                    got[i] = c[i].clone();
                }
                impl.multiplyAddRows(m, k, width, a, aOff, lda, b, b0, got, c0);
                for (int i = 0; i < c.length; i++) {
                    for (int j = 0; j < c[i].length; j++) {
                        int row = i - c0;
                        if (row < 0 || j >= width) {
                            assertEquals(c[i][j], got[i][j], impl.description() + " " + shape + ": wrote outside C at " + i + "," + j);
                            continue;
                        }
                        double exact = c[i][j];
                        double mag = Math.abs(c[i][j]);
                        for (int p = 0; p < k; p++) {
                            double term = (double) a[aOff + row * lda + p] * b[b0 + p][j];
                            exact += term;
                            mag += Math.abs(term);
                        }
                        within(impl.description() + " " + shape + " at (" + row + ", " + j + ")", exact, mag, k + 1, got[i][j]);
                    }
                }
                if (first == null) {
                    first = got;
                } else {
                    for (int i = 0; i < c.length; i++) {
                        assertArrayEquals(first[i], got[i], "scalar and vector differ, " + shape + ", row " + i);
                    }
                }
            }
        }
    }

    @Test
    void offsetFormMatchesTheExactProductOnRaggedShapes() {
        List<FloatKernels> impls = both();
        SplittableRandom r = new SplittableRandom(12);
        for (int t = 0; t < 200; t++) {
            int m = size(r, 4, 11);
            int n = size(r, 16, 230);
            int k = r.nextInt(6) == 0 ? r.nextInt(250, 600) : size(r, 8, 60); // sometimes several reduction blocks
            int lda = k + r.nextInt(0, 3);
            int ldb = n + r.nextInt(0, 3);
            int ldc = n + r.nextInt(0, 3);
            int aOff = r.nextInt(0, 4);
            int bOff = r.nextInt(0, 4);
            int cOff = r.nextInt(0, 4);
            float[] a = uniform(r, aOff + m * lda);
            float[] b = uniform(r, bOff + k * ldb);
            float[] c = uniform(r, cOff + m * ldc + r.nextInt(0, 5));
            String shape = "m=" + m + " n=" + n + " k=" + k + " lda=" + lda + " ldb=" + ldb + " ldc=" + ldc;
            float[] first = null;
            for (FloatKernels impl : impls) {
                float[] got = c.clone();
                impl.multiplyAdd(m, n, k, a, aOff, lda, b, bOff, ldb, got, cOff, ldc);
                for (int e = 0; e < c.length; e++) {
                    int i = (e - cOff) / ldc;
                    int j = (e - cOff) % ldc;
                    if (e < cOff || i >= m || j >= n) {
                        assertEquals(c[e], got[e], impl.description() + " " + shape + ": wrote outside C at " + e);
                        continue;
                    }
                    double exact = c[e];
                    double mag = Math.abs(c[e]);
                    for (int p = 0; p < k; p++) {
                        double term = (double) a[aOff + i * lda + p] * b[bOff + p * ldb + j];
                        exact += term;
                        mag += Math.abs(term);
                    }
                    within(impl.description() + " " + shape + " at (" + i + ", " + j + ")", exact, mag, k + 1, got[e]);
                }
                if (first == null) {
                    first = got;
                } else {
                    assertArrayEquals(first, got, "scalar and vector differ, " + shape);
                }
            }
        }
    }

    @Test
    void depthwiseBandMatchesTheExactSumForAnyLength() {
        List<FloatKernels> impls = both();
        SplittableRandom r = new SplittableRandom(13);
        for (int t = 0; t < 300; t++) {
            int w = r.nextInt(2, 70);
            int rows = r.nextInt(1, 8);
            int len = r.nextInt(4) == 0 ? r.nextInt(1, 20) : rows * w; // short bands take the scalar path
            int base = r.nextInt(0, 3) * w;
            float[] p = uniform(r, base + len + 2 * w + 2);
            int wOff = 9 * r.nextInt(0, 3);
            float[] weights = uniform(r, wOff + 9);
            float bias = (float) r.nextDouble(-1, 1);
            String shape = "w=" + w + " len=" + len + " base=" + base;
            float[] first = null;
            for (FloatKernels impl : impls) {
                float[][] taps = new float[9][len];
                float[] acc = uniform(r, len + 5);
                float[] tail = acc.clone();
                impl.depthwise3x3(p, base, w, len, weights, wOff, bias, taps, acc);
                for (int q = 0; q < len; q++) {
                    double exact = bias;
                    double mag = Math.abs(bias);
                    for (int i = 0; i < 3; i++) {
                        for (int j = 0; j < 3; j++) {
                            double term = (double) weights[wOff + 3 * i + j] * p[base + q + i * w + j];
                            exact += term;
                            mag += Math.abs(term);
                        }
                    }
                    within(impl.description() + " " + shape + " at " + q, exact, mag, 10, acc[q]);
                }
                for (int q = len; q < acc.length; q++) {
                    assertEquals(tail[q], acc[q], impl.description() + " " + shape + ": wrote past len at " + q);
                }
                float[] band = java.util.Arrays.copyOf(acc, len);
                if (first == null) {
                    first = band;
                } else {
                    assertArrayEquals(first, band, "scalar and vector differ, " + shape);
                }
            }
        }
    }

    @Test
    void theVectorKernelsNameTheirVectorSize() {
        FloatKernels v = vector();
        assertTrue(v.description().startsWith("Vector API, "), v.description());
        assertTrue(v.description().contains("-bit ("), v.description());
    }
}
