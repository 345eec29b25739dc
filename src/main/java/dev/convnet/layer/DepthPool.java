package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.SizeEquations;

import java.util.Objects;

/**
 * Pooling across depth (Note 5): the maximum or mean over windows of {@code window} consecutive
 * channels, moved by {@code stride} channels, independently at every spatial position.
 * {@code [N, C, H, W] → [N, C', H, W]} with {@code C' = ⌊(C − window)/stride⌋ + 1} (Eq. 5 on the
 * depth axis), e.g. maxout with {@code window = stride = 2} halves the channels.
 *
 * <p>Thread-safety: immutable.
 */
public final class DepthPool implements Layer {
    private final PoolKind kind;
    private final int window;
    private final int stride;

    private DepthPool(PoolKind kind, int window, int stride) {
        this.kind = Objects.requireNonNull(kind, "kind");
        Params.positive("DepthPool", "window", window);
        if (stride < 1) {
            throw new dev.convnet.shape.ShapeException("DepthPool: Eq. 5: stride s = " + stride + " must be ≥ 1");
        }
        this.window = window;
        this.stride = stride;
    }

    /** Max over windows of {@code window} channels moved by {@code stride}. */
    public static DepthPool max(int window, int stride) {
        return new DepthPool(PoolKind.MAX, window, stride);
    }

    /** Mean over windows of {@code window} channels moved by {@code stride}. */
    public static DepthPool average(int window, int stride) {
        return new DepthPool(PoolKind.AVERAGE, window, stride);
    }

    /** Max or average. */
    public PoolKind poolKind() {
        return kind;
    }

    /** Channels per window. */
    public int window() {
        return window;
    }

    /** Channels between window starts. */
    public int stride() {
        return stride;
    }

    @Override
    public Shape outputShape(Shape input) {
        Params.checkRank("DepthPool", "NCHW", input, 4);
        int c = SizeEquations.outputSize("Eq. 5", "depth", input.dim(1), window, stride, 1, 0, 0, false);
        return Shape.of(input.dim(0), c, input.dim(2), input.dim(3));
    }

    @Override
    public String toString() {
        return "DepthPool(" + kind.name().toLowerCase(java.util.Locale.ROOT) + ", " + window + " channels, s=" + stride + ")";
    }
}
