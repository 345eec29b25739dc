package dev.convnet.internal.onednn;

import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Q/DQ graphs on oneDNN in int8 ({@link Int8Lowering}) against the reference backend, which computes the same graph
 * in FP32 as written (fake quantization). Bound: a quantized output may differ from the reference by one step (int32
 * accumulation and f32 scaling in another order than the reference's float arithmetic move a value at a rounding tie
 * to the neighbouring integer); a dequantized output therefore by one scale. Each test also checks in the plan that
 * the int8 primitives ran, so a silent fall-back to the FP32 path fails.
 */
class Int8LoweringTest {
    static final SessionOptions REFERENCE = SessionOptions.defaults().withBackend(BackendKind.REFERENCE);
    static final SessionOptions ONEDNN = SessionOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(2);

    /** Weights made by the shared rule: per output channel symmetric int8, stored as w_q · scale_c. */
    static float[] ruleWeights(SplittableRandom r, int channels, int per) {
        float[] w = new float[channels * per];
        for (int c = 0; c < channels; c++) {
            double mag = r.nextDouble(0.05, 1);
            float max = 0;
            for (int k = 0; k < per; k++) {
                w[c * per + k] = (float) (r.nextDouble(-1, 1) * mag);
                max = Math.max(max, Math.abs(w[c * per + k]));
            }
            float s = max == 0 ? 1f : max / 127f;
            for (int k = 0; k < per; k++) w[c * per + k] = (float) Math.rint(w[c * per + k] / s) * s;
        }
        return w;
    }

    static float[] random(SplittableRandom r, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(lo, hi);
        return v;
    }

    /** Affine parameters covering [min, max] (and 0): asymmetric unless {@code symmetric}. */
    static QuantParams params(float min, float max, QuantParams.Type type, boolean symmetric) {
        min = Math.min(min, 0);
        max = Math.max(max, 0);
        if (symmetric) {
            float m = Math.max(Math.max(-min, max), 1e-6f);
            return type == QuantParams.Type.INT8 ? QuantParams.perTensor(m / 127, 0, type)
                    : QuantParams.perTensor(Math.max(max, 1e-6f) / 255, 0, type);
        }
        float scale = Math.max(max - min, 1e-6f) / 255;
        int zp = (int) Math.rint(type.min() - min / scale);
        zp = Math.max(type.min(), Math.min(type.max(), zp));
        return QuantParams.perTensor(scale, zp, type);
    }

    /**
     * Builds a Q/DQ graph node by node, calibrating each quantize on the reference backend (min/max of the tensor for
     * the given input).
     */
    static final class QdqGraph {
        final List<Object[]> nodes = new ArrayList<>();
        final Shape inputShape;
        final float[] x;
        int counter;

        QdqGraph(Shape inputShape, float[] x) {
            this.inputShape = inputShape;
            this.x = x;
        }

        String node(Layer layer, String... inputs) {
            String name = "t" + counter++;
            nodes.add(new Object[] {name, layer, inputs});
            return name;
        }

        Graph build(String... outputs) {
            Graph.Builder b = Graph.builder().input("x");
            for (Object[] n : nodes) b.node((String) n[0], (Layer) n[1], (String[]) n[2]);
            return b.output(outputs).build();
        }

        float[] reference(String tensor) {
            try (Session s = build(tensor).compile(inputShape, REFERENCE)) {
                return s.run(Map.of("x", x)).get(tensor);
            }
        }

        /** Q then DQ of {@code tensor} with parameters calibrated on it; returns {Q output, DQ output}. */
        String[] quantize(String tensor, QuantParams.Type type, boolean symmetric) {
            float[] v = tensor.equals("x") ? x : reference(tensor);
            float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
            for (float f : v) {
                min = Math.min(min, f);
                max = Math.max(max, f);
            }
            QuantParams p = params(min, max, type, symmetric);
            String q = node(QuantizeLinear.of(p), tensor);
            return new String[] {q, node(DequantizeLinear.of(p), q)};
        }

        QuantParams paramsOf(String tensor) {
            for (Object[] n : nodes) if (n[0].equals(tensor)) return ((QuantizeLinear) n[1]).params();
            throw new IllegalArgumentException(tensor);
        }
    }

