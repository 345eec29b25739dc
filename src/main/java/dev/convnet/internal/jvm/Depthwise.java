package dev.convnet.internal.jvm;

import java.util.Arrays;

/**
 * Direct depthwise convolution, stride 1 (one input and one output channel per group; NCHW, any
 * kernel size, dilation and padding).
 *
 * <p>Per channel plane the input is first copied into a zero-padded plane of
 * {@code H_p × W_p} ({@code W_p = W_out + (kW − 1)·dW}). In that plane, with the output also laid
 * out {@code W_p} wide, tap (i, j) of output element {@code oy·W_p + ox} sits at the constant
 * distance {@code i·dH·W_p + j·dW}, so for a band of output rows each tap's operand is one
 * contiguous run of the padded plane: one {@link System#arraycopy} per tap and band into a row
 * array indexed from 0. The band is then the 1-row {@link FloatKernels#multiplyAddRows} of its
 * {@code kH·kW} tap rows, which C2 vectorizes, and only the {@code W_out} valid columns of each
 * output row are copied out ({@code W_p − W_out} columns per row are computed and dropped).
 *
 * <p>Why the copies: C2 (JDK 25) keeps {@code acc[q] += w·plane[q + offset]} scalar because it
 * cannot prove the two arrays disjoint (~11 GFLOP/s per core), while 0-based rows vectorize; and
 * per-output-row tap rows are too short (56 floats: ~19 GFLOP/s) to amortize the vector loop's
 * pre- and post-loops. Bands of about {@value #BAND} columns (~50 GFLOP/s per core for nine
 * taps) keep the nine tap rows and the accumulator (~18 KiB) in L1.
 *
 * <p>3×3 kernels with stride, dilation and padding 1 (the common case) take {@link #same3x3}
 * instead: the plane is padded vertically only, so bands are W wide like the output (one copy in,
 * one copy out per band instead of one per row), the nine taps are one fused loop with a single
 * store, and the two edge columns per row are recomputed with zeros in place of the neighbours.
 *
 * <p>Tasks are runs of whole planes (image, channel), about eight per thread.
 *
 * <p>Thread-safety: immutable; scratch is per thread. Internal.
 */
final class Depthwise {
    /** Target columns per band. */
    static final int BAND = 512;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private final Parallel parallel;
    private final int channels;
    private final int inH;
    private final int inW;
    private final int outH;
    private final int outW;
    private final int kh;
    private final int kw;
    private final int dh;
    private final int dw;
    private final int padTop;
    private final int padLeft;
    private final float[] weights;
    private final float[] bias;
    private final int planes;
    private final int perTask;
    private final int tasks;
    private final int paddedH;
    private final int paddedW;
    private final int bandRows;
    /** 3×3, stride and dilation 1, padding 1 on every side: {@link #same3x3}. */
    private final boolean same3x3;

    Depthwise(Parallel parallel, int batch, int channels, int inH, int inW, int outH, int outW, int kh, int kw,
              int dh, int dw, int padTop, int padLeft, float[] weights, float[] bias) {
        this.parallel = parallel;
        this.channels = channels;
        this.inH = inH;
        this.inW = inW;
        this.outH = outH;
        this.outW = outW;
        this.kh = kh;
        this.kw = kw;
        this.dh = dh;
        this.dw = dw;
        this.padTop = padTop;
        this.padLeft = padLeft;
        this.weights = weights;
        this.bias = bias;
        this.planes = batch * channels;
        int wanted = 8 * parallel.threads();
        this.perTask = Math.max(1, (planes + wanted - 1) / wanted);
        this.tasks = (planes + perTask - 1) / perTask;
        this.paddedH = outH + (kh - 1) * dh;
        this.paddedW = outW + (kw - 1) * dw;
        this.same3x3 = kh == 3 && kw == 3 && dh == 1 && dw == 1 && padTop == 1 && padLeft == 1
                && outH == inH && outW == inW && inW >= 2;
        this.bandRows = same3x3 ? Math.max(1, Math.min(outH, BAND / outW))
                : Math.max(1, Math.min(outH, BAND / paddedW));
    }

    void forward(float[] x, float[] y) {
        parallel.forEach(tasks, t -> {
            Scratch s = SCRATCH.get();
            if (same3x3) {
                s.ensure((inH + 2) * inW + 2, 9, bandRows * outW);
            } else {
                s.ensure(paddedH * paddedW, kh * kw, (bandRows - 1) * paddedW + outW);
            }
            for (int plane = t * perTask; plane < Math.min(planes, (t + 1) * perTask); plane++) {
                plane(x, y, plane, s);
            }
        });
    }

