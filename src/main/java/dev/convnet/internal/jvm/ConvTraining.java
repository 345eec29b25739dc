package dev.convnet.internal.jvm;

import dev.convnet.internal.train.ConvGeometry;
import dev.convnet.internal.train.GradKernel;

import java.util.Arrays;

/**
 * Training kernel of Conv2d and Conv1d (a 1-D convolution is a 2-D one of height 1; a flipped kernel is flipped
 * into a copy before use and its gradient flipped back). With {@code K_g = C_g·kH·kW} reduction rows and
 * {@code Q = N·H_out·W_out} columns, group g computes:
 * <ul>
 *   <li>forward: {@code Y_g = W_g·col(X)}, by the inference {@link ConvKernel} built on the current weights
 *       (tiling, depthwise and transposed fast paths included);</li>
 *   <li>input gradient: {@code ∂col = W_gᵀ·∂Y_g} (SGEMM over the O_g output channels), then col2im adds each
 *       column of {@code ∂col} back to the input positions it was read from. Tasks are (group, block of images,
 *       block of input channels), so each owns a disjoint region of {@code ∂X} and no two tasks add to the same
 *       element; the images of a block make up at most {@value ConvKernel#TILE} columns (larger images are cut into
 *       column tiles that the task runs in turn), and reduction rows go in slices of {@value #ROW_SLICE} so that a
 *       tile's {@code ∂col} slice and {@code ∂Y} rows stay in L2;</li>
 *   <li>weight gradient: {@code ∂W_g = ∂Y_g·col(X)ᵀ} with the vectorized rows running over the reduction rows:
 *       per image (or column tile of an image) the transposed im2col, one row of taps per output position
 *       ({@link #patches}), and SGEMM reading {@code ∂Y} in place. Images are split into as many contiguous chunks as needed to
 *       occupy the threads, each summing into its own partial gradient; the partials are then added in chunk order
 *       (deterministic for a given thread count). Reduction rows beyond {@value #WEIGHT_COLUMNS} are split into
 *       independent column blocks;</li>
 *   <li>bias gradient: {@code ∂b_z = Σ ∂Y[n, z, ·]}, per channel, four float partial sums per plane added in double.</li>
 * </ul>
 * Weight and bias gradients are sums over all {@code Q} columns in float with FMA; their error is within the usual
 * {@code γ_Q·Σ|t|} of any summation order.
 *
 * <p>Thread-safety: not thread-safe (it owns its gradient buffers).
 */
final class ConvTraining implements GradKernel {
    /** Reduction rows of {@code ∂col} computed and scattered at a time. */
    static final int ROW_SLICE = 128;
    /** Maximum reduction rows of one weight-gradient task (the width of its vectorized rows). */
    static final int WEIGHT_COLUMNS = 512;

    private static final int DY_ROWS = 1;
    private static final int DCOL = 2;
    private static final int PATCHES = 3;
    private static final int DW_ACC = 4;

    private final Parallel parallel;
    private final ConvGeometry g;
    private final int cg;
    private final int og;
    private final int taps;
    private final int reduction;
    private final int positions;
    private final int tile;
    private final float[] flippedWeights;
    private final float[] transposedWeights;
    // input gradient: blocks of whole images (or one image in column tiles), blocks of input channels
    private final int imagesPerBlock;
    private final int imageBlocks;
    private final int tilesPerImage;
    private final int channelsPerBlock;
    private final int channelBlocks;
    // weight gradient: chunks of images, blocks of reduction rows
    private final int chunks;
    private final int weightBlock;
    private final int weightBlocks;
    private final float[][] partials;
    /** Per reduction row r = (c, i, j): the input offset of its tap from a window's first element, and its parts. */
    private final int[] tapOffset;
    private final int[] tapChannel;
    private final int[] tapY;
    private final int[] tapX;

