package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Layer;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.onnx.OnnxDataType;

import java.util.Arrays;
import java.util.List;

/**
 * QuantizeLinear and DequantizeLinear (opset 10: per tensor; 13 on: per axis), and QLinearConv and QLinearMatMul
 * decomposed into DequantizeLinear → Conv / MatMul → QuantizeLinear. 8-bit integers flow as floats (exact). A
 * DequantizeLinear of a constant (an int8 initializer feeding a Conv, Gemm or MatMul weight) is folded at import into
 * float values, so the consuming layer sees float weights; a QuantizeLinear of a constant is folded into integers.
 * Zero points of types other than INT8 and UINT8 (int16, uint16, int4, float8, …) are refused.
 */
final class QuantOps {
    private QuantOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("QuantizeLinear", 10, 12, cx -> quantize(cx, false));
        r.add("QuantizeLinear", 13, cx -> quantize(cx, true));
        r.add("DequantizeLinear", 10, 12, cx -> dequantize(cx, false));
        r.add("DequantizeLinear", 13, cx -> dequantize(cx, true));
        r.add("QLinearConv", 10, QuantOps::qlinearConv);
        r.add("QLinearMatMul", 10, QuantOps::qlinearMatMul);
    }

    // ---------------------------------------------------------------- QuantizeLinear, DequantizeLinear

    private static void quantize(ImportContext cx, boolean perAxis) {
        checkNoBlocks(cx);
        String x = cx.in(0);
        OnnxDataType declared = outputDtype(cx);
        int axis = perAxis ? (int) cx.attrInt("axis", 1) : QuantParams.PER_TENSOR;
        QuantParams p = params(cx, 1, 2, axis, cx.onnxDims(x).length, declared != null ? declared : OnnxDataType.UINT8,
                "y_scale", "y_zero_point");
        if (declared != null && cx.hasInput(2) && typeOf(p) != declared) {
            throw cx.malformed("output_dtype " + declared + " differs from the zero point's type " + typeOf(p));
        }
        quantizeValue(cx, x, p, cx.out());
    }

    private static void dequantize(ImportContext cx, boolean perAxis) {
        checkNoBlocks(cx);
        String x = cx.in(0);
        OnnxDataType xType = cx.elementType(x);
        int axis = perAxis ? (int) cx.attrInt("axis", 1) : QuantParams.PER_TENSOR;
        int rank = cx.onnxDims(x).length;
        if (xType == OnnxDataType.INT32) {
            // an int32 tensor (a quantized bias): zero point absent or 0, values as they are
            Const c = cx.constInput(0, "DequantizeLinear of INT32 values");
            float[] scales = floats(cx, 1, "x_scale");
            if (cx.hasInput(2) && Arrays.stream(cx.longsInput(2, "x_zero_point")).anyMatch(z -> z != 0)) {
                throw cx.malformed("an INT32 DequantizeLinear needs zero points 0");
            }
            if (scales.length > 1 && axis == QuantParams.PER_TENSOR) {
                throw cx.unsupported("x_scale with " + scales.length + " values (the operator takes one per tensor here)");
            }
            int a = scales.length == 1 ? QuantParams.PER_TENSOR : normalizeAxis(cx, axis, rank);
            if (a != QuantParams.PER_TENSOR && (a >= c.dims().length || c.dims()[a] != scales.length)) {
                throw cx.malformed(scales.length + " scales along axis " + a + " do not fit dims " + Arrays.toString(c.dims()));
            }
            float[] y = new float[(int) c.count()];
            int stride = stride(c.dims(), a);
            for (int i = 0; i < y.length; i++) {
                int ch = a == QuantParams.PER_TENSOR ? 0 : (i / stride) % scales.length;
                y[i] = (float) (c.value(i) * scales[ch]);
            }
            cx.define(cx.out(), Const.floats(c.dims(), y));
            return;
        }
        if (xType != OnnxDataType.FLOAT && xType != OnnxDataType.INT8 && xType != OnnxDataType.UINT8) {
            throw cx.unsupported("DequantizeLinear of " + xType + " values (convnet quantizes to INT8 and UINT8)");
        }
        OnnxDataType def = xType == OnnxDataType.INT8 ? OnnxDataType.INT8 : OnnxDataType.UINT8;
        QuantParams p = params(cx, 1, 2, axis, rank, def, "x_scale", "x_zero_point");
        if ((xType == OnnxDataType.INT8 || xType == OnnxDataType.UINT8) && cx.hasInput(2) && typeOf(p) != xType) {
            throw cx.malformed("x is " + xType + " but its zero point is " + typeOf(p));
        }
        dequantizeValue(cx, x, p, cx.out());
    }

    /** Opset 21's blocked quantization is not supported; block_size 0 (the default) is per tensor or per axis. */
    private static void checkNoBlocks(ImportContext cx) {
        long block = cx.attrInt("block_size", 0);
        if (block != 0) throw cx.unsupported("blocked quantization (block_size " + block + ")");
    }

    /** Opset 21's output_dtype attribute, or null when absent (0). */
    private static OnnxDataType outputDtype(ImportContext cx) {
        long code = cx.attrInt("output_dtype", 0);
        if (code == 0) return null;
        OnnxDataType t = OnnxDataType.fromCode((int) code);
        if (t != OnnxDataType.INT8 && t != OnnxDataType.UINT8) {
            throw cx.unsupported("quantization to " + t + " (convnet quantizes to INT8 and UINT8)");
        }
        return t;
    }

    // ---------------------------------------------------------------- QLinearConv, QLinearMatMul

    private static void qlinearConv(ImportContext cx) {
        String x = cx.in(0);
        QuantParams xp = params(cx, 1, 2, QuantParams.PER_TENSOR, 4, OnnxDataType.UINT8, "x_scale", "x_zero_point");
        Const w = cx.constInput(3, "QLinearConv weights");
        QuantParams wp = params(cx, 4, 5, 0, w.dims().length, OnnxDataType.UINT8, "w_scale", "w_zero_point");
        if (w.type() != OnnxDataType.INT8 && w.type() != OnnxDataType.UINT8) {
            throw cx.unsupported("QLinearConv weights of type " + w.type());
        }
        if (cx.hasInput(5) && w.type() != typeOf(wp)) throw cx.malformed("w is " + w.type() + " but w_zero_point is " + typeOf(wp));
        QuantParams yp = params(cx, 6, 7, QuantParams.PER_TENSOR, 4, OnnxDataType.UINT8, "y_scale", "y_zero_point");
        float[] weights = dequantized(cx, w, wp);
        float[] bias = null;
        if (cx.hasInput(8)) {
            Const b = cx.constInput(8, "QLinearConv bias");
            if (b.type() != OnnxDataType.INT32) throw cx.malformed("QLinearConv bias must be INT32, got " + b.type());
            int outC = (int) w.dims()[0];
            if (b.count() != outC) throw cx.malformed("QLinearConv bias has " + b.count() + " values for " + outC + " output channels");
            // the bias is quantized with scale x_scale·w_scale and zero point 0
            bias = new float[outC];
            for (int c = 0; c < outC; c++) bias[c] = (float) (b.value(c) * ((double) xp.scale(0) * wp.scale(wp.perTensor() ? 0 : c)));
        }
        Layer conv = ConvOps.layer(cx, w.dims(), weights, bias);
        String out = cx.out();
        String xf = cx.fresh(out + "/x_dequantized");
        dequantizeValue(cx, x, xp, xf);
        String yf = cx.fresh(out + "/conv");
        cx.emit(yf, conv, xf);
        quantizeValue(cx, yf, yp, out);
    }

    private static void qlinearMatMul(ImportContext cx) {
        String a = cx.in(0);
        String b = cx.in(3);
        int rankA = cx.onnxDims(a).length;
        int rankB = cx.onnxDims(b).length;
        QuantParams ap = params(cx, 1, 2, QuantParams.PER_TENSOR, rankA, OnnxDataType.UINT8, "a_scale", "a_zero_point");
        // b may be quantized per column (its last axis)
        QuantParams bp = params(cx, 4, 5, rankB - 1, rankB, OnnxDataType.UINT8, "b_scale", "b_zero_point");
        QuantParams yp = params(cx, 6, 7, QuantParams.PER_TENSOR, Math.max(rankA, rankB), OnnxDataType.UINT8, "y_scale", "y_zero_point");
        String out = cx.out();
        String af = cx.fresh(out + "/a_dequantized");
        dequantizeValue(cx, a, ap, af);
        String bf = cx.fresh(out + "/b_dequantized");
        dequantizeValue(cx, b, bp, bf);
        String yf = cx.fresh(out + "/matmul");
        GemmOps.matMul(cx, af, bf, yf);
        quantizeValue(cx, yf, yp, out);
    }

    // ---------------------------------------------------------------- helpers

    /**
     * The quantization parameters of inputs {@code scaleIndex} (float, constant) and {@code zpIndex} (INT8 or UINT8,
     * constant, optional: 0 of {@code defaultType}): per tensor when there is one scale, else along {@code axis} (may
     * be negative; {@link QuantParams#PER_TENSOR} where the operator allows only one scale).
     */
    private static QuantParams params(ImportContext cx, int scaleIndex, int zpIndex, int axis, int rank,
                                      OnnxDataType defaultType, String scaleName, String zpName) {
        float[] scales = floats(cx, scaleIndex, scaleName);
        int[] zps = new int[scales.length];
        OnnxDataType type = defaultType;
        if (cx.hasInput(zpIndex)) {
            Const z = cx.constInput(zpIndex, zpName);
            type = z.type();
            if (type != OnnxDataType.INT8 && type != OnnxDataType.UINT8) {
                throw cx.unsupported(zpName + " of type " + type + " (convnet quantizes to INT8 and UINT8)");
            }
            if (z.count() != scales.length) {
                throw cx.malformed(zpName + " has " + z.count() + " values, " + scaleName + " " + scales.length);
            }
            for (int i = 0; i < zps.length; i++) zps[i] = (int) z.value(i);
        }
        QuantParams.Type t = type == OnnxDataType.INT8 ? QuantParams.Type.INT8 : QuantParams.Type.UINT8;
        if (scales.length == 1) return new QuantParams(scales, zps, QuantParams.PER_TENSOR, t);
        if (axis == QuantParams.PER_TENSOR) {
            throw cx.unsupported(scaleName + " with " + scales.length + " values (the operator takes one per tensor here)");
        }
        return new QuantParams(scales, zps, normalizeAxis(cx, axis, rank), t);
    }

    private static float[] floats(ImportContext cx, int index, String name) {
        Const s = cx.constInput(index, name);
        if (!s.isFloat()) throw cx.unsupported(name + " of type " + s.type() + " (expected FLOAT)");
        if (s.dims().length > 1) throw cx.malformed(name + " must be a scalar or 1-D, got dims " + Arrays.toString(s.dims()));
        return s.f();
    }

    private static int normalizeAxis(ImportContext cx, int axis, int rank) {
        int a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw cx.malformed("axis " + axis + " is outside a tensor of rank " + rank);
        return a;
    }

    private static OnnxDataType typeOf(QuantParams p) {
        return p.type() == QuantParams.Type.INT8 ? OnnxDataType.INT8 : OnnxDataType.UINT8;
    }

    /** The flat distance between consecutive indices of {@code axis} in a row-major tensor of {@code dims}. */
    private static int stride(long[] dims, int axis) {
        if (axis == QuantParams.PER_TENSOR) return 1;
        long s = 1;
        for (int i = axis + 1; i < dims.length; i++) s *= dims[i];
        return (int) s;
    }

    private static void checkAxis(ImportContext cx, QuantParams p, long[] dims) {
        if (!p.perTensor() && (p.axis() >= dims.length || dims[p.axis()] != p.count())) {
            throw cx.malformed("per-axis parameters with " + p.count() + " scales along axis " + p.axis()
                    + " do not fit dims " + Arrays.toString(dims) + " (rule: dim(axis) = number of scales)");
        }
    }

    /** A constant's values dequantized with {@code p}. */
    private static float[] dequantized(ImportContext cx, Const c, QuantParams p) {
        checkAxis(cx, p, c.dims());
        float[] y = new float[(int) c.count()];
        int stride = stride(c.dims(), p.axis());
        for (int i = 0; i < y.length; i++) y[i] = p.dequantize((float) c.value(i), p.perTensor() ? 0 : (i / stride) % p.count());
        return y;
    }

    /** {@code out = quantize(x)}: folded into integers when x is known, else a {@link QuantizeLinear} node. */
    private static void quantizeValue(ImportContext cx, String x, QuantParams p, String out) {
        Const c = cx.constant(x);
        if (c != null) {
            if (!c.isFloat()) throw cx.unsupported("QuantizeLinear of " + c.type() + " values");
            checkAxis(cx, p, c.dims());
            long[] q = new long[(int) c.count()];
            int stride = stride(c.dims(), p.axis());
            for (int i = 0; i < q.length; i++) q[i] = (long) p.quantize(c.f()[i], p.perTensor() ? 0 : (i / stride) % p.count());
            cx.define(out, new Const(c.dims(), null, q, typeOf(p)));
            return;
        }
        cx.emit(out, QuantizeLinear.of(p), List.of(x));
        cx.setByteType(out, typeOf(p));
    }

    /** {@code out = dequantize(x)}: folded into floats when x is known, else a {@link DequantizeLinear} node. */
    private static void dequantizeValue(ImportContext cx, String x, QuantParams p, String out) {
        Const c = cx.constant(x);
        if (c != null) {
            if (!c.isInt() && !c.isFloat()) throw cx.unsupported("DequantizeLinear of " + c.type() + " values");
            cx.define(out, Const.floats(c.dims(), dequantized(cx, c, p)));
            return;
        }
        cx.emit(out, DequantizeLinear.of(p), List.of(x));
    }
}