    private void plane(float[] x, float[] y, int plane, Scratch s) {
        int c = plane % channels;
        int xp = plane * inH * inW;
        int yp = plane * outH * outW;
        if (same3x3) {
            same3x3(x, xp, y, yp, c, s);
            return;
        }
        // padded plane: row py holds input row py − padTop, column px input column px − padLeft
        float[] padded = s.padded;
        int colLo = Math.min(paddedW, padLeft);
        int colHi = Math.max(colLo, Math.min(paddedW, padLeft + inW));
        for (int py = 0; py < paddedH; py++) {
            int row = py * paddedW;
            int iy = py - padTop;
            if (iy < 0 || iy >= inH || colHi == colLo) {
                Arrays.fill(padded, row, row + paddedW, 0f);
                continue;
            }
            Arrays.fill(padded, row, row + colLo, 0f);
            System.arraycopy(x, xp + iy * inW + colLo - padLeft, padded, row + colLo, colHi - colLo);
            Arrays.fill(padded, row + colHi, row + paddedW, 0f);
        }
        int taps = kh * kw;
        float[][] tap = s.taps;
        float[] acc = s.acc[0];
        float b = bias == null ? 0f : bias[c];
        for (int oy0 = 0; oy0 < outH; oy0 += bandRows) {
            int rows = Math.min(bandRows, outH - oy0);
            int len = (rows - 1) * paddedW + outW;
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    System.arraycopy(padded, (oy0 + i * dh) * paddedW + j * dw, tap[i * kw + j], 0, len);
                }
            }
            Arrays.fill(acc, 0, len, b);
            parallel.kernels().multiplyAddRows(1, taps, len, weights, c * taps, taps, tap, 0, s.acc, 0);
            for (int r = 0; r < rows; r++) {
                System.arraycopy(acc, r * paddedW, y, yp + (oy0 + r) * outW, outW);
            }
        }
    }

    /**
     * 3×3, stride and dilation 1, padding 1 (the "same" depthwise layer of MobileNet-style
     * networks). The plane is padded vertically only: {@code P = [0, zero row, input plane, zero
     * row, 0]}, built with one copy, so output position {@code q = oy·W + ox} finds tap (i, j) at
     * {@code P[q + i·W + j]} and a band of output rows is W-wide like the output itself. The band's nine
     * FMAs per output are one fused loop with a single store ({@link FloatKernels#depthwise3x3}: the
     * scalar kernels first copy the nine tap runs to 0-based rows, see the class comment), and the band
     * goes out in one copy. At the left
     * and right edges the horizontal neighbour taps read the neighbouring row's last or first
     * element instead of the zero padding; those two columns per row are recomputed with the same
     * operation order and zeros in place, so results are those of the padded computation bit for bit.
     */
    private void same3x3(float[] x, int xp, float[] y, int yp, int c, Scratch s) {
        int w = inW;
        int h = inH;
        float[] p = s.padded;
        Arrays.fill(p, 0, w + 1, 0f);
        System.arraycopy(x, xp, p, w + 1, h * w);
        Arrays.fill(p, (h + 1) * w + 1, (h + 2) * w + 2, 0f);
        float[] acc = s.acc[0];
        int w0 = c * 9;
        float k0 = weights[w0], k1 = weights[w0 + 1], k2 = weights[w0 + 2];
        float k3 = weights[w0 + 3], k4 = weights[w0 + 4], k5 = weights[w0 + 5];
        float k6 = weights[w0 + 6], k7 = weights[w0 + 7], k8 = weights[w0 + 8];
        float b = bias == null ? 0f : bias[c];
        FloatKernels kernels = parallel.kernels();
        for (int oy0 = 0; oy0 < h; oy0 += bandRows) {
            int rows = Math.min(bandRows, h - oy0);
            int len = rows * w;
            int base = oy0 * w;
            kernels.depthwise3x3(p, base, w, len, weights, w0, b, s.taps, acc);
            // tap (i, j) of band position l is p[base + l + i·w + j]
            int r0 = base, r1 = base + w, r2 = base + 2 * w;
            for (int r = 0; r < rows; r++) {
                int l = r * w;
                float v = Math.fma(k0, 0f, b);
                v = Math.fma(k1, p[r0 + l + 1], v);
                v = Math.fma(k2, p[r0 + l + 2], v);
                v = Math.fma(k3, 0f, v);
                v = Math.fma(k4, p[r1 + l + 1], v);
                v = Math.fma(k5, p[r1 + l + 2], v);
                v = Math.fma(k6, 0f, v);
                v = Math.fma(k7, p[r2 + l + 1], v);
                v = Math.fma(k8, p[r2 + l + 2], v);
                acc[l] = v;
                int e = l + w - 1;
                v = Math.fma(k0, p[r0 + e], b);
                v = Math.fma(k1, p[r0 + e + 1], v);
                v = Math.fma(k2, 0f, v);
                v = Math.fma(k3, p[r1 + e], v);
                v = Math.fma(k4, p[r1 + e + 1], v);
                v = Math.fma(k5, 0f, v);
                v = Math.fma(k6, p[r2 + e], v);
                v = Math.fma(k7, p[r2 + e + 1], v);
                v = Math.fma(k8, 0f, v);
                acc[e] = v;
            }
            System.arraycopy(acc, 0, y, yp + base, len);
        }
    }

    /** Per-thread arrays, grown on demand. */
    private static final class Scratch {
        float[] padded = new float[0];
        float[][] taps = new float[0][];
        float[][] acc = {new float[0]};

        void ensure(int plane, int tapCount, int band) {
            if (padded.length < plane) {
                padded = new float[plane];
            }
            if (acc[0].length < band) {
                acc = new float[][] {new float[band]};
                taps = new float[0][];
            }
            if (taps.length < tapCount) {
                taps = new float[tapCount][];
                for (int t = 0; t < tapCount; t++) {
                    taps[t] = new float[acc[0].length];
                }
            }
        }
    }
}
