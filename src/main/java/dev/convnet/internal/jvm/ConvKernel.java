package dev.convnet.internal.jvm;

import dev.convnet.internal.kernels.LayerKernel;

import java.util.Arrays;

/**
 * Grouped, strided, dilated, padded 2-D convolution (NCHW, OIHW) as im2col + SGEMM.
 *
 * <p>For group g the output is {@code Y_g[O_g × Q] = W_g[O_g × K_d] · col[K_d × Q]} with
 * {@code K_d = C_g·kH·kW} and {@code Q = N·H_out·W_out}: the columns run over every output position
 * of every image, so small feature maps (7×7) still give long rows at batch 8. The columns are cut
 * into tiles of at most {@value #TILE} and the output channels into blocks of at most
 * {@value #BLOCK}; a task is (group, column tile, channel block) and runs on its own:
 * <ol>
 * <li>fill the block's accumulator rows (one {@code float[]} per output channel) with the bias;</li>
 * <li>for each slice of {@value #KC} reduction rows: im2col those rows for the tile into per-thread
 *     row arrays, then {@link FloatKernels#multiplyAddRows} them into the accumulators;</li>
 * <li>copy the accumulator rows out to the NCHW output.</li>
 * </ol>
 *
 * <p>Why these sizes (measured on Zen 4, 32 KiB L1D and 1 MiB L2 per core): the 4×4 micro-kernel
 * streams four B rows and four accumulator rows per pass, {@code 8·TILE·4} bytes = 25 KiB at 784
 * columns, which stays in L1; longer rows amortize C2's loop pre/post code (256 columns: ~74,
 * 512: ~86, 784: ~93, 1024: ~68 GFLOP/s per core, the last spilling out of L1). A reduction slice
 * of {@value #KC} rows of the tile is 400 KiB and the {@value #BLOCK} accumulator rows 200 KiB,
 * together inside L2, so every micro-kernel pass after the first over a slice reads from L2.
 * Channel blocks are also split further when there are too few tasks for the threads.
 *
 * <p>Rows as separate arrays (not offsets into one scratch array) are what lets C2 vectorize the
 * scalar micro-kernel; see {@link Sgemm} (the Vector API kernels need no such proof). Re-running
 * im2col per channel block costs {@code 1/BLOCK} of the multiply work at most.
 *
 * <p>Tiles of fewer than {@value #NARROW} columns with more channels than columns (7×7 maps at
 * batch 1) compute the transposed product instead, so the vectorized rows run over channels; see
 * {@link #transposedTask}.
 *
 * <p>Depthwise convolutions (one input and one output channel per group) take a direct kernel,
 * {@link Depthwise}, when their stride is 1.
 *
 * <p>Thread-safety: immutable; scratch arrays are per thread. Internal.
 */
final class ConvKernel implements LayerKernel {
    /** Maximum columns per tile (see the class comment). */
    static final int TILE = 784;
    /** Reduction rows per im2col slice. */
    static final int KC = 128;
    /** Maximum output channels per task. */
    static final int BLOCK = 64;
    /** Tiles narrower than this take the transposed product when there are more channels than columns. */
    static final int NARROW = 128;
    /** Maximum output channels per task in the transposed product (the row length there). */
    static final int BLOCK_T = 256;

    private static final ThreadLocal<Scratch> SCRATCH = ThreadLocal.withInitial(Scratch::new);

    private final Parallel parallel;
    private final int inC;
    private final int inH;
    private final int inW;
    private final int outC;
    private final int outH;
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
    /** Stride 1 and output planes the size of the input's: each im2col row is one shifted copy per image. */
    private final boolean sameSize;
    /**
     * Stride 1, no padding, output planes smaller than the input's: the columns run over {@code outH × inW} "wide"
     * positions per image, each im2col row is one copy per image, and the {@code inW − outW} columns per output row
     * that lie past the output's edge are computed and dropped.
     */
    private final boolean wide;
    /** Columns per image: {@code positions}, or {@code outH·inW} when {@link #wide}. */
    private final int span;
    private final int tile;
    private final int tiles;
    private final int channelBlock;
    private final int channelBlocks;
    private final int tasks;
    private final int columns;
    private final Depthwise depthwise;
    /** Transposed product (channels along the rows); null otherwise. */
    private final float[][][] transposedWeights;

