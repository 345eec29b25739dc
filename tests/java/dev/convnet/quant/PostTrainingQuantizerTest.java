package dev.convnet.quant;

import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Linear;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.Trainer;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PostTrainingQuantizerTest {
    private static final SessionOptions JAVA = SessionOptions.defaults().withBackend(BackendKind.JAVA).withThreads(1);

    private static float[] random(SplittableRandom r, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    private static float[] run(Graph g, Shape shape, float[] x) {
        try (Session s = g.compile(Map.of(g.inputNames().getFirst(), shape), JAVA)) {
            return s.run(Map.of(g.inputNames().getFirst(), x)).get(g.outputNames().getFirst());
        }
    }

    @Test
    void activationParamsFollowTheAsymmetricRule() {
        QuantParams p = PostTrainingQuantizer.activationParams(-1.0, 3.0, QuantParams.Type.UINT8);
        assertEquals(4.0f / 255, p.scale(0), 0f);
        assertEquals(64, p.zeroPoint(0)); // round(0 + 1/(4/255)) = round(63.75)
        // a range without 0 is extended to include it: [2, 5] → [0, 5], zero point at the type's minimum
        QuantParams q = PostTrainingQuantizer.activationParams(2.0, 5.0, QuantParams.Type.UINT8);
        assertEquals(5.0f / 255, q.scale(0), 0f);
        assertEquals(0, q.zeroPoint(0));
        QuantParams neg = PostTrainingQuantizer.activationParams(-6.0, -2.0, QuantParams.Type.INT8);
        assertEquals(6.0f / 255, neg.scale(0), 0f);
        assertEquals(127, neg.zeroPoint(0));
        QuantParams zero = PostTrainingQuantizer.activationParams(0, 0, QuantParams.Type.UINT8);
        assertEquals(1f, zero.scale(0));
        // 0 is exactly representable
        for (QuantParams x : List.of(p, q, neg)) assertEquals(0f, x.dequantize(x.quantize(0f, 0), 0));
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.activationParams(1, 0, QuantParams.Type.UINT8));
        assertThrows(IllegalArgumentException.class, () -> PostTrainingQuantizer.percentile(40));
    }

    @Test
    void perChannelWeightsFollowTheSharedRule() {
        float[] w = {0.5f, -1.27f, 0.01f, 0f, 0f, 0f, 2.54f, 1.27f, -0.635f};
        float[] s = PerChannelWeights.scales(w, 3);
        assertArrayEquals(new float[] {1.27f / 127f, 1f, 2.54f / 127f}, s);
        int[] q = PerChannelWeights.integers(w, 3);
        assertArrayEquals(new int[] {(int) Math.rint(0.5f / s[0]), -127, (int) Math.rint(0.01f / s[0]), 0, 0, 0, 127, (int) Math.rint(1.27f / s[2]), (int) Math.rint(-0.635f / s[2])}, q);
        float[] f = PerChannelWeights.quantize(w, 3);
        for (int i = 0; i < w.length; i++) assertEquals(q[i] * s[i / 3], f[i], 0f);
        // re-applying the rule to the stored floats gives back the same integers (what an int8 lowering does)
        assertArrayEquals(q, PerChannelWeights.integers(f, 3));
        assertThrows(IllegalArgumentException.class, () -> PerChannelWeights.scales(new float[5], 2));
    }

    /** x [N,1,2,2] → Conv 1×1 (2 channels, weights 1 and −2, bias 0.5, −0.25) → ReLU → Flatten → Linear → y. */
    private static Graph tinyNet() {
        Conv2d conv = Conv2d.builder(1, 2, 1).weights(new float[] {1f, -2f}).bias(new float[] {0.5f, -0.25f}).build();
        Linear fc = Linear.of(8, 3, new float[] {
                0.1f, 0.2f, -0.3f, 0.4f, 0.5f, -0.6f, 0.7f, 0.8f,
                -0.1f, 0.05f, 0.3f, 0.2f, -0.5f, 0.6f, 0.1f, 0.9f,
                0.3f, -0.2f, 0.1f, 0.0f, 0.25f, 0.35f, -0.45f, 0.15f}, new float[] {0.1f, 0.2f, 0.3f});
        return Network.of(conv, Activation.relu(), new Flatten(), fc).toGraph();
    }

    @Test
    void calibratedParametersMatchHandComputedRanges() {
        Graph g = tinyNet();
        Shape shape = Shape.of(2, 1, 2, 2);
        float[] b1 = {0.1f, -0.4f, 0.9f, 0.3f, -1.2f, 0.0f, 0.6f, 0.2f};
        float[] b2 = {1.5f, 0.2f, -0.1f, -0.3f, 0.4f, 0.8f, -0.7f, 1.1f};
        QuantizedGraph q = PostTrainingQuantizer.minMax().quantize(g, shape, List.of(b1, b2));
        // by hand: the input spans [−1.2, 1.5]; after the conv and ReLU channel 0 is relu(x + 0.5) and channel 1
        // relu(−2x − 0.25): the largest is max(1.5 + 0.5, 2.4 − 0.25) = 2.15 (x = −1.2), the smallest 0
        String input = g.inputNames().getFirst();
        assertEquals(2, q.ranges().size(), "the input of the conv and of the linear layer: " + q.ranges().keySet());
        ActivationRange in = q.ranges().get(input);
        assertEquals(-1.2f, in.min());
        assertEquals(1.5f, in.max());
        assertEquals(PostTrainingQuantizer.activationParams(-1.2f, 1.5f, QuantParams.Type.UINT8), in.params());
        ActivationRange hidden = q.ranges().values().stream().skip(1).findFirst().orElseThrow();
        assertEquals(0f, hidden.min());
        assertEquals((float) (-2 * -1.2f - 0.25f), hidden.max(), 1e-6f);
        assertEquals(PostTrainingQuantizer.activationParams(0, hidden.max(), QuantParams.Type.UINT8), hidden.params());
        // the structure: Q/DQ on the input, the conv with quantized weights, Q/DQ after the ReLU, quantized FC weights
        List<Graph.Node> nodes = q.graph().nodes();
        assertEquals(List.of("QuantizeLinear", "DequantizeLinear", "Conv2d", "Activation", "QuantizeLinear", "DequantizeLinear", "Flatten", "Linear"),
                nodes.stream().map(n -> n.layer().getClass().getSimpleName()).toList());
        Conv2d conv = (Conv2d) nodes.get(2).layer();
        assertArrayEquals(PerChannelWeights.quantize(new float[] {1f, -2f}, 2), conv.weights());
        Linear fc = (Linear) nodes.get(7).layer();
        assertArrayEquals(PerChannelWeights.quantize(((Linear) g.nodes().get(3).layer()).weights(), 3), fc.weights());
        assertEquals(g.outputNames(), q.graph().outputNames());
        assertEquals(g.inputNames(), q.graph().inputNames());
    }

    /**
     * One Linear layer y = W·x + b, x quantized per tensor (step s_x) and W per row (step s_c): with |x_i| within the
     * calibrated range each rounding moves x_i by at most s_x/2 and w_ci by at most s_c/2, so
     * |Δy_c| ≤ Σ_i (|w_ci|·s_x/2 + |x_i|·s_c/2 + s_x·s_c/4).
     */
    @Test
    void fakeQuantizedOutputIsWithinTheDerivedBound() {
        SplittableRandom r = new SplittableRandom(7);
        int in = 64, out = 10;
        Linear fc = Linear.of(in, out, random(r, in * out, -0.5, 0.5), random(r, out, -0.1, 0.1));
        Graph g = Network.of(fc).toGraph();
        Shape shape = Shape.of(4, in);
        List<float[]> batches = new ArrayList<>();
        for (int i = 0; i < 8; i++) batches.add(random(r, 4 * in, -2, 3));
        QuantizedGraph q = PostTrainingQuantizer.minMax().quantize(g, shape, batches);
        float sx = q.ranges().values().iterator().next().params().scale(0);
        float[] w = fc.weights();
        float[] sw = PerChannelWeights.scales(w, out);
        double worstRatio = 0;
        for (float[] x : batches) {
            float[] exact = run(g, shape, x);
            float[] approx = run(q.graph(), shape, x);
            for (int n = 0; n < 4; n++) {
                for (int c = 0; c < out; c++) {
                    double bound = 0;
                    for (int i = 0; i < in; i++) {
                        bound += Math.abs(w[c * in + i]) * sx / 2 + Math.abs(x[n * in + i]) * sw[c] / 2 + sx * sw[c] / 4;
                    }
                    double err = Math.abs(exact[n * out + c] - approx[n * out + c]);
                    assertTrue(err <= bound * (1 + 1e-4) + 1e-6, "output " + n + "," + c + ": error " + err + " > bound " + bound);
                    worstRatio = Math.max(worstRatio, err / bound);
                }
            }
        }
        assertTrue(worstRatio > 0, "quantization changed nothing: the test would not see an error");
    }

    @Test
    void percentileCalibrationClipsOutliers() {
        Graph g = Network.of(Linear.of(4, 2, new float[] {1, 0, 0, 1, 0, 1, 1, 0}, null)).toGraph();
        SplittableRandom r = new SplittableRandom(3);
        Shape shape = Shape.of(250, 4);
        List<float[]> batches = new ArrayList<>();
        for (int i = 0; i < 10; i++) batches.add(random(r, 1000, 0, 1)); // 10,000 values in [0, 1)
        batches.get(4)[17] = 1000f; // one outlier
        batches.get(6)[3] = -500f;  // and one below
        ActivationRange minMax = PostTrainingQuantizer.minMax().quantize(g, shape, batches).ranges().values().iterator().next();
        assertEquals(-500f, minMax.min());
        assertEquals(1000f, minMax.max());
        int bins = 8192;
        ActivationRange p = PostTrainingQuantizer.percentile(99.9).withHistogramBins(bins).quantize(g, shape, batches)
                .ranges().values().iterator().next();
        double binWidth = 1500.0 / bins;
        assertEquals(-500f, p.observedMin());
        assertEquals(1000f, p.observedMax());
        assertTrue(p.max() >= 1 - binWidth && p.max() <= 1 + binWidth, "clipped max " + p.max());
        assertTrue(p.min() >= -binWidth && p.min() <= binWidth, "clipped min " + p.min());
        // the clipped range gives a ~1500× finer step than min/max
        assertTrue(p.params().scale(0) * 100 < minMax.params().scale(0));
    }

    @Test
    void batchNormIsFoldedIntoTheConvolutionBeforeQuantizing() {
        SplittableRandom r = new SplittableRandom(11);
        Conv2d conv = Conv2d.builder(2, 3, 3).padding(Padding.same()).weights(random(r, 54, -0.5, 0.5)).build();
        BatchNorm bn = BatchNorm.of(new float[] {1.5f, 0.5f, -1f}, new float[] {0.1f, -0.2f, 0.3f},
                new float[] {0.05f, -0.1f, 0.2f}, new float[] {0.8f, 1.2f, 0.5f}, 1e-5);
        Graph g = Network.of(conv, bn, Activation.relu(), new Flatten(), Linear.of(48, 4, random(r, 192, -0.3, 0.3), null)).toGraph();
        Shape shape = Shape.of(2, 2, 4, 4);
        List<float[]> batches = List.of(random(r, 64, -1, 1), random(r, 64, -1, 1), random(r, 64, -1, 1));
        QuantizedGraph q = PostTrainingQuantizer.minMax().quantize(g, shape, batches);
        assertTrue(q.folded().nodes().stream().noneMatch(n -> n.layer() instanceof BatchNorm));
        assertTrue(q.graph().nodes().stream().noneMatch(n -> n.layer() instanceof BatchNorm));
        for (float[] x : batches) {
            float[] a = run(g, shape, x);
            float[] b = run(q.folded(), shape, x);
            for (int i = 0; i < a.length; i++) assertEquals(a[i], b[i], 1e-5);
        }
        Conv2d folded = (Conv2d) q.folded().nodes().getFirst().layer();
        Conv2d quantized = (Conv2d) q.graph().nodes().stream().filter(n -> n.layer() instanceof Conv2d).findFirst().orElseThrow().layer();
        assertArrayEquals(PerChannelWeights.quantize(folded.weights(), 3), quantized.weights());
        assertArrayEquals(folded.bias().orElseThrow(), quantized.bias().orElseThrow());
        // Q/DQ after the ReLU that follows the folded conv (the next layer's input)
        List<String> kinds = q.graph().nodes().stream().map(n -> n.layer().getClass().getSimpleName()).toList();
        assertEquals(List.of("QuantizeLinear", "DequantizeLinear", "Conv2d", "Activation", "QuantizeLinear", "DequantizeLinear", "Flatten", "Linear"), kinds);
    }

    @Test
    void matMulWithAConstantOperandGetsPerColumnWeightsAndInt8Activations() {
        SplittableRandom r = new SplittableRandom(17);
        float[] b = random(r, 8 * 3, -1, 1);
        b[5] = 0; b[8] = 0; b[11] = 0; b[14] = 0; b[17] = 0; b[20] = 0; b[23] = 0; b[2] = 0; // column 2 all zeros
        Graph g = Graph.builder().input("x").constant("B", Shape.of(8, 3), b)
                .node("y", new dev.convnet.layer.MatMul(), "x", "B").output("y").build();
        Shape shape = Shape.of(5, 8);
        List<float[]> batches = List.of(random(r, 40, -3, 1), random(r, 40, -2, 2));
        QuantizedGraph q = PostTrainingQuantizer.minMax().withActivationType(QuantParams.Type.INT8).quantize(g, shape, batches);
        assertEquals(List.of("x"), List.copyOf(q.ranges().keySet()));
        QuantParams p = q.ranges().get("x").params();
        assertEquals(QuantParams.Type.INT8, p.type());
        float lo = Math.min(min(batches), 0), hi = Math.max(max(batches), 0);
        assertEquals(PostTrainingQuantizer.activationParams(lo, hi, QuantParams.Type.INT8), p);
        Graph.Node mm = q.graph().nodes().stream().filter(n -> n.layer() instanceof dev.convnet.layer.MatMul).findFirst().orElseThrow();
        float[] qb = q.graph().constantValues(mm.inputs().get(1));
        // per column (the output channels of x·B): scale = max|B[:, j]| / 127, a zero column keeps scale 1 and stays 0
        for (int j = 0; j < 3; j++) {
            float m = 0;
            for (int i = 0; i < 8; i++) m = Math.max(m, Math.abs(b[i * 3 + j]));
            float sc = m == 0 ? 1f : m / 127f;
            for (int i = 0; i < 8; i++) assertEquals((float) Math.rint(b[i * 3 + j] / sc) * sc, qb[i * 3 + j], 0f);
        }
        assertArrayEquals(b, q.graph().constantValues("B"), "the float constant is left as it was");
    }

    @Test
    void calibrationOnOneDnnGivesTheSameRanges() {
        Graph g = tinyNet();
        Shape shape = Shape.of(2, 1, 2, 2);
        List<float[]> batches = List.of(new float[] {0.1f, -0.4f, 0.9f, 0.3f, -1.2f, 0.0f, 0.6f, 0.2f});
        Map<String, ActivationRange> java = PostTrainingQuantizer.minMax().quantize(g, shape, batches).ranges();
        Map<String, ActivationRange> onednn = PostTrainingQuantizer.minMax()
                .withOptions(SessionOptions.defaults().withBackend(BackendKind.ONEDNN)).quantize(g, shape, batches).ranges();
        assertEquals(java.keySet(), onednn.keySet());
        java.forEach((k, v) -> {
            assertEquals(v.min(), onednn.get(k).min(), 1e-6f, k);
            assertEquals(v.max(), onednn.get(k).max(), 1e-6f, k);
        });
    }

    private static float min(List<float[]> batches) {
        float m = Float.MAX_VALUE;
        for (float[] x : batches) for (float v : x) m = Math.min(m, v);
        return m;
    }

    private static float max(List<float[]> batches) {
        float m = -Float.MAX_VALUE;
        for (float[] x : batches) for (float v : x) m = Math.max(m, v);
        return m;
    }

    @Test
    void badInputsAreRefusedWithTheRule() {
        Graph g = tinyNet();
        Shape shape = Shape.of(2, 1, 2, 2);
        IllegalArgumentException none = assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.minMax().quantize(g, shape, List.of()));
        assertTrue(none.getMessage().contains("no calibration batch"), none.getMessage());
        IllegalArgumentException len = assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.minMax().quantize(g, shape, List.of(new float[7])));
        assertTrue(len.getMessage().contains("7 values") && len.getMessage().contains("needs 8"), len.getMessage());
        Graph noLayers = Network.of(Activation.relu()).toGraph();
        assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.minMax().quantize(noLayers, Shape.of(1, 4), List.<float[]>of(new float[4])));
        float[] nan = new float[8];
        nan[3] = Float.NaN;
        IllegalArgumentException n = assertThrows(IllegalArgumentException.class,
                () -> PostTrainingQuantizer.minMax().quantize(g, shape, List.of(nan)));
        assertTrue(n.getMessage().contains("NaN"), n.getMessage());
    }

    @Test
    void trainingAGraphInQdqFormFailsWithAClearMessage() {
        Graph q = PostTrainingQuantizer.minMax().quantize(tinyNet(), Shape.of(2, 1, 2, 2),
                List.of(new float[] {0.1f, -0.4f, 0.9f, 0.3f, -1.2f, 0.0f, 0.6f, 0.2f})).graph();
        assertTrue(q.nodes().stream().anyMatch(n -> n.layer() instanceof QuantizeLinear));
        assertTrue(q.nodes().stream().anyMatch(n -> n.layer() instanceof DequantizeLinear));
        for (BackendKind backend : List.of(BackendKind.JAVA, BackendKind.REFERENCE)) {
            RuntimeException e = assertThrows(RuntimeException.class, () -> {
                try (ParameterSet params = ParameterSet.of(q);
                     Trainer t = Trainer.builder(q, params).optimizer(Optimizer.sgd(0.1)).batchSize(2).backend(backend).build()) {
                    t.fit(dev.convnet.data.Dataset.of(Shape.of(1, 2, 2), new float[8], new int[] {0, 1},
                            List.of("a", "b", "c")), null, 1);
                }
            });
            assertTrue(e instanceof UnsupportedOperationException, backend + ": " + e);
            assertTrue(e.getMessage().contains("QuantizeLinear") && e.getMessage().contains("train the float graph"), e.getMessage());
        }
    }

    /**
     * A max pooling of a quantized value is quantized again with the same parameters, so that oneDNN runs the whole
     * chain in 8 bits: the calibrated graph's plan on oneDNN has int8 convolutions and an int8 pooling, and its output
     * stays within one output step of the Java backend's (the reference arithmetic of the same Q/DQ graph).
     */
    @Test
    void maxPoolingKeepsTheChainInEightBitsOnOneDnn() {
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.convnet.onednn.OneDnn.isAvailable(), "oneDNN not loaded");
        SplittableRandom r = new SplittableRandom(21);
        Network net = Network.of(Conv2d.builder(3, 8, 3).padding(Padding.same()).randomWeights(r).build(), Activation.relu(),
                dev.convnet.layer.MaxPool2d.of(2, 2), Conv2d.builder(8, 8, 3).padding(Padding.same()).randomWeights(r).build(),
                Activation.relu(), new Flatten(), Linear.of(8 * 4 * 4, 5, random(r, 8 * 16 * 5, -0.2, 0.2), null));
        Graph g = Graph.of(net);
        Shape shape = Shape.of(4, 3, 8, 8);
        List<float[]> batches = List.of(random(r, (int) shape.elementCount(), -1, 1), random(r, (int) shape.elementCount(), -1, 1));
        Graph q = PostTrainingQuantizer.minMax().quantize(g, shape, batches).graph();
        Graph.Node pool = q.nodes().stream().filter(n -> n.layer() instanceof dev.convnet.layer.MaxPool2d).findFirst().orElseThrow();
        Graph.Node before = q.nodes().stream().filter(n -> n.output().equals(pool.inputs().getFirst())).findFirst().orElseThrow();
        Graph.Node after = q.nodes().stream().filter(n -> n.inputs().contains(pool.output())).findFirst().orElseThrow();
        assertTrue(before.layer() instanceof DequantizeLinear dq && after.layer() instanceof QuantizeLinear qa
                && dq.params().equals(qa.params()), "DQ → MaxPool → Q with the same parameters: " + q.nodes());
        float[] x = batches.getFirst();
        try (Session s = q.compile(shape, SessionOptions.defaults().withBackend(BackendKind.ONEDNN))) {
            String plan = s.plan();
            assertTrue(plan.lines().anyMatch(l -> l.contains(" pooling ") && l.contains("u8:")), plan);
            assertEquals(2, plan.lines().filter(l -> l.contains(" convolution ") && l.contains("u8:")).count(), plan);
            float[] y = s.run(x);
            float[] ref = run(q, shape, x);
            for (int i = 0; i < y.length; i++) assertEquals(ref[i], y[i], 0.05, "output " + i + "\n" + plan);
        }
    }
}
