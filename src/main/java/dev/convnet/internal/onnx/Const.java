package dev.convnet.internal.onnx;

import dev.convnet.onnx.OnnxDataType;
import dev.convnet.onnx.OnnxTensor;

/**
 * A tensor whose value is known at import: float or integer values with ONNX dimensions (rank 0 allowed), or
 * only a type (for element types whose values are not read). Internal to the importer.
 *
 * @param dims the ONNX dimensions ({@code []} for a scalar)
 * @param f    float values, or null
 * @param l    integer values, or null
 * @param type the element type
 */
public record Const(long[] dims, float[] f, long[] l, OnnxDataType type) {
    /** The number of elements (1 for a scalar). */
    public long count() {
        long c = 1;
        for (long d : dims) c *= d;
        return c;
    }

    /** Whether the values are floats. */
    public boolean isFloat() {
        return f != null;
    }

    /** Whether the values are integers. */
    public boolean isInt() {
        return l != null;
    }

    /** A float32 tensor. */
    public static Const floats(long[] dims, float[] v) {
        return new Const(dims, v, null, OnnxDataType.FLOAT);
    }

    /** An int64 tensor. */
    public static Const longs(long[] dims, long[] v) {
        return new Const(dims, null, v, OnnxDataType.INT64);
    }

    /** An initializer or attribute tensor: values for FLOAT, INT64, INT32, INT8 and UINT8, only the type otherwise. */
    public static Const of(OnnxTensor t) {
        return switch (t.dataType()) {
            case FLOAT -> floats(t.dims(), t.floats());
            case INT64, INT32, INT8, UINT8 -> new Const(t.dims(), null, t.longs(), t.dataType());
            default -> new Const(t.dims(), null, null, t.dataType());
        };
    }

    /** Element {@code i} as a double, float or integer. */
    public double value(int i) {
        return f != null ? f[i] : l[i];
    }
}
