package dev.convnet.internal.jvm;

import dev.convnet.internal.kernels.LayerKernel;

import java.util.Arrays;

/**
 * Grouped, strided, dilated, padded 2-D convolution (NCHW, OIHW) as im2col + SGEMM.
 *
 * <p>For each image n and group g the output is {@code Y_g[O_g × P] = W_g[O_g × K_d] · col[K_d × P]}
 * with {@code P = H_out·W_out} and {@code K_d = C_g·kH·kW}. The P columns are cut into tiles
 * of {@link Sgemm#NC}; a task builds the im2col tile for its columns in a per-thread scratch array
 * and multiplies it into the output, which it first fills with the bias. Tasks are
 * (image, group, column tile, output-channel block) and run in parallel. A 1×1 convolution with
 * stride 1 and no padding multiplies the input directly (no im2col). Internal.
 *
 * <p>Thread-safety: immutable; scratch arrays are per thread.
 */
final class ConvKernel implements LayerKernel {
    private static final ThreadLocal<float[]> SCRATCH = ThreadLocal.withInitial(() -> new float[0]);

    private final Parallel parallel;
    private final int batch;
    private final int inC;
    private final int inH;
    private final int inW;
    private final int outC;
    private final int outW;
    private final int groups;
    private final int kh;
    private final int kw;
    private final int sh;
    private final int sw;
    private final int dh;
    private final int dw;
    private final int padTop;
    private final int padLeft;
    private final float[] weights;
    private final float[] bias;
    private final int groupIn;
    private final int groupOut;
    private final int positions;
    private final int reduction;
    private final boolean pointwise;
    private final int tile;
    private final int tiles;
    private final int channelBlock;
    private final int channelBlocks;
    private final int tasks;

    /** Geometry as in {@code Conv2d}; weights OIHW (already flipped where needed), bias or null. */
    ConvKernel(Parallel parallel, int batch, int inC, int inH, int inW, int outC, int outH, int outW, int groups,
               int kh, int kw, int sh, int sw, int dh, int dw, int padTop, int padLeft, float[] weights, float[] bias) {
        this.parallel = parallel;
        this.batch = batch;
        this.inC = inC;
        this.inH = inH;
        this.inW = inW;
        this.outC = outC;
        this.outW = outW;
        this.groups = groups;
        this.kh = kh;
        this.kw = kw;
        this.sh = sh;
        this.sw = sw;
        this.dh = dh;
        this.dw = dw;
        this.padTop = padTop;
        this.padLeft = padLeft;
        this.weights = weights;
        this.bias = bias;
        this.groupIn = inC / groups;
        this.groupOut = outC / groups;
        this.positions = outH * outW;
        this.reduction = groupIn * kh * kw;
        this.pointwise = kh == 1 && kw == 1 && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0
                && outH == inH && outW == inW;
        this.tile = Math.min(positions, Sgemm.NC);
        this.tiles = (positions + tile - 1) / tile;
        int base = batch * groups * tiles;
        int wanted = 4 * parallel.threads();
        int blocks = 1;
        if (base < wanted && groupOut >= 32) {
            blocks = Math.min((wanted + base - 1) / base, groupOut / 16);
        }
        this.channelBlock = (groupOut + blocks - 1) / blocks;
        this.channelBlocks = (groupOut + channelBlock - 1) / channelBlock;
        this.tasks = base * channelBlocks;
    }

    @Override
    public void forward(float[] x, float[] y) {
        parallel.forEach(tasks, t -> task(t, x, y));
    }

    private void task(int t, float[] x, float[] y) {
        int block = t % channelBlocks;
        t /= channelBlocks;
        int tileIndex = t % tiles;
        t /= tiles;
        int g = t % groups;
        int n = t / groups;
        int z0 = g * groupOut + block * channelBlock;
        int zn = Math.min(channelBlock, groupOut - block * channelBlock);
        int p0 = tileIndex * tile;
        int width = Math.min(tile, positions - p0);
        for (int z = z0; z < z0 + zn; z++) {
            int off = (n * outC + z) * positions + p0;
            Arrays.fill(y, off, off + width, bias == null ? 0f : bias[z]);
        }
        float[] b;
        int bOff;
        int ldb;
        if (pointwise) {
            b = x;
            bOff = (n * inC + g * groupIn) * positions + p0;
            ldb = positions;
        } else {
            b = scratch(reduction * width);
            bOff = 0;
            ldb = width;
            im2col(x, n, g, p0, width, b);
        }
        Sgemm.multiplyAdd(zn, width, reduction, weights, z0 * reduction, reduction, b, bOff, ldb,
                y, (n * outC + z0) * positions + p0, positions);
    }

    private static float[] scratch(int size) {
        float[] s = SCRATCH.get();
        if (s.length < size) {
            s = new float[size];
            SCRATCH.set(s);
        }
        return s;
    }

    /** Fills col[r × width], r = (c·kH + i)·kW + j, with the input under kernel tap (c, i, j) for output columns p0…p0+width−1. */
    private void im2col(float[] x, int n, int g, int p0, int width, float[] col) {
        int plane = inH * inW;
        for (int c = 0; c < groupIn; c++) {
            int xPlane = (n * inC + g * groupIn + c) * plane;
            for (int i = 0; i < kh; i++) {
                for (int j = 0; j < kw; j++) {
                    int row = ((c * kh + i) * kw + j) * width;
                    int offX = j * dw - padLeft;
                    // output columns ox with 0 ≤ ox·sw + offX < inW
                    int validLo = Math.max(0, Math.ceilDiv(-offX, sw));
                    int validHi = Math.floorDiv(inW - 1 - offX, sw) + 1;
                    int t = 0;
                    int oy = p0 / outW;
                    int ox = p0 - oy * outW;
                    while (t < width) {
                        int len = Math.min(outW - ox, width - t);
                        int iy = oy * sh - padTop + i * dh;
                        int dst = row + t;
                        if (iy < 0 || iy >= inH) {
                            Arrays.fill(col, dst, dst + len, 0f);
                        } else {
                            int lo = Math.max(ox, validLo);
                            int hi = Math.min(ox + len, validHi);
                            if (hi <= lo) {
                                Arrays.fill(col, dst, dst + len, 0f);
                            } else {
                                Arrays.fill(col, dst, dst + (lo - ox), 0f);
                                int src = xPlane + iy * inW + offX;
                                int d = dst + (lo - ox);
                                if (sw == 1) {
                                    System.arraycopy(x, src + lo, col, d, hi - lo);
                                } else {
                                    for (int q = lo; q < hi; q++) {
                                        col[d++] = x[src + q * sw];
                                    }
                                }
                                Arrays.fill(col, dst + (hi - ox), dst + len, 0f);
                            }
                        }
                        t += len;
                        ox = 0;
                        oy++;
                    }
                }
            }
        }
    }
}
