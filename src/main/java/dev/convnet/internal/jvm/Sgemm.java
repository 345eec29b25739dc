package dev.convnet.internal.jvm;

/**
 * Single-precision matrix multiply-accumulate, written so that C2 auto-vectorizes (SuperWord) the
 * innermost loops: they run over contiguous rows with unit stride and fused multiply-adds
 * ({@link Math#fma(float, float, float)}, which C2 turns into vector FMAs).
 *
 * <p>Two forms:
 * <ul>
 * <li>{@link #multiplyAddRows} (the convolution path): B and C are given as arrays of rows, each row
 *     its own {@code float[]} indexed from 0. This is what makes C2 vectorize a register-blocked
 *     kernel: with every access of the form {@code row[j]}, two rows can only alias element for
 *     element, so SuperWord needs no aliasing proof. With B and C as offsets into shared arrays
 *     ({@code c[ci + j]}, {@code b[bi + p·ldb + j]}) JDK 25's C2 cannot prove the rows disjoint and
 *     leaves the loop scalar (measured: ~11 GFLOP/s per core, the scalar FMA rate; the row form
 *     reaches 75–95 GFLOP/s per core on AVX-512).</li>
 * <li>{@link #multiplyAdd} (offsets and leading dimensions; used by the fully-connected layers).</li>
 * </ul>
 * Internal; stateless.
 */
final class Sgemm {
    static final int NC = 256;
    static final int KC = 128;

    private Sgemm() {
    }

    /**
     * {@code c[c0 + i][j] += Σ_p a[aOff + i·lda + p] · b[b0 + p][j]} for {@code i < m}, {@code p < k},
     * {@code j < width}.
     *
     * <p>The micro-kernel takes four rows of C and four rows of B per pass over the columns: each
     * B vector loaded feeds four FMAs and each C vector loaded and stored absorbs four, and the 16
     * weights stay in registers. Measured on Zen 4 with C2 (JDK 25): 4×4 is the largest block that
     * C2 still vectorizes (6×4, 4×6, 8×4, 4×8 and 8×2 fall back to scalar code) and the fastest
     * (4×4 ≈ 75–95, 2×4 ≈ 60, 4×2 ≈ 55, 1×8 ≈ 38 GFLOP/s per core at 784 columns). The caller
     * bounds {@code width} and {@code k} so the B rows stay in L2 and the four C rows in L1.
     *
     * @param b rows of B, rows {@code b0 … b0 + k − 1} used, each at least {@code width} long
     * @param c rows of C, rows {@code c0 … c0 + m − 1} used, each at least {@code width} long
     */
    static void multiplyAddRows(int m, int k, int width, float[] a, int aOff, int lda, float[][] b, int b0,
                                float[][] c, int c0) {
        int i = 0;
        for (; i + 3 < m; i += 4) {
            fourRows(k, width, a, aOff + i * lda, lda, b, b0, c[c0 + i], c[c0 + i + 1], c[c0 + i + 2], c[c0 + i + 3]);
        }
        for (; i < m; i++) {
            oneRow(k, width, a, aOff + i * lda, b, b0, c[c0 + i]);
        }
    }

    private static void fourRows(int k, int width, float[] a, int a0, int lda, float[][] b, int bRow,
                                 float[] c0, float[] c1, float[] c2, float[] c3) {
        int a1 = a0 + lda;
        int a2 = a1 + lda;
        int a3 = a2 + lda;
        int p = 0;
        for (; p + 3 < k; p += 4) {
            float w00 = a[a0 + p], w01 = a[a0 + p + 1], w02 = a[a0 + p + 2], w03 = a[a0 + p + 3];
            float w10 = a[a1 + p], w11 = a[a1 + p + 1], w12 = a[a1 + p + 2], w13 = a[a1 + p + 3];
            float w20 = a[a2 + p], w21 = a[a2 + p + 1], w22 = a[a2 + p + 2], w23 = a[a2 + p + 3];
            float w30 = a[a3 + p], w31 = a[a3 + p + 1], w32 = a[a3 + p + 2], w33 = a[a3 + p + 3];
            float[] b0 = b[bRow + p];
            float[] b1 = b[bRow + p + 1];
            float[] b2 = b[bRow + p + 2];
            float[] b3 = b[bRow + p + 3];
            for (int j = 0; j < width; j++) {
                float x0 = b0[j];
                float x1 = b1[j];
                float x2 = b2[j];
                float x3 = b3[j];
                c0[j] = Math.fma(w03, x3, Math.fma(w02, x2, Math.fma(w01, x1, Math.fma(w00, x0, c0[j]))));
                c1[j] = Math.fma(w13, x3, Math.fma(w12, x2, Math.fma(w11, x1, Math.fma(w10, x0, c1[j]))));
                c2[j] = Math.fma(w23, x3, Math.fma(w22, x2, Math.fma(w21, x1, Math.fma(w20, x0, c2[j]))));
                c3[j] = Math.fma(w33, x3, Math.fma(w32, x2, Math.fma(w31, x1, Math.fma(w30, x0, c3[j]))));
            }
        }
        for (; p < k; p++) {
            float w0 = a[a0 + p];
            float w1 = a[a1 + p];
            float w2 = a[a2 + p];
            float w3 = a[a3 + p];
            float[] b0 = b[bRow + p];
            for (int j = 0; j < width; j++) {
                float x0 = b0[j];
                c0[j] = Math.fma(w0, x0, c0[j]);
                c1[j] = Math.fma(w1, x0, c1[j]);
                c2[j] = Math.fma(w2, x0, c2[j]);
                c3[j] = Math.fma(w3, x0, c3[j]);
            }
        }
    }