    /** Geometry as in {@code Conv2d}; weights OIHW (already flipped where needed), bias or null. */
    ConvKernel(Parallel parallel, int batch, int inC, int inH, int inW, int outC, int outH, int outW, int groups,
               int kh, int kw, int sh, int sw, int dh, int dw, int padTop, int padLeft, float[] weights, float[] bias) {
        this.parallel = parallel;
        this.inC = inC;
        this.inH = inH;
        this.inW = inW;
        this.outC = outC;
        this.outH = outH;
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
        this.sameSize = !pointwise && sh == 1 && sw == 1 && outH == inH && outW == inW;
        this.wide = !pointwise && !sameSize && sh == 1 && sw == 1 && padTop == 0 && padLeft == 0
                && outH == inH - (kh - 1) * dh && outW == inW - (kw - 1) * dw && outW < inW;
        this.span = wide ? outH * inW : positions;
        this.columns = batch * span;
        // balanced tiles of at most TILE columns
        int t = Math.max(1, (columns + TILE - 1) / TILE);
        this.tile = (columns + t - 1) / t;
        this.tiles = (columns + tile - 1) / tile;
        boolean transposed = tile < NARROW && groupOut >= 64 && groupOut > tile;
        int maxBlock = transposed ? BLOCK_T : BLOCK;
        int blocks = (groupOut + maxBlock - 1) / maxBlock;
        // more tasks than threads, but in the transposed product only as many as needed: its rows are the channels
        int wanted = transposed ? parallel.threads() : 2 * parallel.threads();
        while (groups * tiles * blocks < wanted && (groupOut + 2 * blocks - 1) / (2 * blocks) >= 8) {
            blocks *= 2;
        }
        int block = (groupOut + blocks - 1) / blocks;
        if (block < groupOut) {
            block = (block + 3) & ~3; // whole 4-row micro-kernel passes
        }
        this.channelBlock = block;
        this.channelBlocks = (groupOut + block - 1) / block;
        this.transposedWeights = transposed ? transpose(weights) : null;
        this.tasks = groups * tiles * channelBlocks;
        this.depthwise = groupIn == 1 && groupOut == 1 && sh == 1 && sw == 1
                ? new Depthwise(parallel, batch, inC, inH, inW, outH, outW, kh, kw, dh, dw, padTop, padLeft, weights, bias)
                : null;
    }

    @Override
    public void forward(float[] x, float[] y) {
        if (depthwise != null) {
            depthwise.forward(x, y);
            return;
        }
        parallel.forEach(tasks, t -> task(t, x, y));
    }

    /** Per (group, channel block): rows k of the block's weights across its channels, {@code [k][z]}. */
    private float[][][] transpose(float[] w) {
        float[][][] out = new float[groups * channelBlocks][][];
        for (int g = 0; g < groups; g++) {
            for (int b = 0; b < channelBlocks; b++) {
                int z0 = g * groupOut + b * channelBlock;
                int zn = Math.min(channelBlock, groupOut - b * channelBlock);
                float[][] rows = new float[reduction][zn];
                for (int z = 0; z < zn; z++) {
                    for (int k = 0; k < reduction; k++) {
                        rows[k][z] = w[(z0 + z) * reduction + k];
                    }
                }
                out[g * channelBlocks + b] = rows;
            }
        }
        return out;
    }

    private void task(int t, float[] x, float[] y) {
        if (transposedWeights != null) {
            transposedTask(t, x, y);
            return;
        }
        int blockIndex = t % channelBlocks;
        t /= channelBlocks;
        int tileIndex = t % tiles;
        int g = t / tiles;
        int z0 = g * groupOut + blockIndex * channelBlock;
        int zn = Math.min(channelBlock, groupOut - blockIndex * channelBlock);
        int q0 = tileIndex * tile;
        int width = Math.min(tile, columns - q0);
        Scratch s = SCRATCH.get();
        float[][] acc = s.acc(zn, width);
        int kc = Math.min(KC, reduction);
        float[][] col = s.col(kc, width);
        for (int r = 0; r < zn; r++) {
            Arrays.fill(acc[r], 0, width, bias == null ? 0f : bias[z0 + r]);
        }
        for (int k0 = 0; k0 < reduction; k0 += kc) {
            int kb = Math.min(kc, reduction - k0);
            im2col(x, g, q0, width, k0, kb, col);
            parallel.kernels().multiplyAddRows(zn, kb, width, weights, z0 * reduction + k0, reduction, col, 0, acc, 0);
        }
        // scatter the accumulator rows to NCHW, one contiguous run per image (per output row when wide)
        int n = q0 / span;
        int p = q0 - n * span;
        for (int done = 0; done < width; ) {
            int len = Math.min(span - p, width - done);
            for (int r = 0; r < zn; r++) {
                int out = (n * outC + z0 + r) * positions;
                if (!wide) {
                    System.arraycopy(acc[r], done, y, out + p, len);
                    continue;
                }
                for (int oy = p / inW; oy * inW < p + len; oy++) {
                    int from = Math.max(p, oy * inW);
                    int to = Math.min(p + len, oy * inW + outW);
                    if (from < to) {
                        System.arraycopy(acc[r], done + from - p, y, out + oy * outW + from - oy * inW, to - from);
                    }
                }
            }
            done += len;
            p = 0;
            n++;
        }
    }

