package dev.convnet.internal.onednn;

import dev.convnet.internal.exec.ContextPool;
import dev.convnet.internal.exec.RunGuard;
import dev.convnet.internal.kernels.KernelFactory;
import dev.convnet.layer.Layer;
import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.NetworkSummary;
import dev.convnet.net.Session;
import dev.convnet.onednn.OneDnn;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static dev.convnet.onednn.bindings.dnnl_h.omp_get_max_threads;
import static dev.convnet.onednn.bindings.dnnl_h.omp_set_num_threads;

/**
 * A network compiled into oneDNN primitives ({@link OneDnnPlan}) and run by any number of threads at once.
 *
 * <p>Threading model: the primitives are shared and immutable; every concurrent run takes its own
 * {@link OneDnnContext} (stream, scratchpad, activation buffers) from a pool, so runs never share mutable
 * native state. Each run uses {@code threads} OpenMP threads on the calling Java thread (this oneDNN build
 * reads the thread count when primitives are created and when they run, so the count belongs to the session).
 * {@link #close()} makes later runs throw, waits for runs in flight, then frees every native handle.
 *
 * <p>Thread-safe.
 */
public final class OneDnnSession implements Session {
    private final NativeScope scope;
    private final OneDnnPlan plan;
    private final NetworkSummary summary;
    private final GraphSummary graphSummary;
    private final RunGuard guard = new RunGuard("session");
    private final ContextPool<OneDnnContext> contexts;
    private KernelFactory javaKernels;

    /**
     * Compiles a validated sequential network.
     *
     * @param threads OpenMP threads per run (≥ 1)
     * @param fusion fold batch norms and fuse activations into the preceding convolution / inner product
     * @param channelsLast 4-D input and output are NHWC in memory
     * @param javaKernels makes the Java kernels for layers oneDNN has no primitive for (called only if needed)
     * @throws dev.convnet.onednn.NativeLibraryException if oneDNN cannot be loaded
     */
    public OneDnnSession(NetworkSummary summary, int threads, boolean fusion, boolean channelsLast,
                         Supplier<KernelFactory> javaKernels) {
        this(summary, GraphSummary.of(summary), OneDnnPlan.chain(summary.rows().stream().map(NetworkSummary.Row::layer).toList()),
                Map.of(), threads, fusion, channelsLast, javaKernels);
    }

    /**
     * Compiles a validated graph: every node on a oneDNN primitive where there is one (binary operations,
     * concatenation, all the layers of a network), the Java kernel otherwise.
     *
     * @param constants the graph's constant tensors by name
     */
    public OneDnnSession(GraphSummary graph, Map<String, float[]> constants, int threads, boolean fusion,
                         boolean channelsLast, Supplier<KernelFactory> javaKernels) {
        this(graph.asNetworkSummary(), graph, graph.rows().stream()
                        .map(r -> new OneDnnPlan.PlanNode("#" + r.index() + " " + r.name() + " " + r.layer(), r.layer(),
                                r.inputs(), r.output())).toList(),
                constantTensors(graph, constants), threads, fusion, channelsLast, javaKernels);
    }

    private static Map<String, OneDnnPlan.ConstantTensor> constantTensors(GraphSummary graph, Map<String, float[]> values) {
        Map<String, OneDnnPlan.ConstantTensor> m = new HashMap<>();
        values.forEach((k, v) -> m.put(k, new OneDnnPlan.ConstantTensor(graph.constantShapes().get(k), v)));
        return m;
    }

