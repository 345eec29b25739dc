package dev.convnet.internal;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Layer;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The Java kernels of the graph operations against the reference kernels, over random shapes and parameters.
 * Data movement (Concat, Reshape, Transpose, Pad), element-wise functions (computed in double by both), and
 * integer-valued arithmetic (Add, Sub, Mul, Max, Min, MatMul, Reduce sums with small integers, whose partial
 * sums are exact in float) must agree bitwise; on real inputs matrix products and reductions, where the Java
 * kernels sum in another order or in float, agree within {@code γ_n·Σ|t|} (Higham §4.2) plus one rounding.
 */
class GraphOpsEquivalenceTest {
    private static final int CASES = 300;
    private static JavaKernels javaKernels;
    private static ReferenceKernels reference;

    @BeforeAll
    static void open() {
        javaKernels = new JavaKernels(2);
        reference = new ReferenceKernels();
    }

    @AfterAll
    static void close() {
        javaKernels.close();
    }

    private static float[] values(SplittableRandom r, long n, boolean integers) {
        float[] v = new float[(int) n];
        for (int i = 0; i < v.length; i++) v[i] = integers ? r.nextInt(-4, 5) : (float) r.nextDouble(-2, 2);
        return v;
    }

    private static Shape randomShape(SplittableRandom r, int rank) {
        int[] d = new int[rank];
        for (int i = 0; i < rank; i++) d[i] = r.nextInt(1, 6);
        return Shape.of(d);
    }

    /** Runs both backends; returns {java, reference}. */
    private static float[][] both(Layer layer, List<Shape> shapes, float[][] inputs) {
        Shape out = layer.outputShape(shapes);
        float[] a = new float[(int) out.elementCount()];
        float[] b = new float[a.length];
        NodeKernel kj = javaKernels.create(layer, shapes, out);
        NodeKernel kr = reference.create(layer, shapes, out);
        kj.forward(inputs, a);
        kr.forward(inputs, b);
        return new float[][] {a, b};
    }

    private static void exact(String what, Layer layer, List<Shape> shapes, float[][] inputs) {
        float[][] r = both(layer, shapes, inputs);
        if (!Arrays.equals(r[0], r[1])) {
            fail(what + " " + layer + " on " + shapes + ": java " + Arrays.toString(r[0]) + " vs reference " + Arrays.toString(r[1]));
        }
    }

    private static float[][] inputs(SplittableRandom r, List<Shape> shapes, boolean integers) {
        float[][] x = new float[shapes.size()][];
        for (int i = 0; i < x.length; i++) x[i] = values(r, shapes.get(i).elementCount(), integers);
        return x;
    }

    /** A shape broadcastable with {@code s}: some axes set to 1, maybe fewer leading axes. */
    private static Shape broadcastPartner(SplittableRandom r, Shape s) {
        int drop = r.nextInt(s.rank());
        int[] d = Arrays.copyOfRange(s.dims(), drop, s.rank());
        for (int i = 0; i < d.length; i++) if (r.nextInt(3) == 0) d[i] = 1;
        return Shape.of(d);
    }

    @Test
    void binaryWithBroadcasting() {
        SplittableRandom r = new SplittableRandom(1);
        int checked = 0;
        for (int c = 0; c < CASES; c++) {
            Shape a = randomShape(r, r.nextInt(1, 5));
            Shape b = broadcastPartner(r, a);
            List<Shape> shapes = r.nextBoolean() ? List.of(a, b) : List.of(b, a);
            for (Binary.Op op : Binary.Op.values()) {
                boolean integers = op != Binary.Op.POW && op != Binary.Op.DIV;
                exact("seed 1 case " + c, Binary.of(op), shapes, inputs(r, shapes, integers));
                checked++;
            }
        }
        assertEquals(CASES * Binary.Op.values().length, checked);
        // the squeeze-excitation and per-channel cases, explicitly
        Shape x = Shape.of(2, 3, 4, 5);
        for (Shape other : List.of(Shape.of(2, 3, 1, 1), Shape.of(3, 1, 1), Shape.of(1, 3, 1, 1), Shape.of(1), x)) {
            exact("explicit", Binary.mul(), List.of(x, other), inputs(r, List.of(x, other), true));
            exact("explicit", Binary.add(), List.of(other, x), inputs(r, List.of(other, x), true));
        }
    }

