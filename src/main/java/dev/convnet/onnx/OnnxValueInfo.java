package dev.convnet.onnx;

import java.util.List;
import java.util.Optional;

/**
 * A graph input or output as the model declares it ({@code ValueInfoProto}): its name, element type and
 * shape.
 *
 * <p>Immutable and thread-safe.
 *
 * @param name     the value's name
 * @param tensor   whether the value is a tensor; {@code false} for sequences, maps, optionals and values
 *                 without a type, whose {@code elemType} is {@link OnnxDataType#UNDEFINED} and whose shape
 *                 is empty
 * @param elemType the tensor's element type ({@link OnnxDataType#UNDEFINED} when not declared)
 * @param shape    the dimensions, or empty when the model does not declare a shape (unknown rank)
 */
public record OnnxValueInfo(String name, boolean tensor, OnnxDataType elemType, Optional<List<Dim>> shape) {

    public OnnxValueInfo {
        shape = shape.map(List::copyOf);
    }

    /**
     * One dimension of a declared shape: a static size, a named dynamic size ({@code dim_param}, such as
     * {@code "batch"}), or an unnamed dynamic size (neither field set).
     *
     * @param value the size, or -1 when dynamic
     * @param param the symbolic name when dynamic and named, otherwise {@code null}
     */
    public record Dim(long value, String param) {
        /** A static dimension. */
        public static Dim of(long value) {
            if (value < 0) throw new IllegalArgumentException("negative dimension " + value);
            return new Dim(value, null);
        }

        /** A dynamic dimension, named or ({@code param == null}) not. */
        public static Dim dynamic(String param) {
            return new Dim(-1, param);
        }

        /** Whether the size is not fixed in the model. */
        public boolean isDynamic() {
            return value < 0;
        }

        @Override
        public String toString() {
            return isDynamic() ? (param == null ? "?" : param) : Long.toString(value);
        }
    }

    /**
     * The static dimensions, if the shape is declared and no dimension is dynamic.
     */
    public Optional<long[]> staticDims() {
        if (shape.isEmpty()) return Optional.empty();
        List<Dim> dims = shape.get();
        long[] out = new long[dims.size()];
        for (int i = 0; i < out.length; i++) {
            if (dims.get(i).isDynamic()) return Optional.empty();
            out[i] = dims.get(i).value();
        }
        return Optional.of(out);
    }
}