    private static void oneRow(int k, int width, float[] a, int a0, float[][] b, int bRow, float[] c0) {
        int p = 0;
        for (; p + 3 < k; p += 4) {
            float w0 = a[a0 + p], w1 = a[a0 + p + 1], w2 = a[a0 + p + 2], w3 = a[a0 + p + 3];
            float[] b0 = b[bRow + p];
            float[] b1 = b[bRow + p + 1];
            float[] b2 = b[bRow + p + 2];
            float[] b3 = b[bRow + p + 3];
            for (int j = 0; j < width; j++) {
                c0[j] = Math.fma(w3, b3[j], Math.fma(w2, b2[j], Math.fma(w1, b1[j], Math.fma(w0, b0[j], c0[j]))));
            }
        }
        for (; p < k; p++) {
            float w0 = a[a0 + p];
            float[] b0 = b[bRow + p];
            for (int j = 0; j < width; j++) {
                c0[j] = Math.fma(w0, b0[j], c0[j]);
            }
        }
    }

    /**
     * {@code C[m×n] += A[m×k]·B[k×n]} on row-major arrays with offsets and leading dimensions.
     * Blocking: columns in panels of {@value #NC}, the reduction in blocks of {@value #KC}; two rows
     * of C from four rows of B per pass.
     *
     * @param a    A, element (i, p) at {@code aOff + i·lda + p}
     * @param b    B, element (p, j) at {@code bOff + p·ldb + j}
     * @param c    C, element (i, j) at {@code cOff + i·ldc + j}
     */
    static void multiplyAdd(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc) {
        for (int j0 = 0; j0 < n; j0 += NC) {
            int nb = Math.min(NC, n - j0);
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kb = Math.min(KC, k - k0);
                int i = 0;
                for (; i + 1 < m; i += 2) {
                    twoRows(kb, nb, a, aOff + i * lda + k0, lda, b, bOff + k0 * ldb + j0, ldb, c, cOff + i * ldc + j0, ldc);
                }
                if (i < m) {
                    oneRow(kb, nb, a, aOff + i * lda + k0, b, bOff + k0 * ldb + j0, ldb, c, cOff + i * ldc + j0);
                }
            }
        }
    }

    private static void twoRows(int kb, int nb, float[] a, int ai, int lda, float[] b, int bi, int ldb,
                                float[] c, int ci, int ldc) {
        int aj = ai + lda;
        int cj = ci + ldc;
        int p = 0;
        for (; p + 3 < kb; p += 4) {
            float a0 = a[ai + p];
            float a1 = a[ai + p + 1];
            float a2 = a[ai + p + 2];
            float a3 = a[ai + p + 3];
            float e0 = a[aj + p];
            float e1 = a[aj + p + 1];
            float e2 = a[aj + p + 2];
            float e3 = a[aj + p + 3];
            int b0 = bi + p * ldb;
            int b1 = b0 + ldb;
            int b2 = b1 + ldb;
            int b3 = b2 + ldb;
            for (int j = 0; j < nb; j++) {
                float x0 = b[b0 + j];
                float x1 = b[b1 + j];
                float x2 = b[b2 + j];
                float x3 = b[b3 + j];
                c[ci + j] = Math.fma(a3, x3, Math.fma(a2, x2, Math.fma(a1, x1, Math.fma(a0, x0, c[ci + j]))));
                c[cj + j] = Math.fma(e3, x3, Math.fma(e2, x2, Math.fma(e1, x1, Math.fma(e0, x0, c[cj + j]))));
            }
        }
        for (; p < kb; p++) {
            float a0 = a[ai + p];
            float e0 = a[aj + p];
            int b0 = bi + p * ldb;
            for (int j = 0; j < nb; j++) {
                float x0 = b[b0 + j];
                c[ci + j] = Math.fma(a0, x0, c[ci + j]);
                c[cj + j] = Math.fma(e0, x0, c[cj + j]);
            }
        }
    }

    private static void oneRow(int kb, int nb, float[] a, int ai, float[] b, int bi, int ldb, float[] c, int ci) {
        int p = 0;
        for (; p + 3 < kb; p += 4) {
            float a0 = a[ai + p];
            float a1 = a[ai + p + 1];
            float a2 = a[ai + p + 2];
            float a3 = a[ai + p + 3];
            int b0 = bi + p * ldb;
            int b1 = b0 + ldb;
            int b2 = b1 + ldb;
            int b3 = b2 + ldb;
            for (int j = 0; j < nb; j++) {
                c[ci + j] = Math.fma(a3, b[b3 + j], Math.fma(a2, b[b2 + j], Math.fma(a1, b[b1 + j],
                        Math.fma(a0, b[b0 + j], c[ci + j]))));
            }
        }
        for (; p < kb; p++) {
            float a0 = a[ai + p];
            int b0 = bi + p * ldb;
            for (int j = 0; j < nb; j++) {
                c[ci + j] = Math.fma(a0, b[b0 + j], c[ci + j]);
            }
        }
    }
}