    /** Quantized outputs compared, and how many of them were one step off the reference. */
    static final java.util.concurrent.atomic.AtomicLong COMPARED = new java.util.concurrent.atomic.AtomicLong(),
            OFF_BY_ONE = new java.util.concurrent.atomic.AtomicLong();

    /** Runs {@code g} on both backends; checks the bound on quantized and dequantized outputs; returns the oneDNN plan. */
    static String compare(QdqGraph qg, List<String> quantized, String dequantized, QuantParams outParams, String what) {
        List<String> outs = new ArrayList<>(quantized);
        outs.add(dequantized);
        Graph g = qg.build(outs.toArray(String[]::new));
        Map<String, float[]> ref, dnn;
        String plan;
        try (Session s = g.compile(qg.inputShape, REFERENCE)) {
            ref = s.run(Map.of("x", qg.x));
        }
        try (Session s = g.compile(qg.inputShape, ONEDNN)) {
            dnn = s.run(Map.of("x", qg.x));
            plan = s.plan();
        }
        for (String q : quantized) {
            float[] a = ref.get(q), b = dnn.get(q);
            COMPARED.addAndGet(a.length);
            for (int i = 0; i < a.length; i++) {
                if (a[i] != b[i]) OFF_BY_ONE.incrementAndGet();
                assertEquals(Math.rint(b[i]), b[i], what + ": " + q + "[" + i + "] is not an integer");
                if (Math.abs(a[i] - b[i]) > 1) {
                    fail(what + ": quantized " + q + "[" + i + "] reference " + a[i] + ", oneDNN " + b[i]
                            + " (bound: 1 step)\n" + plan);
                }
            }
        }
        float[] a = ref.get(dequantized), b = dnn.get(dequantized);
        float bound = outParams.scale(0) * (1 + 1e-5f) + 1e-6f;
        for (int i = 0; i < a.length; i++) {
            if (!(Math.abs(a[i] - b[i]) <= bound)) {
                fail(what + ": dequantized output[" + i + "] reference " + a[i] + ", oneDNN " + b[i] + " (bound: one scale "
                        + outParams.scale(0) + ")\n" + plan);
            }
        }
        return plan;
    }

    /** The plan lines of oneDNN primitives {@code kind} whose formats show an int8 data type. */
    static long int8Steps(String plan, String kind) {
        return plan.lines().filter(l -> l.contains(" " + kind + " ") && (l.contains("u8:") || l.contains("s8:"))).count();
    }

