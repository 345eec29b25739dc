package dev.convnet.onnx;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Profile;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onednn.OneDnn;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;
import dev.convnet.internal.exec.NativeMemory;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.ints;
import static dev.convnet.onnx.OnnxTestModels.node;
import static dev.convnet.onnx.OnnxTestModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link OnnxModelSession}: one loaded model at many batch sizes gives exactly what a separate import and compile per
 * batch gives, on every backend; the shape checks; the LRU cache; concurrent callers with evictions; closing; weights
 * shared between the cached shapes on oneDNN (native memory measured with mallinfo2).
 */
class OnnxModelSessionTest {
    /** A float tensor input whose axis 0 is the symbolic {@code batch} and the rest static. */
    static ValueInfoProto batchInput(String name, String batch, long... rest) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimParam(batch));
        for (long d : rest) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }

    private static OnnxModel read(GraphProto.Builder g) {
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("convnet-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13)).setGraph(g).build();
        return OnnxModelReader.read(m.toByteArray());
    }

    private static float[] random(SplittableRandom r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) ((r.nextDouble() * 2 - 1) * scale);
        return v;
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT_VALUE).setI(v).build();
    }

    /**
     * x[N, 3, 8, 8] → Conv 3→8 (pads 1, bias) → BatchNormalization → Relu → MaxPool 2×2 → Conv 8→16 → Relu →
     * GlobalAveragePool → Flatten → Gemm 16→10 (transB, bias) → Softmax → y[N, 10].
     */
    static OnnxModel smallCnn() {
        SplittableRandom r = new SplittableRandom(7);
        return read(GraphProto.newBuilder().setName("small_cnn")
                .addInput(batchInput("x", "N", 3, 8, 8)).addOutput(batchInput("y", "N", 10))
                .addInitializer(rawFloats("conv1.weight", new long[] {8, 3, 3, 3}, random(r, 216, 0.5)))
                .addInitializer(rawFloats("conv1.bias", new long[] {8}, random(r, 8, 0.1)))
                .addInitializer(rawFloats("bn.weight", new long[] {8}, random(r, 8, 1)))
                .addInitializer(rawFloats("bn.bias", new long[] {8}, random(r, 8, 0.1)))
                .addInitializer(rawFloats("bn.mean", new long[] {8}, random(r, 8, 0.1)))
                .addInitializer(rawFloats("bn.var", new long[] {8}, 1, 1.5f, 0.5f, 2, 1, 1, 0.75f, 1.25f))
                .addInitializer(rawFloats("conv2.weight", new long[] {16, 8, 3, 3}, random(r, 1152, 0.3)))
                .addInitializer(rawFloats("fc.weight", new long[] {10, 16}, random(r, 160, 0.5)))
                .addInitializer(rawFloats("fc.bias", new long[] {10}, random(r, 10, 0.1)))
                .addNode(node("conv1", "Conv", new String[] {"x", "conv1.weight", "conv1.bias"}, "c1").addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("bn", "BatchNormalization", new String[] {"c1", "bn.weight", "bn.bias", "bn.mean", "bn.var"}, "b1"))
                .addNode(node("relu1", "Relu", new String[] {"b1"}, "r1"))
                .addNode(node("pool", "MaxPool", new String[] {"r1"}, "p1").addAttribute(ints("kernel_shape", 2, 2))
                        .addAttribute(ints("strides", 2, 2)))
                .addNode(node("conv2", "Conv", new String[] {"p1", "conv2.weight"}, "c2"))
                .addNode(node("relu2", "Relu", new String[] {"c2"}, "r2"))
                .addNode(node("gap", "GlobalAveragePool", new String[] {"r2"}, "g"))
                .addNode(node("flat", "Flatten", new String[] {"g"}, "f"))
                .addNode(node("fc", "Gemm", new String[] {"f", "fc.weight", "fc.bias"}, "l").addAttribute(intAttr("transB", 1)))
                .addNode(node("softmax", "Softmax", new String[] {"l"}, "y")));
    }

    /**
     * torchvision's flatten as a shape sub-graph that the importer folds per batch size: x[N, 2, 3, 4] → Shape → Gather(0)
     * → Unsqueeze → Concat(−1) → Reshape → MatMul(W[24, 5]) → y[N, 5].
     */
    static OnnxModel shapeSubgraph() {
        SplittableRandom r = new SplittableRandom(8);
        TensorProto.Builder zero = TensorProto.newBuilder().setName("zero").setDataType(7).addInt64Data(0);
        TensorProto.Builder axes0 = TensorProto.newBuilder().setName("axes0").setDataType(7).addDims(1).addInt64Data(0);
        TensorProto.Builder minus1 = TensorProto.newBuilder().setName("minus1").setDataType(7).addDims(1).addInt64Data(-1);
        return read(GraphProto.newBuilder().setName("flatten")
                .addInput(batchInput("x", "batch", 2, 3, 4)).addOutput(batchInput("y", "batch", 5))
                .addInitializer(zero).addInitializer(axes0).addInitializer(minus1)
                .addInitializer(rawFloats("W", new long[] {24, 5}, random(r, 120, 1)))
                .addNode(node("shape", "Shape", new String[] {"x"}, "s"))
                .addNode(node("gather", "Gather", new String[] {"s", "zero"}, "n").addAttribute(intAttr("axis", 0)))
                .addNode(node("unsq", "Unsqueeze", new String[] {"n", "axes0"}, "n1"))
                .addNode(node("cat", "Concat", new String[] {"n1", "minus1"}, "target").addAttribute(intAttr("axis", 0)))
                .addNode(node("reshape", "Reshape", new String[] {"x", "target"}, "flat"))
                .addNode(node("mm", "MatMul", new String[] {"flat", "W"}, "y")));
    }

    private static SessionOptions options(BackendKind kind) {
        if (kind == BackendKind.ONEDNN) assumeTrue(OneDnn.isAvailable(), "oneDNN is not available");
        return SessionOptions.defaults().withBackend(kind).withThreads(2);
    }

    /** The output of a separate import and compile for {@code shape}: what the model session must equal. */
    private static float[] separately(OnnxModel m, SessionOptions options, Shape shape, float[] x) {
        String in = m.runtimeInputs().getFirst().name();
        OnnxGraph g = OnnxImporter.importModel(m, Map.of(in, shape), Map.of());
        try (Session s = g.compile(options)) {
            return s.run(x);
        }
    }

    @ParameterizedTest
    @EnumSource(BackendKind.class)
    void oneLoadedModelAtThreeBatchSizesEqualsThreeSeparateImports(BackendKind kind) {
        SessionOptions options = options(kind);
        for (OnnxModel m : List.of(smallCnn(), shapeSubgraph())) {
            try (OnnxModelSession model = OnnxModelSession.open(m, options, 4)) {
                assertEquals(kind, model.backend());
                List<OnnxValueInfo.Dim> dims = model.inputDims().get("x");
                assertTrue(dims.getFirst().isDynamic() && dims.getFirst().param() != null, dims.toString());
                SplittableRandom r = new SplittableRandom(3);
                for (int batch : new int[] {1, 3, 8}) {
                    int[] d = new int[dims.size()];
                    d[0] = batch;
                    for (int a = 1; a < d.length; a++) d[a] = (int) dims.get(a).value();
                    Shape shape = Shape.of(d);
                    float[] x = random(r, (int) shape.elementCount(), 1);
                    float[] expected = separately(m, options, shape, x);
                    assertArrayEquals(expected, model.run(x, shape), kind + " batch " + batch);
                    assertArrayEquals(expected, model.run(Map.of("x", x), Map.of("x", shape)).get("y"), kind + " batch " + batch);
                    try (Tensor t = Tensor.of(shape, x); Tensor y = model.run(t)) {
                        assertArrayEquals(expected, y.toArray());
                        assertEquals(batch, y.shape().dim(0));
                    }
                }
                assertEquals(3, model.cacheStats().cachedShapes());
                assertEquals(3, model.cacheStats().compiles());
                if (kind == BackendKind.ONEDNN) {
                    assertTrue(model.cacheStats().sharedConstantHits() > 0, model.cacheStats().toString());
                }
            }
        }
    }

    @Test
    void shapesAreCheckedAgainstTheDeclaredDimensions() {
        try (OnnxModelSession model = OnnxModelSession.open(smallCnn(), options(BackendKind.REFERENCE), 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> model.run(new float[3 * 9 * 9], Shape.of(1, 3, 9, 9)));
            assertTrue(e.getMessage().contains("axis 2 must be 8") && e.getMessage().contains("[N, 3, 8, 8]"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> model.run(new float[3 * 64], Shape.of(3, 64)));
            assertTrue(e.getMessage().contains("rank 2") && e.getMessage().contains("rank 4"), e.getMessage());
            e = assertThrows(IllegalArgumentException.class, () -> model.run(Map.of("z", new float[1]), Map.of("z", Shape.of(1))));
            assertTrue(e.getMessage().contains("[x]"), e.getMessage());
            ShapeException se = assertThrows(ShapeException.class, () -> model.run(new float[5], Shape.of(2, 3, 8, 8)));
            assertTrue(se.getMessage().contains("384"), se.getMessage());
            assertEquals(List.of(), model.cachedShapes().stream().filter(s -> s.get("x").dim(0) != 2).toList());
        }
        // Two inputs sharing the symbol N must agree on it.
        GraphProto.Builder g = GraphProto.newBuilder().setName("add")
                .addInput(batchInput("a", "N", 4)).addInput(batchInput("b", "N", 4)).addOutput(batchInput("y", "N", 4))
                .addNode(node("sum", "Add", new String[] {"a", "b"}, "y"));
        try (OnnxModelSession model = OnnxModelSession.open(read(g), options(BackendKind.JAVA), 2)) {
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> model.run(
                    Map.of("a", new float[8], "b", new float[12]), Map.of("a", Shape.of(2, 4), "b", Shape.of(3, 4))));
            assertTrue(e.getMessage().contains("N = 3") && e.getMessage().contains("N = 2"), e.getMessage());
            Map<String, float[]> y = model.run(Map.of("a", new float[] {1, 2, 3, 4, 5, 6, 7, 8}, "b", new float[8]),
                    Map.of("a", Shape.of(2, 4), "b", Shape.of(2, 4)));
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6, 7, 8}, y.get("y"));
        }
    }

    @Test
    void aStaticBatchStillVaries() {
        // Declared [1, 3, 8, 8] (exported without dynamic axes): axis 0 varies, the other axes are checked.
        OnnxModel m = read(GraphProto.newBuilder().setName("static").addInput(floatInput("x", 1, 3, 8, 8))
                .addOutput(floatInput("y", 1, 3, 1, 1)).addNode(node("gap", "GlobalAveragePool", new String[] {"x"}, "y")));
        try (OnnxModelSession model = OnnxModelSession.open(m, options(BackendKind.REFERENCE), 2)) {
            float[] x = new float[4 * 3 * 64];
            for (int i = 0; i < x.length; i++) x[i] = i / 64;
            float[] y = model.run(x, Shape.of(4, 3, 8, 8));
            for (int i = 0; i < 12; i++) assertEquals(i, y[i]);
            assertEquals(Map.of("y", Shape.of(4, 3, 1, 1)), model.outputShapes(Map.of("x", Shape.of(4, 3, 8, 8))));
            assertThrows(IllegalArgumentException.class, () -> model.run(new float[4 * 64], Shape.of(4, 1, 8, 8)));
        }
    }

    @Test
    void leastRecentlyUsedShapesAreEvicted() {
        try (OnnxModelSession model = OnnxModelSession.open(smallCnn(), options(BackendKind.JAVA), 2)) {
            for (int batch : new int[] {1, 2, 1, 3}) model.run(new float[batch * 192], Shape.of(batch, 3, 8, 8));
            List<Integer> cached = model.cachedShapes().stream().map(s -> s.get("x").dim(0)).toList();
            assertEquals(List.of(1, 3), cached, "batch 2 was the least recently used");
            OnnxModelSession.CacheStats stats = model.cacheStats();
            assertEquals(3, stats.compiles());
            assertEquals(1, stats.evictions());
            model.run(new float[2 * 192], Shape.of(2, 3, 8, 8)); // compiled again
            assertEquals(4, model.cacheStats().compiles());
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"ONEDNN", "JAVA"})
    void concurrentCallersWithVaryingBatchesAndEvictions(BackendKind kind) throws Exception {
        SessionOptions options = options(kind).withThreads(1);
        OnnxModel m = smallCnn();
        int[] batches = {1, 2, 3, 4, 5};
        Map<Integer, float[]> inputs = new HashMap<>();
        Map<Integer, float[]> expected = new HashMap<>();
        SplittableRandom r = new SplittableRandom(5);
        for (int b : batches) {
            inputs.put(b, random(r, b * 192, 1));
            expected.put(b, separately(m, options, Shape.of(b, 3, 8, 8), inputs.get(b)));
        }
        // Two cached shapes for five batch sizes: sessions are evicted while other threads run on them.
        OnnxModelSession model = OnnxModelSession.open(m, options, 2);
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 4; t++) {
                int seed = t;
                results.add(pool.submit(() -> {
                    SplittableRandom rr = new SplittableRandom(seed);
                    int runs = 0;
                    for (int i = 0; i < 25; i++) {
                        int b = batches[rr.nextInt(batches.length)];
                        assertArrayEquals(expected.get(b), model.run(inputs.get(b), Shape.of(b, 3, 8, 8)), "batch " + b);
                        runs++;
                    }
                    return runs;
                }));
            }
            int total = 0;
            for (Future<Integer> f : results) total += f.get(120, TimeUnit.SECONDS);
            assertEquals(100, total);
            assertTrue(model.cacheStats().evictions() > 0, model.cacheStats().toString());
            assertTrue(model.cachedShapes().size() <= 2);
        } finally {
            pool.shutdownNow();
            model.close();
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> model.run(inputs.get(1), Shape.of(1, 3, 8, 8)));
        assertTrue(e.getMessage().contains("closed"), e.getMessage());
        model.close(); // twice is harmless
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"ONEDNN", "JAVA"})
    void profilingTimesEveryStep(BackendKind kind) {
        try (OnnxModelSession model = OnnxModelSession.open(smallCnn(), options(kind).withProfiling(true), 2)) {
            Map<String, Shape> shapes = Map.of("x", Shape.of(2, 3, 8, 8));
            for (int i = 0; i < 3; i++) model.run(Map.of("x", new float[384]), shapes);
            Profile p = model.profile(shapes);
            assertEquals(3, p.runs());
            assertTrue(p.steps().size() >= 3 && p.steps().stream().allMatch(s -> s.calls() == 3), p.toString());
            assertTrue(p.totalNanos() > 0);
            String table = p.table(5);
            assertTrue(table.contains("by kind") && table.contains(kind == BackendKind.ONEDNN ? "convolution" : "Conv2d"), table);
        }
        try (OnnxModelSession model = OnnxModelSession.open(smallCnn(), options(kind), 2)) {
            Map<String, Shape> shapes = Map.of("x", Shape.of(1, 3, 8, 8));
            model.run(Map.of("x", new float[192]), shapes);
            assertTrue(model.profile(shapes).isEmpty());
        }
    }

    /**
     * x[N, 256, 4, 4] → Conv 256→512 3×3 → Relu → Conv 512→512 3×3 → Relu → GlobalAveragePool → Flatten → Gemm 512→1000:
     * 16.6 MB of weights and small activations, so that copies of the weights per batch size would show.
     */
    static OnnxModel heavyWeights() {
        SplittableRandom r = new SplittableRandom(9);
        return read(GraphProto.newBuilder().setName("heavy")
                .addInput(batchInput("x", "N", 256, 4, 4)).addOutput(batchInput("y", "N", 1000))
                .addInitializer(rawFloats("c1.weight", new long[] {512, 256, 3, 3}, random(r, 512 * 256 * 9, 0.05)))
                .addInitializer(rawFloats("c1.bias", new long[] {512}, random(r, 512, 0.1)))
                .addInitializer(rawFloats("c2.weight", new long[] {512, 512, 3, 3}, random(r, 512 * 512 * 9, 0.05)))
                .addInitializer(rawFloats("fc.weight", new long[] {1000, 512}, random(r, 512_000, 0.05)))
                .addInitializer(rawFloats("fc.bias", new long[] {1000}, random(r, 1000, 0.1)))
                .addNode(node("c1", "Conv", new String[] {"x", "c1.weight", "c1.bias"}, "a").addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("r1", "Relu", new String[] {"a"}, "b"))
                .addNode(node("c2", "Conv", new String[] {"b", "c2.weight"}, "c").addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("r2", "Relu", new String[] {"c"}, "d"))
                .addNode(node("gap", "GlobalAveragePool", new String[] {"d"}, "e"))
                .addNode(node("flat", "Flatten", new String[] {"e"}, "f"))
                .addNode(node("fc", "Gemm", new String[] {"f", "fc.weight", "fc.bias"}, "y").addAttribute(intAttr("transB", 1))));
    }

    @Tag("isolated") // in a JVM of its own (pom.xml): malloc readings in a JVM that ran other tests move by megabytes
    @Test
    void cachedShapesShareTheWeightsOnOneDnn() throws Throwable {
        dev.convnet.internal.exec.PrimitiveCache.emptiedDuring(this::measureSharedWeights);
    }

    private void measureSharedWeights() {
        SessionOptions options = options(BackendKind.ONEDNN);
        OnnxModel m = heavyWeights();
        long weightBytes = (512L * 256 * 9 + 512 + 512L * 512 * 9 + 512_000 + 1000) * Float.BYTES;
        int[] batches = {1, 2, 4, 8};
        // Warm up oneDNN's primitive cache and the allocator, so the measurements below see only what stays allocated.
        for (int i = 0; i < 2; i++) {
            try (OnnxModelSession model = OnnxModelSession.open(m, options, 8)) {
                for (int b : batches) model.run(new float[b * 4096], Shape.of(b, 256, 4, 4));
            }
        }
        long base = settledMallocInUse();
        long one;
        long all;
        OnnxModelSession.CacheStats stats;
        try (OnnxModelSession model = OnnxModelSession.open(m, options, 8)) {
            model.run(new float[4096], Shape.of(1, 256, 4, 4));
            one = settledMallocInUse() - base;
            for (int b : batches) model.run(new float[b * 4096], Shape.of(b, 256, 4, 4));
            all = settledMallocInUse() - base;
            stats = model.cacheStats();
        }
        long after = NativeMemory.mallocInUse() - base;
        // The same four shapes as separate sessions, for comparison.
        List<Session> separate = new ArrayList<>();
        long sep;
        try {
            for (int b : batches) {
                Session s = OnnxImporter.importModel(m, Map.of("x", Shape.of(b, 256, 4, 4)), Map.of()).compile(options);
                separate.add(s);
                s.run(new float[b * 4096]);
            }
            sep = NativeMemory.mallocInUse() - base;
        } finally {
            separate.forEach(Session::close);
        }
        System.out.printf(Locale.ROOT, "model session native memory (weights %.1f MB): 1 cached shape %.1f MB, %d cached shapes %.1f MB"
                        + " (shared constants %.1f MB, %d of them found laid out); %d separate sessions %.1f MB; after close %.1f MB%n",
                weightBytes / 1e6, one / 1e6, batches.length, all / 1e6, stats.sharedConstantBytes() / 1e6,
                stats.sharedConstantHits(), batches.length, sep / 1e6, after / 1e6);
        assertTrue(one > weightBytes * 0.9, "one shape holds the weights once: " + one);
        // Three more shapes add their activations, scratchpads and any weight layout that differs, never a full copy.
        assertTrue(all - one < weightBytes / 2, "growth for 3 more shapes " + (all - one) + " bytes, weights " + weightBytes);
        assertTrue(sep - all > weightBytes * 2, "separate sessions hold a copy each: " + sep + " vs " + all);
        assertTrue(after < weightBytes / 4, "close frees the weights: " + after);
        assertNotEquals(0, stats.sharedConstantHits());
    }

    /**
     * malloc'd bytes after a full collection and a moment for cleaners: in a JVM that has run other tests, their native
     * memory left to the garbage collector must not be freed inside a measurement.
     */
    private static long settledMallocInUse() {
        long previous = Long.MIN_VALUE;
        for (int i = 0; i < 20; i++) { // until two readings a collection apart agree within 256 KiB
            System.gc();
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            long now = NativeMemory.mallocInUse();
            if (Math.abs(now - previous) < 256 << 10) return now;
            previous = now;
        }
        return previous;
    }
}
