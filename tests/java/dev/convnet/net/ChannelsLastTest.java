package dev.convnet.net;

import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.tensor.Tensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * Channels-last (NHWC) input and output give the NCHW results, transposed, on every backend, for networks and graphs
 * and through every {@code run} method. Inputs and weights are small integers, so every layout computes exactly.
 */
class ChannelsLastTest {
    private static float[] toNhwc(float[] x, Shape s) {
        int n = s.dim(0), c = s.dim(1), hw = s.dim(2) * s.dim(3);
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++) y[(b * hw + p) * c + ch] = x[(b * c + ch) * hw + p];
        return y;
    }

    @Test
    void nhwcRunsMatchNchwRunsOnEveryBackend() {
        SplittableRandom r = new SplittableRandom(3);
        Network net = Network.of(Conv2d.builder(3, 16, 3).padding(Padding.same()).randomWeights(r).build(),
                Activation.relu(), MaxPool2d.of(2, 2));
        Shape in = Shape.of(2, 3, 8, 6);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = r.nextInt(-4, 5);
        for (BackendKind kind : BackendKind.values()) {
            SessionOptions o = SessionOptions.defaults().withBackend(kind);
            try (Session nchw = net.compile(in, o); Session nhwc = net.compile(in, o.withChannelsLast(true))) {
                float[] expected = toNhwc(nchw.run(x), nchw.outputShape());
                assertArrayEquals(expected, nhwc.run(toNhwc(x, in)), kind.toString());
                assertTrue(nhwc.plan().contains("channels-last"), nhwc.plan());
                if (kind == BackendKind.ONEDNN) {
                    assertFalse(nhwc.plan().contains("reorder (input"), "no reorder at the input: " + nhwc.plan());
                }
            }
        }
    }

    /**
     * Two inputs, a residual block on x with skip added, and three outputs: y = relu(conv(relu(conv(x))) + skip),
     * cat = concat(y, skip) (both 4-D) and scores = flatten(average pool(cat)) (2-D, the same in both layouts).
     */
    private static Graph residualWithTwoInputs() {
        SplittableRandom r = new SplittableRandom(5);
        return Graph.builder().input("x").input("skip")
                .node("c1", GraphTest.conv(4, 4, r), "x").node("r1", Activation.relu(), "c1")
                .node("c2", GraphTest.conv(4, 4, r), "r1").node("sum", Binary.add(), "c2", "skip")
                .node("y", Activation.relu(), "sum")
                .node("cat", Concat.of(1), "y", "skip")
                .node("pool", GlobalPool2d.average(), "cat").node("scores", new Flatten(), "pool")
                .output("y", "cat", "scores").build();
    }

    @Test
    void graphsWithSeveralInputsAndOutputsTakeAndGiveNhwcOnEveryBackend() {
        Graph g = residualWithTwoInputs();
        Shape in = Shape.of(2, 4, 5, 6);
        int n = (int) in.elementCount();
        Map<String, float[]> nchwIn = Map.of("x", GraphTest.integers(n, 9), "skip", GraphTest.integers(n, 10));
        Map<String, float[]> nhwcIn = new LinkedHashMap<>();
        nchwIn.forEach((k, v) -> nhwcIn.put(k, toNhwc(v, in)));
        Map<String, Shape> shapes = Map.of("x", in, "skip", in);
        for (BackendKind kind : BackendKind.values()) {
            SessionOptions o = SessionOptions.defaults().withBackend(kind).withThreads(2);
            try (Session nchw = g.compile(shapes, o); Session nhwc = g.compile(shapes, o.withChannelsLast(true))) {
                Map<String, float[]> expected = nchw.run(nchwIn);
                Map<String, float[]> actual = nhwc.run(nhwcIn);
                assertEquals(nchw.outputNames(), nhwc.outputNames());
                for (String name : nchw.outputNames()) {
                    Shape s = nchw.outputShapes().get(name);
                    float[] want = s.rank() == 4 ? toNhwc(expected.get(name), s) : expected.get(name);
                    assertArrayEquals(want, actual.get(name), kind + " output " + name);
                }
                assertTrue(nhwc.plan().contains("channels-last"), nhwc.plan());
            }
        }
    }

    @Test
    void everyRunMethodOfAChannelsLastGraphGivesTheSameNhwcResult() {
        SplittableRandom r = new SplittableRandom(11);
        Graph g = Graph.builder().input("x")
                .node("c1", GraphTest.conv(4, 4, r), "x").node("r1", Activation.relu(), "c1")
                .node("c2", GraphTest.conv(4, 4, r), "r1").node("sum", Binary.add(), "c2", "x")
                .node("y", Activation.relu(), "sum").output("y").build();
        Shape in = Shape.of(2, 4, 5, 6);
        float[] x = GraphTest.integers((int) in.elementCount(), 12);
        for (BackendKind kind : BackendKind.values()) {
            SessionOptions o = SessionOptions.defaults().withBackend(kind).withThreads(2);
            try (Session nchw = g.compile(in, o); Session nhwc = g.compile(in, o.withChannelsLast(true));
                 Arena arena = Arena.ofConfined()) {
                float[] expected = toNhwc(nchw.run(x), nchw.outputShape());
                float[] nhwcX = toNhwc(x, in);
                assertArrayEquals(expected, nhwc.run(nhwcX), kind + " run(float[])");
                float[] out = new float[expected.length];
                nhwc.run(nhwcX, out);
                assertArrayEquals(expected, out, kind + " run(float[], float[])");
                MemorySegment segIn = arena.allocateFrom(ValueLayout.JAVA_FLOAT, nhwcX);
                MemorySegment segOut = arena.allocate(ValueLayout.JAVA_FLOAT, expected.length);
                for (int i = 0; i < 3; i++) { // the workspaces' staging arrays are reused
                    nhwc.run(segIn, segOut);
                    assertArrayEquals(expected, segOut.toArray(ValueLayout.JAVA_FLOAT), kind + " run(MemorySegment, MemorySegment)");
                }
                try (Tensor t = Tensor.of(in, nhwcX); Tensor y = nhwc.run(t)) {
                    assertArrayEquals(expected, y.toArray(), kind + " run(Tensor)");
                }
            }
        }
    }
}