    private OneDnnSession(NetworkSummary summary, GraphSummary graph, List<OneDnnPlan.PlanNode> nodes,
                          Map<String, OneDnnPlan.ConstantTensor> constants, int threads, boolean fusion,
                          boolean channelsLast, Supplier<KernelFactory> javaKernels) {
        if (threads < 1) throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
        OneDnn.require();
        this.summary = summary;
        this.graphSummary = graph;
        this.scope = new NativeScope();
        OneDnnPlan.JavaNodes java = (layer, in, out) -> {
            if (this.javaKernels == null) this.javaKernels = javaKernels.get();
            return this.javaKernels.create(layer, in, out);
        };
        int before = omp_get_max_threads();
        try {
            omp_set_num_threads(threads);
            this.plan = new OneDnnPlan(scope, nodes, new LinkedHashMap<>(graph.inputShapes()), constants,
                    List.copyOf(graph.outputShapes().keySet()), threads, fusion, channelsLast, java);
        } catch (RuntimeException | Error e) {
            closeNative();
            throw e;
        } finally {
            omp_set_num_threads(before);
        }
        this.contexts = new ContextPool<>(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()),
                () -> new OneDnnContext(plan), OneDnnContext::close);
        // One context up front: compile-time errors surface here, and the first run allocates nothing.
        contexts.release(contexts.acquire());
    }

    @Override
    public BackendKind backend() {
        return BackendKind.ONEDNN;
    }

    @Override
    public NetworkSummary summary() {
        return summary;
    }

    @Override
    public GraphSummary graphSummary() {
        return graphSummary;
    }

    @Override
    public List<String> inputNames() {
        return plan.inputNames;
    }

    @Override
    public List<String> outputNames() {
        return plan.outputNames;
    }

    @Override
    public Map<String, Shape> inputShapes() {
        return graphSummary.inputShapes();
    }

    @Override
    public Map<String, Shape> outputShapes() {
        return graphSummary.outputShapes();
    }

    private void single() {
        if (plan.inputNames.size() != 1 || plan.outputNames.size() != 1) {
            throw new IllegalStateException("this session has inputs " + plan.inputNames + " and outputs "
                    + plan.outputNames + ": use run(Map)");
        }
    }

    @Override
    public Shape inputShape() {
        single();
        return plan.inputShapes.get(0);
    }

    @Override
    public Shape outputShape() {
        single();
        return plan.outputShapes.get(0);
    }

    @Override
    public String plan() {
        return plan.describe("oneDNN plan for inputs " + graphSummary.inputShapes() + " → outputs "
                + graphSummary.outputShapes() + (plan.fusion ? "" : " (fusion off)")
                + (plan.channelsLast ? " (channels-last input and output)" : ""));
    }

    /** How many execution contexts exist (one per run that was ever concurrent, up to the pool's capacity). */
    public int contextCount() {
        return contexts.size();
    }

    private void checkSegment(String what, MemorySegment s, Shape shape) {
        long bytes = shape.elementCount() * Float.BYTES;
        if (s.byteSize() != bytes) {
            throw new ShapeException(what + " segment has " + s.byteSize() + " bytes; the session's " + what + " " + shape
                    + " needs " + shape.elementCount() + " floats = " + bytes + " bytes");
        }
        if (!s.isNative()) {
            throw new IllegalArgumentException(what + " segment must be native (off-heap) memory; wrap heap arrays with run(float[], float[])");
        }
        if (s.address() % Float.BYTES != 0) {
            throw new IllegalArgumentException(what + " segment address " + s.address() + " is not 4-byte aligned");
        }
        if (s.isReadOnly() && what.equals("output")) {
            throw new IllegalArgumentException("output segment is read-only");
        }
    }

    @Override
    public void run(MemorySegment input, MemorySegment output) {
        single();
        checkSegment("input", input, plan.inputShapes.get(0));
        checkSegment("output", output, plan.outputShapes.get(0));
        guard.enter();
        OneDnnContext ctx = null;
        try {
            ctx = contexts.acquire();
            ctx.execute(input, output);
        } finally {
            if (ctx != null) contexts.release(ctx);
            guard.exit();
        }
    }

    @Override
    public void run(float[] input, float[] output) {
        single();
        checkArray("input", input, plan.inputShapes.get(0));
        checkArray("output", output, plan.outputShapes.get(0));
        guard.enter();
        OneDnnContext ctx = null;
        try {
            ctx = contexts.acquire();
            MemorySegment.copy(input, 0, ctx.stagingIn[0], ValueLayout.JAVA_FLOAT, 0, input.length);
            ctx.execute(ctx.stagingIn, ctx.stagingOut);
            MemorySegment.copy(ctx.stagingOut[0], ValueLayout.JAVA_FLOAT, 0, output, 0, output.length);
        } finally {
            if (ctx != null) contexts.release(ctx);
            guard.exit();
        }
    }

    @Override
    public Map<String, float[]> run(Map<String, float[]> inputs) {
        if (!new HashSet<>(plan.inputNames).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the session's inputs are "
                    + plan.inputNames);
        }
        for (int k = 0; k < plan.inputNames.size(); k++) {
            checkArray("input '" + plan.inputNames.get(k) + "'", inputs.get(plan.inputNames.get(k)), plan.inputShapes.get(k));
        }
        guard.enter();
        OneDnnContext ctx = null;
        try {
            ctx = contexts.acquire();
            for (int k = 0; k < plan.inputNames.size(); k++) {
                float[] x = inputs.get(plan.inputNames.get(k));
                MemorySegment.copy(x, 0, ctx.stagingIn[k], ValueLayout.JAVA_FLOAT, 0, x.length);
            }
            ctx.execute(ctx.stagingIn, ctx.stagingOut);
            Map<String, float[]> out = new LinkedHashMap<>();
            for (int k = 0; k < plan.outputNames.size(); k++) {
                out.put(plan.outputNames.get(k), ctx.stagingOut[k].toArray(ValueLayout.JAVA_FLOAT));
            }
            return out;
        } finally {
            if (ctx != null) contexts.release(ctx);
            guard.exit();
        }
    }

    private static void checkArray(String what, float[] a, Shape shape) {
        if (a == null) throw new IllegalArgumentException(what + " is missing");
        if (a.length != shape.elementCount()) {
            throw new ShapeException(what + " has " + a.length + " elements; the session's " + what + " " + shape
                    + " needs " + shape.elementCount());
        }
    }

    @Override
    public float[] run(float[] input) {
        float[] out = new float[Math.toIntExact(outputShape().elementCount())];
        run(input, out);
        return out;
    }

    @Override
    public Tensor run(Tensor input) {
        if (!input.shape().equals(inputShape())) {
            throw new ShapeException("input shape " + input.shape() + " differs from the session's input " + inputShape());
        }
        Tensor out = Tensor.allocate(outputShape());
        try (Tensor.Pin in = input.pin(); Tensor.Pin o = out.pin()) {
            run(in.segment(), o.segment());
        } catch (RuntimeException e) {
            out.close();
            throw e;
        }
        return out;
    }

    @Override
    public void close() {
        if (!guard.close()) return;
        try {
            contexts.disposeAll();
        } finally {
            closeNative();
        }
    }

    private void closeNative() {
        try {
            scope.close();
        } finally {
            if (javaKernels != null) javaKernels.close();
        }
    }
}