    /**
     * The same task with the roles of the operands swapped, for few columns and many channels
     * (7×7 maps at batch 1: 49 columns, 512 channels): {@code Y_bᵀ[Q_t × O_b] = colᵀ · W_bᵀ}, so the
     * micro-kernel's rows run over up to {@value #BLOCK_T} output channels instead of 49 positions
     * (measured 74 against 34 GFLOP/s per core). The im2col slice is transposed into a flat
     * {@code [column][k]} array that provides the scalars; the weight rows were transposed once at
     * construction; the result is scattered back to NCHW with stride {@code positions}.
     */
    private void transposedTask(int t, float[] x, float[] y) {
        int blockIndex = t % channelBlocks;
        t /= channelBlocks;
        int tileIndex = t % tiles;
        int g = t / tiles;
        int z0 = g * groupOut + blockIndex * channelBlock;
        int zn = Math.min(channelBlock, groupOut - blockIndex * channelBlock);
        float[][] w = transposedWeights[g * channelBlocks + blockIndex];
        int q0 = tileIndex * tile;
        int width = Math.min(tile, columns - q0);
        Scratch s = SCRATCH.get();
        float[][] acc = s.acc(width, zn);
        int kc = Math.min(KC, reduction);
        float[][] col = s.col(kc, width);
        float[] patches = s.flat(kc * width);
        for (int q = 0; q < width; q++) {
            if (bias == null) {
                Arrays.fill(acc[q], 0, zn, 0f);
            } else {
                System.arraycopy(bias, z0, acc[q], 0, zn);
            }
        }
        for (int k0 = 0; k0 < reduction; k0 += kc) {
            int kb = Math.min(kc, reduction - k0);
            im2col(x, g, q0, width, k0, kb, col);
            for (int r = 0; r < kb; r++) {
                float[] row = col[r];
                for (int q = 0; q < width; q++) {
                    patches[q * kb + r] = row[q];
                }
            }
            parallel.kernels().multiplyAddRows(width, kb, zn, patches, 0, kb, w, k0, acc, 0);
        }
        int n = q0 / span;
        int p = q0 - n * span;
        for (int q = 0; q < width; q++) {
            float[] row = acc[q];
            int oy = wide ? p / inW : 0;
            int ox = wide ? p - oy * inW : p;
            if (ox < (wide ? outW : positions)) {
                int base = (n * outC + z0) * positions + oy * outW + ox;
                for (int z = 0; z < zn; z++) {
                    y[base + z * positions] = row[z];
                }
            }
            if (++p == span) {
                p = 0;
                n++;
            }
        }
    }

    /**
     * Fills {@code col[r − r0][t]}, for reduction rows {@code r0 ≤ r < r0 + rows}
     * (r = (c·kH + i)·kW + j) and tile columns {@code t < width}, with the input under kernel tap
     * (c, i, j) of group g at output column {@code q0 + t} (column = image·positions + position).
     */
    private void im2col(float[] x, int g, int q0, int width, int r0, int rows, float[][] col) {
        int plane = inH * inW;
        int taps = kh * kw;
        int n0 = q0 / span;
        int p0 = q0 - n0 * span;
        for (int r = r0; r < r0 + rows; r++) {
            float[] dst = col[r - r0];
            int c = r / taps;
            int i = (r - c * taps) / kw;
            int j = r - c * taps - i * kw;
            int channel = g * groupIn + c;
            if (pointwise) {
                int n = n0;
                int p = p0;
                for (int t = 0; t < width; ) {
                    int len = Math.min(positions - p, width - t);
                    System.arraycopy(x, (n * inC + channel) * plane + p, dst, t, len);
                    t += len;
                    p = 0;
                    n++;
                }
                continue;
            }
            int offX = j * dw - padLeft;
            if (wide) {
                wideRow(x, channel, n0, p0, width, i * dh * inW + j * dw, dst);
                continue;
            }
            if (sameSize) {
                shiftedRow(x, channel, n0, p0, width, (i * dh - padTop) * inW + offX, offX, dst);
                continue;
            }
            // output columns ox with 0 ≤ ox·sw + offX < inW
            int validLo = Math.max(0, Math.ceilDiv(-offX, sw));
            int validHi = Math.floorDiv(inW - 1 - offX, sw) + 1;
            int n = n0;
            int oy = p0 / outW;
            int ox = p0 - oy * outW;
            int t = 0;
            while (t < width) {
                int len = Math.min(outW - ox, width - t);
                int iy = oy * sh - padTop + i * dh;
                int lo = Math.max(ox, validLo);
                int hi = Math.min(ox + len, validHi);
                if (iy < 0 || iy >= inH || hi <= lo) {
                    Arrays.fill(dst, t, t + len, 0f);
                } else {
                    Arrays.fill(dst, t, t + (lo - ox), 0f);
                    int src = (n * inC + channel) * plane + iy * inW + offX;
                    int d = t + (lo - ox);
                    if (sw == 1) {
                        System.arraycopy(x, src + lo, dst, d, hi - lo);
                    } else {
                        for (int q = lo; q < hi; q++) {
                            dst[d++] = x[src + q * sw];
                        }
                    }
                    Arrays.fill(dst, t + (hi - ox), t + len, 0f);
                }
                t += len;
                ox = 0;
                if (++oy == outH) {
                    oy = 0;
                    n++;
                }
            }
        }
    }

