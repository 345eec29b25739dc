package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.Transpose;

import java.util.Arrays;
import java.util.List;

/**
 * Gemm (a {@link Linear} when B and C are constant, else MatMul, scale and add nodes) and MatMul (a {@link Linear}
 * for a 2-D input times a constant 2-D matrix).
 */
final class GemmOps {
    private GemmOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Gemm", GemmOps::gemm);
        r.add("MatMul", GemmOps::matMul);
    }

    private static boolean isFloatMatrix(ImportContext cx, String name) {
        Const c = cx.constant(name);
        return c != null && c.isFloat() && c.dims().length == 2;
    }

    private static void gemm(ImportContext cx) {
        float alpha = cx.attrFloat("alpha", 1f);
        float beta = cx.attrFloat("beta", 1f);
        boolean transA = cx.attrInt("transA", 0) != 0;
        boolean transB = cx.attrInt("transB", 0) != 0;
        String a = cx.in(0);
        String b = cx.in(1);
        String out = cx.out();
        boolean hasC = cx.hasInput(2);
        String c = hasC ? cx.in(2) : null;
        if (isFloatMatrix(cx, b) && !cx.isConst(a) && (!hasC || cx.isConst(c) && cx.constant(c).isFloat())) {
            linear(cx, a, b, c, out, alpha, beta, transA, transB);
            return;
        }
        String x = a;
        if (transA) {
            x = cx.fresh(out + "/transA");
            cx.emit(x, Transpose.of(1, 0), a);
        }
        String y = b;
        if (transB) {
            y = cx.fresh(out + "/transB");
            cx.emit(y, Transpose.of(1, 0), b);
        }
        String product = alpha == 1f && !hasC ? out : cx.fresh(out + "/matmul");
        cx.emit(product, new MatMul(), x, y);
        if (alpha != 1f) {
            String scaledProduct = hasC ? cx.fresh(out + "/alpha") : out;
            cx.emit(scaledProduct, Binary.mul(), product, cx.newConst(out + "/alpha_value", new long[0], new float[] {alpha}));
            product = scaledProduct;
        }
        if (hasC) cx.emit(out, Binary.add(), product, scaled(cx, c, beta, out + "/C"));
    }

    /**
     * {@code alpha·A·B + beta·C} with constant B and C as a {@link Linear} (weights {@code alpha·B}, bias {@code beta·C}
     * when C is a vector or a scalar; otherwise C is added by its own node). The parameters keep the initializers'
     * names when nothing is scaled.
     */
    private static void linear(ImportContext cx, String a, String b, String c, String out, float alpha, float beta,
                               boolean transA, boolean transB) {
        Const bc = cx.constant(b);
        int rows = (int) bc.dims()[0];
        int cols = (int) bc.dims()[1];
        int k = transB ? rows : cols;
        int d = transB ? cols : rows;
        float[] bv = bc.f();
        float[] w = new float[k * d];
        for (int o = 0; o < k; o++) {
            for (int i = 0; i < d; i++) w[o * d + i] = alpha * (transB ? bv[o * d + i] : bv[i * k + o]);
        }
        float[] bias = null;
        boolean separateC = false;
        if (c != null) {
            Const cc = cx.constant(c);
            long count = cc.count();
            long[] cd = cc.dims();
            if (count == k && (cd.length == 1 || cd.length == 2 && cd[0] == 1)) {
                bias = new float[k];
                for (int o = 0; o < k; o++) bias[o] = beta * cc.f()[o];
            } else if (count == 1) {
                bias = new float[k];
                Arrays.fill(bias, beta * cc.f()[0]);
            } else {
                separateC = true;
            }
        }
        String x = a;
        if (transA) {
            x = cx.fresh(out + "/transA");
            cx.emit(x, Transpose.of(1, 0), a);
        }
        Linear fc = Linear.of(d, k, w, bias);
        if (!separateC) {
            List<String> parameters = List.of();
            if (alpha == 1f && (bias == null || beta == 1f && cx.constant(c).count() == k)) {
                parameters = bias == null ? List.of(cx.rawInput(1)) : List.of(cx.rawInput(1), cx.rawInput(2));
            }
            cx.emit(out, fc, parameters, List.of(x));
        } else {
            String y = cx.fresh(out + "/linear");
            cx.emit(y, fc, x);
            cx.emit(out, Binary.add(), y, scaled(cx, c, beta, out + "/C"));
        }
    }

    /** {@code beta·c}: c itself when beta is 1, folded when c is constant. */
    private static String scaled(ImportContext cx, String c, float beta, String base) {
        if (beta == 1f) return c;
        String s = cx.fresh(base);
        cx.emit(s, Binary.mul(), c, cx.newConst(base + "_beta", new long[0], new float[] {beta}));
        return s;
    }

    private static void matMul(ImportContext cx) {
        matMul(cx, cx.in(0), cx.in(1), cx.out());
    }

    /**
     * {@code out = a·b}: a {@link Linear} for a 2-D run-time {@code a} times a constant 2-D float {@code b}, else a
     * {@link MatMul} node. Shared with QLinearMatMul.
     */
    static void matMul(ImportContext cx, String a, String b, String out) {
        if (isFloatMatrix(cx, b) && !cx.isConst(a) && cx.shapeOf(a).rank() == 2) {
            Const bc = cx.constant(b);
            int d = (int) bc.dims()[0];
            int k = (int) bc.dims()[1];
            float[] w = new float[k * d];
            for (int o = 0; o < k; o++) for (int i = 0; i < d; i++) w[o * d + i] = bc.f()[i * k + o];
            cx.emit(out, Linear.of(d, k, w, null), a);
            return;
        }
        cx.emit(out, new MatMul(), a, b);
    }
}