    @Test
    void matMul() {
        SplittableRandom r = new SplittableRandom(2);
        for (int c = 0; c < CASES; c++) {
            int m = r.nextInt(1, 7), k = r.nextInt(1, 40), p = r.nextInt(1, 7);
            Shape a, b;
            switch (r.nextInt(4)) {
                case 0 -> { a = Shape.of(m, k); b = Shape.of(k, p); }
                case 1 -> { a = Shape.of(2, m, k); b = Shape.of(k, p); }
                case 2 -> { a = Shape.of(3, 1, m, k); b = Shape.of(2, k, p); }
                default -> { a = Shape.of(k); b = Shape.of(2, k, p); }
            }
            List<Shape> shapes = List.of(a, b);
            exact("integers, case " + c, new MatMul(), shapes, inputs(r, shapes, true));
            float[][] x = inputs(r, shapes, false);
            float[][] got = both(new MatMul(), shapes, x);
            float[][] abs = {absolute(x[0]), absolute(x[1])};
            float[] bound = both(new MatMul(), shapes, abs)[1];
            double gamma = k * 0x1p-24 / (1 - k * 0x1p-24);
            for (int i = 0; i < got[0].length; i++) {
                double tol = gamma * bound[i] + 0x1p-24 * Math.abs(got[1][i]);
                if (Math.abs(got[0][i] - got[1][i]) > tol) fail("MatMul " + shapes + " element " + i + ": " + got[0][i] + " vs " + got[1][i]);
            }
        }
    }

    private static float[] absolute(float[] v) {
        float[] a = v.clone();
        for (int i = 0; i < a.length; i++) a[i] = Math.abs(a[i]);
        return a;
    }

    @Test
    void concatReshapeTransposePad() {
        SplittableRandom r = new SplittableRandom(3);
        for (int c = 0; c < CASES; c++) {
            int rank = r.nextInt(1, 6);
            Shape s = randomShape(r, rank);
            // Concat of 1-3 inputs along a random axis (maybe negative)
            int axis = r.nextInt(rank);
            List<Shape> parts = new ArrayList<>();
            for (int i = 0, n = r.nextInt(1, 4); i < n; i++) {
                int[] d = s.dims();
                d[axis] = r.nextInt(1, 5);
                parts.add(Shape.of(d));
            }
            exact("case " + c, Concat.of(r.nextBoolean() ? axis : axis - rank), parts, inputs(r, parts, false));
            // Transpose by a random permutation
            List<Integer> perm = new ArrayList<>();
            for (int i = 0; i < rank; i++) perm.add(i);
            java.util.Collections.shuffle(perm, new java.util.Random(r.nextLong()));
            exact("case " + c, Transpose.of(perm.stream().mapToInt(Integer::intValue).toArray()), List.of(s), inputs(r, List.of(s), false));
            // Reshape: flatten at a random axis, unsqueeze, to(-1)
            exact("case " + c, Reshape.flatten(r.nextInt(rank + 1)), List.of(s), inputs(r, List.of(s), false));
            exact("case " + c, Reshape.unsqueeze(0, rank + 1), List.of(s), inputs(r, List.of(s), false));
            exact("case " + c, Reshape.to(-1), List.of(s), inputs(r, List.of(s), false));
            // Slice of a random window of every axis, negative steps and out-of-range bounds included
            int[] axesS = new int[rank];
            long[] st = new long[rank], en = new long[rank], sp = new long[rank];
            for (int i = 0; i < rank; i++) {
                int d = s.dim(i);
                axesS[i] = r.nextBoolean() ? i : i - rank;
                sp[i] = r.nextInt(4) == 0 ? -r.nextInt(1, 3) : r.nextInt(1, 3);
                if (sp[i] > 0) {
                    st[i] = r.nextInt(d) - (r.nextBoolean() ? d : 0);
                    en[i] = r.nextBoolean() ? Long.MAX_VALUE : (st[i] < 0 ? st[i] + d : st[i]) + r.nextInt(1, d + 1);
                } else {
                    st[i] = r.nextBoolean() ? Long.MAX_VALUE : r.nextInt(d);
                    en[i] = r.nextBoolean() ? Long.MIN_VALUE : -d - 1;
                }
            }
            exact("case " + c, Slice.of(axesS, st, en, sp), List.of(s), inputs(r, List.of(s), false));
            // Pad in every mode, with negative (cropping) amounts where the size allows
            int[] before = new int[rank], after = new int[rank];
            for (int i = 0; i < rank; i++) {
                before[i] = r.nextInt(-(s.dim(i) - 1) / 2, 3);
                after[i] = r.nextInt(-(s.dim(i) - 1) / 2, 3);
            }
            for (Pad.Mode mode : Pad.Mode.values()) {
                int[] b = before.clone(), a = after.clone();
                if (mode == Pad.Mode.REFLECT) {
                    for (int i = 0; i < rank; i++) {
                        b[i] = Math.min(b[i], s.dim(i) - 1);
                        a[i] = Math.min(a[i], s.dim(i) - 1);
                    }
                }
                exact("case " + c, Pad.of(b, a, mode, 0.5f), List.of(s), inputs(r, List.of(s), false));
            }
        }
    }

