package dev.convnet.internal.onednn;

import dev.convnet.internal.exec.NativeMemory;

import dev.convnet.internal.onednn.TrainingComparison.Bound;
import dev.convnet.internal.onednn.TrainingComparison.Case;
import dev.convnet.internal.onednn.TrainingComparison.Worst;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Softmax;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The oneDNN training session as a whole: networks and graphs against the reference backend (fan-out, residual adds,
 * concatenation, several outputs, Java steps, frozen parameters, batch-norm statistics), the oneDNN defects it works
 * around, primitives created once, native memory, closing, and the checks of the public contract.
 *
 * <p>Networks are compared normwise, {@code |oneDNN − ref| ≤ 2·γ_n·‖ref‖∞ + u·|ref|} per tensor with n the longest
 * reduction in the network (errors of one layer flow through the next; ReLU and max pooling make an elementwise
 * bound from absolute values meaningless).
 */
class OneDnnTrainingTest {
    private static final TrainingOptions ONEDNN = TrainingOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(2);

    /** The lecture's benchmark network (two conv blocks, FC 128, 10 classes) for 28×28 images. */
    static Network benchmarkNetwork() {
        return LecturePattern.builder(Shape.of(1, 28, 28)).convsPerBlock(1).blocks(2).blockChannels(32, 64)
                .hiddenLayers(1).hiddenUnits(128).classes(10).seed(1).build();
    }

    private static float[] random(SplittableRandom r, long n) {
        return TrainingComparison.uniform(r, (int) n);
    }

    private static void network(String name, Graph g, Map<String, Shape> in, long n, long seed, Set<String> frozen) {
        Case c = TrainingComparison.random(g, in, seed, frozen);
        Worst w = TrainingComparison.compareNormwise(c, 2 * TrainingComparison.gamma(n), 2);
        TrainingComparison.report(name, 1, w);
    }

    @Test
    void benchmarkNetworkMatchesReference() {
        Graph g = benchmarkNetwork().toGraph();
        for (int batch : new int[] {1, 3, 8}) {
            // longest reduction: Linear 3136 → 128 (forward), conv 2's weight gradient N·14·14
            network("benchmark net, batch " + batch, g, Map.of("input", Shape.of(batch, 1, 28, 28)),
                    Math.max(3137, batch * 196L), 300 + batch, Set.of());
        }
    }

    /**
     * A residual block with batch norm, a concatenation, fan-out (x feeds a convolution and the add; c1 the batch
     * norm and the concatenation), a broadcast constant, two outputs, and a flatten into a Linear.
     */
    static Graph residualGraph() {
        SplittableRandom r = new SplittableRandom(7);
        Conv2d c1 = Conv2d.builder(4, 4, 3).padding(Padding.same()).randomWeights(r).build();
        Conv2d c2 = Conv2d.builder(4, 4, 3).padding(Padding.same()).withoutBias().randomWeights(r).build();
        Conv2d down = Conv2d.builder(8, 6, 1).stride(2).randomWeights(r).build();
        float[] shift = new float[] {0.5f, -0.25f, 0.125f, 1f};
        return Graph.builder().input("x").constant("shift", Shape.of(1, 4, 1, 1), shift)
                .node("c1", c1, "x").node("b1", BatchNorm.initial(4), "c1").node("r1", Activation.relu(), "b1")
                .node("c2", c2, "r1").node("s", Binary.add(), "c2", "x").node("s2", Binary.add(), "s", "shift")
                .node("r2", Activation.relu(), "s2").node("cat", Concat.of(1), "r2", "c1")
                .node("down", down, "cat").node("pool", MaxPool2d.of(2, 2), "down")
                .node("gp", GlobalPool2d.average(), "down").node("f", new Flatten(), "gp")
                .node("fc", Linear.random(6, 5, r), "f").node("sm", new Softmax(), "fc")
                .output("sm", "pool").build();
    }

    @Test
    void residualGraphWithFanOutConcatAndTwoOutputsMatchesReference() {
        Graph g = residualGraph();
        for (int batch : new int[] {1, 2, 5}) {
            network("residual graph, batch " + batch, g, Map.of("x", Shape.of(batch, 4, 8, 8)), 8 * 8 * batch * 2L + 40,
                    400 + batch, Set.of());
        }
    }

