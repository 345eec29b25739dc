package dev.convnet.internal.jvm;

import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The kernels on the JDK's incubating Vector API ({@code jdk.incubator.vector}), in the platform's preferred vector
 * size (512 bits on AVX-512). Loaded reflectively by {@link Vectorization}, so that nothing else links against the
 * incubator module; do not reference this class directly outside tests.
 *
 * <p>The matrix products use register-blocked micro-kernels: a block of C, eight rows by three vectors (48 floats
 * at 512 bits), is held in 24 vector registers for the whole reduction; per reduction step the kernel loads three
 * vectors of B and broadcasts eight scalars of A into 24 FMAs, so C is read and written once per call instead of once
 * per four reduction steps (the scalar kernel, {@link Sgemm}). Measured on Zen 5 (one thread, 128-step reduction,
 * 768 columns): 4×4 blocks 150, 6×4 190, 8×3 195, 12×2 205 GFLOP/s; 8×3 divides the convolutions' channel blocks
 * (multiples of 8 up to 64) evenly. Rows left over go through 4-row and 1-row blocks, columns left over through
 * blocks one vector wide, and the last columns (fewer than a vector) are copied to per-thread rows a vector wide, so
 * no kernel needs lane masks. Each element of C still receives its products in ascending reduction order, one fused
 * multiply-add each, so the results equal the scalar kernels' bit for bit.
 *
 * <p>Unlike C2's auto-vectorizer, explicit vector loads need no proof that arrays are disjoint, so the offset form
 * ({@link #multiplyAdd}) and the depthwise band ({@link #depthwise3x3}) read their operands in place, without the
 * copies to 0-based rows that the scalar kernels make.
 *
 * <p>Thread-safety: stateless. Internal.
 */
final class VectorKernels implements FloatKernels {
    private static final VectorSpecies<Float> S = FloatVector.SPECIES_PREFERRED;
    private static final int L = S.length();
    /** Columns per register block of the offset form: four vectors. */
    private static final int NR = 4 * L;
    /** Reduction rows per pass of the offset form, so that a strip of B ({@code KC × NR}) stays in L1/L2. */
    private static final int KC = 256;
    /** The speed at which {@link #warmUp} takes the kernels for compiled. */
    private static final int WARM_GFLOPS = 4;

    /**
     * @throws UnsupportedOperationException if the platform's preferred vectors hold fewer than four floats (then
     *                                       the scalar kernels are as fast)
     */
    VectorKernels() {
        if (S.vectorBitSize() < 128) {
            throw new UnsupportedOperationException("the preferred vector size is " + S.vectorBitSize()
                    + " bits; the Vector API kernels need at least 128");
        }
    }

    /**
     * Runs every kernel path (row blocks of 8, 4 and 1 rows; strips of 3 and 1 vectors and the copied last columns;
     * the offset form's blocks and tail; the depthwise band, long and short) on small arrays until they run at
     * compiled speed, or until {@code budgetNanos} have passed. Until C2 compiles it, Vector API code runs boxed, one
     * object per vector operation, well under a GFLOP/s; the 24-accumulator blocks are also too big for C1, so they
     * would otherwise run interpreted for the first second or so of a JVM's work. Each round is timed, and the
     * warm-up ends with the first round faster than {@value #WARM_GFLOPS} GFLOP/s (C2's code does these tiny
     * products at tens of GFLOP/s). Every shape the kernels branch on is in a round, so that C2 compiles no path as
     * never taken.
     */
    @Override
    public long warmUp(long budgetNanos) {
        long start = System.nanoTime();
        int[] ms = {1, 3, 4, 5, 8, 9, 13};
        int[] widths = {5, L, 3 * L, 4 * L + 5, 7 * L + 3};
        int k = 3;
        float[] a = new float[13 * k];
        float[][] b = new float[k][7 * L + 3];
        float[][] c = new float[13][7 * L + 3];
        float[] flatB = new float[k * (NR + 5)];
        float[] flatC = new float[13 * (NR + 5)];
        float[] plane = new float[8 * L + 64];
        float[] acc = new float[4 * L];
        float[] w9 = new float[9];
        while (System.nanoTime() - start < budgetNanos) {
            long t0 = System.nanoTime();
            long flops = 0;
            for (int rep = 0; rep < 10; rep++) {
                for (int m : ms) {
                    for (int width : widths) {
                        multiplyAddRows(m, k, width, a, 0, k, b, 0, c, 0);
                        flops += 2L * m * k * width;
                    }
                    multiplyAdd(m, 5, k, a, 0, k, flatB, 0, NR + 5, flatC, 0, NR + 5);
                    multiplyAdd(m, NR + 5, k, a, 0, k, flatB, 0, NR + 5, flatC, 0, NR + 5);
                    flops += 2L * m * k * (NR + 10);
                }
                depthwise3x3(plane, 0, 16, 5, w9, 0, 0f, null, acc);
                depthwise3x3(plane, 0, 16, 3 * L + 5, w9, 0, 0f, null, acc);
                flops += 18L * (3 * L + 10);
            }
            if (flops >= WARM_GFLOPS * (System.nanoTime() - t0)) {
                break;
            }
        }
        return System.nanoTime() - start;
    }

    @Override
    public String description() {
        return "Vector API, " + S.vectorBitSize() + "-bit (" + L + " floats)";
    }

    // ---- the row form: B and C as arrays of rows ----

    @Override
    public void multiplyAddRows(int m, int k, int width, float[] a, int aOff, int lda, float[][] b, int b0,
                                float[][] c, int c0) {
        int full = width - width % L;
        strips(m, k, full, a, aOff, lda, b, b0, c, c0);
        if (full < width) {
            // the last columns (fewer than a vector) on copies, a vector wide
            Tail t = TAIL.get();
            int cols = width - full;
            float[][] tb = t.b(k);
            float[][] tc = t.c(m);
            for (int p = 0; p < k; p++) {
                System.arraycopy(b[b0 + p], full, tb[p], 0, cols);
            }
            for (int i = 0; i < m; i++) {
                System.arraycopy(c[c0 + i], full, tc[i], 0, cols);
            }
            strips(m, k, L, a, aOff, lda, tb, 0, tc, 0);
            for (int i = 0; i < m; i++) {
                System.arraycopy(tc[i], 0, c[c0 + i], full, cols);
            }
        }
    }

    /**
     * Columns {@code 0 ≤ j < width} ({@code width} a multiple of {@code L}) of the row form: strips of three vectors,
     * then of one; in each, blocks of eight rows, then four, then one.
     */
    private static void strips(int m, int k, int width, float[] a, int aOff, int lda, float[][] b, int b0,
                               float[][] c, int c0) {
        int j = 0;
        for (; j + 3 * L <= width; j += 3 * L) {
            int i = 0;
            for (; i + 7 < m; i += 8) {
                rows8x3(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
            }
            if (i + 3 < m) {
                rows4x3(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
                i += 4;
            }
            for (; i < m; i++) {
                rows1x3(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
            }
        }
        for (; j < width; j += L) {
            int i = 0;
            for (; i + 7 < m; i += 8) {
                rows8x1(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
            }
            if (i + 3 < m) {
                rows4x1(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
                i += 4;
            }
            for (; i < m; i++) {
                rows1x1(k, j, a, aOff + i * lda, lda, b, b0, c, c0 + i);
            }
        }
    }

    /**
     * Per-thread rows, {@code NR} wide, that take the last columns of B and C (fewer than {@code L} in the row
     * form, fewer than {@code NR} in the offset form), so that no kernel needs lane masks: masked loads and stores
     * make these large methods too big for C1 ("out of virtual registers"), and C2 then sometimes compiles them
     * late or never.
     */
    private static final ThreadLocal<Tail> TAIL = ThreadLocal.withInitial(Tail::new);

    private static final class Tail {
        private float[][] b = new float[0][];
        private float[][] c = new float[0][];

        float[][] b(int rows) {
            if (b.length < rows) {
                b = grow(b, rows);
            }
            return b;
        }

        float[][] c(int rows) {
            if (c.length < rows) {
                c = grow(c, rows);
            }
            return c;
        }

        private static float[][] grow(float[][] old, int rows) {
            float[][] g = java.util.Arrays.copyOf(old, Math.max(rows, 2 * old.length));
            for (int r = old.length; r < g.length; r++) {
                g[r] = new float[NR];
            }
            return g;
        }
    }

    // The register blocks, written out: C2 keeps vectors in registers only as separate local variables. Each holds
    // MR×NV accumulators for the whole reduction; per step it loads NV vectors of B and broadcasts MR scalars of A.

    /** 8 rows of C by 3 vectors of columns from column {@code j}. */
    private static void rows8x3(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        int j1 = j + L, j2 = j + 2 * L;
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        FloatVector s01 = FloatVector.fromArray(S, c0, j1);
        FloatVector s02 = FloatVector.fromArray(S, c0, j2);
        float[] c1 = c[cRow + 1];
        int a1 = aRow + lda;
        FloatVector s10 = FloatVector.fromArray(S, c1, j);
        FloatVector s11 = FloatVector.fromArray(S, c1, j1);
        FloatVector s12 = FloatVector.fromArray(S, c1, j2);
        float[] c2 = c[cRow + 2];
        int a2 = aRow + 2 * lda;
        FloatVector s20 = FloatVector.fromArray(S, c2, j);
        FloatVector s21 = FloatVector.fromArray(S, c2, j1);
        FloatVector s22 = FloatVector.fromArray(S, c2, j2);
        float[] c3 = c[cRow + 3];
        int a3 = aRow + 3 * lda;
        FloatVector s30 = FloatVector.fromArray(S, c3, j);
        FloatVector s31 = FloatVector.fromArray(S, c3, j1);
        FloatVector s32 = FloatVector.fromArray(S, c3, j2);
        float[] c4 = c[cRow + 4];
        int a4 = aRow + 4 * lda;
        FloatVector s40 = FloatVector.fromArray(S, c4, j);
        FloatVector s41 = FloatVector.fromArray(S, c4, j1);
        FloatVector s42 = FloatVector.fromArray(S, c4, j2);
        float[] c5 = c[cRow + 5];
        int a5 = aRow + 5 * lda;
        FloatVector s50 = FloatVector.fromArray(S, c5, j);
        FloatVector s51 = FloatVector.fromArray(S, c5, j1);
        FloatVector s52 = FloatVector.fromArray(S, c5, j2);
        float[] c6 = c[cRow + 6];
        int a6 = aRow + 6 * lda;
        FloatVector s60 = FloatVector.fromArray(S, c6, j);
        FloatVector s61 = FloatVector.fromArray(S, c6, j1);
        FloatVector s62 = FloatVector.fromArray(S, c6, j2);
        float[] c7 = c[cRow + 7];
        int a7 = aRow + 7 * lda;
        FloatVector s70 = FloatVector.fromArray(S, c7, j);
        FloatVector s71 = FloatVector.fromArray(S, c7, j1);
        FloatVector s72 = FloatVector.fromArray(S, c7, j2);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector x1 = FloatVector.fromArray(S, row, j1);
            FloatVector x2 = FloatVector.fromArray(S, row, j2);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
            s01 = x1.fma(w, s01);
            s02 = x2.fma(w, s02);
            w = FloatVector.broadcast(S, a[a1 + p]);
            s10 = x0.fma(w, s10);
            s11 = x1.fma(w, s11);
            s12 = x2.fma(w, s12);
            w = FloatVector.broadcast(S, a[a2 + p]);
            s20 = x0.fma(w, s20);
            s21 = x1.fma(w, s21);
            s22 = x2.fma(w, s22);
            w = FloatVector.broadcast(S, a[a3 + p]);
            s30 = x0.fma(w, s30);
            s31 = x1.fma(w, s31);
            s32 = x2.fma(w, s32);
            w = FloatVector.broadcast(S, a[a4 + p]);
            s40 = x0.fma(w, s40);
            s41 = x1.fma(w, s41);
            s42 = x2.fma(w, s42);
            w = FloatVector.broadcast(S, a[a5 + p]);
            s50 = x0.fma(w, s50);
            s51 = x1.fma(w, s51);
            s52 = x2.fma(w, s52);
            w = FloatVector.broadcast(S, a[a6 + p]);
            s60 = x0.fma(w, s60);
            s61 = x1.fma(w, s61);
            s62 = x2.fma(w, s62);
            w = FloatVector.broadcast(S, a[a7 + p]);
            s70 = x0.fma(w, s70);
            s71 = x1.fma(w, s71);
            s72 = x2.fma(w, s72);
        }
        s00.intoArray(c0, j);
        s01.intoArray(c0, j1);
        s02.intoArray(c0, j2);
        s10.intoArray(c1, j);
        s11.intoArray(c1, j1);
        s12.intoArray(c1, j2);
        s20.intoArray(c2, j);
        s21.intoArray(c2, j1);
        s22.intoArray(c2, j2);
        s30.intoArray(c3, j);
        s31.intoArray(c3, j1);
        s32.intoArray(c3, j2);
        s40.intoArray(c4, j);
        s41.intoArray(c4, j1);
        s42.intoArray(c4, j2);
        s50.intoArray(c5, j);
        s51.intoArray(c5, j1);
        s52.intoArray(c5, j2);
        s60.intoArray(c6, j);
        s61.intoArray(c6, j1);
        s62.intoArray(c6, j2);
        s70.intoArray(c7, j);
        s71.intoArray(c7, j1);
        s72.intoArray(c7, j2);
    }

    /** 4 rows of C by 3 vectors of columns from column {@code j}. */
    private static void rows4x3(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        int j1 = j + L, j2 = j + 2 * L;
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        FloatVector s01 = FloatVector.fromArray(S, c0, j1);
        FloatVector s02 = FloatVector.fromArray(S, c0, j2);
        float[] c1 = c[cRow + 1];
        int a1 = aRow + lda;
        FloatVector s10 = FloatVector.fromArray(S, c1, j);
        FloatVector s11 = FloatVector.fromArray(S, c1, j1);
        FloatVector s12 = FloatVector.fromArray(S, c1, j2);
        float[] c2 = c[cRow + 2];
        int a2 = aRow + 2 * lda;
        FloatVector s20 = FloatVector.fromArray(S, c2, j);
        FloatVector s21 = FloatVector.fromArray(S, c2, j1);
        FloatVector s22 = FloatVector.fromArray(S, c2, j2);
        float[] c3 = c[cRow + 3];
        int a3 = aRow + 3 * lda;
        FloatVector s30 = FloatVector.fromArray(S, c3, j);
        FloatVector s31 = FloatVector.fromArray(S, c3, j1);
        FloatVector s32 = FloatVector.fromArray(S, c3, j2);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector x1 = FloatVector.fromArray(S, row, j1);
            FloatVector x2 = FloatVector.fromArray(S, row, j2);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
            s01 = x1.fma(w, s01);
            s02 = x2.fma(w, s02);
            w = FloatVector.broadcast(S, a[a1 + p]);
            s10 = x0.fma(w, s10);
            s11 = x1.fma(w, s11);
            s12 = x2.fma(w, s12);
            w = FloatVector.broadcast(S, a[a2 + p]);
            s20 = x0.fma(w, s20);
            s21 = x1.fma(w, s21);
            s22 = x2.fma(w, s22);
            w = FloatVector.broadcast(S, a[a3 + p]);
            s30 = x0.fma(w, s30);
            s31 = x1.fma(w, s31);
            s32 = x2.fma(w, s32);
        }
        s00.intoArray(c0, j);
        s01.intoArray(c0, j1);
        s02.intoArray(c0, j2);
        s10.intoArray(c1, j);
        s11.intoArray(c1, j1);
        s12.intoArray(c1, j2);
        s20.intoArray(c2, j);
        s21.intoArray(c2, j1);
        s22.intoArray(c2, j2);
        s30.intoArray(c3, j);
        s31.intoArray(c3, j1);
        s32.intoArray(c3, j2);
    }

    /** 1 row of C by 3 vectors of columns from column {@code j}. */
    private static void rows1x3(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        int j1 = j + L, j2 = j + 2 * L;
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        FloatVector s01 = FloatVector.fromArray(S, c0, j1);
        FloatVector s02 = FloatVector.fromArray(S, c0, j2);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector x1 = FloatVector.fromArray(S, row, j1);
            FloatVector x2 = FloatVector.fromArray(S, row, j2);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
            s01 = x1.fma(w, s01);
            s02 = x2.fma(w, s02);
        }
        s00.intoArray(c0, j);
        s01.intoArray(c0, j1);
        s02.intoArray(c0, j2);
    }

    /** 8 rows of C by 1 vector of columns from column {@code j}. */
    private static void rows8x1(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        float[] c1 = c[cRow + 1];
        int a1 = aRow + lda;
        FloatVector s10 = FloatVector.fromArray(S, c1, j);
        float[] c2 = c[cRow + 2];
        int a2 = aRow + 2 * lda;
        FloatVector s20 = FloatVector.fromArray(S, c2, j);
        float[] c3 = c[cRow + 3];
        int a3 = aRow + 3 * lda;
        FloatVector s30 = FloatVector.fromArray(S, c3, j);
        float[] c4 = c[cRow + 4];
        int a4 = aRow + 4 * lda;
        FloatVector s40 = FloatVector.fromArray(S, c4, j);
        float[] c5 = c[cRow + 5];
        int a5 = aRow + 5 * lda;
        FloatVector s50 = FloatVector.fromArray(S, c5, j);
        float[] c6 = c[cRow + 6];
        int a6 = aRow + 6 * lda;
        FloatVector s60 = FloatVector.fromArray(S, c6, j);
        float[] c7 = c[cRow + 7];
        int a7 = aRow + 7 * lda;
        FloatVector s70 = FloatVector.fromArray(S, c7, j);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
            w = FloatVector.broadcast(S, a[a1 + p]);
            s10 = x0.fma(w, s10);
            w = FloatVector.broadcast(S, a[a2 + p]);
            s20 = x0.fma(w, s20);
            w = FloatVector.broadcast(S, a[a3 + p]);
            s30 = x0.fma(w, s30);
            w = FloatVector.broadcast(S, a[a4 + p]);
            s40 = x0.fma(w, s40);
            w = FloatVector.broadcast(S, a[a5 + p]);
            s50 = x0.fma(w, s50);
            w = FloatVector.broadcast(S, a[a6 + p]);
            s60 = x0.fma(w, s60);
            w = FloatVector.broadcast(S, a[a7 + p]);
            s70 = x0.fma(w, s70);
        }
        s00.intoArray(c0, j);
        s10.intoArray(c1, j);
        s20.intoArray(c2, j);
        s30.intoArray(c3, j);
        s40.intoArray(c4, j);
        s50.intoArray(c5, j);
        s60.intoArray(c6, j);
        s70.intoArray(c7, j);
    }

    /** 4 rows of C by 1 vector of columns from column {@code j}. */
    private static void rows4x1(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        float[] c1 = c[cRow + 1];
        int a1 = aRow + lda;
        FloatVector s10 = FloatVector.fromArray(S, c1, j);
        float[] c2 = c[cRow + 2];
        int a2 = aRow + 2 * lda;
        FloatVector s20 = FloatVector.fromArray(S, c2, j);
        float[] c3 = c[cRow + 3];
        int a3 = aRow + 3 * lda;
        FloatVector s30 = FloatVector.fromArray(S, c3, j);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
            w = FloatVector.broadcast(S, a[a1 + p]);
            s10 = x0.fma(w, s10);
            w = FloatVector.broadcast(S, a[a2 + p]);
            s20 = x0.fma(w, s20);
            w = FloatVector.broadcast(S, a[a3 + p]);
            s30 = x0.fma(w, s30);
        }
        s00.intoArray(c0, j);
        s10.intoArray(c1, j);
        s20.intoArray(c2, j);
        s30.intoArray(c3, j);
    }

    /** 1 row of C by 1 vector of columns from column {@code j}. */
    private static void rows1x1(int k, int j, float[] a, int aRow, int lda, float[][] b, int bRow,
                                float[][] c, int cRow) {
        float[] c0 = c[cRow];
        int a0 = aRow;
        FloatVector s00 = FloatVector.fromArray(S, c0, j);
        for (int p = 0; p < k; p++) {
            float[] row = b[bRow + p];
            FloatVector x0 = FloatVector.fromArray(S, row, j);
            FloatVector w;
            w = FloatVector.broadcast(S, a[a0 + p]);
            s00 = x0.fma(w, s00);
        }
        s00.intoArray(c0, j);
    }
    // ---- the offset form: A, B and C in flat arrays with leading dimensions ----

    @Override
    public void multiplyAdd(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc) {
        for (int k0 = 0; k0 < k; k0 += KC) {
            int kb = Math.min(KC, k - k0);
            int bk = bOff + k0 * ldb;
            int j = 0;
            for (; j + NR <= n; j += NR) {
                int i = 0;
                for (; i + 3 < m; i += 4) {
                    flat4(kb, aOff + i * lda + k0, lda, a, b, bk + j, ldb, c, cOff + i * ldc + j, ldc);
                }
                for (; i < m; i++) {
                    flat1(kb, aOff + i * lda + k0, a, b, bk + j, ldb, c, cOff + i * ldc + j);
                }
            }
            if (j < n) {
                flatTail(m, kb, j, n, a, aOff + k0, lda, b, bk, ldb, c, cOff, ldc);
            }
        }
    }

    /** Four rows of C from {@code ci}, four vectors wide. */
    private static void flat4(int kb, int ai, int lda, float[] a, float[] b, int bi, int ldb, float[] c, int ci,
                              int ldc) {
        int c1 = ci + ldc, c2 = c1 + ldc, c3 = c2 + ldc;
        FloatVector s00 = FloatVector.fromArray(S, c, ci), s01 = FloatVector.fromArray(S, c, ci + L);
        FloatVector s02 = FloatVector.fromArray(S, c, ci + 2 * L), s03 = FloatVector.fromArray(S, c, ci + 3 * L);
        FloatVector s10 = FloatVector.fromArray(S, c, c1), s11 = FloatVector.fromArray(S, c, c1 + L);
        FloatVector s12 = FloatVector.fromArray(S, c, c1 + 2 * L), s13 = FloatVector.fromArray(S, c, c1 + 3 * L);
        FloatVector s20 = FloatVector.fromArray(S, c, c2), s21 = FloatVector.fromArray(S, c, c2 + L);
        FloatVector s22 = FloatVector.fromArray(S, c, c2 + 2 * L), s23 = FloatVector.fromArray(S, c, c2 + 3 * L);
        FloatVector s30 = FloatVector.fromArray(S, c, c3), s31 = FloatVector.fromArray(S, c, c3 + L);
        FloatVector s32 = FloatVector.fromArray(S, c, c3 + 2 * L), s33 = FloatVector.fromArray(S, c, c3 + 3 * L);
        int a1 = ai + lda, a2 = a1 + lda, a3 = a2 + lda;
        for (int p = 0; p < kb; p++) {
            int r = bi + p * ldb;
            FloatVector x0 = FloatVector.fromArray(S, b, r);
            FloatVector x1 = FloatVector.fromArray(S, b, r + L);
            FloatVector x2 = FloatVector.fromArray(S, b, r + 2 * L);
            FloatVector x3 = FloatVector.fromArray(S, b, r + 3 * L);
            FloatVector w = FloatVector.broadcast(S, a[ai + p]);
            s00 = x0.fma(w, s00);
            s01 = x1.fma(w, s01);
            s02 = x2.fma(w, s02);
            s03 = x3.fma(w, s03);
            w = FloatVector.broadcast(S, a[a1 + p]);
            s10 = x0.fma(w, s10);
            s11 = x1.fma(w, s11);
            s12 = x2.fma(w, s12);
            s13 = x3.fma(w, s13);
            w = FloatVector.broadcast(S, a[a2 + p]);
            s20 = x0.fma(w, s20);
            s21 = x1.fma(w, s21);
            s22 = x2.fma(w, s22);
            s23 = x3.fma(w, s23);
            w = FloatVector.broadcast(S, a[a3 + p]);
            s30 = x0.fma(w, s30);
            s31 = x1.fma(w, s31);
            s32 = x2.fma(w, s32);
            s33 = x3.fma(w, s33);
        }
        s00.intoArray(c, ci);
        s01.intoArray(c, ci + L);
        s02.intoArray(c, ci + 2 * L);
        s03.intoArray(c, ci + 3 * L);
        s10.intoArray(c, c1);
        s11.intoArray(c, c1 + L);
        s12.intoArray(c, c1 + 2 * L);
        s13.intoArray(c, c1 + 3 * L);
        s20.intoArray(c, c2);
        s21.intoArray(c, c2 + L);
        s22.intoArray(c, c2 + 2 * L);
        s23.intoArray(c, c2 + 3 * L);
        s30.intoArray(c, c3);
        s31.intoArray(c, c3 + L);
        s32.intoArray(c, c3 + 2 * L);
        s33.intoArray(c, c3 + 3 * L);
    }

    private static void flat1(int kb, int ai, float[] a, float[] b, int bi, int ldb, float[] c, int ci) {
        FloatVector s0 = FloatVector.fromArray(S, c, ci), s1 = FloatVector.fromArray(S, c, ci + L);
        FloatVector s2 = FloatVector.fromArray(S, c, ci + 2 * L), s3 = FloatVector.fromArray(S, c, ci + 3 * L);
        for (int p = 0; p < kb; p++) {
            int r = bi + p * ldb;
            FloatVector w = FloatVector.broadcast(S, a[ai + p]);
            s0 = FloatVector.fromArray(S, b, r).fma(w, s0);
            s1 = FloatVector.fromArray(S, b, r + L).fma(w, s1);
            s2 = FloatVector.fromArray(S, b, r + 2 * L).fma(w, s2);
            s3 = FloatVector.fromArray(S, b, r + 3 * L).fma(w, s3);
        }
        s0.intoArray(c, ci);
        s1.intoArray(c, ci + L);
        s2.intoArray(c, ci + 2 * L);
        s3.intoArray(c, ci + 3 * L);
    }

    /**
     * Columns {@code from ≤ j < n} (fewer than {@code NR}) of the offset form: copied to per-thread rows and run
     * through the row form's kernels, so that no kernel needs lane masks.
     */
    private static void flatTail(int m, int kb, int from, int n, float[] a, int aOff, int lda, float[] b, int bOff,
                                 int ldb, float[] c, int cOff, int ldc) {
        int cols = n - from;
        int width = (cols + L - 1) / L * L;
        Tail t = TAIL.get();
        float[][] tb = t.b(kb);
        float[][] tc = t.c(m);
        for (int p = 0; p < kb; p++) {
            System.arraycopy(b, bOff + p * ldb + from, tb[p], 0, cols);
        }
        for (int i = 0; i < m; i++) {
            System.arraycopy(c, cOff + i * ldc + from, tc[i], 0, cols);
        }
        strips(m, kb, width, a, aOff, lda, tb, 0, tc, 0);
        for (int i = 0; i < m; i++) {
            System.arraycopy(tc[i], 0, c, cOff + i * ldc + from, cols);
        }
    }

    // ---- depthwise 3×3 ----

    @Override
    public void depthwise3x3(float[] p, int base, int w, int len, float[] weights, int wOff, float bias,
                             float[][] taps, float[] acc) {
        FloatVector k0 = FloatVector.broadcast(S, weights[wOff]), k1 = FloatVector.broadcast(S, weights[wOff + 1]);
        FloatVector k2 = FloatVector.broadcast(S, weights[wOff + 2]), k3 = FloatVector.broadcast(S, weights[wOff + 3]);
        FloatVector k4 = FloatVector.broadcast(S, weights[wOff + 4]), k5 = FloatVector.broadcast(S, weights[wOff + 5]);
        FloatVector k6 = FloatVector.broadcast(S, weights[wOff + 6]), k7 = FloatVector.broadcast(S, weights[wOff + 7]);
        FloatVector k8 = FloatVector.broadcast(S, weights[wOff + 8]);
        FloatVector b = FloatVector.broadcast(S, bias);
        int r1 = base + w, r2 = base + 2 * w;
        if (len < L) {
            depthwise3x3Scalar(p, base, w, len, weights, wOff, bias, acc);
            return;
        }
        int q = 0;
        for (; q + L <= len; q += L) {
            FloatVector v = FloatVector.fromArray(S, p, base + q).fma(k0, b);
            v = FloatVector.fromArray(S, p, base + q + 1).fma(k1, v);
            v = FloatVector.fromArray(S, p, base + q + 2).fma(k2, v);
            v = FloatVector.fromArray(S, p, r1 + q).fma(k3, v);
            v = FloatVector.fromArray(S, p, r1 + q + 1).fma(k4, v);
            v = FloatVector.fromArray(S, p, r1 + q + 2).fma(k5, v);
            v = FloatVector.fromArray(S, p, r2 + q).fma(k6, v);
            v = FloatVector.fromArray(S, p, r2 + q + 1).fma(k7, v);
            v = FloatVector.fromArray(S, p, r2 + q + 2).fma(k8, v);
            v.intoArray(acc, q);
        }
        if (q < len) {
            // one more vector, ending at len and overlapping the last one: acc is written, not accumulated, so the
            // lanes computed twice get the same value twice, and no lane mask is needed
            q = len - L;
            FloatVector v = FloatVector.fromArray(S, p, base + q).fma(k0, b);
            v = FloatVector.fromArray(S, p, base + q + 1).fma(k1, v);
            v = FloatVector.fromArray(S, p, base + q + 2).fma(k2, v);
            v = FloatVector.fromArray(S, p, r1 + q).fma(k3, v);
            v = FloatVector.fromArray(S, p, r1 + q + 1).fma(k4, v);
            v = FloatVector.fromArray(S, p, r1 + q + 2).fma(k5, v);
            v = FloatVector.fromArray(S, p, r2 + q).fma(k6, v);
            v = FloatVector.fromArray(S, p, r2 + q + 1).fma(k7, v);
            v = FloatVector.fromArray(S, p, r2 + q + 2).fma(k8, v);
            v.intoArray(acc, q);
        }
    }

    /** The same band one element at a time (bands shorter than a vector). */
    private static void depthwise3x3Scalar(float[] p, int base, int w, int len, float[] weights, int wOff,
                                           float bias, float[] acc) {
        for (int q = 0; q < len; q++) {
            float v = bias;
            for (int i = 0; i < 3; i++) {
                for (int j = 0; j < 3; j++) {
                    v = Math.fma(weights[wOff + 3 * i + j], p[base + q + i * w + j], v);
                }
            }
            acc[q] = v;
        }
    }
}