    @Test
    void unaryFunctionsAndSoftmax() {
        SplittableRandom r = new SplittableRandom(4);
        for (int c = 0; c < CASES / 3; c++) {
            Shape s = randomShape(r, r.nextInt(1, 5));
            for (Unary.Function f : Unary.Function.values()) {
                Unary u = f == Unary.Function.CLIP ? Unary.clip(-0.5f, 1.5f) : Unary.of(f, 0.3f, 0.6f);
                exact("case " + c, u, List.of(s), inputs(r, List.of(s), false));
            }
            for (AxisSoftmax.Function f : AxisSoftmax.Function.values()) {
                int axis = r.nextInt(s.rank());
                for (boolean coerce : new boolean[] {false, true}) {
                    AxisSoftmax sm = AxisSoftmax.of(f, axis, coerce);
                    float[][] x = inputs(r, List.of(s), false);
                    float[][] got = both(sm, List.of(s), x);
                    for (int i = 0; i < got[0].length; i++) {
                        double tol = f == AxisSoftmax.Function.HARDMAX ? 0 : 4e-7 * Math.max(1, Math.abs(got[1][i]));
                        if (Math.abs(got[0][i] - got[1][i]) > tol) fail(sm + " on " + s + ": " + got[0][i] + " vs " + got[1][i]);
                    }
                }
            }
        }
    }

    @Test
    void reductions() {
        SplittableRandom r = new SplittableRandom(5);
        for (int c = 0; c < CASES; c++) {
            int rank = r.nextInt(1, 5);
            Shape s = randomShape(r, rank);
            int[] axes = java.util.stream.IntStream.range(0, rank).filter(i -> r.nextBoolean()).toArray();
            for (Reduce.Kind kind : Reduce.Kind.values()) {
                Reduce red = Reduce.of(kind, axes, r.nextBoolean());
                boolean integers = kind != Reduce.Kind.LOG_SUM && kind != Reduce.Kind.LOG_SUM_EXP && kind != Reduce.Kind.L2
                        && kind != Reduce.Kind.MEAN;
                float[][] x = inputs(r, List.of(s), integers);
                if (kind == Reduce.Kind.LOG_SUM) x[0] = absolute(x[0]);
                float[][] got = both(red, List.of(s), x);
                for (int i = 0; i < got[0].length; i++) {
                    double tol = integers ? 0 : 1e-6 * Math.max(1, Math.abs(got[1][i]));
                    if (Math.abs(got[0][i] - got[1][i]) > tol) fail(red + " on " + s + ": " + got[0][i] + " vs " + got[1][i]);
                }
            }
        }
        assertArrayEquals(new int[] {2, 3, 1, 1}, Reduce.mean(new int[] {2, 3}, true).outputShape(Shape.of(2, 3, 4, 5)).dims());
    }
}