    ConvTraining(Parallel parallel, ConvGeometry g) {
        this.parallel = parallel;
        this.g = g;
        this.cg = g.groupIn();
        this.og = g.groupOut();
        this.taps = g.kh() * g.kw();
        this.reduction = g.reduction();
        this.positions = g.positions();
        int threads = parallel.threads();
        int weights = g.outC() * reduction;
        this.flippedWeights = g.flipped() ? new float[weights] : null;
        this.transposedWeights = new float[weights];

        this.tilesPerImage = (positions + ConvKernel.TILE - 1) / ConvKernel.TILE;
        this.tile = (positions + tilesPerImage - 1) / tilesPerImage;
        int perBlock = tilesPerImage > 1 ? 1 : Math.max(1, ConvKernel.TILE / positions);
        while (perBlock > 1 && g.groups() * ((g.batch() + perBlock - 1) / perBlock) < 2 * threads) {
            perBlock /= 2;
        }
        this.imagesPerBlock = Math.min(perBlock, g.batch());
        this.imageBlocks = (g.batch() + imagesPerBlock - 1) / imagesPerBlock;
        int cBlocks = Math.max(1, Math.min(cg, (2 * threads + g.groups() * imageBlocks - 1) / (g.groups() * imageBlocks)));
        this.channelsPerBlock = (cg + cBlocks - 1) / cBlocks;
        this.channelBlocks = (cg + channelsPerBlock - 1) / channelsPerBlock;

        int wBlocks = (reduction + WEIGHT_COLUMNS - 1) / WEIGHT_COLUMNS;
        this.weightBlock = (reduction + wBlocks - 1) / wBlocks;
        this.weightBlocks = (reduction + weightBlock - 1) / weightBlock;
        int units = g.batch() * tilesPerImage;
        int perChunk = Math.max(1, g.groups() * weightBlocks);
        this.chunks = Math.max(1, Math.min(units, (threads + perChunk - 1) / perChunk));
        this.partials = chunks > 1 ? new float[chunks][weights] : null;
        this.tapOffset = new int[reduction];
        this.tapChannel = new int[reduction];
        this.tapY = new int[reduction];
        this.tapX = new int[reduction];
        for (int r = 0; r < reduction; r++) {
            int c = r / taps;
            int i = (r - c * taps) / g.kw();
            int j = r - c * taps - i * g.kw();
            tapChannel[r] = c * g.inH() * g.inW();
            tapY[r] = i * g.dh();
            tapX[r] = j * g.dw();
            tapOffset[r] = tapChannel[r] + tapY[r] * g.inW() + tapX[r];
        }
    }

    /** The weights as used, OIHW: the parameter itself, or its flipped copy. */
    private float[] effectiveWeights(float[] w) {
        if (flippedWeights == null) {
            return w;
        }
        System.arraycopy(w, 0, flippedWeights, 0, w.length);
        flipRows(flippedWeights);
        return flippedWeights;
    }

    private void flipRows(float[] w) {
        int kw = g.kw();
        for (int r = 0; r < w.length; r += kw) {
            for (int j = 0; j < kw / 2; j++) {
                float t = w[r + j];
                w[r + j] = w[r + kw - 1 - j];
                w[r + kw - 1 - j] = t;
            }
        }
    }

