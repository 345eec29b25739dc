package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.Objects;

/**
 * A new shape for the same row-major data (the values and their order do not change, so a kernel is at
 * most a copy). Four rules, all ONNX's:
 * <ul>
 *   <li>{@link #to(int...)} (Reshape): a target shape in which {@code 0} copies the input's size on that
 *       axis and one {@code −1} is inferred from the element count;</li>
 *   <li>{@link #flatten(int)} (ONNX Flatten): {@code [d_0·…·d_(axis−1), d_axis·…·d_(r−1)]}, always rank 2
 *       (an empty product is 1);</li>
 *   <li>{@link #squeeze(int...)}: removes the given axes of size 1 (all size-1 axes if none are given);</li>
 *   <li>{@link #unsqueeze(int...)}: inserts size-1 axes at the given positions of the output.</li>
 * </ul>
 * ({@link #identity()} keeps the shape.) A result of rank 0 (a scalar) is represented as {@code [1]}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Reshape implements Layer {
    /** The rule. */
    public enum Mode {
        /** A target shape with ONNX's 0 and −1. */
        TO,
        /** ONNX Flatten at an axis. */
        FLATTEN,
        /** Remove size-1 axes. */
        SQUEEZE,
        /** Insert size-1 axes. */
        UNSQUEEZE,
        /** The same shape (ONNX Identity, where one cannot be dropped). */
        IDENTITY
    }

    private final Mode mode;
    private final int[] values;

    private Reshape(Mode mode, int[] values) {
        this.mode = Objects.requireNonNull(mode, "mode");
        this.values = values.clone();
    }

    /**
     * Reshape to {@code target}: 0 keeps the input's size on that axis, one −1 is inferred.
     *
     * @throws ShapeException if a size is below −1 or −1 appears twice
     */
    public static Reshape to(int... target) {
        int inferred = 0;
        for (int t : target) {
            if (t < -1) throw new ShapeException("Reshape: target " + Arrays.toString(target) + ": size " + t + " < −1");
            if (t == -1) inferred++;
        }
        if (inferred > 1) {
            throw new ShapeException("Reshape: target " + Arrays.toString(target) + " has " + inferred + " sizes −1; at most one may be inferred");
        }
        if (target.length == 0) {
            return new Reshape(Mode.TO, new int[] {1});
        }
        return new Reshape(Mode.TO, target);
    }

    /** ONNX Flatten at {@code axis} (negative: from the end; the default is 1). */
    public static Reshape flatten(int axis) {
        return new Reshape(Mode.FLATTEN, new int[] {axis});
    }

    /** Removes the given size-1 axes (negative: from the end), or every size-1 axis if none are given. */
    public static Reshape squeeze(int... axes) {
        return new Reshape(Mode.SQUEEZE, axes);
    }

    /** Inserts size-1 axes at the given positions of the output (negative: from the end of the output). */
    public static Reshape unsqueeze(int... axes) {
        return new Reshape(Mode.UNSQUEEZE, axes);
    }

    /** The same shape: a copy (ONNX Identity where one is needed). */
    public static Reshape identity() {
        return new Reshape(Mode.IDENTITY, new int[0]);
    }

    /** The rule. */
    public Mode mode() {
        return mode;
    }

    /** The target (TO), the axis (FLATTEN) or the axes (SQUEEZE, UNSQUEEZE), as given; a copy. */
    public int[] values() {
        return values.clone();
    }

    @Override
    public Shape outputShape(Shape input) {
        int r = input.rank();
        int[] out = switch (mode) {
            case IDENTITY -> input.dims();
            case TO -> target(input);
            case FLATTEN -> {
                int a = values[0] < 0 ? values[0] + r : values[0];
                if (a < 0 || a > r) {
                    throw new ShapeException("Flatten: axis " + values[0] + " is outside [" + -r + ", " + r + "] for " + input);
                }
                long outer = 1;
                for (int i = 0; i < a; i++) outer *= input.dim(i);
                yield new int[] {(int) outer, Math.toIntExact(input.elementCount() / outer)};
            }
            case SQUEEZE -> {
                boolean[] drop = new boolean[r];
                if (values.length == 0) {
                    for (int i = 0; i < r; i++) drop[i] = input.dim(i) == 1;
                } else {
                    for (int v : values) {
                        int a = Broadcasting.axis("Squeeze", v, r);
                        if (input.dim(a) != 1) {
                            throw new ShapeException("Squeeze: axis " + v + " of " + input + " has size " + input.dim(a) + ", not 1");
                        }
                        drop[a] = true;
                    }
                }
                yield java.util.stream.IntStream.range(0, r).filter(i -> !drop[i]).map(input::dim).toArray();
            }
            case UNSQUEEZE -> {
                int outRank = r + values.length;
                boolean[] inserted = new boolean[outRank];
                for (int v : values) {
                    int a = Broadcasting.axis("Unsqueeze", v, outRank);
                    if (inserted[a]) throw new ShapeException("Unsqueeze: axis " + v + " given twice in " + Arrays.toString(values));
                    inserted[a] = true;
                }
                int[] o = new int[outRank];
                int j = 0;
                for (int i = 0; i < outRank; i++) o[i] = inserted[i] ? 1 : input.dim(j++);
                yield o;
            }
        };
        return out.length == 0 ? Shape.of(1) : Shape.of(out);
    }

    private int[] target(Shape input) {
        int[] out = values.clone();
        long known = 1;
        int inferred = -1;
        for (int i = 0; i < out.length; i++) {
            if (out[i] == 0) {
                if (i >= input.rank()) {
                    throw new ShapeException("Reshape " + Arrays.toString(values) + ": 0 at axis " + i + " copies an input size, but "
                            + input + " has rank " + input.rank());
                }
                out[i] = input.dim(i);
            }
            if (out[i] == -1) {
                inferred = i;
            } else {
                known *= out[i];
            }
        }
        if (inferred >= 0) {
            if (input.elementCount() % known != 0) {
                throw new ShapeException("Reshape " + Arrays.toString(values) + ": the " + input.elementCount()
                        + " elements of " + input + " are not divisible by the known sizes' product " + known + " (for −1)");
            }
            out[inferred] = Math.toIntExact(input.elementCount() / known);
        } else if (known != input.elementCount()) {
            throw new ShapeException("Reshape " + Arrays.toString(values) + ": " + input + " has " + input.elementCount()
                    + " elements, the target " + Arrays.toString(out) + " " + known);
        }
        return out;
    }

    @Override
    public String kind() {
        return switch (mode) {
            case IDENTITY -> "Identity";
            case TO -> "Reshape";
            case FLATTEN -> "Flatten";
            case SQUEEZE -> "Squeeze";
            case UNSQUEEZE -> "Unsqueeze";
        };
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Reshape r && r.mode == mode && Arrays.equals(r.values, values);
    }

    @Override
    public int hashCode() {
        return mode.hashCode() * 31 + Arrays.hashCode(values);
    }

    @Override
    public String toString() {
        return kind() + (mode == Mode.FLATTEN ? "(axis " + values[0] + ")" : Arrays.toString(values).replace('[', '(').replace(']', ')'));
    }
}
