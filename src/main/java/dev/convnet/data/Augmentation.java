package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Random, reproducible changes to the images of a batch: a sequence of steps applied to each image in turn,
 * for example {@code Augmentation.randomCrop(4).thenHorizontalFlip()}.
 *
 * <ul>
 *   <li>{@link #randomCrop(int) randomCrop(p)}: pad the image with {@code p} zeros on each side, then cut
 *       the original height × width back out at an offset {@code (dy, dx)} drawn uniformly from
 *       {@code [0, 2p]²}: output pixel {@code (y, x)} is input pixel {@code (y + dy - p, x + dx - p)}, or 0
 *       where that lies outside the image. The zeros are zeros of the values as read, so on a normalized
 *       dataset they are the channel means.</li>
 *   <li>{@link #horizontalFlip()}: with probability 1/2, mirror the image left to right: output
 *       {@code (y, x)} is input {@code (y, width - 1 - x)}.</li>
 * </ul>
 *
 * <p>Randomness: one generator per batch, seeded by a hash of {@code (seed, epoch, batch index)}, visits the
 * images in batch order and each step draws a fixed amount per image (a crop two ints, a flip one boolean),
 * so the result is a pure function of those numbers and of the batch's contents.
 *
 * <p>Thread-safety: immutable; {@link #apply} may be called from several threads at once on different
 * arrays.
 */
public final class Augmentation {
    private static final Augmentation NONE = new Augmentation(List.of());

    private sealed interface Step permits Crop, Flip {
        /** Changes the image at {@code images[offset, offset + c·h·w)}; {@code scratch} holds c·h·w floats. */
        void apply(float[] images, int offset, int c, int h, int w, SplittableRandom rng, float[] scratch);
    }

    private record Crop(int padding) implements Step {
        @Override
        public void apply(float[] images, int offset, int c, int h, int w, SplittableRandom rng, float[] scratch) {
            int dy = rng.nextInt(2 * padding + 1);
            int dx = rng.nextInt(2 * padding + 1);
            crop(images, offset, c, h, w, padding, dy, dx, scratch);
        }

        @Override
        public String toString() {
            return "randomCrop(" + padding + ")";
        }
    }

    private record Flip() implements Step {
        @Override
        public void apply(float[] images, int offset, int c, int h, int w, SplittableRandom rng, float[] scratch) {
            if (rng.nextBoolean()) {
                flip(images, offset, c, h, w);
            }
        }

        @Override
        public String toString() {
            return "horizontalFlip";
        }
    }

    private final List<Step> steps;

    private Augmentation(List<Step> steps) {
        this.steps = steps;
    }

    /** No change: {@link #apply} returns at once. */
    public static Augmentation none() {
        return NONE;
    }

    /**
     * Random crop with zero padding {@code padding} (see the class description); 0 changes nothing.
     *
     * @throws IllegalArgumentException if {@code padding < 0}
     */
    public static Augmentation randomCrop(int padding) {
        return NONE.thenRandomCrop(padding);
    }

    /** Random horizontal flip with probability 1/2. */
    public static Augmentation horizontalFlip() {
        return NONE.thenHorizontalFlip();
    }

    /**
     * This augmentation followed by a random crop with zero padding {@code padding}.
     *
     * @throws IllegalArgumentException if {@code padding < 0}
     */
    public Augmentation thenRandomCrop(int padding) {
        if (padding < 0) {
            throw new IllegalArgumentException("randomCrop: padding " + padding + " must be ≥ 0");
        }
        return with(List.of(new Crop(padding)));
    }

    /** This augmentation followed by a random horizontal flip with probability 1/2. */
    public Augmentation thenHorizontalFlip() {
        return with(List.of(new Flip()));
    }

    /** This augmentation followed by the steps of {@code next}. */
    public Augmentation then(Augmentation next) {
        return with(next.steps);
    }

    private Augmentation with(List<Step> more) {
        List<Step> all = new ArrayList<>(steps);
        all.addAll(more);
        return new Augmentation(List.copyOf(all));
    }

    /** True if this augmentation has no steps. */
    public boolean isNone() {
        return steps.isEmpty();
    }

    /**
     * Augments, in place, the first {@code batchShape.elementCount()} floats of {@code images}: a batch of
     * {@code batchShape = [n, channels, height, width]} in NCHW order.
     *
     * @param seed       the run's seed
     * @param epoch      the epoch
     * @param batchIndex the batch's index in the epoch
     * @throws IllegalArgumentException if {@code batchShape} is not rank 4 or {@code images} is too short
     */
    public void apply(float[] images, Shape batchShape, long seed, int epoch, int batchIndex) {
        if (batchShape.rank() != 4) {
            throw new IllegalArgumentException("augmentation: batch shape " + batchShape
                    + " must be [batch, channels, height, width]");
        }
        if (images.length < batchShape.elementCount()) {
            throw new IllegalArgumentException("augmentation: a batch " + batchShape + " needs "
                    + batchShape.elementCount() + " floats, the array holds " + images.length);
        }
        if (steps.isEmpty()) {
            return;
        }
        int n = batchShape.dim(0), c = batchShape.dim(1), h = batchShape.dim(2), w = batchShape.dim(3);
        int per = c * h * w;
        float[] scratch = new float[per];
        SplittableRandom rng = Seeds.random(Seeds.AUGMENT, seed, epoch, batchIndex);
        for (int k = 0; k < n; k++) {
            for (Step s : steps) {
                s.apply(images, k * per, c, h, w, rng, scratch);
            }
        }
    }

    /**
     * Crops one image in place: pad by {@code p} zeros, cut out h × w at offset (dy, dx) of the padded image.
     * {@code scratch} holds at least c·h·w floats.
     */
    static void crop(float[] images, int offset, int c, int h, int w, int p, int dy, int dx, float[] scratch) {
        int per = c * h * w;
        System.arraycopy(images, offset, scratch, 0, per);
        int sy = dy - p, sx = dx - p;                        // output (y, x) reads input (y + sy, x + sx)
        int x0 = Math.max(0, -sx), x1 = Math.min(w, w - sx); // output columns whose source is inside
        for (int ch = 0; ch < c; ch++) {
            for (int y = 0; y < h; y++) {
                int out = offset + (ch * h + y) * w;
                int yy = y + sy;
                if (yy < 0 || yy >= h || x0 >= x1) {
                    Arrays.fill(images, out, out + w, 0f);
                    continue;
                }
                Arrays.fill(images, out, out + x0, 0f);
                System.arraycopy(scratch, (ch * h + yy) * w + x0 + sx, images, out + x0, x1 - x0);
                Arrays.fill(images, out + x1, out + w, 0f);
            }
        }
    }

    /** Mirrors one image in place, left to right. */
    static void flip(float[] images, int offset, int c, int h, int w) {
        for (int row = 0; row < c * h; row++) {
            int a = offset + row * w, b = a + w - 1;
            for (; a < b; a++, b--) {
                float t = images[a];
                images[a] = images[b];
                images[b] = t;
            }
        }
    }

    /** The steps, for example {@code randomCrop(4) → horizontalFlip}, or {@code no augmentation}. */
    @Override
    public String toString() {
        if (steps.isEmpty()) return "no augmentation";
        StringBuilder sb = new StringBuilder();
        for (Step s : steps) {
            if (!sb.isEmpty()) sb.append(" → ");
            sb.append(s);
        }
        return sb.toString();
    }
}
