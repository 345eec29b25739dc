package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.Objects;

/**
 * A reduction over some axes (ONNX ReduceMean, ReduceSum, …): every output element combines the input
 * elements that differ only on the reduced axes. With {@code keepDims} the reduced axes stay with size 1,
 * otherwise they are removed (a rank-0 result is represented as {@code [1]}). No axes given: every axis.
 * ReduceMean over axes (2, 3) with keepDims is global average pooling.
 * <ul>
 *   <li>MEAN, SUM, MAX, MIN, PROD</li>
 *   <li>L1 {@code Σ|x|}, L2 {@code √Σx²}, SUM_SQUARE {@code Σx²}, LOG_SUM {@code ln Σx},
 *       LOG_SUM_EXP {@code ln Σe^x}</li>
 * </ul>
 *
 * <p>Thread-safety: immutable.
 */
public final class Reduce implements Layer {
    /** How the elements are combined. */
    public enum Kind {
        /** Arithmetic mean. */
        MEAN,
        /** Sum. */
        SUM,
        /** Maximum. */
        MAX,
        /** Minimum. */
        MIN,
        /** Product. */
        PROD,
        /** Sum of absolute values. */
        L1,
        /** Euclidean norm. */
        L2,
        /** Sum of squares. */
        SUM_SQUARE,
        /** Log of the sum. */
        LOG_SUM,
        /** Log of the sum of exponentials. */
        LOG_SUM_EXP
    }

    private final Kind kind;
    private final int[] axes;
    private final boolean keepDims;

    private Reduce(Kind kind, int[] axes, boolean keepDims) {
        this.kind = Objects.requireNonNull(kind, "kind");
        this.axes = axes.clone();
        this.keepDims = keepDims;
    }

    /** A reduction over {@code axes} (negative: from the end; empty: all axes). */
    public static Reduce of(Kind kind, int[] axes, boolean keepDims) {
        return new Reduce(kind, axes, keepDims);
    }

    /** The mean over {@code axes}. */
    public static Reduce mean(int[] axes, boolean keepDims) {
        return new Reduce(Kind.MEAN, axes, keepDims);
    }

    /** The kind. */
    public Kind reduceKind() {
        return kind;
    }

    /** Whether reduced axes stay with size 1. */
    public boolean keepDims() {
        return keepDims;
    }

    /** Which axes of a rank-{@code rank} input are reduced. */
    public boolean[] reducedAxes(int rank) {
        boolean[] r = new boolean[rank];
        if (axes.length == 0) {
            Arrays.fill(r, true);
        }
        for (int a : axes) {
            int n = Broadcasting.axis(kind(), a, rank);
            if (r[n]) {
                throw new ShapeException(kind() + ": axis " + a + " given twice in " + Arrays.toString(axes));
            }
            r[n] = true;
        }
        return r;
    }

    @Override
    public Shape outputShape(Shape input) {
        boolean[] reduced = reducedAxes(input.rank());
        int[] out = java.util.stream.IntStream.range(0, input.rank()).filter(i -> keepDims || !reduced[i])
                .map(i -> reduced[i] ? 1 : input.dim(i)).toArray();
        return out.length == 0 ? Shape.of(1) : Shape.of(out);
    }

    @Override
    public String kind() {
        return switch (kind) {
            case MEAN -> "ReduceMean";
            case SUM -> "ReduceSum";
            case MAX -> "ReduceMax";
            case MIN -> "ReduceMin";
            case PROD -> "ReduceProd";
            case L1 -> "ReduceL1";
            case L2 -> "ReduceL2";
            case SUM_SQUARE -> "ReduceSumSquare";
            case LOG_SUM -> "ReduceLogSum";
            case LOG_SUM_EXP -> "ReduceLogSumExp";
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Reduce r && r.kind == kind && Arrays.equals(r.axes, axes) && r.keepDims == keepDims;
    }

    @Override
    public int hashCode() {
        return kind.hashCode() * 31 + Arrays.hashCode(axes) + (keepDims ? 1 : 0);
    }

    @Override
    public String toString() {
        return kind() + "(axes " + (axes.length == 0 ? "all" : Arrays.toString(axes)) + (keepDims ? ", keepdims" : "") + ")";
    }
}