    @Test
    void frozenBatchNormRunsInInferenceModeAndKeepsItsStatistics() {
        Graph g = residualGraph();
        Map<String, Shape> in = Map.of("x", Shape.of(3, 4, 8, 8));
        // both scale and shift frozen: inference mode (the comparison checks the running statistics stay as they were)
        network("frozen batch norm", g, in, 400, 501, Set.of("b1.weight", "b1.bias"));
        // only the scale frozen: still training mode, the shift trained
        network("half-frozen batch norm", g, in, 400, 502, Set.of("b1.weight"));
        // frozen convolution weights (transfer learning): no gradient for them, the rest as before
        network("frozen convolution", g, in, 400, 503, Set.of("c1.weight", "c1.bias", "c2.weight"));
        try (ParameterSet p = ParameterSet.of(g)) {
            p.freeze(n -> n.startsWith("b1.weight") || n.startsWith("b1.bias"));
            float[] mean = p.get("b1.running_mean").toArray();
            float[] var = p.get("b1.running_var").toArray();
            try (TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
                s.forward(Map.of("x", random(new SplittableRandom(1), in.get("x").elementCount())), true);
                assertTrue(s.plan().contains("frozen"), s.plan());
            }
            assertArrayEquals(mean, p.get("b1.running_mean").toArray());
            assertArrayEquals(var, p.get("b1.running_var").toArray());
        }
    }