    @Override
    public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
        new ConvKernel(parallel, g.batch(), g.inC(), g.inH(), g.inW(), g.outC(), g.outH(), g.outW(), g.groups(),
                g.kh(), g.kw(), g.sh(), g.sw(), g.dh(), g.dw(), g.padTop(), g.padLeft(), effectiveWeights(params[0]),
                params.length > 1 ? params[1] : null).forward(inputs[0], output);
    }

    @Override
    public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                         float[][] dParams) {
        if (dInputs[0] != null) {
            inputGradient(dOutput, effectiveWeights(params[0]), dInputs[0]);
        }
        if (dParams[0] != null) {
            weightGradient(inputs[0], dOutput, dParams[0]);
        }
        if (params.length > 1 && dParams[1] != null) {
            biasGradient(dOutput, dParams[1]);
        }
    }

    // ---------------------------------------------------------------- input gradient

    private void inputGradient(float[] dy, float[] w, float[] dx) {
        float[] wt = transposedWeights;
        for (int z = 0; z < g.outC(); z++) {
            int group = z / og;
            int zg = z - group * og;
            for (int r = 0; r < reduction; r++) {
                wt[(group * reduction + r) * og + zg] = w[z * reduction + r];
            }
        }
        parallel.forEach(g.groups() * imageBlocks * channelBlocks, t -> {
            int cb = t % channelBlocks;
            int ib = (t / channelBlocks) % imageBlocks;
            int group = t / (channelBlocks * imageBlocks);
            inputGradientTask(dy, dx, group, ib, cb);
        });
    }

    private void inputGradientTask(float[] dy, float[] dx, int group, int ib, int cb) {
        int n0 = ib * imagesPerBlock;
        int n1 = Math.min(g.batch(), n0 + imagesPerBlock);
        int c0 = cb * channelsPerBlock;
        int c1 = Math.min(cg, c0 + channelsPerBlock);
        int plane = g.inH() * g.inW();
        for (int n = n0; n < n1; n++) {
            int from = (n * g.inC() + group * cg + c0) * plane;
            Arrays.fill(dx, from, from + (c1 - c0) * plane, 0f);
        }
        RowScratch s = RowScratch.get();
        int r0 = c0 * taps;
        int r1 = c1 * taps;
        // one tile of whole images, or the column tiles of one image in turn
        int tiles = tilesPerImage > 1 ? tilesPerImage : 1;
        for (int tIndex = 0; tIndex < tiles; tIndex++) {
            int q0;
            int width;
            if (tilesPerImage > 1) {
                q0 = n0 * positions + tIndex * tile;
                width = Math.min(tile, positions - tIndex * tile);
            } else {
                q0 = n0 * positions;
                width = (n1 - n0) * positions;
            }
            float[][] dyRows = s.rows(DY_ROWS, og, width);
            gatherRows(dy, group * og, og, q0, width, dyRows);
            for (int rs = r0; rs < r1; rs += ROW_SLICE) {
                int rows = Math.min(ROW_SLICE, r1 - rs);
                float[][] dCol = s.rows(DCOL, rows, width);
                for (int r = 0; r < rows; r++) {
                    Arrays.fill(dCol[r], 0, width, 0f);
                }
                parallel.kernels().multiplyAddRows(rows, og, width, transposedWeights, (group * reduction + rs) * og, og, dyRows, 0,
                        dCol, 0);
                col2im(dCol, group, q0, width, rs, rows, dx);
            }
        }
    }

    /** {@code rows[z][t] = y[n, z0 + z, p]} for output columns {@code q0 + t = n·positions + p}, {@code t < width}. */
    private void gatherRows(float[] y, int z0, int count, int q0, int width, float[][] rows) {
        int n = q0 / positions;
        int p = q0 - n * positions;
        for (int done = 0; done < width; ) {
            int len = Math.min(positions - p, width - done);
            for (int z = 0; z < count; z++) {
                System.arraycopy(y, (n * g.outC() + z0 + z) * positions + p, rows[z], done, len);
            }
            done += len;
            p = 0;
            n++;
        }
    }

    /**
     * col2im, the adjoint of the forward pass's im2col: adds {@code dCol[r − r0][t]} to the input gradient element
     * under tap r = (c, i, j) at output column {@code q0 + t} (nothing where the tap reads padding).
     */
    private void col2im(float[][] dCol, int group, int q0, int width, int r0, int rows, float[] dx) {
        int inW = g.inW();
        int plane = g.inH() * inW;
        int sw = g.sw();
        int n0 = q0 / positions;
        int p0 = q0 - n0 * positions;
        for (int r = r0; r < r0 + rows; r++) {
            float[] src = dCol[r - r0];
            int c = r / taps;
            int i = (r - c * taps) / g.kw();
            int j = r - c * taps - i * g.kw();
            int channel = group * cg + c;
            int offX = j * g.dw() - g.padLeft();
            int validLo = Math.max(0, Math.ceilDiv(-offX, sw));
            int validHi = Math.floorDiv(inW - 1 - offX, sw) + 1;
            int n = n0;
            int oy = p0 / g.outW();
            int ox = p0 - oy * g.outW();
            for (int t = 0; t < width; ) {
                int len = Math.min(g.outW() - ox, width - t);
                int iy = oy * g.sh() - g.padTop() + i * g.dh();
                int lo = Math.max(ox, validLo);
                int hi = Math.min(ox + len, validHi);
                if (iy >= 0 && iy < g.inH() && hi > lo) {
                    int base = (n * g.inC() + channel) * plane + iy * inW + offX;
                    int s = t + (lo - ox);
                    if (sw == 1) {
                        for (int q = lo; q < hi; q++) {
                            dx[base + q] += src[s++];
                        }
                    } else {
                        for (int q = lo; q < hi; q++) {
                            dx[base + q * sw] += src[s++];
                        }
                    }
                }
                t += len;
                ox = 0;
                if (++oy == g.outH()) {
                    oy = 0;
                    n++;
                }
            }
        }
    }

    // ---------------------------------------------------------------- weight gradient

    private void weightGradient(float[] x, float[] dy, float[] dw) {
        int units = g.batch() * tilesPerImage;
        parallel.forEach(g.groups() * chunks * weightBlocks, t -> {
            int wb = t % weightBlocks;
            int chunk = (t / weightBlocks) % chunks;
            int group = t / (weightBlocks * chunks);
            int u0 = (int) ((long) units * chunk / chunks);
            int u1 = (int) ((long) units * (chunk + 1) / chunks);
            weightGradientTask(x, dy, chunks > 1 ? partials[chunk] : dw, group, wb, u0, u1);
        });
        if (chunks > 1) {
            int block = 4096;
            parallel.forEach((dw.length + block - 1) / block, b -> {
                int from = b * block;
                int to = Math.min(dw.length, from + block);
                System.arraycopy(partials[0], from, dw, from, to - from);
                for (int c = 1; c < chunks; c++) {
                    float[] part = partials[c];
                    for (int e = from; e < to; e++) {
                        dw[e] += part[e];
                    }
                }
            });
        }
        if (g.flipped()) {
            flipRows(dw);
        }
    }

    /** Sums {@code ∂Y_g·col(X)ᵀ} over units (image, column tile) {@code u0 ≤ u < u1} into reduction rows block wb. */
    private void weightGradientTask(float[] x, float[] dy, float[] target, int group, int wb, int u0, int u1) {
        int k0 = wb * weightBlock;
        int kn = Math.min(weightBlock, reduction - k0);
        RowScratch s = RowScratch.get();
        float[][] acc = s.rows(DW_ACC, og, kn);
        for (int z = 0; z < og; z++) {
            Arrays.fill(acc[z], 0, kn, 0f);
        }
        for (int u = u0; u < u1; u++) {
            int n = u / tilesPerImage;
            int p0 = (u - n * tilesPerImage) * tile;
            int width = Math.min(tile, positions - p0);
            float[][] patches = s.rows(PATCHES, width, kn);
            patches(x, group, n, p0, width, k0, kn, patches);
            parallel.kernels().multiplyAddRows(og, width, kn, dy, (n * g.outC() + group * og) * positions + p0, positions, patches, 0,
                    acc, 0);
        }
        for (int z = 0; z < og; z++) {
            System.arraycopy(acc[z], 0, target, (group * og + z) * reduction + k0, kn);
        }
    }

    /**
     * The transposed im2col of one image's output positions {@code p0 ≤ p < p0 + width} and reduction rows
     * {@code k0 ≤ r < k0 + kn}: {@code patches[p − p0][r − k0]} is the input under tap r = (c, i, j) of group
     * {@code group} at output position p (0 in the padding). One row per position, written in order: a gather
     * through the taps' precomputed offsets, without bounds checks where the whole window lies inside the input.
     */
    private void patches(float[] x, int group, int n, int p0, int width, int k0, int kn, float[][] patches) {
        int inW = g.inW();
        int image = (n * g.inC() + group * cg) * g.inH() * inW;
        int oy = p0 / g.outW();
        int ox = p0 - oy * g.outW();
        int spanY = (g.kh() - 1) * g.dh();
        int spanX = (g.kw() - 1) * g.dw();
        for (int q = 0; q < width; q++) {
            float[] row = patches[q];
            int y0 = oy * g.sh() - g.padTop();
            int x0 = ox * g.sw() - g.padLeft();
            if (y0 >= 0 && y0 + spanY < g.inH() && x0 >= 0 && x0 + spanX < inW) {
                int base = image + y0 * inW + x0;
                for (int r = 0; r < kn; r++) {
                    row[r] = x[base + tapOffset[k0 + r]];
                }
            } else {
                for (int r = 0; r < kn; r++) {
                    int iy = y0 + tapY[k0 + r];
                    int ix = x0 + tapX[k0 + r];
                    row[r] = iy >= 0 && iy < g.inH() && ix >= 0 && ix < inW
                            ? x[image + tapChannel[k0 + r] + iy * inW + ix] : 0f;
                }
            }
            if (++ox == g.outW()) {
                ox = 0;
                oy++;
            }
        }
    }

    // ---------------------------------------------------------------- bias gradient

    private void biasGradient(float[] dy, float[] db) {
        parallel.forEach(g.outC(), z -> {
            double sum = 0;
            for (int n = 0; n < g.batch(); n++) {
                sum += planeSum(dy, (n * g.outC() + z) * positions, positions);
            }
            db[z] = (float) sum;
        });
    }

    /** The sum of {@code v[from … from + length)}, with four independent float partial sums. */
    static double planeSum(float[] v, int from, int length) {
        float s0 = 0;
        float s1 = 0;
        float s2 = 0;
        float s3 = 0;
        int i = from;
        int end = from + length;
        for (; i + 3 < end; i += 4) {
            s0 += v[i];
            s1 += v[i + 1];
            s2 += v[i + 2];
            s3 += v[i + 3];
        }
        for (; i < end; i++) {
            s0 += v[i];
        }
        return (double) s0 + s1 + s2 + s3;
    }
}
