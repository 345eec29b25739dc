package dev.convnet.layer;

import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * Global pooling: the maximum or the mean of each whole channel, {@code [N, C, H, W] → [N, C, 1, 1]}
 * (Eq. 11 / 12 with the window equal to the input).
 *
 * <p>Thread-safety: immutable.
 */
public final class GlobalPool2d implements Layer {
    private final PoolKind kind;

    private GlobalPool2d(PoolKind kind) {
        this.kind = Objects.requireNonNull(kind, "kind");
    }

    /** Global max pooling. */
    public static GlobalPool2d max() {
        return new GlobalPool2d(PoolKind.MAX);
    }

    /** Global average pooling. */
    public static GlobalPool2d average() {
        return new GlobalPool2d(PoolKind.AVERAGE);
    }

    /** Max or average. */
    public PoolKind poolKind() {
        return kind;
    }

    @Override
    public Shape outputShape(Shape input) {
        Params.checkRank("GlobalPool2d", "NCHW", input, 4);
        return Shape.of(input.dim(0), input.dim(1), 1, 1);
    }

    @Override
    public String toString() {
        return "GlobalPool2d(" + kind.name().toLowerCase(java.util.Locale.ROOT) + ")";
    }
}
