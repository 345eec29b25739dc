package dev.convnet.internal.jvm;

/**
 * The kernels as plain Java loops, written so that C2 auto-vectorizes them ({@link Sgemm}; the depthwise band as one
 * fused loop over 0-based tap rows). Used when the Vector API module is not loaded or is switched off
 * ({@link Vectorization}).
 *
 * <p>Thread-safety: stateless. Internal.
 */
final class ScalarKernels implements FloatKernels {
    static final ScalarKernels INSTANCE = new ScalarKernels();

    private ScalarKernels() {
    }

    @Override
    public void multiplyAddRows(int m, int k, int width, float[] a, int aOff, int lda, float[][] b, int b0,
                                float[][] c, int c0) {
        Sgemm.multiplyAddRows(m, k, width, a, aOff, lda, b, b0, c, c0);
    }

    @Override
    public void multiplyAdd(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                            float[] c, int cOff, int ldc) {
        Sgemm.multiplyAdd(m, n, k, a, aOff, lda, b, bOff, ldb, c, cOff, ldc);
    }

    /**
     * Copies the nine shifted runs of the plane to the 0-based tap rows first: C2 keeps a loop over
     * {@code p[q + offset]} scalar (it cannot prove {@code p} and {@code acc} disjoint) but vectorizes the loop over
     * 0-based rows.
     */
    @Override
    public void depthwise3x3(float[] p, int base, int w, int len, float[] weights, int wOff, float bias,
                             float[][] taps, float[] acc) {
        float[] t0 = taps[0], t1 = taps[1], t2 = taps[2], t3 = taps[3], t4 = taps[4];
        float[] t5 = taps[5], t6 = taps[6], t7 = taps[7], t8 = taps[8];
        System.arraycopy(p, base, t0, 0, len);
        System.arraycopy(p, base + 1, t1, 0, len);
        System.arraycopy(p, base + 2, t2, 0, len);
        System.arraycopy(p, base + w, t3, 0, len);
        System.arraycopy(p, base + w + 1, t4, 0, len);
        System.arraycopy(p, base + w + 2, t5, 0, len);
        System.arraycopy(p, base + 2 * w, t6, 0, len);
        System.arraycopy(p, base + 2 * w + 1, t7, 0, len);
        System.arraycopy(p, base + 2 * w + 2, t8, 0, len);
        float k0 = weights[wOff], k1 = weights[wOff + 1], k2 = weights[wOff + 2];
        float k3 = weights[wOff + 3], k4 = weights[wOff + 4], k5 = weights[wOff + 5];
        float k6 = weights[wOff + 6], k7 = weights[wOff + 7], k8 = weights[wOff + 8];
        for (int j = 0; j < len; j++) {
            float v = Math.fma(k0, t0[j], bias);
            v = Math.fma(k1, t1[j], v);
            v = Math.fma(k2, t2[j], v);
            v = Math.fma(k3, t3[j], v);
            v = Math.fma(k4, t4[j], v);
            v = Math.fma(k5, t5[j], v);
            v = Math.fma(k6, t6[j], v);
            v = Math.fma(k7, t7[j], v);
            v = Math.fma(k8, t8[j], v);
            acc[j] = v;
        }
    }

    /** Nothing to do: C2 compiles plain loops soon enough, and C1's code for them is not far behind. */
    @Override
    public long warmUp(long budgetNanos) {
        return 0;
    }

    @Override
    public String description() {
        return "scalar loops (auto-vectorized by C2)";
    }
}
