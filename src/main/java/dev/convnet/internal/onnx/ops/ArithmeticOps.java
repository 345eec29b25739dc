package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Reshape;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;
import java.util.List;

/**
 * Element-wise arithmetic with NumPy broadcasting: Add, Sub, Mul, Div, Pow, PRelu (before opset 7 the second operand
 * broadcasts only with {@code broadcast = 1}, aligned at {@code axis}, and PRelu's slope {@code [C]} applies per
 * channel), the variadic Max, Min, Sum and Mean, and Expand. Add, Sub, Mul and Div of known integers are computed at
 * import.
 */
final class ArithmeticOps {
    private ArithmeticOps() {
    }

    /** A binary operation on known integers. */
    private interface IntegerRule {
        long apply(ImportContext cx, long x, long y);
    }

    static void register(ConverterRegistry.Builder r) {
        binary(r, "Add", Binary.Op.ADD, (cx, x, y) -> x + y);
        binary(r, "Sub", Binary.Op.SUB, (cx, x, y) -> x - y);
        binary(r, "Mul", Binary.Op.MUL, (cx, x, y) -> x * y);
        binary(r, "Div", Binary.Op.DIV, (cx, x, y) -> {
            if (y == 0) throw cx.malformed("integer division by zero");
            return x / y; // integer division truncates toward zero
        });
        binary(r, "Pow", Binary.Op.POW, null);
        binary(r, "PRelu", Binary.Op.PRELU, null);
        r.add("Max", cx -> variadic(cx, Binary.Op.MAX, false));
        r.add("Min", cx -> variadic(cx, Binary.Op.MIN, false));
        r.add("Sum", cx -> variadic(cx, Binary.Op.ADD, false));
        r.add("Mean", cx -> variadic(cx, Binary.Op.ADD, true));
        r.add("Expand", ArithmeticOps::expand);
    }

    /**
     * {@code op} at opsets 1–6 (legacy broadcasting) and from 7 on (NumPy broadcasting).
     *
     * @param integers the operation on known integers, or null where there is none
     */
    private static void binary(ConverterRegistry.Builder r, String op, Binary.Op o, IntegerRule integers) {
        r.add(op, 1, 6, cx -> binary(cx, o, integers, true));
        r.add(op, 7, cx -> binary(cx, o, integers, false));
    }

    /** @param legacyBroadcast the second operand is aligned as before opset 7 */
    private static void binary(ImportContext cx, Binary.Op o, IntegerRule integers, boolean legacyBroadcast) {
        String a = cx.in(0);
        String b = cx.in(1);
        Const ca = cx.constant(a);
        Const cb = cx.constant(b);
        if (integers != null && ca != null && cb != null && ca.isInt() && cb.isInt()) {
            foldIntegers(cx, integers, ca, cb);
            return;
        }
        if (o == Binary.Op.POW && cb != null && cb.isInt()) {
            float[] f = new float[cb.l().length];
            for (int i = 0; i < f.length; i++) f[i] = cb.l()[i];
            b = cx.newConst(b + "/float", cb.dims(), f);
        }
        if (legacyBroadcast) b = legacyAligned(cx, o, a, b);
        cx.emit(cx.out(), Binary.of(o), a, b);
    }

    /**
     * Before opset 7: the second operand reshaped so that NumPy broadcasting means what {@code broadcast = 1} and
     * {@code axis} meant (default: the trailing axes), and PRelu's slope {@code [C]} applied per channel.
     */
    private static String legacyAligned(ImportContext cx, Binary.Op o, String a, String b) {
        int rankA = cx.shapeOf(a).rank();
        Shape sb = cx.shapeOf(b);
        long axis;
        if (o == Binary.Op.PRELU) {
            if (sb.rank() != 1 || rankA < 3 || sb.dim(0) == 1) return b;
            axis = 1;
        } else {
            if (cx.attrInt("broadcast", 0) == 0) return b;
            axis = cx.attrInt("axis", rankA - sb.rank());
            if (axis < 0) axis += rankA;
        }
        int trailing = (int) (rankA - axis - sb.rank());
        if (trailing <= 0) return b;
        int[] axes = new int[trailing];
        for (int i = 0; i < trailing; i++) axes[i] = sb.rank() + i;
        String r = cx.fresh(b + "/aligned");
        cx.emit(r, Reshape.unsqueeze(axes), b);
        return r;
    }

    private static void foldIntegers(ImportContext cx, IntegerRule rule, Const a, Const b) {
        long[] da = a.dims();
        long[] db = b.dims();
        int rank = Math.max(da.length, db.length);
        long[] dims = new long[rank];
        for (int i = 0; i < rank; i++) {
            long x = i - (rank - da.length) >= 0 ? da[i - (rank - da.length)] : 1;
            long y = i - (rank - db.length) >= 0 ? db[i - (rank - db.length)] : 1;
            if (x != y && x != 1 && y != 1) {
                throw new ShapeException(cx.node().opType() + ": cannot broadcast " + Arrays.toString(da) + " and " + Arrays.toString(db));
            }
            dims[i] = Math.max(x, y);
        }
        long count = 1;
        for (long d : dims) count *= d;
        long[] v = new long[(int) count];
        for (int i = 0; i < v.length; i++) {
            v[i] = rule.apply(cx, a.l()[(int) IntFolding.broadcastIndex(i, dims, da)], b.l()[(int) IntFolding.broadcastIndex(i, dims, db)]);
        }
        cx.define(cx.out(), new Const(dims, null, v, a.type()));
    }

    /** Max, Min, Sum (a chain of binary nodes; one input is the input itself) and Mean (their sum times 1/n). */
    private static void variadic(ImportContext cx, Binary.Op o, boolean mean) {
        List<String> ins = cx.presentInputs();
        if (ins.isEmpty()) throw cx.malformed("no inputs");
        String out = cx.out();
        if (ins.size() == 1) {
            cx.alias(out, ins.getFirst());
            return;
        }
        String acc = ins.getFirst();
        for (int i = 1; i < ins.size(); i++) {
            String target = i == ins.size() - 1 && !mean ? out : cx.fresh(out + "/" + i);
            cx.emit(target, Binary.of(o), acc, ins.get(i));
            acc = target;
        }
        if (mean) {
            cx.emit(out, Binary.mul(), acc, cx.newConst(out + "/1_over_n", new long[0], new float[] {1f / ins.size()}));
        }
    }

    /** ONNX Expand: {@code x} broadcast with {@code shape}, computed as {@code x·ones(shape)}. */
    private static void expand(ImportContext cx) {
        long[] target = cx.longsInput(1, "Expand's shape");
        long count = 1;
        for (long d : target) count *= d;
        if (count < 1 || count > Integer.MAX_VALUE - 8) throw cx.unsupported("Expand to " + Arrays.toString(target));
        float[] ones = new float[(int) count];
        Arrays.fill(ones, 1f);
        cx.emit(cx.out(), Binary.mul(), cx.in(0), cx.newConst(cx.out() + "/ones", target, ones));
    }
}
