package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Linear;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Graphs: building, planning (shapes, FLOPs, errors naming the node), chains, and Java / reference sessions. */
class GraphTest {
    /** A 3×3 same convolution with small integer weights and biases (exact in float). */
    static Conv2d conv(int in, int out, SplittableRandom r) {
        float[] w = new float[out * in * 9];
        for (int i = 0; i < w.length; i++) w[i] = r.nextInt(-2, 3);
        float[] b = new float[out];
        for (int i = 0; i < b.length; i++) b[i] = r.nextInt(-2, 3);
        return Conv2d.builder(in, out, 3).padding(Padding.same()).weights(w).bias(b).build();
    }

    /** x → conv → relu → conv → (+ x) → relu, and a side branch concatenated with it; two outputs. */
    static Graph residual() {
        SplittableRandom r = new SplittableRandom(7);
        return Graph.builder().input("x")
                .constant("scale", Shape.of(4, 1, 1), new float[] {1, 2, 3, 4})
                .node("c1", conv(4, 4, r), "x").node("r1", Activation.relu(), "c1")
                .node("c2", conv(4, 4, r), "r1").node("sum", Binary.add(), "c2", "x")
                .node("y", Activation.relu(), "sum")
                .node("scaled", Binary.mul(), "x", "scale")
                .node("cat", Concat.of(1), "y", "scaled")
                .node("pool", GlobalPool2d.average(), "cat")
                .output("cat", "pool").build();
    }

    /** {@code n} integers in [-3, 3], from {@code seed}. */
    static float[] integers(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(-3, 4);
        return x;
    }

