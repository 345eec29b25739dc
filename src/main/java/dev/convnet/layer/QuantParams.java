package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;

/**
 * The affine map between real numbers and 8-bit integers that ONNX's {@code QuantizeLinear} and
 * {@code DequantizeLinear} use: {@code q = saturate(round(x / scale) + zeroPoint)} (round half to even, saturate to
 * the type's range) and {@code x = (q − zeroPoint)·scale}. Either one scale and zero point for the whole tensor, or
 * one per index of {@link #axis()} (per channel: axis 1 of an activation, axis 0 of a weight).
 *
 * <p>Thread-safety: immutable (arrays are copied on the way in and out).
 *
 * @param type the integer type: {@link Type#INT8} or {@link Type#UINT8}
 */
public record QuantParams(float[] scales, int[] zeroPoints, int axis, Type type) {
    /** The 8-bit integer type of the quantized values. */
    public enum Type {
        /** −128…127. */
        INT8(-128, 127),
        /** 0…255. */
        UINT8(0, 255);

        private final int min, max;

        Type(int min, int max) {
            this.min = min;
            this.max = max;
        }

        /** The smallest value. */
        public int min() {
            return min;
        }

        /** The largest value. */
        public int max() {
            return max;
        }
    }

    /** {@link #axis()} of per-tensor parameters. */
    public static final int PER_TENSOR = -1;

    /** Checks: scales positive and finite, zero points within the type's range, one of each per channel. */
    public QuantParams {
        if (scales == null || zeroPoints == null || type == null) throw new ShapeException("QuantParams: null argument");
        scales = scales.clone();
        zeroPoints = zeroPoints.clone();
        if (scales.length == 0 || scales.length != zeroPoints.length) {
            throw new ShapeException("QuantParams: " + scales.length + " scales and " + zeroPoints.length
                    + " zero points: need the same count, at least 1");
        }
        if (axis < PER_TENSOR || (axis == PER_TENSOR && scales.length != 1)) {
            throw new ShapeException("QuantParams: axis = " + axis + " with " + scales.length
                    + " scales: per-tensor parameters (axis −1) have exactly one");
        }
        for (float s : scales) {
            if (!(s > 0f) || Float.isInfinite(s)) throw new ShapeException("QuantParams: scale " + s + " must be > 0 and finite");
        }
        for (int z : zeroPoints) {
            if (z < type.min || z > type.max) {
                throw new ShapeException("QuantParams: zero point " + z + " outside " + type + "'s [" + type.min + ", " + type.max + "]");
            }
        }
    }

    /** One scale and zero point for the whole tensor. */
    public static QuantParams perTensor(float scale, int zeroPoint, Type type) {
        return new QuantParams(new float[] {scale}, new int[] {zeroPoint}, PER_TENSOR, type);
    }

    /** Symmetric INT8 parameters, one scale per index of {@code axis}, zero points 0. */
    public static QuantParams perChannelSymmetric(float[] scales, int axis) {
        return new QuantParams(scales, new int[scales.length], axis, Type.INT8);
    }

    @Override
    public float[] scales() {
        return scales.clone();
    }

    @Override
    public int[] zeroPoints() {
        return zeroPoints.clone();
    }

    /** True if one scale and zero point cover the whole tensor. */
    public boolean perTensor() {
        return axis == PER_TENSOR;
    }

    /** The number of (scale, zero point) pairs. */
    public int count() {
        return scales.length;
    }

    /** The scale of channel {@code c} (0 for per-tensor). */
    public float scale(int c) {
        return scales[c];
    }

    /** The zero point of channel {@code c} (0 for per-tensor). */
    public int zeroPoint(int c) {
        return zeroPoints[c];
    }

    /** Checks that a tensor of {@code shape} fits: the axis exists and has one entry per scale. */
    public void check(String op, Shape shape) {
        if (perTensor()) return;
        if (axis >= shape.rank() || shape.dim(axis) != scales.length) {
            throw new ShapeException(op + ": per-axis parameters along axis " + axis + " with " + scales.length
                    + " scales do not fit input " + shape + " (rule: dim(axis) = number of scales)");
        }
    }

    /** ONNX QuantizeLinear of one value with the parameters of channel {@code c}: round half to even, saturate. */
    public float quantize(float x, int c) {
        float r = (float) Math.rint(x / scales[c]) + zeroPoints[c];
        return Math.min(Math.max(r, type.min), type.max);
    }

    /** ONNX DequantizeLinear of one (integer) value with the parameters of channel {@code c}. */
    public float dequantize(float q, int c) {
        return (q - zeroPoints[c]) * scales[c];
    }

    /**
     * The channel index of each flat position of a row-major tensor of {@code shape}: {@code stride} positions in a
     * row share a channel, channels repeat every {@code count()·stride}. Returns {stride} ({1} for per-tensor use 0).
     */
    public int innerStride(Shape shape) {
        if (perTensor()) return 0;
        int s = 1;
        for (int i = axis + 1; i < shape.rank(); i++) s *= shape.dim(i);
        return s;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantParams p && p.axis == axis && p.type == type && Arrays.equals(p.scales, scales)
                && Arrays.equals(p.zeroPoints, zeroPoints);
    }

    @Override
    public int hashCode() {
        return (Arrays.hashCode(scales) * 31 + Arrays.hashCode(zeroPoints)) * 31 + axis * 7 + type.hashCode();
    }

    @Override
    public String toString() {
        String s = perTensor() ? "scale=" + scales[0] + ", zp=" + zeroPoints[0]
                : scales.length + " scales along axis " + axis;
        return s + ", " + type;
    }
}
