package dev.convnet.onnx;

import java.util.List;

/**
 * The value of a node attribute ({@code AttributeProto}). One record per kind convnet reads; attributes of
 * the other ONNX kinds (sub-graphs, sparse tensors, lists of tensors, type protos) are kept as
 * {@link Unsupported} so that the mapping to layers can name them in its error.
 *
 * <p>All implementations are immutable (array accessors return copies) and thread-safe.
 */
public sealed interface OnnxAttribute {

    /** {@code INT}: a 64-bit integer. */
    record Int(long value) implements OnnxAttribute {}

    /** {@code FLOAT}: a 32-bit float. */
    record Float(float value) implements OnnxAttribute {}

    /** {@code STRING}: bytes decoded as UTF-8 (invalid sequences become U+FFFD). */
    record Str(String value) implements OnnxAttribute {}

    /** {@code INTS}: a list of 64-bit integers. */
    record Ints(long[] values) implements OnnxAttribute {
        public Ints {
            values = values.clone();
        }

        @Override
        public long[] values() {
            return values.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Ints other && java.util.Arrays.equals(values, other.values);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "Ints" + java.util.Arrays.toString(values);
        }
    }

    /** {@code FLOATS}: a list of 32-bit floats. */
    record Floats(float[] values) implements OnnxAttribute {
        public Floats {
            values = values.clone();
        }

        @Override
        public float[] values() {
            return values.clone();
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Floats other && java.util.Arrays.equals(values, other.values);
        }

        @Override
        public int hashCode() {
            return java.util.Arrays.hashCode(values);
        }

        @Override
        public String toString() {
            return "Floats" + java.util.Arrays.toString(values);
        }
    }

    /** {@code STRINGS}: a list of strings decoded as UTF-8. */
    record Strs(List<String> values) implements OnnxAttribute {
        public Strs {
            values = List.copyOf(values);
        }
    }

    /** {@code TENSOR}: a tensor, such as the {@code value} of a {@code Constant} node. */
    record Tensor(OnnxTensor value) implements OnnxAttribute {}

    /**
     * An attribute of a kind convnet does not read.
     *
     * @param kind the ONNX {@code AttributeType} name: {@code GRAPH}, {@code GRAPHS}, {@code TENSORS},
     *             {@code SPARSE_TENSOR}, {@code SPARSE_TENSORS}, {@code TYPE_PROTO} or {@code TYPE_PROTOS}
     */
    record Unsupported(String kind) implements OnnxAttribute {}
}