    @Test
    void randomConvolutionGeometriesMatchTheReferenceWithinOneStep() {
        SplittableRandom r = new SplittableRandom(20261201);
        COMPARED.set(0);
        OFF_BY_ONE.set(0);
        for (int t = 0; t < 36; t++) {
            int k = new int[] {1, 3, 5}[r.nextInt(3)];
            int stride = 1 + r.nextInt(2), pad = r.nextInt(3);
            int kind = r.nextInt(3); // 0 dense, 1 depthwise, 2 two groups
            int ic = r.nextInt(4) == 0 ? 1 + r.nextInt(3) : 1 + r.nextInt(kind == 2 ? 32 : 64);
            int oc = 1 + r.nextInt(64);
            int groups = 1;
            if (kind == 1) {
                groups = ic;
                oc = ic;
            } else if (kind == 2) {
                ic = 2 * Math.max(1, ic / 2);
                oc = 2 * Math.max(1, oc / 2);
                groups = 2;
            }
            int n = 1 + r.nextInt(4);
            int hgt = k + r.nextInt(10), wid = k + r.nextInt(12);
            boolean relu = r.nextBoolean();
            QuantParams.Type inType = r.nextBoolean() ? QuantParams.Type.UINT8 : QuantParams.Type.INT8;
            QuantParams.Type outType = relu && r.nextBoolean() ? QuantParams.Type.UINT8
                    : r.nextBoolean() ? QuantParams.Type.INT8 : QuantParams.Type.UINT8;
            boolean symIn = r.nextBoolean(), symOut = r.nextBoolean();
            Shape in = Shape.of(n, ic, hgt, wid);
            QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -1, 1.5));
            String[] xq = g.quantize("x", inType, symIn);
            int per = ic / groups * k * k;
            Conv2d conv = Conv2d.builder(ic, oc, k).stride(stride).padding(Padding.symmetric(pad)).groups(groups)
                    .weights(ruleWeights(r, oc, per)).bias(random(r, oc, -0.2, 0.2)).build();
            String c = g.node(conv, xq[1]);
            if (relu) c = g.node(Activation.relu(), c);
            String[] yq = g.quantize(c, outType, symOut);
            String what = String.format("case %d: n%d ic%d oc%d g%d %dx%d k%d s%d p%d relu=%b in %s %s out %s %s", t, n, ic,
                    oc, groups, hgt, wid, k, stride, pad, relu, inType, g.paramsOf(xq[0]), outType, g.paramsOf(yq[0]));
            String plan = compare(g, List.of(yq[0]), yq[1], g.paramsOf(yq[0]), what);
            assertEquals(1, int8Steps(plan, "convolution"), what + ": no int8 convolution in the plan\n" + plan);
        }
        System.out.printf("int8 convolutions: %d of %d quantized outputs one step off the reference%n", OFF_BY_ONE.get(),
                COMPARED.get());
    }

    /** oneDNN #5080 through the plan: one input channel, width padding, NHWC int8 (see Int8PaddedColumnsTest). */
    @Test
    void oneInputChannelWithWidthPaddingAvoidsTheFaultyBrgemmKernel() {
        SplittableRandom r = new SplittableRandom(5080);
        for (int stride = 1; stride <= 2; stride++) {
            Shape in = Shape.of(1, 1, 12, 17);
            QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -1, 1));
            String[] x = g.quantize("x", QuantParams.Type.INT8, true);
            String c = g.node(Conv2d.builder(1, 8, 2, 3).stride(stride).padding(Padding.explicit2d(0, 1, 0, 1))
                    .weights(ruleWeights(r, 8, 6)).bias(random(r, 8, -0.1, 0.1)).build(), x[1]);
            String[] y = g.quantize(c, QuantParams.Type.INT8, false);
            String plan = compare(g, List.of(y[0]), y[1], g.paramsOf(y[0]), "ic1 width-padded, stride " + stride);
            assertEquals(1, int8Steps(plan, "convolution"), plan);
            assertFalse(plan.lines().anyMatch(l -> l.contains(" convolution ") && l.contains("brg_conv_fwd")), plan);
        }
    }

    @Test
    void convReluMaxPoolConvLinearRunsInInt8() {
        SplittableRandom r = new SplittableRandom(5);
        Shape in = Shape.of(2, 3, 16, 16);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -1, 1));
        String[] x = g.quantize("x", QuantParams.Type.UINT8, false);
        String c1 = g.node(Conv2d.builder(3, 16, 3).padding(Padding.same()).weights(ruleWeights(r, 16, 27))
                .bias(random(r, 16, -0.1, 0.1)).build(), x[1]);
        float[] var = random(r, 16, 0.5, 2);
        String bn = g.node(BatchNorm.of(random(r, 16, -1.5, 1.5), random(r, 16, -0.3, 0.3), random(r, 16, -0.2, 0.2), var,
                1e-5), c1);
        String relu = g.node(Activation.relu(), bn);
        String[] a = g.quantize(relu, QuantParams.Type.UINT8, true);
        String pool = g.node(MaxPool2d.of(2, 2), a[1]);
        QuantParams pa = g.paramsOf(a[0]);
        String pq = g.node(QuantizeLinear.of(pa), pool);
        String pdq = g.node(DequantizeLinear.of(pa), pq);
        String c2 = g.node(Conv2d.builder(16, 8, 3).stride(2).padding(Padding.symmetric(1))
                .weights(ruleWeights(r, 8, 144)).bias(random(r, 8, -0.1, 0.1)).build(), pdq);
        String[] b = g.quantize(c2, QuantParams.Type.INT8, false);
        String flat = g.node(new Flatten(), b[1]);
        String fc = g.node(Linear.of(8 * 4 * 4, 10, ruleWeights(r, 10, 128), random(r, 10, -0.1, 0.1)), flat);
        String[] y = g.quantize(fc, QuantParams.Type.INT8, false);
        String plan = compare(g, List.of(a[0], pq, b[0], y[0]), y[1], g.paramsOf(y[0]), "conv-relu-pool-conv-linear");
        assertEquals(2, int8Steps(plan, "convolution"), plan);
        assertEquals(1, int8Steps(plan, "pooling"), plan);
        assertEquals(1, int8Steps(plan, "inner_product"), plan);
        // one quantizing reorder at the input, one dequantizing at the output; nothing on the Java kernel
        assertFalse(plan.contains("java kernel"), plan);
    }

    @Test
    void linearWithFloatOutputAndAveragePoolingRunInInt8() {
        SplittableRandom r = new SplittableRandom(9);
        Shape in = Shape.of(3, 8, 6, 6);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -2, 1));
        String[] x = g.quantize("x", QuantParams.Type.INT8, false);
        String avg = g.node(AvgPool2d.of(2, 2), x[1]);
        QuantParams px = g.paramsOf(x[0]);
        String aq = g.node(QuantizeLinear.of(px), avg);
        String adq = g.node(DequantizeLinear.of(px), aq);
        String gp = g.node(GlobalPool2d.average(), adq);
        String gq = g.node(QuantizeLinear.of(px), gp);
        String gdq = g.node(DequantizeLinear.of(px), gq);
        String flat = g.node(new Flatten(), gdq);
        String fc = g.node(Linear.of(8, 5, ruleWeights(r, 5, 8), random(r, 5, -0.1, 0.1)), flat);
        // the logits stay f32: bound one output step of the inner product = Σ|w| rounding of f32 only
        Graph graph = g.build(aq, gq, fc);
        Map<String, float[]> ref, dnn;
        String plan;
        try (Session s = graph.compile(in, REFERENCE)) {
            ref = s.run(Map.of("x", g.x));
        }
        try (Session s = graph.compile(in, ONEDNN)) {
            dnn = s.run(Map.of("x", g.x));
            plan = s.plan();
        }
        for (String q : List.of(aq, gq)) {
            float[] a = ref.get(q), b = dnn.get(q);
            for (int i = 0; i < a.length; i++) assertTrue(Math.abs(a[i] - b[i]) <= 1, q + "[" + i + "]: " + a[i] + " vs " + b[i] + "\n" + plan);
        }
        float[] a = ref.get(fc), b = dnn.get(fc);
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-4 * Math.max(1, Math.abs(a[i])), "logit " + i + "\n" + plan);
        assertEquals(2, int8Steps(plan, "pooling"), plan);
        assertEquals(1, int8Steps(plan, "inner_product"), plan);
    }

    /** x → conv → relu → Q/DQ → conv → (+ DQ(x)) → relu → Q: the residual as a sum post-op. */
    @Test
    void residualBlockFusesTheAddIntoTheSecondConvolution() {
        for (boolean zeroPoints : new boolean[] {false, true}) {
            SplittableRandom r = new SplittableRandom(zeroPoints ? 11 : 12);
            Shape in = Shape.of(2, 16, 8, 8);
            QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), zeroPoints ? -0.5 : 0, 1));
            String[] x = g.quantize("x", QuantParams.Type.UINT8, !zeroPoints);
            String c1 = g.node(Conv2d.builder(16, 16, 3).padding(Padding.same()).weights(ruleWeights(r, 16, 144))
                    .bias(random(r, 16, -0.1, 0.1)).build(), x[1]);
            String r1 = g.node(Activation.relu(), c1);
            String[] a = g.quantize(r1, QuantParams.Type.UINT8, true);
            String c2 = g.node(Conv2d.builder(16, 16, 3).padding(Padding.same()).weights(ruleWeights(r, 16, 144))
                    .bias(random(r, 16, -0.1, 0.1)).build(), a[1]);
            String sum = g.node(Binary.add(), c2, x[1]);
            String relu = g.node(Activation.relu(), sum);
            String[] y = g.quantize(relu, QuantParams.Type.UINT8, !zeroPoints);
            String plan = compare(g, List.of(a[0], y[0]), y[1], g.paramsOf(y[0]), "residual, zero points " + zeroPoints);
            assertEquals(2, int8Steps(plan, "convolution"), plan);
            assertTrue(plan.lines().anyMatch(l -> l.contains(" convolution ") && l.contains("sum(")), plan);
            assertFalse(plan.contains(" binary "), plan);
        }
    }

    /** A ResNet downsampling block: the residual is a 1×1 stride-2 convolution's s8 output; the block's output is u8. */
    @Test
    void downsamplingResidualOfAnotherTypeIsSummedInPlace() {
        SplittableRandom r = new SplittableRandom(21);
        Shape in = Shape.of(2, 8, 9, 9);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), 0, 1));
        String[] x = g.quantize("x", QuantParams.Type.UINT8, true);
        String ds = g.node(Conv2d.builder(8, 16, 1).stride(2).weights(ruleWeights(r, 16, 8)).withoutBias().build(), x[1]);
        String dsBn = g.node(BatchNorm.of(random(r, 16, 0.5, 1.5), random(r, 16, -0.2, 0.2), random(r, 16, -0.1, 0.1),
                random(r, 16, 0.5, 2), 1e-5), ds);
        String[] d = g.quantize(dsBn, QuantParams.Type.INT8, false);
        String c1 = g.node(Conv2d.builder(8, 16, 3).stride(2).padding(Padding.symmetric(1)).weights(ruleWeights(r, 16, 72))
                .withoutBias().build(), x[1]);
        String r1 = g.node(Activation.relu(), c1);
        String[] a = g.quantize(r1, QuantParams.Type.UINT8, true);
        String c2 = g.node(Conv2d.builder(16, 16, 3).padding(Padding.same()).weights(ruleWeights(r, 16, 144))
                .bias(random(r, 16, -0.1, 0.1)).build(), a[1]);
        String sum = g.node(Binary.add(), d[1], c2);
        String relu = g.node(Activation.relu(), sum);
        String[] y = g.quantize(relu, QuantParams.Type.UINT8, true);
        String plan = compare(g, List.of(d[0], a[0], y[0]), y[1], g.paramsOf(y[0]), "downsampling residual");
        assertEquals(3, int8Steps(plan, "convolution"), plan);
        assertTrue(plan.lines().anyMatch(l -> l.contains(" convolution ") && l.contains("sum(") && l.contains("INT8")), plan);
    }

    /** Per-channel quantize and dequantize of an activation: reorders with a scale mask, then the FP32 path. */
    @Test
    void perChannelQuantizeAndDequantizeAreReorders() {
        SplittableRandom r = new SplittableRandom(17);
        Shape in = Shape.of(2, 4, 5, 6);
        float[] x = random(r, (int) in.elementCount(), -1, 1);
        QuantParams p = QuantParams.perChannelSymmetric(new float[] {0.01f, 0.02f, 0.005f, 0.008f}, 1);
        Graph g = Graph.builder().input("x").node("q", QuantizeLinear.of(p), "x").node("dq", DequantizeLinear.of(p), "q")
                .node("y", Conv2d.builder(4, 3, 3).padding(Padding.same()).weights(random(r, 108, -1, 1)).withoutBias().build(), "dq")
                .output("q", "y").build();
        Map<String, float[]> ref, dnn;
        String plan;
        try (Session s = g.compile(in, REFERENCE)) {
            ref = s.run(Map.of("x", x));
        }
        try (Session s = g.compile(in, ONEDNN)) {
            dnn = s.run(Map.of("x", x));
            plan = s.plan();
        }
        assertArrayEquals(ref.get("q"), dnn.get("q"), plan); // a reorder rounds half to even too
        float[] a = ref.get("y"), b = dnn.get("y");
        for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-4, "y[" + i + "]\n" + plan);
        assertTrue(plan.contains("abcd → s8:acdb"), plan);
        assertTrue(plan.contains("s8:acdb → abcd"), plan);
        assertFalse(plan.contains("java kernel"), plan);
    }

    /** The weight rule applied again: exact for weights made by it, within max|w_c|/254 for others. */
    @Test
    void weightRuleRecoversRuleWeightsAndBoundsOthers() {
        SplittableRandom r = new SplittableRandom(3);
        int channels = 7, per = 50;
        float[] rule = ruleWeights(r, channels, per);
        Object[] q = Int8Lowering.quantizeWeights(rule, channels);
        float[] scales = (float[]) q[0];
        byte[] wq = (byte[]) q[1];
        for (int c = 0; c < channels; c++) {
            for (int k = 0; k < per; k++) {
                float w = rule[c * per + k];
                assertEquals(w, wq[c * per + k] * scales[c], Math.ulp(w) * 2 + 1e-12, "weight " + c + "," + k);
            }
        }
        float[] any = random(r, channels * per, -1, 1);
        java.util.Arrays.fill(any, 0, per, 0f); // a channel of zeros: scale 1, all zero
        q = Int8Lowering.quantizeWeights(any, channels);
        scales = (float[]) q[0];
        wq = (byte[]) q[1];
        assertEquals(1f, scales[0]);
        for (int c = 0; c < channels; c++) {
            float max = 0;
            for (int k = 0; k < per; k++) max = Math.max(max, Math.abs(any[c * per + k]));
            for (int k = 0; k < per; k++) {
                assertTrue(Math.abs(any[c * per + k] - wq[c * per + k] * scales[c]) <= max / 254 * (1 + 1e-6f),
                        "weight " + c + "," + k);
            }
        }
    }

    /** Operations with no int8 lowering between a DQ and a Q: dequantizing reorder, FP32 primitives, quantizing reorder. */
    @Test
    void operationsWithoutInt8LoweringRunInFp32BetweenReorders() {
        SplittableRandom r = new SplittableRandom(23);
        Shape in = Shape.of(2, 6, 5, 5);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -3, 3));
        String[] x = g.quantize("x", QuantParams.Type.INT8, false);
        String sig = g.node(Activation.sigmoid(), x[1]);
        String[] s1 = g.quantize(sig, QuantParams.Type.UINT8, false);
        String c = g.node(Conv2d.builder(6, 4, 3).weights(ruleWeights(r, 4, 54)).bias(random(r, 4, -0.1, 0.1)).build(), s1[1]);
        String tanh = g.node(Activation.tanh(), c);
        String[] y = g.quantize(tanh, QuantParams.Type.INT8, false);
        // the same DQ also feeds an int8 convolution with an f32 output, which the caller reads
        String side = g.node(Conv2d.builder(6, 2, 1).weights(ruleWeights(r, 2, 6)).withoutBias().build(), x[1]);
        String plan = compare(g, List.of(s1[0], y[0]), y[1], g.paramsOf(y[0]), "sigmoid and tanh around an int8 convolution");
        assertTrue(plan.lines().anyMatch(l -> l.contains(" eltwise ") && !l.contains("8:")), plan); // the FP32 sigmoid
        // tanh became the first convolution's post-op (output s8); the side convolution reads the s8 input directly
        assertEquals(2, int8Steps(plan, "convolution"), plan);
        assertFalse(plan.contains("java kernel"), plan);
        Graph both = g.build(side);
        float[] ref, dnn;
        try (Session s = both.compile(in, REFERENCE)) {
            ref = s.run(Map.of("x", g.x)).get(side);
        }
        try (Session s = both.compile(in, ONEDNN)) {
            dnn = s.run(Map.of("x", g.x)).get(side);
        }
        for (int i = 0; i < ref.length; i++) assertEquals(ref[i], dnn[i], 1e-5 * Math.max(1, Math.abs(ref[i])), "side[" + i + "]");
    }

    /** Two shapes of one Q/DQ model share their int8 weights through the weight cache, and give them back on close. */
    @Test
    void int8WeightsAreSharedBetweenShapesThroughTheWeightCache() {
        SplittableRandom r = new SplittableRandom(31);
        Shape small = Shape.of(1, 4, 8, 8), large = Shape.of(2, 4, 12, 12);
        QdqGraph g = new QdqGraph(small, random(r, (int) small.elementCount(), -1, 1));
        String[] x = g.quantize("x", QuantParams.Type.UINT8, false);
        String c = g.node(Conv2d.builder(4, 32, 3).padding(Padding.same()).weights(ruleWeights(r, 32, 36))
                .bias(random(r, 32, -0.1, 0.1)).build(), x[1]);
        String relu = g.node(Activation.relu(), c);
        String[] y = g.quantize(relu, QuantParams.Type.UINT8, true);
        Graph graph = g.build(y[1]);
        float[] xl = random(r, (int) large.elementCount(), -1, 1);
        try (WeightCache cache = new WeightCache()) {
            float[] got;
            try (Session s1 = dev.convnet.internal.exec.SessionFactory.create(graph, graph.plan(small), ONEDNN, cache);
                 Session s2 = dev.convnet.internal.exec.SessionFactory.create(graph, graph.plan(large), ONEDNN, cache)) {
                assertEquals(1, int8Steps(s2.plan(), "convolution"), s2.plan());
                assertTrue(cache.hits() >= 1, "hits " + cache.hits() + ", fills " + cache.fills());
                got = s2.run(Map.of("x", xl)).get(y[1]);
            }
            assertEquals(0, cache.size(), "buffers still held after both sessions closed");
            float[] ref;
            try (Session s = graph.compile(large, REFERENCE)) {
                ref = s.run(Map.of("x", xl)).get(y[1]);
            }
            float step = g.paramsOf(y[0]).scale(0) * (1 + 1e-5f);
            for (int i = 0; i < ref.length; i++) assertTrue(Math.abs(ref[i] - got[i]) <= step, "y[" + i + "]");
        }
    }

    /** ONNX Runtime's Q/DQ style: each convolution quantized, then Q(DQ(a) + DQ(b)) → relu → Q: an int8 binary. */
    @Test
    void quantizedAddOfTwoInt8TensorsRunsAsInt8Binary() {
        SplittableRandom r = new SplittableRandom(13);
        Shape in = Shape.of(1, 8, 7, 9);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -1, 1));
        String[] x = g.quantize("x", QuantParams.Type.INT8, false);
        String c = g.node(Conv2d.builder(8, 8, 3).padding(Padding.same()).weights(ruleWeights(r, 8, 72))
                .bias(random(r, 8, -0.1, 0.1)).build(), x[1]);
        String[] cq = g.quantize(c, QuantParams.Type.INT8, false);
        String sum = g.node(Binary.add(), cq[1], x[1]);
        String relu = g.node(Activation.relu(), sum);
        String[] y = g.quantize(relu, QuantParams.Type.UINT8, false);
        String plan = compare(g, List.of(cq[0], y[0]), y[1], g.paramsOf(y[0]), "int8 add");
        assertEquals(1, int8Steps(plan, "convolution"), plan);
        assertEquals(1, int8Steps(plan, "binary"), plan);
    }

    /** Q(DQ(a) + DQ(b)) → DQ → ReLU → Q(u8, zero point 0): int8 binary, then a requantizing reorder for the ReLU. */
    @Test
    void reluBetweenDequantizeAndQuantizeIsARequantizingReorder() {
        SplittableRandom r = new SplittableRandom(29);
        Shape in = Shape.of(2, 8, 6, 6);
        QdqGraph g = new QdqGraph(in, random(r, (int) in.elementCount(), -1, 1));
        String[] x = g.quantize("x", QuantParams.Type.INT8, false);
        String c = g.node(Conv2d.builder(8, 8, 3).padding(Padding.same()).weights(ruleWeights(r, 8, 72))
                .bias(random(r, 8, -0.1, 0.1)).build(), x[1]);
        String[] cq = g.quantize(c, QuantParams.Type.INT8, false);
        String sum = g.node(Binary.add(), cq[1], x[1]);
        String[] sq = g.quantize(sum, QuantParams.Type.INT8, false);
        String relu = g.node(Activation.relu(), sq[1]);
        String[] y = g.quantize(relu, QuantParams.Type.UINT8, true);
        String plan = compare(g, List.of(sq[0], y[0]), y[1], g.paramsOf(y[0]), "ORT-style add and relu");
        assertEquals(1, int8Steps(plan, "binary"), plan);
        assertTrue(plan.lines().anyMatch(l -> l.contains(" reorder ") && l.contains("s8:acdb → u8:acdb")), plan);
        assertFalse(plan.contains(" eltwise "), plan);
    }
}