    @Test
    void residualAndConcatRunTheSameOnJavaAndReference() {
        Graph g = residual();
        Shape in = Shape.of(2, 4, 5, 6);
        float[] x = integers((int) in.elementCount(), 1);
        Map<String, float[]> java, ref;
        try (Session s = g.compile(in, SessionOptions.defaults().withBackend(BackendKind.JAVA).withThreads(2))) {
            assertEquals(List.of("x"), s.inputNames());
            assertEquals(List.of("cat", "pool"), s.outputNames());
            assertEquals(Shape.of(2, 8, 5, 6), s.outputShapes().get("cat"));
            assertEquals(Shape.of(2, 8, 1, 1), s.outputShapes().get("pool"));
            assertThrows(IllegalStateException.class, s::outputShape);
            java = s.run(Map.of("x", x));
        }
        try (Session s = g.compile(in, SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            ref = s.run(Map.of("x", x));
        }
        assertArrayEquals(ref.get("cat"), java.get("cat")); // integer inputs and weights: exact
        assertArrayEquals(ref.get("pool"), java.get("pool"), 1e-5f);
        // the scaled branch of channel 2 of image 0 is 3·x
        float[] cat = java.get("cat");
        assertEquals(3 * x[2 * 30], cat[(4 + 2) * 30]);
    }

    @Test
    void planCountsParametersAndFlopsAndNamesTheNodeOnErrors() {
        GraphSummary plan = residual().plan(Shape.of(1, 4, 4, 4));
        GraphSummary.Row c1 = plan.rows().getFirst();
        // 3×3 same on 4×4: per axis 4·3 − 2 = 10 (output, tap) pairs inside the image
        assertEquals(2L * 4 * 4 * 10 * 10, c1.flops());
        assertEquals(4 * 4 * 9 + 4, c1.parameters());
        assertEquals(4, plan.rows().stream().filter(r -> r.name().equals("scaled")).findFirst().orElseThrow().constantElements());
        assertEquals(2 * (4 * 4 * 9 + 4) + 4, plan.totalParameters());
        assertTrue(plan.table().contains("Concat(axis 1)"), plan.table());
        ShapeException e = assertThrows(ShapeException.class, () -> residual().plan(Shape.of(1, 3, 4, 4)));
        assertTrue(e.getMessage().contains("node 1 'c1'") && e.getMessage().contains("expect 4 input channels"), e.getMessage());
        Graph bad = Graph.builder().input("a").input("b").node("s", Binary.add(), "a", "b").output("s").build();
        e = assertThrows(ShapeException.class, () -> bad.plan(Map.of("a", Shape.of(2, 3), "b", Shape.of(2, 4))));
        assertTrue(e.getMessage().contains("'s'") && e.getMessage().contains("broadcasting") && e.getMessage().contains("3 vs 4"),
                e.getMessage());
    }

    @Test
    void builderChecksNamesAndArity() {
        assertThrows(IllegalArgumentException.class, () -> Graph.builder().input("x").node("y", Activation.relu(), "z"));
        assertThrows(IllegalArgumentException.class, () -> Graph.builder().input("x").node("y", Binary.add(), "x"));
        assertThrows(IllegalArgumentException.class, () -> Graph.builder().input("x").node("x", Activation.relu(), "x"));
        assertThrows(IllegalArgumentException.class, () -> Graph.builder().input("x").output("nope"));
        assertThrows(IllegalStateException.class, () -> Graph.builder().input("x").build());
        assertThrows(ShapeException.class, () -> Graph.builder().constant("c", Shape.of(2), new float[3]));
    }

    @Test
    void networksBecomeChainsAndBack() {
        SplittableRandom r = new SplittableRandom(3);
        Network net = Network.of(conv(2, 3, r), Activation.relu(), new Flatten(),
                Linear.of(3 * 4 * 4, 2, integers(96, 2), new float[] {1, -1}));
        Graph g = net.toGraph();
        assertEquals(List.of(Session.INPUT), g.inputNames());
        assertEquals(List.of(Session.OUTPUT), g.outputNames());
        assertEquals(net.layers(), g.asChain().orElseThrow().layers());
        assertTrue(residual().asChain().isEmpty());
        Shape in = Shape.of(1, 2, 4, 4);
        float[] x = integers(32, 5);
        try (Session a = net.compile(in, BackendKind.JAVA, 1);
             Session b = g.compile(in, SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertArrayEquals(a.run(x), b.run(x));
            assertArrayEquals(a.run(x), a.run(Map.of(Session.INPUT, x)).get(Session.OUTPUT));
            assertEquals(a.summary().totalFlops(), b.summary().totalFlops());
        }
    }

    @Test
    void aResidualAddIsFusedIntoTheConvolutionAsASumPostOp() {
        SplittableRandom r = new SplittableRandom(21);
        // A ResNet block: a = relu(conv(x)); y = relu(conv(relu(conv(a))) + a): the last convolution accumulates
        // into a's buffer, which nothing reads after it. (conv(a) + a itself cannot be fused: the convolution
        // would overwrite its own input.)
        Graph g = Graph.builder().input("x")
                .node("a0", conv(3, 8, r), "x").node("a", Activation.relu(), "a0")
                .node("b0", conv(8, 8, r), "a").node("b", Activation.relu(), "b0")
                .node("c", conv(8, 8, r), "b").node("sum", Binary.add(), "c", "a")
                .node("y", Activation.relu(), "sum").output("y").build();
        Shape in = Shape.of(2, 3, 6, 6);
        float[] x = integers((int) in.elementCount(), 22);
        SessionOptions onednn = SessionOptions.defaults().withBackend(BackendKind.ONEDNN);
        try (Session fused = g.compile(in, onednn); Session plain = g.compile(in, onednn.withFusion(false));
             Session ref = g.compile(in, SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertTrue(fused.plan().contains("[post-ops: sum, relu]"), fused.plan());
            assertFalse(fused.plan().contains("binary"), fused.plan());
            assertTrue(plain.plan().contains("binary"), plain.plan());
            float[] expected = ref.run(x);
            assertArrayEquals(expected, fused.run(x));
            assertArrayEquals(expected, plain.run(x));
            assertArrayEquals(expected, fused.run(x), "a second run: the residual buffer is rewritten each time");
        }
    }

    @Test
    void graphsRunOnOneDnnWithBinaryAndConcatPrimitives() {
        SessionOptions onednn = SessionOptions.defaults().withBackend(BackendKind.ONEDNN);
        Shape in = Shape.of(2, 4, 4, 4);
        float[] x = integers((int) in.elementCount(), 11);
        try (Session s = residual().compile(in, onednn);
             Session ref = residual().compile(in, SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            assertEquals(BackendKind.ONEDNN, s.backend());
            assertTrue(s.plan().contains("binary") || s.plan().contains("concat"), s.plan());
            assertFalse(s.plan().contains("java kernel"), s.plan());
            Map<String, float[]> feed = Map.of(s.inputNames().getFirst(), x);
            Map<String, float[]> expected = ref.run(feed);
            Map<String, float[]> actual = s.run(feed);
            assertEquals(expected.keySet(), actual.keySet());
            for (String k : expected.keySet()) assertArrayEquals(expected.get(k), actual.get(k), k);
        }
        Graph clip = Graph.builder().input("in").node("y", Unary.clip(0, 6), "in").output("y").build();
        try (Session s = clip.compile(Shape.of(1, 4), onednn)) {
            assertEquals(List.of("in"), s.inputNames());
            assertTrue(s.plan().contains("eltwise"), s.plan());
            assertArrayEquals(new float[] {0, 2, 0, 6}, s.run(Map.of("in", new float[] {-1, 2, -3, 7})).get("y"));
        }
    }

    @Test
    void inputsAndConstantsAsOutputsAreCopies() {
        Graph g = Graph.builder().input("x").constant("c", Shape.of(2), new float[] {1, 2})
                .node("t", Transpose.of(1, 0), "x").node("r", Reshape.to(-1), "t").output("x", "c", "r").build();
        try (Session s = g.compile(Shape.of(2, 3), SessionOptions.defaults().withBackend(BackendKind.JAVA))) {
            float[] x = {1, 2, 3, 4, 5, 6};
            Map<String, float[]> out = s.run(Map.of("x", x));
            assertArrayEquals(x, out.get("x"));
            assertTrue(out.get("x") != x);
            assertArrayEquals(new float[] {1, 2}, out.get("c"));
            assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, out.get("r"));
            assertThrows(IllegalArgumentException.class, () -> s.run(Map.of("y", x)));
            assertThrows(ShapeException.class, () -> s.run(Map.of("x", new float[5])));
        }
    }

    @Test
    void concurrentRunsAndCloseWaitingForThem() throws Exception {
        Graph g = residual();
        Shape in = Shape.of(1, 4, 8, 8);
        float[] x = integers(256, 9);
        Session s = g.compile(in, SessionOptions.defaults().withBackend(BackendKind.JAVA).withThreads(2));
        float[] expected = s.run(Map.of("x", x)).get("cat");
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<float[]>> runs = new ArrayList<>();
            for (int i = 0; i < 16; i++) runs.add(pool.submit(() -> s.run(Map.of("x", x)).get("cat")));
            for (Future<float[]> f : runs) assertArrayEquals(expected, f.get());
        } finally {
            pool.shutdown();
        }
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, () -> s.run(Map.of("x", x)));
    }
}
