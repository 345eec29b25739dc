package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.util.Arrays;
import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;

/**
 * The mini-batches of one epoch over a {@link Dataset}, made by {@link Dataset#batches}.
 *
 * <p>Order: without shuffling, dataset order; with shuffling, a uniformly random permutation (Fisher–Yates)
 * drawn from a generator seeded by a hash of {@code (seed, epoch)} only. So a trainer that resumes at epoch
 * {@code e} sees exactly the batches an uninterrupted run saw at epoch {@code e}, and {@link #batch(int)}
 * gives any batch of the epoch directly, for resuming inside an epoch. Different epochs get different
 * permutations.
 *
 * <p>Every example appears exactly once per epoch: batch {@code b} holds positions
 * {@code [b·batchSize, min((b+1)·batchSize, size))} of the order. The last batch may be smaller, unless
 * {@code dropLast}, which leaves it out (its examples are then not seen in that epoch).
 *
 * <p>Augmentation ({@link #augmented}) is applied to each batch after it is gathered, seeded by
 * {@code (seed, epoch, batch index)}, so it is as reproducible as the order.
 *
 * <p>Buffers: {@link #batch(int)} and the iterator allocate new arrays for every batch and keep no
 * reference to them. {@link #fill(int, float[], int[])} writes into the caller's arrays instead, for a
 * trainer that reuses one pair of buffers.
 *
 * <p>Thread-safety: immutable; {@link #batch(int)} and {@link #fill} may be called from several threads at
 * once (for example to prefetch). Each {@link #iterator()} is a new, independent iterator that is not
 * thread-safe itself.
 */
public final class Batches implements Iterable<Batch> {
    private final Dataset dataset;
    private final int batchSize;
    private final boolean shuffle;
    private final long seed;
    private final int epoch;
    private final boolean dropLast;
    private final Augmentation augmentation;
    private final int[] order;
    private final int count;

    Batches(Dataset dataset, int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast,
            Augmentation augmentation) {
        if (batchSize < 1) {
            throw new IllegalArgumentException("batches: batch size " + batchSize + " must be ≥ 1");
        }
        if (epoch < 0) {
            throw new IllegalArgumentException("batches: epoch " + epoch + " must be ≥ 0");
        }
        this.dataset = dataset;
        this.batchSize = batchSize;
        this.shuffle = shuffle;
        this.seed = seed;
        this.epoch = epoch;
        this.dropLast = dropLast;
        this.augmentation = Objects.requireNonNull(augmentation, "augmentation");
        int n = dataset.size();
        this.order = new int[n];
        Arrays.setAll(order, i -> i);
        if (shuffle) {
            Seeds.shuffle(order, Seeds.random(Seeds.SHUFFLE, seed, epoch));
        }
        this.count = dropLast ? n / batchSize : (int) ((n + (long) batchSize - 1) / batchSize);
    }

    /** These batches with {@code augmentation} applied to each (replacing any augmentation set before). */
    public Batches augmented(Augmentation augmentation) {
        return new Batches(dataset, batchSize, shuffle, seed, epoch, dropLast, augmentation);
    }

    /** The number of batches in the epoch. */
    public int count() {
        return count;
    }

    /** The largest batch size; every batch but possibly the last has exactly this many examples. */
    public int batchSize() {
        return batchSize;
    }

    /** The dataset indices in the order the epoch visits them (all {@code size} of them, a copy). */
    public int[] order() {
        return order.clone();
    }

    /** The number of examples in batch {@code index}. */
    public int size(int index) {
        Objects.checkIndex(index, count);
        return Math.min(batchSize, order.length - index * batchSize);
    }

    /** Batch {@code index} of the epoch, in new arrays. */
    public Batch batch(int index) {
        int n = size(index);
        float[] images = new float[n * dataset.imageSize()];
        int[] labels = new int[n];
        fill(index, images, labels);
        return new Batch(images, labels, dataset.imageShape().withBatch(n));
    }

    /**
     * Writes batch {@code index} into the first {@code size(index)} images and labels of the caller's arrays;
     * the rest of the arrays is left as it was.
     *
     * @return the number of examples written, {@link #size(int)}
     * @throws IllegalArgumentException if the arrays are too small for the batch
     */
    public int fill(int index, float[] images, int[] labels) {
        int n = size(index);
        int per = dataset.imageSize();
        if (images.length < (long) n * per || labels.length < n) {
            throw new IllegalArgumentException("batch " + index + " has " + n + " images of "
                    + dataset.imageShape() + ": needs " + (long) n * per + " floats and " + n
                    + " labels, the arrays hold " + images.length + " and " + labels.length);
        }
        int start = index * batchSize;
        for (int k = 0; k < n; k++) {
            int i = order[start + k];
            dataset.copyImage(i, images, k * per);
            labels[k] = dataset.label(i);
        }
        augmentation.apply(images, dataset.imageShape().withBatch(n), seed, epoch, index);
        return n;
    }

    /** Iterates over the batches in order, each in new arrays (see {@link #batch(int)}). */
    @Override
    public Iterator<Batch> iterator() {
        return new Iterator<>() {
            private int next;

            @Override
            public boolean hasNext() {
                return next < count;
            }

            @Override
            public Batch next() {
                if (next >= count) {
                    throw new NoSuchElementException("all " + count + " batches of the epoch were returned");
                }
                return batch(next++);
            }
        };
    }

    /** For example {@code Batches(epoch 3, 469 batches of ≤ 128, shuffled, seed 1, randomCrop(4) → flip)}. */
    @Override
    public String toString() {
        return "Batches(epoch " + epoch + ", " + count + " batches of ≤ " + batchSize
                + (shuffle ? ", shuffled, seed " + seed : ", in order") + (dropLast ? ", last dropped" : "")
                + ", " + augmentation + ")";
    }
}