    @Test
    void batchNormRunningStatisticsFollowPyTorchsRule() {
        // running ← (1 − m)·running + m·batch, with the unbiased batch variance; here checked by hand on one channel
        BatchNorm bn = BatchNorm.initial(1).withMomentum(0.25);
        Graph g = Graph.builder().input("x").node("bn", bn, "x").output("bn").build();
        float[] x = {1, 2, 4, 9};
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, Map.of("x", Shape.of(4, 1)), ONEDNN)) {
            s.forward(Map.of("x", x), true);
            double mean = 4, unbiased = (9 + 4 + 0 + 25) / 3.0;
            assertEquals(0.75 * 0 + 0.25 * mean, p.get("bn.running_mean").toArray()[0], 1e-6);
            assertEquals(0.75 * 1 + 0.25 * unbiased, p.get("bn.running_var").toArray()[0], 1e-5);
            // an inference-mode pass leaves them alone and uses them
            float[] y = s.forward(Map.of("x", x), false).get("bn");
            assertEquals((1 - 1.0) / Math.sqrt(0.75 + 0.25 * unbiased + 1e-5), y[0], 1e-6);
            assertEquals(0.25 * mean, p.get("bn.running_mean").toArray()[0], 1e-6);
        }
    }

    @Test
    void batchNormTrainingNeedsTwoValuesPerChannel() {
        // as on the other backends (and in PyTorch): no unbiased batch variance from one value; inference is fine
        Graph g = Graph.builder().input("x").node("bn", BatchNorm.initial(3), "x").output("bn").build();
        Map<String, Shape> in = Map.of("x", Shape.of(1, 3, 1, 1));
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            assertArrayEquals(new float[] {1, 2, 3}, s.forward(Map.of("x", new float[] {1, 2, 3}), false).get("bn"), 1e-4f);
            ShapeException e = assertThrows(ShapeException.class, () -> s.forward(Map.of("x", new float[] {1, 2, 3}), true));
            assertTrue(e.getMessage().contains("more than one value per channel"), e.getMessage());
            assertArrayEquals(new float[] {0, 0, 0}, p.get("bn.running_mean").toArray());
        }
        try (ParameterSet p = ParameterSet.of(g)) {
            p.freeze(n -> n.equals("bn.weight") || n.equals("bn.bias"));
            try (TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
                s.forward(Map.of("x", new float[] {1, 2, 3}), true); // frozen: inference mode, allowed
            }
        }
    }

    @Test
    void inferenceModeForwardMatchesReferenceAndCannotBeDifferentiated() {
        Graph g = residualGraph();
        Map<String, Shape> in = Map.of("x", Shape.of(2, 4, 8, 8));
        float[] x = random(new SplittableRandom(3), in.get("x").elementCount());
        try (ParameterSet p = ParameterSet.of(g); ParameterSet q = p.copy();
             TrainingSession a = TrainingSession.compile(g, p, in, ONEDNN);
             TrainingSession b = TrainingSession.compile(g, q, in, TrainingOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            Map<String, float[]> ya = a.forward(Map.of("x", x), false), yb = b.forward(Map.of("x", x), false);
            for (String o : ya.keySet()) {
                TrainingComparison.compare("inference", o, yb.get(o), null, ya.get(o), 1, 16 * TrainingComparison.gamma(200), 0);
            }
            assertThrows(IllegalStateException.class, () -> a.backward(Map.of()));
        }
    }

    @Test
    void javaStepsRunWhatOneDnnCannot() {
        // pooling across channels and dropout have no oneDNN primitive: Java kernels on heap copies, same masks
        SplittableRandom r = new SplittableRandom(9);
        Graph g = Graph.builder().input("x")
                .node("c", Conv2d.builder(3, 6, 3).padding(Padding.same()).randomWeights(r).build(), "x")
                .node("dp", DepthPool.max(2, 2), "c").node("d", Dropout.of(0.5), "dp").node("r", Activation.relu(), "d")
                .node("flat", Reshape.flatten(1), "r").node("fc", Linear.random(3 * 5 * 5, 4, r), "flat").output("fc").build();
        Map<String, Shape> in = Map.of("x", Shape.of(2, 3, 5, 5));
        network("Java steps (DepthPool, Dropout)", g, in, 200, 601, Set.of());
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            assertTrue(s.plan().contains("Java ("), s.plan());
        }
    }

    /**
     * Native steps and Java steps interleaved, with fan-out across both (the convolution's output feeds a Java
     * multiply, a native add and a native concatenation), a split by two Java slices, views and two outputs.
     */
    @Test
    void nativeAndJavaStepsInterleaved() {
        SplittableRandom r = new SplittableRandom(12);
        Graph g = Graph.builder().input("x")
                .node("c", Conv2d.builder(3, 4, 3).padding(Padding.same()).randomWeights(r).build(), "x")
                .node("t", Activation.tanh(), "c")
                .node("m", Binary.mul(), "t", "c")                                                   // Java
                .node("s", Binary.add(), "m", "c")                                                   // native
                .node("lo", dev.convnet.layer.Slice.range(1, 0, 1), "s")                             // Java
                .node("hi", dev.convnet.layer.Slice.range(1, 1, 4), "s")                             // Java
                .node("cat", Concat.of(1), "hi", "c", "lo")                                          // native
                .node("pad", dev.convnet.layer.Pad.constant(new int[] {0, 0, 1, 1}, new int[] {0, 0, 0, 1}, 0.5f), "cat")
                .node("tr", dev.convnet.layer.Transpose.of(0, 2, 3, 1), "pad")                       // Java
                .node("v", Reshape.to(0, -1, 8), "tr")                                               // view
                .node("e", dev.convnet.layer.Unary.of(dev.convnet.layer.Unary.Function.ERF), "v")    // Java
                .node("y", dev.convnet.layer.AxisSoftmax.logSoftmax(-1), "e")                        // native
                .node("z", dev.convnet.layer.Reduce.mean(new int[] {2, 3}, false), "cat")            // Java
                .node("fc", Linear.random(8, 3, r), "z")
                .output("y", "fc").build();
        for (int batch : new int[] {1, 3}) {
            network("native and Java steps, batch " + batch, g, Map.of("x", Shape.of(batch, 3, 5, 5)), 64, 620 + batch, Set.of());
        }
    }

    @Test
    void parametersAreReadAtEveryForwardPass() {
        Graph g = benchmarkNetwork().toGraph();
        Shape in = Shape.of(2, 1, 28, 28);
        float[] x = random(new SplittableRandom(5), in.elementCount());
        float[] dy = random(new SplittableRandom(6), 20);
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            float[] before = s.forward(x, true);
            float[] w = p.get("layer10.weight").toArray();
            for (int i = 0; i < w.length; i++) w[i] *= 2;
            p.get("layer10.weight").set(w);
            float[] b = p.get("layer10.bias").toArray();
            p.get("layer10.bias").set(new float[b.length]);
            float[] after = s.forward(x, true);
            for (int i = 0; i < after.length; i++) assertEquals(2 * (before[i] - b[i % 10]), after[i], 1e-4 * (1 + Math.abs(after[i])));
            s.backward(dy);
            try (ParameterSet q = p.copy();
                 TrainingSession ref = TrainingSession.compile(g, q, in, TrainingOptions.defaults().withBackend(BackendKind.REFERENCE))) {
                ref.forward(x, true);
                ref.backward(dy);
                for (String n : p.names()) {
                    TrainingComparison.compare("after a parameter change", n, q.get(n).gradientArray(), null,
                            p.get(n).gradientArray(), 1, 16 * TrainingComparison.gamma(3137), 0);
                }
            }
        }
    }

    @Test
    void gradientsThatReachNoOutputAreZero() {
        // Two outputs: without a gradient for "pool", the parameters feeding only it get zeros; the input too.
        SplittableRandom r = new SplittableRandom(10);
        Graph g = Graph.builder().input("x").input("unused")
                .node("a", Conv2d.builder(2, 2, 1).randomWeights(r).build(), "x")
                .node("b", Conv2d.builder(2, 2, 1).randomWeights(r).build(), "x")
                .node("pool", MaxPool2d.of(2, 2), "b").output("a", "pool").build();
        Map<String, Shape> in = Map.of("x", Shape.of(1, 2, 4, 4), "unused", Shape.of(3));
        try (ParameterSet p = ParameterSet.of(g);
             TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN.withInputGradients(true))) {
            p.get("b.weight").gradient().fill((byte) 1); // stale values must be overwritten
            s.forward(Map.of("x", random(r, 32), "unused", new float[3]), true);
            s.backward(Map.of("a", random(r, 32)));
            assertArrayEquals(new float[4], p.get("b.weight").gradientArray());
            assertArrayEquals(new float[2], p.get("b.bias").gradientArray());
            assertNotEquals(0f, p.get("a.bias").gradientArray()[0]);
            assertArrayEquals(new float[3], s.inputGradients().get("unused"));
        }
    }

    /**
     * oneDNN issue #6035: the jit_1x1 backward-weights kernels index their reduce-to-unit-stride workspace with the
     * channel block for channels-last sources with fewer channels than a block (wrong gradients, hangs, crashes). The
     * geometry of the issue (mb32 ic4 ih32 oc8, 1×1, stride 2) and its neighbours must match the reference through the
     * session, and the plan may use jit_1x1 for backward weights there only on a channel-blocked source.
     */
    @Test
    void oneByOneStridedBackwardWeightsAvoidsIssue6035() {
        int[][] geometries = {{32, 4, 32, 8, 2}, {8, 1, 16, 8, 2}, {4, 2, 17, 16, 3}, {8, 8, 16, 8, 2}, {4, 15, 9, 4, 2},
                {4, 16, 8, 32, 2}, {2, 17, 9, 8, 2}, {2, 64, 8, 64, 2}};
        Worst worst = Worst.NONE;
        for (int[] geo : geometries) {
            int n = geo[0], ic = geo[1], h = geo[2], oc = geo[3], s = geo[4];
            Conv2d conv = Conv2d.builder(ic, oc, 1).stride(s).randomWeights(new SplittableRandom(ic)).build();
            Graph g = TrainingComparison.single(conv, 1);
            Map<String, Shape> in = TrainingComparison.shapes(List.of(Shape.of(n, ic, h, h)));
            Case c = TrainingComparison.random(g, in, 700 + ic, Set.of());
            int ho = (h - 1) / s + 1;
            worst = worst.max(TrainingComparison.compare(c, new Bound(ic + 1, oc, (long) n * ho * ho, 0), false, 2));
            try (ParameterSet p = ParameterSet.of(g); TrainingSession t = TrainingSession.compile(g, p, in, ONEDNN)) {
                String bw = t.plan().lines().filter(l -> l.contains("convolution backward weights")).findFirst().orElseThrow();
                String src = java.util.Arrays.stream(bw.split("\\s+")).filter(f -> f.startsWith("src:")).findFirst().orElseThrow();
                if (ic < Primitives.UNIT_STRIDE_SAFE_CHANNELS && bw.contains("jit_1x1")) assertTrue(src.contains("B"), bw);
            }
        }
        TrainingComparison.report("1×1 strided (#6035)", geometries.length, worst);
    }

    /**
     * #6035 where it bites: an NHWC source. Without the workaround, {@code mb32 ic4 ih64 oc8} (1×1, stride 2) crashes
     * this process in {@code jit_1x1:avx512_core}; with it, oneDNN's next implementation runs and every weight gradient
     * matches a double-precision loop within {@code γ_n·Σ|∂y·x|}, n = N·H_out·W_out.
     */
    @Test
    void channelsLastOneByOneBackwardWeightsSkipTheFaultyKernel() {
        int[][] geometries = {{32, 4, 64, 8, 2}, {32, 4, 32, 8, 2}, {8, 1, 16, 8, 2}, {4, 3, 32, 16, 2}, {4, 15, 9, 4, 2},
                {4, 16, 8, 32, 2}};
        dev.convnet.onednn.OneDnn.require();
        for (int[] geo : geometries) {
            int n = geo[0], ic = geo[1], h = geo[2], oc = geo[3], s = geo[4], ho = (h - 1) / s + 1;
            try (NativeScope scope = new NativeScope()) {
                MemorySegment engine = scope.cpuEngine();
                Primitives p = new Primitives(scope, engine);
                long[] st = {s, s}, zero = {0, 0}, one = {1, 1};
                MemorySegment src = scope.memoryDesc(new long[] {n, ic, h, h}, dev.convnet.onednn.bindings.dnnl_h.dnnl_acdb());
                MemorySegment dst = scope.memoryDesc(new long[] {n, oc, ho, ho}, dev.convnet.onednn.bindings.dnnl_h.dnnl_acdb());
                MemorySegment fwd = p.convolution("1x1", dev.convnet.onednn.bindings.dnnl_h.dnnl_forward_training(), src,
                        p.any(oc, ic, 1, 1), MemorySegment.NULL, dst, st, zero, zero, zero, p.attr(List.of()), false, one);
                MemorySegment bw = p.convolutionBackwardWeights("1x1", src, p.any(oc, ic, 1, 1), MemorySegment.NULL, dst, st,
                        zero, zero, zero, fwd, p.attr(List.of()), one, ic);
                String impl = p.implementation(bw);
                if (ic < Primitives.UNIT_STRIDE_SAFE_CHANNELS) assertFalse(impl.contains("jit_1x1"), impl);
                SplittableRandom r = new SplittableRandom(ic * 31L + h);
                float[] x = random(r, (long) n * h * h * ic), dy = random(r, (long) n * ho * ho * oc); // both NHWC
                float[] dw = backwardWeights(scope, engine, p, bw, src, dst, x, dy, oc, ic);
                for (int o = 0; o < oc; o++) {
                    for (int c = 0; c < ic; c++) {
                        double ref = 0, mag = 0;
                        for (int b = 0; b < n; b++) {
                            for (int y = 0; y < ho; y++) {
                                for (int xx = 0; xx < ho; xx++) {
                                    double t = (double) dy[((b * ho + y) * ho + xx) * oc + o] * x[((b * h + y * s) * h + xx * s) * ic + c];
                                    ref += t;
                                    mag += Math.abs(t);
                                }
                            }
                        }
                        double bound = TrainingComparison.gamma((long) n * ho * ho) * mag + TrainingComparison.U * Math.abs(ref);
                        float got = dw[o * ic + c];
                        assertTrue(Math.abs(got - ref) <= bound, impl + " mb" + n + "ic" + ic + "ih" + h + "oc" + oc + ": ∂W["
                                + o + ", " + c + "] = " + got + ", exact " + ref);
                    }
                }
            }
        }
    }

    /** Runs a backward-weights primitive on NHWC {@code x} and {@code dy}; the weight gradient in OIHW. */
    private static float[] backwardWeights(NativeScope scope, MemorySegment engine, Primitives p, MemorySegment bw,
                                           MemorySegment src, MemorySegment dst, float[] x, float[] dy, int oc, int ic) {
        var arena = scope.arena();
        MemorySegment dwMd = Primitives.queryMd(bw, dev.convnet.onednn.bindings.dnnl_h.dnnl_query_diff_weights_md());
        MemorySegment plain = p.plain(oc, ic, 1, 1);
        MemorySegment scratchMd = Primitives.queryMd(bw, dev.convnet.onednn.bindings.dnnl_h.dnnl_query_scratchpad_md());
        MemorySegment dws = arena.allocate(MemoryFormats.bytes(dwMd), 64);
        MemorySegment out = arena.allocate((long) oc * ic * Float.BYTES, 64);
        MemorySegment scratch = arena.allocate(Math.max(MemoryFormats.bytes(scratchMd), 64), 64);
        MemorySegment stream = scope.stream(engine);
        Dnnl.executeAndWait(scope.primitive(bw), stream, Dnnl.execArgs(arena,
                dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_SRC(), scope.memory(src, engine, arena.allocateFrom(ValueLayout.JAVA_FLOAT, x)),
                dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_DIFF_DST(), scope.memory(dst, engine, arena.allocateFrom(ValueLayout.JAVA_FLOAT, dy)),
                dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_DIFF_WEIGHTS(), scope.memory(dwMd, engine, dws),
                dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_SCRATCHPAD(), scope.memory(scratchMd, engine, scratch)), "backward weights");
        Dnnl.executeAndWait(scope.primitive(p.reorder("diff weights", dwMd, plain, MemorySegment.NULL)), stream,
                Dnnl.execArgs(arena, dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_FROM(), scope.memory(dwMd, engine, dws),
                        dev.convnet.onednn.bindings.dnnl_h.DNNL_ARG_TO(), scope.memory(plain, engine, out)), "reorder");
        return out.toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * The two oneDNN 3.8.1 forward faults the inference plan works around (one input channel per group with a stride
     * above 1: wrong results; padding reaching the kernel span: crashes) through the training forward and backward.
     */
    @Test
    void forwardFaultGeometriesTrainCorrectly() {
        List<Conv2d> convs = List.of(
                Conv2d.builder(8, 8, 3).groups(8).stride(2).padding(Padding.same()).randomWeights(new SplittableRandom(1)).build(),
                Conv2d.builder(4, 8, 3).groups(4).stride(2).randomWeights(new SplittableRandom(2)).build(),
                Conv2d.builder(1, 4, 3).stride(2).padding(Padding.same()).randomWeights(new SplittableRandom(3)).build(),
                Conv2d.builder(3, 4, 1).stride(2).padding(Padding.symmetric(1)).randomWeights(new SplittableRandom(4)).build(),
                Conv2d.builder(2, 3, 2).stride(3).padding(Padding.explicit2d(2, 0, 2, 3)).randomWeights(new SplittableRandom(5)).build(),
                Conv2d.builder(4, 4, 3).groups(2).stride(2).dilation(2).padding(Padding.symmetric(5)).randomWeights(new SplittableRandom(6)).build());
        Worst worst = Worst.NONE;
        int k = 0;
        for (Conv2d conv : convs) {
            for (int batch : new int[] {1, 4}) {
                Shape in = Shape.of(batch, conv.inChannels(), 9, 9);
                Case c = TrainingComparison.random(TrainingComparison.single(conv, 1), TrainingComparison.shapes(List.of(in)), 800 + k++, Set.of());
                var geo = dev.convnet.internal.train.ConvGeometry.of(conv, in);
                worst = worst.max(TrainingComparison.compare(c, new Bound((long) geo.groupIn() * geo.kh() * geo.kw() + 1,
                        (long) geo.groupOut() * geo.kh() * geo.kw(), (long) batch * geo.positions(), 0), false, 2));
            }
        }
        TrainingComparison.report("forward-fault geometries", 2 * convs.size(), worst);
    }

    @Test
    void primitivesAreCreatedOnceAtCompilation() {
        Graph g = residualGraph();
        Map<String, Shape> in = Map.of("x", Shape.of(2, 4, 8, 8));
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN.withInputGradients(true))) {
            long compiled = s.primitivesCreated();
            assertTrue(compiled > 10, "primitives: " + compiled);
            SplittableRandom r = new SplittableRandom(1);
            for (int i = 0; i < 5; i++) {
                s.forward(Map.of("x", random(r, 512)), i % 2 == 0);
                s.forward(Map.of("x", random(r, 512)), true);
                s.backward(Map.of("sm", random(r, 10), "pool", random(r, 48)));
                s.inputGradients();
                assertEquals(compiled, s.primitivesCreated());
            }
        }
    }

    @Tag("isolated") // in a JVM of its own (pom.xml): malloc readings in a JVM that ran other tests move by megabytes
    @Test
    void trainingStepsKeepNativeMemoryFlat() throws Throwable {
        dev.convnet.internal.exec.PrimitiveCache.emptiedDuring(OneDnnTrainingTest::measureTrainingMemory);
    }

    private static void measureTrainingMemory() throws Throwable {
        Graph g = residualGraph();
        Map<String, Shape> in = Map.of("x", Shape.of(2, 4, 8, 8));
        SplittableRandom r = new SplittableRandom(2);
        float[] x = random(r, 512);
        Map<String, float[]> dy = Map.of("sm", random(r, 10), "pool", random(r, 48));
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            for (int i = 0; i < 200; i++) step(s, x, dy);
            settle();
            long before = lowestOver(200, s, x, dy);
            for (int i = 0; i < 400; i++) step(s, x, dy);
            long after = lowestOver(200, s, x, dy);
            // leaking even 2 KiB per step would add 1.6 MiB over those 800 steps
            assertTrue(after - before < 1L << 20, "malloc'd memory grew from " + before / 1024 + " KiB to " + after / 1024
                    + " KiB over 800 training steps");
        }
        // compile/step/close cycles
        for (int i = 0; i < 20; i++) cycle(g, in, x, dy);
        long before = Long.MAX_VALUE, after = Long.MAX_VALUE;
        settle(); // native memory the earlier tests of this JVM left to the garbage collector is freed first
        for (int i = 0; i < 40; i++) {
            cycle(g, in, x, dy);
            if (i % 5 == 4) before = Math.min(before, NativeMemory.mallocInUse());
        }
        for (int i = 0; i < 40; i++) cycle(g, in, x, dy);
        settle();
        for (int i = 0; i < 40; i++) {
            cycle(g, in, x, dy);
            if (i % 5 == 4) after = Math.min(after, NativeMemory.mallocInUse());
        }
        assertTrue(after - before < 6L << 20, "malloc'd memory grew from " + before / 1024 + " KiB to " + after / 1024
                + " KiB over 120 compile/step/close cycles");
    }

    /** A full collection and a moment for cleaners, so GC-managed native frees do not fall inside a window. */
    private static void settle() throws InterruptedException {
        System.gc();
        Thread.sleep(200);
    }

    private static void step(TrainingSession s, float[] x, Map<String, float[]> dy) {
        s.forward(Map.of("x", x), true);
        s.backward(dy);
    }

    private static long lowestOver(int steps, TrainingSession s, float[] x, Map<String, float[]> dy) throws Throwable {
        long lowest = Long.MAX_VALUE;
        for (int i = 0; i < steps; i++) {
            step(s, x, dy);
            if (i % 10 == 9) lowest = Math.min(lowest, NativeMemory.mallocInUse());
        }
        return lowest;
    }

    private static void cycle(Graph g, Map<String, Shape> in, float[] x, Map<String, float[]> dy) {
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            step(s, x, dy);
        }
    }

    @Test
    void closeIsIdempotentAndLaterCallsThrow() {
        Graph g = benchmarkNetwork().toGraph();
        Shape in = Shape.of(1, 1, 28, 28);
        float[] x = new float[784];
        try (ParameterSet p = ParameterSet.of(g)) {
            TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN.withInputGradients(true));
            s.forward(x, true);
            s.backward(new float[10]);
            s.close();
            s.close();
            assertThrows(IllegalStateException.class, () -> s.forward(x, true));
            assertThrows(IllegalStateException.class, () -> s.backward(new float[10]));
            assertThrows(IllegalStateException.class, s::inputGradients);
            assertThrows(IllegalStateException.class, s::plan);
        }
    }

    @Test
    void closingWhileAnotherThreadTrainsNeverCrashes() throws Exception {
        Graph g = benchmarkNetwork().toGraph();
        Shape in = Shape.of(4, 1, 28, 28);
        float[] x = random(new SplittableRandom(1), in.elementCount());
        float[] dy = random(new SplittableRandom(2), 40);
        try (ParameterSet p = ParameterSet.of(g)) {
            for (int round = 0; round < 4; round++) {
                TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN);
                AtomicInteger steps = new AtomicInteger();
                AtomicReference<Throwable> outcome = new AtomicReference<>();
                Thread trainer = new Thread(() -> {
                    try {
                        while (true) {
                            s.forward(x, true);
                            s.backward(dy);
                            steps.incrementAndGet();
                        }
                    } catch (Throwable t) {
                        outcome.set(t);
                    }
                });
                trainer.start();
                while (steps.get() < 2 + round) Thread.onSpinWait();
                s.close(); // waits for the pass in flight, then frees the native memory
                trainer.join(60_000);
                assertInstanceOf(IllegalStateException.class, outcome.get(), "the next pass sees the closed session");
            }
        }
    }

    @Test
    void closedParameterSetIsRefusedNotCrashedOn() {
        Graph g = benchmarkNetwork().toGraph();
        Shape in = Shape.of(1, 1, 28, 28);
        ParameterSet p = ParameterSet.of(g);
        try (TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            s.forward(new float[784], true);
            p.close();
            assertThrows(IllegalStateException.class, () -> s.forward(new float[784], true));
            assertThrows(IllegalStateException.class, () -> s.backward(new float[10]));
        }
    }

    @Test
    void callsAreCheckedBeforeAnythingRuns() {
        Graph g = residualGraph();
        Map<String, Shape> in = Map.of("x", Shape.of(1, 4, 8, 8));
        try (ParameterSet p = ParameterSet.of(g); TrainingSession s = TrainingSession.compile(g, p, in, ONEDNN)) {
            assertThrows(IllegalStateException.class, () -> s.backward(Map.of()), "backward before a training forward");
            assertThrows(ShapeException.class, () -> s.forward(Map.of("x", new float[255]), true));
            assertThrows(IllegalArgumentException.class, () -> s.forward(Map.of("y", new float[256]), true));
            assertThrows(IllegalStateException.class, () -> s.forward(new float[256], true), "two outputs: use the map");
            s.forward(Map.of("x", new float[256]), true);
            assertThrows(IllegalArgumentException.class, () -> s.backward(Map.of("nope", new float[5])));
            assertThrows(ShapeException.class, () -> s.backward(Map.of("sm", new float[4])));
            assertThrows(IllegalStateException.class, s::inputGradients, "compiled without input gradients");
            s.backward(Map.of("sm", new float[5])); // "pool" contributes nothing
            assertEquals(BackendKind.ONEDNN, s.backend());
        }
    }

    @Test
    void trainingTheBenchmarkNetworkLowersTheLoss() {
        // A few plain SGD steps on a fixed batch: the loss of a softmax cross-entropy must fall.
        Network net = benchmarkNetwork();
        Shape in = Shape.of(16, 1, 28, 28);
        SplittableRandom r = new SplittableRandom(11);
        float[] x = random(r, in.elementCount());
        int[] labels = new int[16];
        for (int i = 0; i < labels.length; i++) labels[i] = r.nextInt(10);
        try (ParameterSet p = ParameterSet.of(net); TrainingSession s = TrainingSession.compile(net.toGraph(), p, in, ONEDNN)) {
            double first = 0, last = 0;
            for (int step = 0; step < 15; step++) {
                float[] logits = s.forward(x, true);
                float[] dy = new float[logits.length];
                double loss = 0;
                for (int n = 0; n < 16; n++) {
                    double max = Double.NEGATIVE_INFINITY, sum = 0;
                    for (int k = 0; k < 10; k++) max = Math.max(max, logits[n * 10 + k]);
                    for (int k = 0; k < 10; k++) sum += Math.exp(logits[n * 10 + k] - max);
                    loss -= logits[n * 10 + labels[n]] - max - Math.log(sum);
                    for (int k = 0; k < 10; k++) {
                        dy[n * 10 + k] = (float) ((Math.exp(logits[n * 10 + k] - max) / sum - (k == labels[n] ? 1 : 0)) / 16);
                    }
                }
                s.backward(dy);
                for (var q : p.list()) {
                    if (!q.trained()) continue;
                    float[] v = q.toArray(), d = q.gradientArray();
                    for (int i = 0; i < v.length; i++) v[i] -= 0.05f * d[i];
                    q.set(v);
                }
                if (step == 0) first = loss / 16;
                last = loss / 16;
            }
            assertTrue(last < 0.5 * first, "loss went from " + first + " to " + last);
        }
    }
}
