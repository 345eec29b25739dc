package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SessionTest {
    private static RandomGenerator rng(long seed) {
        return RandomGeneratorFactory.of("L64X128MixRandom").create(seed);
    }

    private static float[] random(RandomGenerator r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) r.nextDouble(-1, 1);
        }
        return v;
    }

    @Test
    void sessionKnowsBackendShapesAndPlan() {
        Network net = LecturePattern.builder(Shape.of(3, 8, 8)).convsPerBlock(1).blocks(1).blockChannels(4)
                .classes(3).seed(1).build();
        for (BackendKind k : new BackendKind[] {BackendKind.JAVA, BackendKind.REFERENCE}) {
            try (Session s = net.compile(Shape.of(2, 3, 8, 8), k, 2)) {
                assertEquals(k, s.backend());
                assertEquals(Shape.of(2, 3, 8, 8), s.inputShape());
                assertEquals(Shape.of(2, 3), s.outputShape());
                assertEquals(net.layers().size(), s.summary().rows().size());
                float[] x = random(rng(2), 2 * 3 * 64);
                try (Tensor in = Tensor.of(s.inputShape(), x); Tensor out = s.run(in)) {
                    assertEquals(Shape.of(2, 3), out.shape());
                    assertArrayEquals(s.run(x), out.toArray());
                }
                ShapeException wrong = assertThrows(ShapeException.class, () -> s.run(new float[5]));
                assertTrue(wrong.getMessage().contains("[2, 3, 8, 8]"), wrong.getMessage());
                try (Tensor other = Tensor.allocate(Shape.of(1, 3, 8, 8))) {
                    assertThrows(ShapeException.class, () -> s.run(other));
                }
            }
        }
    }

    @Test
    void everySessionReportsItsBackendAndTheAutomaticChoiceIsOneDnnWhenItLoads() {
        Network net = Network.of(Activation.relu());
        for (BackendKind kind : BackendKind.values()) {
            try (Session s = net.compile(Shape.of(1, 4), kind)) {
                assertEquals(kind, s.backend());
                String marker = switch (kind) {
                    case ONEDNN -> "oneDNN plan";
                    case JAVA -> "Java backend plan";
                    case REFERENCE -> "reference backend plan";
                };
                assertTrue(s.plan().startsWith(marker), s.plan());
            }
        }
        try (Session s = net.compile(Shape.of(1, 4))) {
            assertEquals(BackendKind.ONEDNN, s.backend(), "oneDNN travels on the class path, so it is chosen");
        }
    }

    @Test
    void aSystemPropertyForcesTheBackend() {
        String old = System.getProperty(Backends.PROPERTY);
        try {
            System.setProperty(Backends.PROPERTY, "java");
            try (Session s = Network.of(Activation.relu()).compile(Shape.of(1, 4))) {
                assertEquals(BackendKind.JAVA, s.backend());
            }
            assertEquals(BackendKind.REFERENCE, Backends.resolve(BackendKind.REFERENCE), "an explicit request wins");
            System.setProperty(Backends.PROPERTY, "Reference");
            assertEquals(BackendKind.REFERENCE, Backends.resolve(null));
            System.setProperty(Backends.PROPERTY, "tpu");
            var e = assertThrows(IllegalArgumentException.class, () -> Backends.resolve(null));
            assertTrue(e.getMessage().contains("unknown backend 'tpu'"), e.getMessage());
        } finally {
            if (old == null) System.clearProperty(Backends.PROPERTY); else System.setProperty(Backends.PROPERTY, old);
        }
    }

    @Test
    void closedSessionRejectsRunsAndClosingTwiceIsHarmless() {
        Session s = Network.of(Activation.relu()).compile(Shape.of(1, 4), BackendKind.JAVA);
        s.close();
        s.close();
        assertThrows(IllegalStateException.class, () -> s.run(new float[4]));
        Tensor closed = Tensor.allocate(Shape.of(1, 4));
        closed.close();
        try (Session t = Network.of(Activation.relu()).compile(Shape.of(1, 4), BackendKind.JAVA)) {
            assertThrows(IllegalStateException.class, () -> t.run(closed));
        }
    }

    @Test
    void everyBackendChecksRunArgumentsTheSameWay() {
        Network net = Network.of(Conv2d.builder(1, 1, 3).randomWeights(rng(7)).build());
        Shape in = Shape.of(1, 1, 5, 5);
        for (BackendKind kind : BackendKind.values()) {
            try (Session s = net.compile(in, kind, 1); Arena arena = Arena.ofConfined()) {
                var e = assertThrows(ShapeException.class, () -> s.run(new float[24]), kind.toString());
                assertTrue(e.getMessage().contains("24") && e.getMessage().contains("[1, 1, 5, 5]"), e.getMessage());
                assertThrows(ShapeException.class, () -> s.run(new float[25], new float[8]), kind.toString());
                assertThrows(ShapeException.class, () -> s.run(arena.allocate(4 * 24), arena.allocate(4 * 9)), kind.toString());
                assertThrows(IllegalArgumentException.class, () -> s.run(MemorySegment.ofArray(new float[25]), arena.allocate(4 * 9)),
                        kind.toString());
                assertThrows(IllegalArgumentException.class, () -> s.run(arena.allocate(4 * 25), arena.allocate(4 * 9).asReadOnly()),
                        kind.toString());
                assertThrows(IllegalArgumentException.class, () -> s.run(Map.of("x", new float[25])), kind.toString());
                float[] x = random(rng(8), 25);
                float[] expected = s.run(x);
                assertArrayEquals(expected, s.run(Map.of(Session.INPUT, x)).get(Session.OUTPUT), kind.toString());
                try (Tensor heap = Tensor.wrap(in, MemorySegment.ofArray(x.clone())); Tensor y = s.run(heap)) {
                    assertArrayEquals(expected, y.toArray(), kind + ": a tensor over a heap array");
                }
            }
        }
    }

    @Test
    @org.junit.jupiter.api.Tag("isolated") // in a JVM of its own (pom.xml): heap allocation rests on the JIT's escape
    // analysis, and in a JVM that already ran hundreds of tests (both Java kernel implementations loaded, call sites
    // deoptimized) it read 46 bytes per run once; a service's JVM loads one implementation
    void steadyStateRunsOnJavaAndReferenceAllocateNothingOnTheHeap() {
        Network net = Network.of(Conv2d.builder(3, 8, 3).padding(Padding.same()).randomWeights(rng(5)).build(),
                Activation.relu(), Conv2d.builder(8, 4, 3).padding(Padding.same()).randomWeights(rng(6)).build());
        Shape in = Shape.of(1, 3, 8, 8);
        var threadBean = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (BackendKind kind : new BackendKind[] {BackendKind.JAVA, BackendKind.REFERENCE}) {
            for (boolean channelsLast : new boolean[] {false, true}) {
                SessionOptions o = SessionOptions.defaults().withBackend(kind).withThreads(1).withChannelsLast(channelsLast);
                try (Session s = net.compile(in, o); Arena arena = Arena.ofConfined()) {
                    float[] x = random(rng(12), (int) in.elementCount());
                    float[] y = new float[(int) s.outputShape().elementCount()];
                    MemorySegment input = arena.allocateFrom(ValueLayout.JAVA_FLOAT, x);
                    MemorySegment output = arena.allocate(ValueLayout.JAVA_FLOAT, y.length);
                    for (int i = 0; i < 20_000; i++) { // warm up: let C2 compile and scalar-replace
                        s.run(input, output);
                        s.run(x, y);
                    }
                    long id = Thread.currentThread().threadId();
                    int runs = 2_000;
                    long before = threadBean.getThreadAllocatedBytes(id);
                    for (int i = 0; i < runs; i++) s.run(input, output);
                    long segments = (threadBean.getThreadAllocatedBytes(id) - before) / runs;
                    before = threadBean.getThreadAllocatedBytes(id);
                    for (int i = 0; i < runs; i++) s.run(x, y);
                    long arrays = (threadBean.getThreadAllocatedBytes(id) - before) / runs;
                    String what = kind + (channelsLast ? " channels-last" : "");
                    assertTrue(segments < 16, what + ": run(MemorySegment, MemorySegment) allocated " + segments + " bytes per run");
                    assertTrue(arrays < 16, what + ": run(float[], float[]) allocated " + arrays + " bytes per run");
                }
            }
        }
    }

    @Test
    void invalidThreadCountIsRejected() {
        assertThrows(IllegalArgumentException.class,
                () -> Network.of(Activation.relu()).compile(Shape.of(1, 4), BackendKind.JAVA, 0));
    }

    @Test
    void runIsThreadSafe() throws Exception {
        Network net = Network.of(Conv2d.builder(8, 16, 3).padding(Padding.same()).randomWeights(rng(3)).build(),
                Activation.relu(), Conv2d.builder(16, 8, 3).randomWeights(rng(4)).build());
        Shape in = Shape.of(2, 8, 12, 12);
        List<float[]> inputs = new ArrayList<>();
        for (int i = 0; i < 8; i++) {
            inputs.add(random(rng(10 + i), (int) in.elementCount()));
        }
        try (Session s = net.compile(in, BackendKind.JAVA, 2); ExecutorService pool = Executors.newFixedThreadPool(4)) {
            List<float[]> expected = inputs.stream().map(s::run).toList();
            List<Future<float[]>> futures = new ArrayList<>();
            for (int round = 0; round < 4; round++) {
                for (float[] x : inputs) {
                    futures.add(pool.submit(() -> s.run(x)));
                }
            }
            for (int i = 0; i < futures.size(); i++) {
                assertArrayEquals(expected.get(i % inputs.size()), futures.get(i).get());
            }
        }
    }

    @Test
    void batchNormFoldsIntoTheConvolution() {
        RandomGenerator r = rng(9);
        Conv2d conv = Conv2d.builder(3, 4, 3).padding(Padding.same()).randomWeights(r).build();
        BatchNorm bn = BatchNorm.of(random(r, 4), random(r, 4), random(r, 4),
                new float[] {0.5f, 1f, 2f, 0.1f}, 1e-5);
        Conv2d folded = bn.foldInto(conv);
        assertEquals(conv.weightCount(), folded.weightCount());
        Shape in = Shape.of(2, 3, 6, 6);
        float[] x = random(r, (int) in.elementCount());
        try (Session a = Network.of(conv, bn).compile(in, BackendKind.REFERENCE);
             Session b = Network.of(folded).compile(in, BackendKind.REFERENCE)) {
            float[] ya = a.run(x);
            float[] yb = b.run(x);
            for (int i = 0; i < ya.length; i++) {
                // folding rounds scaled weights to float: a few ulps relative to the term magnitudes (≤ ~30 here)
                assertEquals(ya[i], yb[i], 1e-5 * 30, "element " + i);
            }
        }
        // a conv without bias gets one from the fold
        Conv2d noBias = Conv2d.builder(3, 4, 1).weights(random(r, 12)).build();
        assertEquals(4, bn.foldInto(noBias).biasCount());
        assertThrows(ShapeException.class, () -> bn.foldInto(Conv2d.builder(3, 5, 1).weights(new float[15]).build()));
    }

    @Test
    void summaryTableListsEveryLayer() {
        Network net = LecturePattern.builder(Shape.of(3, 32, 32)).convsPerBlock(1).blocks(1).blockChannels(6)
                .kernelSize(5).convPadding(Padding.valid()).classes(10).seed(3).build();
        String table = net.plan(Shape.of(1, 3, 32, 32)).layerTable();
        assertTrue(table.contains("Conv2d(3→6, 5×5, s=1, valid)"), table);
        assertTrue(table.contains("[6, 28, 28]") && table.contains("[6, 14, 14]") && table.contains("[1176]"), table);
        assertTrue(table.contains("total"), table);
    }
}
