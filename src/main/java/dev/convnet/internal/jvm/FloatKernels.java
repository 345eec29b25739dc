package dev.convnet.internal.jvm;

/**
 * The inner loops of the Java backend that have two implementations: {@link ScalarKernels} (plain loops that C2
 * auto-vectorizes where it can) and {@code VectorKernels} (the JDK's incubating Vector API). {@link Vectorization}
 * picks one per JVM; the kernels ({@link ConvKernel}, {@link Depthwise}, {@link PackedGemm}, ...) reach it through
 * their {@link Parallel}.
 *
 * <p>Contract shared by the implementations: every output element is computed with the same fused multiply-adds in
 * the same order (ascending reduction index, starting from the old value of C), so both give the same bits. The
 * callers check the shapes; the kernels do not.
 *
 * <p>Thread-safety: implementations are stateless and may be called from any number of threads at once. Internal.
 */
interface FloatKernels {
    /**
     * {@code c[c0 + i][j] += Σ_p a[aOff + i·lda + p] · b[b0 + p][j]} for {@code i < m}, {@code p < k},
     * {@code j < width}; B and C given as rows, each its own array indexed from 0 and at least {@code width} long.
     */
    void multiplyAddRows(int m, int k, int width, float[] a, int aOff, int lda, float[][] b, int b0, float[][] c, int c0);

    /**
     * {@code C[m×n] += A[m×k]·B[k×n]} on row-major arrays: element (i, p) of A at {@code aOff + i·lda + p}, (p, j)
     * of B at {@code bOff + p·ldb + j}, (i, j) of C at {@code cOff + i·ldc + j}. C must not overlap A or B.
     */
    void multiplyAdd(int m, int n, int k, float[] a, int aOff, int lda, float[] b, int bOff, int ldb,
                     float[] c, int cOff, int ldc);

    /**
     * The nine-tap band of a 3×3 depthwise convolution on a plane padded vertically only (see
     * {@link Depthwise}): for {@code q < len},
     * {@code acc[q] = fma(w8, p[base + q + 2w + 2], … fma(w1, p[base + q + 1], fma(w0, p[base + q], bias)))}, taps
     * (i, j) in row-major order at {@code p[base + q + i·w + j]} with weights {@code weights[wOff + 3i + j]}.
     *
     * @param taps scratch: nine rows at least {@code len} long, which an implementation may overwrite
     */
    void depthwise3x3(float[] p, int base, int w, int len, float[] weights, int wOff, float bias, float[][] taps,
                      float[] acc);

    /**
     * Runs the kernels on small inputs until the JIT has compiled them, for at most {@code budgetNanos}; called once
     * per JVM by {@link Vectorization}, before the first real use.
     *
     * @return the nanoseconds spent
     */
    long warmUp(long budgetNanos);

    /** What runs, for logs and {@code convnet info}, e.g. {@code "Vector API, 512-bit (16 floats)"}. */
    String description();
}