    /**
     * One im2col row when the output plane is the input plane's size at stride 1: output position q of an image reads
     * input element {@code q + shift} of its channel plane ({@code shift = offY·W + offX}), so each image's part of
     * the row is one copy, with zeros where {@code q + shift} leaves the plane (rows above or below it) and, per
     * output row, at the {@code |offX|} columns where {@code ox + offX} leaves {@code [0, W)} (the copy took the
     * neighbouring row's elements there). Small planes (14×14: 14 copies of 14 per row otherwise) gain most.
     */
    private void shiftedRow(float[] x, int channel, int n0, int p0, int width, int shift, int offX, float[] dst) {
        int plane = positions;
        int xLo = offX < 0 ? 0 : Math.max(0, inW - offX);
        int xHi = offX < 0 ? Math.min(inW, -offX) : inW;
        int n = n0;
        int p = p0;
        for (int t = 0; t < width; ) {
            int len = Math.min(plane - p, width - t);
            int lo = Math.min(p + len, Math.max(p, -shift));
            int hi = Math.max(lo, Math.min(p + len, plane - shift));
            Arrays.fill(dst, t, t + (lo - p), 0f);
            if (hi > lo) {
                System.arraycopy(x, (n * inC + channel) * plane + lo + shift, dst, t + (lo - p), hi - lo);
            }
            Arrays.fill(dst, t + (hi - p), t + len, 0f);
            if (offX != 0) {
                for (int oy = p / inW; oy * inW < p + len; oy++) {
                    int from = Math.max(p, oy * inW + xLo);
                    int to = Math.min(p + len, oy * inW + xHi);
                    if (from < to) {
                        Arrays.fill(dst, t + (from - p), t + (to - p), 0f);
                    }
                }
            }
            t += len;
            p = 0;
            n++;
        }
    }

    /**
     * One im2col row in the {@link #wide} column space: wide position {@code q = oy·W + ox} of an image reads input
     * element {@code q + offset} of its channel plane, so each image's part of the row is one copy. Positions past an
     * output row's edge read the next input row (or, at the very end, past the plane); they are dropped by the
     * scatter, and only the end of the input array is guarded (zeros there).
     */
    private void wideRow(float[] x, int channel, int n0, int p0, int width, int offset, float[] dst) {
        int plane = inH * inW;
        int n = n0;
        int p = p0;
        for (int t = 0; t < width; ) {
            int len = Math.min(span - p, width - t);
            int src = (n * inC + channel) * plane + p + offset;
            int avail = Math.max(0, Math.min(len, x.length - src));
            if (avail > 0) {
                System.arraycopy(x, src, dst, t, avail);
            }
            Arrays.fill(dst, t + avail, t + len, 0f);
            t += len;
            p = 0;
            n++;
        }
    }

    /** Per-thread row arrays, grown on demand and kept for the thread's lifetime. */
    private static final class Scratch {
        private float[][] col = new float[0][];
        private float[][] acc = new float[0][];
        private float[] flat = new float[0];

        float[] flat(int size) {
            if (flat.length < size) {
                flat = new float[size];
            }
            return flat;
        }

        float[][] col(int rows, int width) {
            col = ensure(col, rows, width);
            return col;
        }

        float[][] acc(int rows, int width) {
            acc = ensure(acc, rows, width);
            return acc;
        }

        private static float[][] ensure(float[][] a, int rows, int width) {
            if (a.length >= rows && (rows == 0 || a[0].length >= width)) {
                return a;
            }
            int w = Math.max(width, a.length == 0 ? 0 : a[0].length);
            float[][] grown = new float[Math.max(rows, a.length)][];
            for (int r = 0; r < grown.length; r++) {
                grown[r] = new float[w];
            }
            return grown;
        }
    }
}
