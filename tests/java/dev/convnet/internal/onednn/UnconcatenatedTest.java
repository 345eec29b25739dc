package dev.convnet.internal.onednn;

import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.UnaryOperator;
import org.junit.jupiter.api.Test;

/**
 * Channel concatenations that oneDNN plans leave unconcatenated: readers that work part by part (convolutions as
 * partial sums, pooling and element-wise functions per part) against the reference, and the plan shows where a
 * concat primitive still runs.
 */
class UnconcatenatedTest {
    private static final SessionOptions ONEDNN = SessionOptions.defaults().withBackend(BackendKind.ONEDNN);

    private static Conv2d conv(SplittableRandom r, int in, int out, int k) {
        return Conv2d.builder(in, out, k).padding(Padding.same()).randomWeights(r).build();
    }

    /** A fire-module chain (SqueezeNet): squeeze, two expands concatenated, read by a convolution and a pooling. */
    private static Graph fireChain(SplittableRandom r, UnaryOperator<Graph.Builder> tail) {
        Graph.Builder b = Graph.builder().input("x")
                .node("s1", conv(r, 8, 4, 1), "x").node("s1r", Activation.relu(), "s1")
                .node("e1", conv(r, 4, 16, 1), "s1r").node("e1r", Activation.relu(), "e1")
                .node("e3", conv(r, 4, 16, 3), "s1r").node("e3r", Activation.relu(), "e3")
                .node("cat", Concat.of(1), "e1r", "e3r");
        return tail.apply(b).build();
    }

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    private static String check(Graph g, Shape in, long seed) {
        float[] x = random(new SplittableRandom(seed), (int) in.elementCount());
        Map<String, Shape> shapes = Map.of("x", in);
        Map<String, float[]> ref;
        try (Session s = g.compile(shapes, SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            ref = s.run(Map.of("x", x));
        }
        for (boolean fusion : new boolean[] {true, false}) {
            try (Session s = g.compile(shapes, ONEDNN.withFusion(fusion))) {
                Map<String, float[]> y = s.run(Map.of("x", x));
                for (var e : ref.entrySet()) {
                    float[] a = e.getValue(), b = y.get(e.getKey());
                    for (int i = 0; i < a.length; i++) {
                        assertEquals(a[i], b[i], 1e-4 * Math.max(1, Math.abs(a[i])),
                                e.getKey() + "[" + i + "] fusion " + fusion + "\n" + s.plan());
                    }
                }
                if (fusion) return s.plan();
            }
        }
        throw new AssertionError();
    }

    private static long concats(String plan) {
        return plan.lines().filter(l -> l.matches("\\d+ +concat .*")).count();
    }

    @Test
    void convolutionReadingAConcatenationRunsAsPartialSumsWithoutAConcat() {
        Graph g = fireChain(new SplittableRandom(1), b -> b.node("next", conv(new SplittableRandom(2), 32, 8, 3), "cat")
                .node("nextr", Activation.relu(), "next").output("nextr"));
        String plan = check(g, Shape.of(2, 8, 9, 11), 3);
        assertEquals(0, concats(plan), plan);
        assertTrue(plan.contains("[input channels 0–15 of") && plan.contains("[input channels 16–31 of"), plan);
        assertTrue(plan.contains("post-ops: sum, relu"), "the second part adds into the first, then the ReLU: " + plan);
    }

    @Test
    void poolingDropoutAndActivationsWorkPartByPartUpToTheNextConvolution() {
        Graph g = fireChain(new SplittableRandom(4), b -> b.node("pool", MaxPool2d.of(2, 2), "cat")
                .node("drop", Dropout.of(0.5), "pool").node("act", Activation.sigmoid(), "drop")
                .node("next", conv(new SplittableRandom(5), 32, 8, 1), "act").node("gap", GlobalPool2d.average(), "next")
                .output("gap"));
        String plan = check(g, Shape.of(1, 8, 10, 10), 6);
        assertEquals(0, concats(plan), plan);
        assertTrue(plan.contains("[part 2 of"), plan);
    }

    @Test
    void aReaderThatNeedsTheWholeGetsOneConcatAndTheOthersStillSplit() {
        // The concatenation is an output and is read by a convolution: one concat for the caller, partial sums for
        // the convolution (which reads the parts, not the concat).
        Graph g = fireChain(new SplittableRandom(7), b -> b.node("next", conv(new SplittableRandom(8), 32, 4, 3), "cat")
                .output("cat", "next"));
        String plan = check(g, Shape.of(3, 8, 7, 5), 9);
        assertEquals(1, concats(plan), plan);
        // Global pooling then the output: pooled per part, concatenated for the caller.
        Graph h = fireChain(new SplittableRandom(10), b -> b.node("gap", GlobalPool2d.max(), "cat").output("gap"));
        assertEquals(1, concats(check(h, Shape.of(2, 8, 6, 6), 11)));
    }

    @Test
    void nestedAndRepeatedConcatenationsAreMaterializedCorrectly() {
        SplittableRandom r = new SplittableRandom(12);
        Graph g = fireChain(r, b -> b.node("cat2", Concat.of(1), "cat", "s1r")
                .node("twice", Concat.of(1), "s1r", "s1r")
                .node("c2", conv(r, 36, 4, 3), "cat2").node("c3", conv(r, 8, 4, 1), "twice")
                .output("c2", "c3"));
        check(g, Shape.of(2, 8, 8, 8), 13);
    }
}
