package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.util.Objects;

/**
 * One mini-batch: {@code size()} images of {@code [channels, height, width]}, concatenated in NCHW order
 * (row-major), and their labels.
 *
 * <p>The arrays are the batch's own: {@link Batches} allocates new ones for every batch and keeps no
 * reference, so the receiver may modify or keep them. The record does not copy them, and its
 * {@code equals} compares the arrays by identity, as records do.
 *
 * <p>Thread-safety: a batch is as safe to share as its arrays; hand it to another thread only with a
 * happens-before edge (a queue, a future) and do not modify it while others read it.
 *
 * @param images {@code shape.elementCount()} floats: image k is {@code images[k·C·H·W, (k+1)·C·H·W)}
 * @param labels {@code shape.dim(0)} labels, label k belonging to image k
 * @param shape  {@code [batch, channels, height, width]}
 */
public record Batch(float[] images, int[] labels, Shape shape) {
    /**
     * Checks that the arrays fit the shape; the arrays are not copied.
     *
     * @throws IllegalArgumentException if the shape is not rank 4 or the arrays' lengths do not match it
     */
    public Batch {
        Objects.requireNonNull(images, "images");
        Objects.requireNonNull(labels, "labels");
        if (shape.rank() != 4) {
            throw new IllegalArgumentException("batch shape " + shape + " must be [batch, channels, height, width]");
        }
        if (images.length != shape.elementCount() || labels.length != shape.dim(0)) {
            throw new IllegalArgumentException("batch " + shape + " needs " + shape.elementCount() + " floats and "
                    + shape.dim(0) + " labels, got " + images.length + " and " + labels.length);
        }
    }

    /** The number of examples, {@code shape().dim(0)}. */
    public int size() {
        return labels.length;
    }
}
