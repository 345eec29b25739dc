package dev.convnet.internal.jvm;

/**
 * Single-precision matrix multiply-accumulate {@code C += A·B} on row-major float arrays with
 * explicit offsets and leading dimensions, written so that C2 auto-vectorizes the innermost
 * loop: it runs over a contiguous row segment of B and C with unit stride and fused
 * multiply-adds ({@link Math#fma(float, float, float)}).
 *
 * <p>Blocking: columns of B/C in panels of {@value #NC} (a panel row is 1 KiB), the reduction in
 * blocks of {@value #KC} (a B block of 128 KiB stays in L2 while every row of A passes over it).
 * The micro-kernel updates two rows of C from four rows of B per pass, so each B element loaded
 * feeds two FMAs and each C element loaded and stored absorbs four. Internal; stateless.
 */
final class Sgemm {
    static final int NC = 256;
    static final int KC = 128;

    private Sgemm() {
    }

    /**
     * {@code C[m×n] += A[m×k]·B[k×n]}.
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
