package dev.convnet.internal.onednn;

import dev.convnet.internal.exec.AbstractSession;
import dev.convnet.internal.exec.ContextPool;
import dev.convnet.internal.exec.StepTimes;
import dev.convnet.net.Profile;
import dev.convnet.internal.kernels.KernelFactory;
import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.onednn.OneDnn;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

import static dev.convnet.onednn.bindings.dnnl_h.omp_get_max_threads;
import static dev.convnet.onednn.bindings.dnnl_h.omp_set_num_threads;

/**
 * A graph (a network as its chain graph) compiled into oneDNN primitives ({@link OneDnnPlan}) and run by any number
 * of threads at once. The {@code run} methods and their checks are {@link AbstractSession}'s; this class provides the
 * runs on staged arrays and on the caller's segments.
 *
 * <p>Threading model: the primitives are shared and immutable; every concurrent run takes its own
 * {@link OneDnnContext} (stream, scratchpad, activation buffers) from a pool, so runs never share mutable
 * native state. Each run uses {@code threads} OpenMP threads on the calling Java thread (this oneDNN build
 * reads the thread count when primitives are created and when they run, so the count belongs to the session).
 * {@link #close()} makes later runs throw, waits for runs in flight, then frees every native handle.
 *
 * <p>Thread-safe.
 */
public final class OneDnnSession extends AbstractSession {
    private final NativeScope scope;
    private final OneDnnPlan plan;
    private final ContextPool<OneDnnContext> contexts;
    private KernelFactory javaKernels;
    /** Where the constants live when shared with other sessions of one model, or null. */
    private final WeightCache weights;
    /** The buffers this session holds in {@link #weights}. */
    private final List<MemorySegment> shared = new java.util.ArrayList<>();
    /** The time per step when profiling, else null. */
    private final StepTimes times;

    /**
     * Compiles a validated graph: every node on a oneDNN primitive where there is one (the layers, binary operations,
     * concatenation), the Java kernel otherwise.
     *
     * @param constants the graph's constant tensors by name
     * @param threads OpenMP threads per run (≥ 1)
     * @param fusion fold batch norms and fuse activations and residual additions into the preceding convolution /
     *               inner product, and run the quantized parts of a Q/DQ graph in int8 ({@link Int8Lowering})
     * @param channelsLast 4-D inputs and outputs are NHWC in memory
     * @param javaKernels makes the Java kernels for nodes oneDNN has no primitive for (called only if needed)
     * @throws dev.convnet.onednn.NativeLibraryException if oneDNN cannot be loaded
     */
    public OneDnnSession(GraphSummary graph, Map<String, float[]> constants, int threads, boolean fusion,
                         boolean channelsLast, Supplier<KernelFactory> javaKernels) {
        this(graph, constants, threads, fusion, channelsLast, false, javaKernels, null, dev.convnet.net.Precision.FP32);
    }

    /**
     * As {@link #OneDnnSession(GraphSummary, Map, int, boolean, boolean, Supplier)}, with every step timed when
     * {@code profiling} (see {@link #profile()}), and with the constants (weights in the layouts the primitives chose,
     * biases, statistics, constant tensors) kept in {@code weights} when it is not null, shared with the other sessions
     * that use it; closing the session gives them back. {@code weights} must outlive the session.
     */
    public OneDnnSession(GraphSummary graph, Map<String, float[]> constants, int threads, boolean fusion,
                         boolean channelsLast, boolean profiling, Supplier<KernelFactory> javaKernels, WeightCache weights,
                         dev.convnet.net.Precision precision) {
        super(graph, BackendKind.ONEDNN);
        this.weights = weights;
        if (threads < 1) throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
        OneDnn.require();
        this.scope = new NativeScope();
        List<OneDnnPlan.PlanNode> nodes = graph.rows().stream()
                .map(r -> new OneDnnPlan.PlanNode("#" + r.index() + " " + r.name() + " " + r.layer(), r.layer(), r.inputs(),
                        r.output())).toList();
        Map<String, OneDnnPlan.ConstantTensor> constantTensors = new HashMap<>();
        constants.forEach((k, v) -> constantTensors.put(k, new OneDnnPlan.ConstantTensor(graph.constantShapes().get(k), v)));
        OneDnnPlan.JavaNodes java = (layer, in, out) -> {
            if (this.javaKernels == null) this.javaKernels = javaKernels.get();
            return this.javaKernels.create(layer, in, out);
        };
        int before = omp_get_max_threads();
        try {
            omp_set_num_threads(threads);
            this.plan = new OneDnnPlan(scope, nodes, new LinkedHashMap<>(graph.inputShapes()), constantTensors,
                    List.copyOf(graph.outputShapes().keySet()), threads, fusion, channelsLast, java, weights, shared,
                    precision == dev.convnet.net.Precision.BF16);
        } catch (RuntimeException | Error e) {
            closeNative();
            throw e;
        } finally {
            omp_set_num_threads(before);
        }
        this.times = profiling ? new StepTimes(plan.steps.stream().map(st -> st.layer).toList(),
                plan.steps.stream().map(st -> st.primitive).toList(), plan.steps.stream().map(st -> st.implementation).toList())
                : null;
        StepTimes t = times;
        this.contexts = new ContextPool<>(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()),
                () -> new OneDnnContext(plan, t), OneDnnContext::close);
        // One context up front: compile-time errors surface here, and the first run allocates nothing.
        try {
            contexts.release(contexts.acquire());
        } catch (RuntimeException | Error e) {
            contexts.disposeAll();
            closeNative();
            throw e;
        }
    }

    @Override
    public String plan() {
        return plan.describe("oneDNN plan for inputs " + inputShapes() + " → outputs " + outputShapes()
                + (plan.fusion ? "" : " (fusion off)") + (plan.bf16 ? " (bf16 between the edges)" : "") + (plan.channelsLast ? " (channels-last input and output)" : ""));
    }

    @Override
    public Profile profile() {
        return times == null ? Profile.EMPTY : times.snapshot();
    }

    /** How many execution contexts exist (one per run that was ever concurrent, up to the pool's capacity). */
    public int contextCount() {
        return contexts.size();
    }

    @Override
    protected void execute(float[][] inputs, float[][] outputs) {
        OneDnnContext ctx = contexts.acquire();
        try {
            for (int k = 0; k < inputs.length; k++) {
                MemorySegment.copy(inputs[k], 0, ctx.stagingIn[k], ValueLayout.JAVA_FLOAT, 0, inputs[k].length);
            }
            ctx.execute(ctx.stagingIn, ctx.stagingOut);
            for (int k = 0; k < outputs.length; k++) {
                MemorySegment.copy(ctx.stagingOut[k], ValueLayout.JAVA_FLOAT, 0, outputs[k], 0, outputs[k].length);
            }
        } finally {
            contexts.release(ctx);
        }
    }

    @Override
    protected void execute(MemorySegment input, MemorySegment output) {
        OneDnnContext ctx = contexts.acquire();
        try {
            ctx.execute(input, output);
        } finally {
            contexts.release(ctx);
        }
    }

    @Override
    protected void release() {
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
            try {
                if (javaKernels != null) javaKernels.close();
            } finally {
                if (weights != null) weights.release(shared);
            }
        }
    }
}
