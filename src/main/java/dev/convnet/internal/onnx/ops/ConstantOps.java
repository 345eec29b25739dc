package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.onnx.OnnxAttribute;
import dev.convnet.layer.Activation;
import dev.convnet.layer.Binary;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Unary;
import dev.convnet.onnx.OnnxDataType;
import dev.convnet.onnx.OnnxTensor;

import java.util.Arrays;
import java.util.Map;

/** Operations computed at import: Constant, ConstantOfShape, Range, Shape, Size, and Cast of known values. */
final class ConstantOps {
    private ConstantOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Constant", ConstantOps::constant);
        r.add("ConstantOfShape", ConstantOps::constantOfShape);
        r.add("Range", ConstantOps::range);
        r.add("Shape", ConstantOps::shape);
        r.add("Size", cx -> cx.define(cx.out(), Const.longs(new long[0], new long[] {cx.shapeOf(cx.in(0)).elementCount()})));
        r.add("Cast", ConstantOps::cast);
    }

    private static void constant(ImportContext cx) {
        String out = cx.out();
        Map<String, OnnxAttribute> a = cx.node().attributes();
        if (a.get("value") instanceof OnnxAttribute.Tensor(OnnxTensor t)) {
            Const c = Const.of(t);
            if (!c.isFloat() && !c.isInt()) throw cx.unsupported("a Constant of element type " + t.dataType());
            cx.define(out, c);
        } else if (a.get("value_float") instanceof OnnxAttribute.Float(float v)) {
            cx.define(out, Const.floats(new long[0], new float[] {v}));
        } else if (a.get("value_floats") instanceof OnnxAttribute.Floats(float[] v)) {
            cx.define(out, Const.floats(new long[] {v.length}, v));
        } else if (a.get("value_int") instanceof OnnxAttribute.Int(long v)) {
            cx.define(out, Const.longs(new long[0], new long[] {v}));
        } else if (a.get("value_ints") instanceof OnnxAttribute.Ints ints) {
            cx.define(out, Const.longs(new long[] {ints.values().length}, ints.values()));
        } else {
            throw cx.unsupported("a Constant with attributes " + a.keySet());
        }
    }

    private static void constantOfShape(ImportContext cx) {
        long[] dims = cx.longsInput(0, "ConstantOfShape's shape");
        long count = 1;
        for (long d : dims) count *= d;
        if (count == 0) throw cx.unsupported("a zero-sized tensor");
        OnnxAttribute a = cx.attribute("value");
        Const v = a instanceof OnnxAttribute.Tensor(OnnxTensor t) ? Const.of(t) : Const.floats(new long[] {1}, new float[] {0f});
        if (v.isFloat()) {
            float[] f = new float[(int) count];
            Arrays.fill(f, v.f()[0]);
            cx.define(cx.out(), Const.floats(dims, f));
        } else if (v.isInt()) {
            long[] l = new long[(int) count];
            Arrays.fill(l, v.l()[0]);
            cx.define(cx.out(), new Const(dims, null, l, v.type()));
        } else {
            throw cx.unsupported("ConstantOfShape of type " + v.type());
        }
    }

    private static void range(ImportContext cx) {
        Const s = cx.constInput(0, "Range's start");
        Const l = cx.constInput(1, "Range's limit");
        Const d = cx.constInput(2, "Range's delta");
        double start = s.value(0);
        double limit = l.value(0);
        double delta = d.value(0);
        int n = (int) Math.max(0, Math.ceil((limit - start) / delta));
        if (n == 0) throw cx.unsupported("an empty Range");
        if (s.isFloat()) {
            float[] f = new float[n];
            for (int i = 0; i < n; i++) f[i] = (float) (start + i * delta);
            cx.define(cx.out(), Const.floats(new long[] {n}, f));
        } else {
            long[] v = new long[n];
            for (int i = 0; i < n; i++) v[i] = s.l()[0] + i * d.l()[0];
            cx.define(cx.out(), new Const(new long[] {n}, null, v, s.type()));
        }
    }

    private static void shape(ImportContext cx) {
        long[] dims = cx.onnxDims(cx.in(0));
        int rank = dims.length;
        long start = cx.attrInt("start", 0);
        long end = cx.attrInt("end", rank);
        int s = (int) Math.max(0, Math.min(rank, start < 0 ? start + rank : start));
        int e = (int) Math.max(0, Math.min(rank, end < 0 ? end + rank : end));
        long[] v = Arrays.copyOfRange(dims, s, Math.max(s, e));
        cx.define(cx.out(), Const.longs(new long[] {v.length}, v));
    }

    /**
     * A run-time Cast of floats to INT8 or UINT8: truncation toward zero, {@code floor(relu(x)) − floor(relu(−x))},
     * then saturation to the type (ONNX leaves out-of-range values undefined) by a QuantizeLinear of scale 1.
     */
    private static void castToBytes(ImportContext cx, String x, OnnxDataType target) {
        String out = cx.out();
        String pos = cx.fresh(out + "/positive");
        cx.emit(pos, Activation.relu(), x);
        String up = cx.fresh(out + "/positive_floor");
        cx.emit(up, Unary.of(Unary.Function.FLOOR), pos);
        String neg = cx.fresh(out + "/negated");
        cx.emit(neg, Unary.of(Unary.Function.NEG), x);
        String negPos = cx.fresh(out + "/negative");
        cx.emit(negPos, Activation.relu(), neg);
        String down = cx.fresh(out + "/negative_floor");
        cx.emit(down, Unary.of(Unary.Function.FLOOR), negPos);
        String trunc = cx.fresh(out + "/truncated");
        cx.emit(trunc, Binary.of(Binary.Op.SUB), up, down);
        QuantParams.Type t = target == OnnxDataType.INT8 ? QuantParams.Type.INT8 : QuantParams.Type.UINT8;
        cx.emit(out, QuantizeLinear.of(QuantParams.perTensor(1f, 0, t)), trunc);
        cx.setByteType(out, target);
    }

    /**
     * Cast: to float32 at run time is the value itself (8-bit integers are already carried as floats); to INT8 or
     * UINT8 at run time truncates and saturates; known values convert between float and integer types.
     */
    private static void cast(ImportContext cx) {
        int to = (int) cx.attrInt("to", 0);
        OnnxDataType target = OnnxDataType.fromCode(to);
        String x = cx.in(0);
        Const c = cx.constant(x);
        if (c == null) {
            if (target == OnnxDataType.FLOAT && cx.elementType(x) != OnnxDataType.FLOAT) {
                cx.emit(cx.out(), Reshape.identity(), x); // 8-bit integers, exact as floats: a new FLOAT value
                cx.setFloatType(cx.out());
                return;
            }
            if (target == OnnxDataType.FLOAT || target == cx.elementType(x)) {
                cx.alias(cx.out(), x);
                return;
            }
            if (target == OnnxDataType.INT8 || target == OnnxDataType.UINT8) {
                castToBytes(cx, x, target);
                return;
            }
            throw cx.unsupported("Cast to " + target + " at run time");
        }
        if (!c.isFloat() && !c.isInt()) throw cx.unsupported("Cast from " + c.type());
        switch (target) {
            case FLOAT -> {
                float[] f = new float[(int) c.count()];
                for (int i = 0; i < f.length; i++) f[i] = (float) c.value(i);
                cx.define(cx.out(), Const.floats(c.dims(), f));
            }
            case INT64, INT32 -> {
                long[] l = new long[(int) c.count()];
                for (int i = 0; i < l.length; i++) l[i] = (long) c.value(i);
                cx.define(cx.out(), new Const(c.dims(), null, l, target));
            }
            default -> throw cx.unsupported("Cast to " + target);
        }
    }
}
