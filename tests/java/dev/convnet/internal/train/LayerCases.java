package dev.convnet.internal.train;

import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random geometries of the layers with parameters and of pooling, for the gradient tests: each generator draws
 * one layer and its input shapes (which may be invalid; callers skip those). Layer parameter values are random and
 * replaced by {@link GradientHarness#random}.
 */
public final class LayerCases {
    private LayerCases() {
    }

    /** One drawn layer on its input shapes; {@code maxLike}: its gradient routes through comparisons of inputs. */
    public record Spec(Layer layer, List<Shape> inputs, boolean maxLike) {
        public Spec(Layer layer, Shape input, boolean maxLike) {
            this(layer, List.of(input), maxLike);
        }
    }

    /** A generator of specs with batch sizes up to {@code maxBatch}. */
    public interface Generator {
        Spec next(SplittableRandom r, int maxBatch);
    }

    public static int batch(SplittableRandom r, int maxBatch) {
        return r.nextInt(1, maxBatch + 1);
    }

    public static int size(SplittableRandom r) {
        return r.nextInt(3, 8);
    }

    /** Every padding rule: valid, same (lecture, upper, lower), full, symmetric and asymmetric explicit. */
    public static Padding padding(SplittableRandom r, int spatialRank) {
        return switch (r.nextInt(7)) {
            case 0 -> Padding.valid();
            case 1 -> Padding.same();
            case 2 -> Padding.full();
            case 3 -> Padding.sameUpper();
            case 4 -> Padding.sameLower();
            case 5 -> Padding.symmetric(r.nextInt(3));
            default -> spatialRank == 2 ? Padding.explicit2d(r.nextInt(3), r.nextInt(3), r.nextInt(3), r.nextInt(3))
                    : Padding.explicit(r.nextInt(3), r.nextInt(3));
        };
    }

    /** Ordinary, grouped and depthwise (with and without channel multiplier) 2-D convolutions. */
    public static Spec conv2d(SplittableRandom r, int maxBatch) {
        int g;
        int cg;
        int og;
        switch (r.nextInt(4)) {
            case 0 -> { // depthwise, possibly with a channel multiplier
                g = r.nextInt(1, 5);
                cg = 1;
                og = r.nextInt(1, 3);
            }
            case 1 -> { // grouped
                g = r.nextInt(2, 4);
                cg = r.nextInt(1, 3);
                og = r.nextInt(1, 3);
            }
            default -> {
                g = 1;
                cg = r.nextInt(1, 5);
                og = r.nextInt(1, 5);
            }
        }
        Conv2d.Builder b = Conv2d.builder(g * cg, g * og, r.nextInt(1, 4), r.nextInt(1, 4)).groups(g)
                .stride(r.nextInt(1, 4), r.nextInt(1, 4)).dilation(r.nextInt(1, 3), r.nextInt(1, 3))
                .padding(padding(r, 2)).randomWeights(r);
        if (r.nextInt(4) == 0) b.withoutBias();
        return new Spec(b.build(), Shape.of(batch(r, maxBatch), g * cg, size(r), size(r)), false);
    }

    /** 1-D convolutions, cross-correlation and true (flipped) convolution. */
    public static Spec conv1d(SplittableRandom r, int maxBatch) {
        int g = r.nextInt(1, 4);
        int cg = r.nextInt(1, 3);
        int og = r.nextInt(1, 3);
        Conv1d.Builder b = Conv1d.builder(g * cg, g * og, r.nextInt(1, 5)).groups(g).stride(r.nextInt(1, 4))
                .dilation(r.nextInt(1, 3)).padding(padding(r, 1)).trueConvolution(r.nextBoolean()).randomWeights(r);
        if (r.nextInt(4) == 0) b.withoutBias();
        return new Spec(b.build(), Shape.of(batch(r, maxBatch), g * cg, r.nextInt(3, 12)), false);
    }

    /** Linear on inputs of rank 2 to 4 (flattened). */
    public static Spec linear(SplittableRandom r, int maxBatch) {
        int n = batch(r, maxBatch);
        Shape in = switch (r.nextInt(3)) {
            case 0 -> Shape.of(n, r.nextInt(1, 13));
            case 1 -> Shape.of(n, r.nextInt(1, 4), r.nextInt(1, 5));
            default -> Shape.of(n, r.nextInt(1, 4), r.nextInt(1, 4), r.nextInt(1, 4));
        };
        int d = (int) in.elementCount(1);
        int k = r.nextInt(1, 9);
        Linear l = Linear.random(d, k, r);
        if (r.nextInt(4) == 0) l = Linear.of(d, k, l.weights(), null);
        return new Spec(l, in, false);
    }

    /** MatMul with ranks 1 to 4 and batch axes that broadcast (1 against n, missing against present). */
    public static Spec matMul(SplittableRandom r, int maxBatch) {
        int m = r.nextInt(1, 5);
        int k = r.nextInt(1, 6);
        int p = r.nextInt(1, 5);
        int batchRank = r.nextInt(0, 3);
        int[] batch = new int[batchRank];
        for (int i = 0; i < batchRank; i++) batch[i] = i == 0 ? batch(r, maxBatch) : r.nextInt(1, 4);
        Shape a = r.nextInt(6) == 0 ? Shape.of(k) : Shape.of(operand(r, batch, m, k));
        Shape b = r.nextInt(6) == 0 ? Shape.of(k) : Shape.of(operand(r, batch, k, p));
        return new Spec(new MatMul(), List.of(a, b), false);
    }

    /** Batch axes for one operand: a random suffix of {@code batch}, each axis kept or set to 1, then the matrix. */
    private static int[] operand(SplittableRandom r, int[] batch, int rows, int cols) {
        int keep = r.nextInt(0, batch.length + 1);
        List<Integer> dims = new ArrayList<>();
        for (int i = batch.length - keep; i < batch.length; i++) dims.add(r.nextInt(3) == 0 ? 1 : batch[i]);
        dims.add(rows);
        dims.add(cols);
        return dims.stream().mapToInt(Integer::intValue).toArray();
    }

    private static Padding poolPadding(SplittableRandom r, int kh, int kw) {
        return r.nextInt(3) == 0 ? padding(r, 2) : Padding.explicit2d(r.nextInt(kh), r.nextInt(kw), r.nextInt(kh), r.nextInt(kw));
    }

    public static Spec maxPool(SplittableRandom r, int maxBatch) {
        int kh = r.nextInt(1, 5);
        int kw = r.nextInt(1, 5);
        Layer l = MaxPool2d.builder(kh, kw).stride(r.nextInt(1, 4), r.nextInt(1, 4)).padding(poolPadding(r, kh, kw))
                .ceilMode(r.nextBoolean()).build();
        return new Spec(l, Shape.of(batch(r, maxBatch), r.nextInt(1, 5), size(r), size(r)), true);
    }

    public static Spec avgPool(SplittableRandom r, int maxBatch) {
        int kh = r.nextInt(1, 5);
        int kw = r.nextInt(1, 5);
        Layer l = AvgPool2d.builder(kh, kw).stride(r.nextInt(1, 4), r.nextInt(1, 4)).padding(poolPadding(r, kh, kw))
                .ceilMode(r.nextBoolean()).countIncludePad(r.nextBoolean()).build();
        return new Spec(l, Shape.of(batch(r, maxBatch), r.nextInt(1, 5), size(r), size(r)), false);
    }

    public static Spec globalPool(SplittableRandom r, int maxBatch) {
        boolean max = r.nextBoolean();
        return new Spec(max ? GlobalPool2d.max() : GlobalPool2d.average(),
                Shape.of(batch(r, maxBatch), r.nextInt(1, 5), r.nextInt(1, 6), r.nextInt(1, 6)), max);
    }

    public static Spec depthPool(SplittableRandom r, int maxBatch) {
        boolean max = r.nextBoolean();
        int w = r.nextInt(1, 4);
        int s = r.nextInt(1, 4);
        return new Spec(max ? DepthPool.max(w, s) : DepthPool.average(w, s),
                Shape.of(batch(r, maxBatch), r.nextInt(1, 7), r.nextInt(1, 5), r.nextInt(1, 5)), max);
    }

    /** Batch norm on inputs of rank 2 to 4 with at least 4 values per channel, ε from 1e-5 to 1e-2, any momentum. */
    public static Spec batchNorm(SplittableRandom r, int maxBatch) {
        int c = r.nextInt(1, 5);
        Shape in;
        do {
            int n = batch(r, maxBatch);
            in = switch (r.nextInt(3)) {
                case 0 -> Shape.of(n + 1, c);
                case 1 -> Shape.of(n, c, r.nextInt(1, 8));
                default -> Shape.of(n, c, r.nextInt(1, 6), r.nextInt(1, 6));
            };
        } while (in.elementCount() / c < 4);
        float[] ones = new float[c];
        Arrays.fill(ones, 1f);
        double eps = Math.pow(10, -r.nextInt(2, 6));
        BatchNorm bn = BatchNorm.of(ones, new float[c], new float[c], ones, eps).withMomentum(r.nextDouble());
        return new Spec(bn, in, false);
    }

    /**
     * Replaces {@code x} with distinct values {@code spacing} apart in a random order around 0, so that no
     * perturbation smaller than {@code spacing/2} changes which element of a window is the maximum.
     */
    public static void separate(float[] x, double spacing, SplittableRandom r) {
        int[] perm = new int[x.length];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        for (int i = perm.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < x.length; i++) x[i] = (float) ((perm[i] - x.length / 2.0) * spacing);
    }
}
