package dev.convnet.internal.jvm;

import java.util.Arrays;

/**
 * {@code C (+)= op(A)·op(B)} on flat row-major arrays, where op transposes or not, for the training kernels
 * (Linear, MatMul). {@link Sgemm#multiplyAddRows} vectorizes only over 0-based row arrays, so each call first packs
 * {@code op(B)} into panels of at most {@value #PANEL} columns, one {@code float[]} per reduction row (a copy, or a
 * blocked transpose), and {@code op(A)}, if transposed, into a flat row-major copy; C is computed per task in
 * per-thread accumulator rows and copied out. Packing costs {@code k·n} (and {@code m·k}) moves against
 * {@code 2·m·n·k} flops.
 *
 * <p>Tasks are (block of C rows, panel), with row blocks (multiples of 4, at most {@value #ROWS}) shrunk until
 * there are twice as many tasks as threads where the matrix allows; the reduction runs in slices of {@value #KC}
 * rows so that a slice of a panel (256 KiB at most) stays in L2 while the 4×4 micro-kernel streams it.
 *
 * <p>Thread-safety: not thread-safe (it owns its packing buffers); one kernel uses one instance per product
 * shape. The work of one call runs on the {@link Parallel} it was given. Internal.
 */
final class PackedGemm {
    /** Maximum columns of C per panel. */
    static final int PANEL = 512;
    /** Reduction rows per micro-kernel pass over a panel. */
    static final int KC = 128;
    /** Maximum rows of C per task. */
    static final int ROWS = 64;
    private static final int ACC = 0;
    private static final int BLOCK_T = 64;

    private final Parallel parallel;
    private float[][] packedB = new float[0][];
    private float[] packedA = new float[0];

    PackedGemm(Parallel parallel) {
        this.parallel = parallel;
    }

    /**
     * {@code C[m×n] = op(A)[m×k]·op(B)[k×n]}, plus the old C when {@code accumulate}.
     *
     * @param a      A; {@code op(A)(i, p)} is {@code a[aOff + i·lda + p]}, or {@code a[aOff + p·lda + i]} when {@code transA}
     * @param b      B; {@code op(B)(p, j)} is {@code b[bOff + p·ldb + j]}, or {@code b[bOff + j·ldb + p]} when {@code transB}
     * @param c      C, element (i, j) at {@code cOff + i·ldc + j}
     */
    void multiply(int m, int n, int k, float[] a, int aOff, int lda, boolean transA, float[] b, int bOff, int ldb,
                  boolean transB, float[] c, int cOff, int ldc, boolean accumulate) {
        int panels = (n + PANEL - 1) / PANEL;
        int panel = (n + panels - 1) / panels;
        packB(k, n, panels, panel, b, bOff, ldb, transB);
        float[] aa = a;
        int ao = aOff;
        int la = lda;
        if (transA) {
            packA(m, k, a, aOff, lda);
            aa = packedA;
            ao = 0;
            la = k;
        }
        int rows = ROWS;
        while (rows > 4 && ((m + rows - 1) / rows) * panels < 2 * parallel.threads()) {
            rows /= 2;
        }
        int rowBlock = rows;
        int rowBlocks = (m + rowBlock - 1) / rowBlock;
        float[] fa = aa;
        int fo = ao;
        int fl = la;
        float[][] pb = packedB;
        parallel.forEach(rowBlocks * panels, t -> {
            int pi = t % panels;
            int i0 = (t / panels) * rowBlock;
            int mb = Math.min(rowBlock, m - i0);
            int j0 = pi * panel;
            int nb = Math.min(panel, n - j0);
            float[][] acc = RowScratch.get().rows(ACC, mb, nb);
            for (int i = 0; i < mb; i++) {
                if (accumulate) {
                    System.arraycopy(c, cOff + (i0 + i) * ldc + j0, acc[i], 0, nb);
                } else {
                    Arrays.fill(acc[i], 0, nb, 0f);
                }
            }
            for (int k0 = 0; k0 < k; k0 += KC) {
                int kb = Math.min(KC, k - k0);
                parallel.kernels().multiplyAddRows(mb, kb, nb, fa, fo + i0 * fl + k0, fl, pb, pi * k + k0, acc, 0);
            }
            for (int i = 0; i < mb; i++) {
                System.arraycopy(acc[i], 0, c, cOff + (i0 + i) * ldc + j0, nb);
            }
        });
    }

    /** Panel {@code pi}, reduction row p: {@code packedB[pi·k + p][j] = op(B)(p, pi·panel + j)}. */
    private void packB(int k, int n, int panels, int panel, float[] b, int bOff, int ldb, boolean transB) {
        int rows = panels * k;
        if (packedB.length < rows || packedB[0].length < panel) {
            packedB = new float[rows][panel];
        }
        float[][] pb = packedB;
        int blocks = (k + BLOCK_T - 1) / BLOCK_T;
        parallel.forEach(panels * blocks, t -> {
            int pi = t / blocks;
            int p0 = (t % blocks) * BLOCK_T;
            int p1 = Math.min(k, p0 + BLOCK_T);
            int j0 = pi * panel;
            int nb = Math.min(panel, n - j0);
            if (!transB) {
                for (int p = p0; p < p1; p++) {
                    System.arraycopy(b, bOff + p * ldb + j0, pb[pi * k + p], 0, nb);
                }
                return;
            }
            for (int j = 0; j < nb; j++) {
                int src = bOff + (j0 + j) * ldb;
                for (int p = p0; p < p1; p++) {
                    pb[pi * k + p][j] = b[src + p];
                }
            }
        });
    }

    /** {@code packedA[i·k + p] = a[aOff + p·lda + i]}. */
    private void packA(int m, int k, float[] a, int aOff, int lda) {
        if (packedA.length < m * k) {
            packedA = new float[m * k];
        }
        float[] pa = packedA;
        for (int p = 0; p < k; p++) {
            int src = aOff + p * lda;
            for (int i = 0; i < m; i++) {
                pa[i * k + p] = a[src + i];
            }
        }
    }
}
