package dev.convnet.layer;

/**
 * What a pooling layer computes over its window: the maximum (Eq. 11) or the mean (Eq. 12).
 *
 * <p>Thread-safety: enum constants are immutable.
 */
public enum PoolKind {
    /** The maximum of the window. */
    MAX,
    /** The mean of the window. */
    AVERAGE
}
