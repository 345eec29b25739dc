package dev.convnet.internal.kernels;

import dev.convnet.internal.exec.ContextPool;
import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.NetworkSummary;
import dev.convnet.net.Session;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link Session} that runs a planned graph's nodes in topological order, one {@link NodeKernel} each, on
 * heap float arrays; used by the Java and reference backends. Every value (input, constant, node output) has a
 * slot; a run holds the arrays of its live values and drops each intermediate after its last reader. Internal:
 * obtain sessions through {@code Graph.compile}.
 *
 * <p>Thread-safety: as {@link Session}: runs are concurrent (each has its own arrays; constants are shared
 * and only read); close waits for them through a read-write lock.
 */
public final class GraphSession implements Session {
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final GraphSummary plan;
    private final BackendKind backend;
    private final KernelFactory factory;
    private final List<String> inputNames;
    private final List<String> outputNames;
    private final int[] inputSlots;
    private final int[] outputSlots;
    private final int[] inputSizes;
    private final float[][] constants; // by slot, null for non-constants
    private final NodeKernel[] kernels;
    private final int[][] nodeInputs;
    private final int[] nodeOutput;
    private final int[] nodeOutputSize;
    private final int[][] freeAfter; // slots whose last reader is node i
    private final int slots;
    /** Per node, the workspace buffer its output goes to; buffers are reused once their value is dead. */
    private final int[] bufferOf;
    private final int[] bufferSizes;
    private final ContextPool<Workspace> workspaces;

    /**
     * The arrays one run computes into, reused by later runs (one run at a time per workspace): node outputs in
     * buffers planned by liveness (same-size buffers are shared by values that are never live together), the
     * kernels' argument arrays, and a staging array per input for the segment path.
     */
    private final class Workspace {
        final float[][] values = new float[slots][];
        final float[][][] args = new float[kernels.length][][];
        final float[][] buffers = new float[bufferSizes.length][];
        final float[][] staged = new float[inputSlots.length][];

        Workspace() {
            for (int n = 0; n < kernels.length; n++) args[n] = new float[nodeInputs[n].length][];
            for (int b = 0; b < buffers.length; b++) buffers[b] = new float[bufferSizes[b]];
            for (int i = 0; i < staged.length; i++) staged[i] = new float[inputSizes[i]];
        }
    }
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;
    private final boolean channelsLast;
    private final NetworkSummary networkSummary;

    private GraphSession(GraphSummary plan, BackendKind backend, KernelFactory factory, Map<String, float[]> constantValues,
                         boolean channelsLast, NetworkSummary networkSummary) {
        this.channelsLast = channelsLast;
        this.networkSummary = networkSummary;
        this.plan = plan;
        this.backend = backend;
        this.factory = factory;
        Map<String, Integer> slot = new HashMap<>();
        this.inputNames = List.copyOf(plan.inputShapes().keySet());
        this.outputNames = List.copyOf(plan.outputShapes().keySet());
        inputSizes = new int[inputNames.size()];
        inputSlots = new int[inputNames.size()];
        for (int i = 0; i < inputNames.size(); i++) {
            inputSlots[i] = slot.size();
            slot.put(inputNames.get(i), slot.size());
            inputSizes[i] = arraySize("input '" + inputNames.get(i) + "'", plan.inputShapes().get(inputNames.get(i)));
        }
        List<float[]> consts = new ArrayList<>();
        for (int i = 0; i < slot.size(); i++) consts.add(null);
        for (Map.Entry<String, float[]> c : constantValues.entrySet()) {
            slot.put(c.getKey(), slot.size());
            consts.add(c.getValue());
        }
        List<GraphSummary.Row> rows = plan.rows();
        kernels = new NodeKernel[rows.size()];
        nodeInputs = new int[rows.size()][];
        nodeOutput = new int[rows.size()];
        nodeOutputSize = new int[rows.size()];
        for (int n = 0; n < rows.size(); n++) {
            GraphSummary.Row r = rows.get(n);
            nodeInputs[n] = r.inputs().stream().mapToInt(slot::get).toArray();
            nodeOutputSize[n] = arraySize("node " + r.index() + " '" + r.name() + "' output", r.outputShape());
            nodeOutput[n] = slot.size();
            slot.put(r.output(), slot.size());
            consts.add(null);
            kernels[n] = factory.create(r.layer(), r.inputShapes(), r.outputShape());
        }
        slots = slot.size();
        constants = consts.toArray(new float[0][]);
        outputSlots = outputNames.stream().mapToInt(slot::get).toArray();
        // Last reader of each intermediate slot (node outputs that are not graph outputs).
        int[] lastReader = new int[slots];
        java.util.Arrays.fill(lastReader, -1);
        for (int n = 0; n < rows.size(); n++) for (int s : nodeInputs[n]) lastReader[s] = n;
        HashSet<Integer> keep = new HashSet<>();
        for (int s : outputSlots) keep.add(s);
        List<List<Integer>> free = new ArrayList<>();
        for (int n = 0; n < rows.size(); n++) free.add(new ArrayList<>());
        for (int n = 0; n < rows.size(); n++) {
            int s = nodeOutput[n];
            if (!keep.contains(s) && lastReader[s] >= 0) free.get(lastReader[s]).add(s);
        }
        freeAfter = free.stream().map(l -> l.stream().mapToInt(Integer::intValue).toArray()).toArray(int[][]::new);
        // Buffers: a node's output takes a free buffer of exactly its size (kernels rely on exact lengths), or a new
        // one; after the node runs, the buffers of values it read for the last time (and of its own output, if
        // nothing reads it and it is not an output) become free.
        Map<Integer, Integer> producer = new HashMap<>();
        for (int n = 0; n < rows.size(); n++) producer.put(nodeOutput[n], n);
        Map<Integer, java.util.ArrayDeque<Integer>> freeBySize = new HashMap<>();
        List<Integer> sizes = new ArrayList<>();
        bufferOf = new int[rows.size()];
        for (int n = 0; n < rows.size(); n++) {
            java.util.ArrayDeque<Integer> q = freeBySize.get(nodeOutputSize[n]);
            if (q != null && !q.isEmpty()) {
                bufferOf[n] = q.pop();
            } else {
                bufferOf[n] = sizes.size();
                sizes.add(nodeOutputSize[n]);
            }
            for (int s : freeAfter[n]) {
                int m = producer.get(s);
                freeBySize.computeIfAbsent(nodeOutputSize[m], k -> new java.util.ArrayDeque<>()).push(bufferOf[m]);
            }
            if (lastReader[nodeOutput[n]] < 0 && !keep.contains(nodeOutput[n])) {
                freeBySize.computeIfAbsent(nodeOutputSize[n], k -> new java.util.ArrayDeque<>()).push(bufferOf[n]);
            }
        }
        bufferSizes = sizes.stream().mapToInt(Integer::intValue).toArray();
        workspaces = new ContextPool<>(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()), Workspace::new, w -> {});
    }

    /**
     * Prepares every node of {@code plan} with {@code factory}; the session owns the factory and closes it (also
     * when preparation fails).
     *
     * @param constants the graph's constants by name (not copied: the caller hands them over)
     * @throws ShapeException if a tensor of the plan is larger than a Java array
     */
    public static GraphSession open(GraphSummary plan, Map<String, float[]> constants, BackendKind backend,
                                    KernelFactory factory) {
        return open(plan, constants, backend, factory, false, null);
    }

    /**
     * A sequential network as its chain graph; with {@code channelsLast}, 4-D inputs and outputs are NHWC in the
     * caller's arrays and are transposed to and from the kernels' NCHW.
     */
    public static GraphSession open(NetworkSummary network, BackendKind backend, KernelFactory factory, boolean channelsLast) {
        return open(GraphSummary.of(network), Map.of(), backend, factory, channelsLast, network);
    }

    private static GraphSession open(GraphSummary plan, Map<String, float[]> constants, BackendKind backend,
                                     KernelFactory factory, boolean channelsLast, NetworkSummary network) {
        try {
            return new GraphSession(plan, backend, factory, constants, channelsLast, network);
        } catch (RuntimeException | Error e) {
            factory.close();
            throw e;
        }
    }

    private static int arraySize(String what, Shape shape) {
        if (shape.elementCount() > MAX_ARRAY) {
            throw new ShapeException(what + " " + shape + " has " + shape.elementCount()
                    + " elements, more than the " + MAX_ARRAY + " a Java array holds (Java and reference backends)");
        }
        return (int) shape.elementCount();
    }

    @Override
    public BackendKind backend() {
        return backend;
    }

    @Override
    public NetworkSummary summary() {
        return networkSummary != null ? networkSummary : plan.asNetworkSummary();
    }

    /** NHWC ↔ NCHW for a 4-D shape [n, c, h, w]; {@code toChannelsFirst} picks the direction. */
    private static float[] transpose(float[] x, Shape s, boolean toChannelsFirst) {
        int n = s.dim(0), c = s.dim(1), hw = s.dim(2) * s.dim(3);
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++) {
            int base = b * c * hw;
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < hw; p++) {
                    int nchw = base + ch * hw + p;
                    int nhwc = base + p * c + ch;
                    if (toChannelsFirst) y[nchw] = x[nhwc]; else y[nhwc] = x[nchw];
                }
            }
        }
        return y;
    }

    @Override
    public GraphSummary graphSummary() {
        return plan;
    }

    @Override
    public List<String> inputNames() {
        return inputNames;
    }

    @Override
    public List<String> outputNames() {
        return outputNames;
    }

    @Override
    public Map<String, Shape> inputShapes() {
        return plan.inputShapes();
    }

    @Override
    public Map<String, Shape> outputShapes() {
        return plan.outputShapes();
    }

    @Override
    public Shape inputShape() {
        return plan.inputShapes().get(onlyInput());
    }

    @Override
    public Shape outputShape() {
        return plan.outputShapes().get(onlyOutput());
    }

    private String onlyInput() {
        if (inputNames.size() != 1) {
            throw new IllegalStateException("the graph has " + inputNames.size() + " inputs " + inputNames + "; use run(Map)");
        }
        return inputNames.getFirst();
    }

    private String onlyOutput() {
        if (outputNames.size() != 1) {
            throw new IllegalStateException("the graph has " + outputNames.size() + " outputs " + outputNames + "; use run(Map)");
        }
        return outputNames.getFirst();
    }

    @Override
    public Map<String, float[]> run(Map<String, float[]> inputs) {
        if (!new HashSet<>(inputNames).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the session's inputs are " + inputNames);
        }
        float[][] in = new float[inputNames.size()][];
        for (int i = 0; i < in.length; i++) {
            float[] x = inputs.get(inputNames.get(i));
            if (x == null || x.length != inputSizes[i]) {
                throw new ShapeException("input '" + inputNames.get(i) + "' of " + (x == null ? "null" : x.length + " floats")
                        + " differs from the compiled shape " + plan.inputShapes().get(inputNames.get(i)) + " (" + inputSizes[i] + " floats)");
            }
            Shape shape = plan.inputShapes().get(inputNames.get(i));
            in[i] = channelsLast && shape.rank() == 4 ? transpose(x, shape, true) : x;
        }
        float[][] out = execute(in);
        Map<String, float[]> result = new LinkedHashMap<>();
        for (int i = 0; i < out.length; i++) {
            Shape shape = plan.outputShapes().get(outputNames.get(i));
            result.put(outputNames.get(i), channelsLast && shape.rank() == 4 ? transpose(out[i], shape, false) : out[i]);
        }
        return result;
    }

    /**
     * Runs every node on {@code inputs} (only read) in a workspace and hands the output values to {@code sink}
     * while the workspace is still this run's; they must be copied there, as the arrays are reused.
     */
    private void execute(float[][] inputs, java.util.function.Consumer<float[][]> sink) {
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            if (closed) {
                throw new IllegalStateException("session is closed");
            }
            Workspace w = workspaces.acquire();
            try {
                float[][] values = w.values;
                System.arraycopy(constants, 0, values, 0, slots);
                for (int i = 0; i < inputs.length; i++) values[inputSlots[i]] = inputs[i];
                for (int n = 0; n < kernels.length; n++) {
                    int[] ins = nodeInputs[n];
                    float[][] x = w.args[n];
                    for (int i = 0; i < ins.length; i++) x[i] = values[ins[i]];
                    float[] y = w.buffers[bufferOf[n]];
                    kernels[n].forward(x, y);
                    values[nodeOutput[n]] = y;
                }
                float[][] out = new float[outputSlots.length][];
                for (int i = 0; i < out.length; i++) out[i] = values[outputSlots[i]];
                sink.accept(out);
            } finally {
                java.util.Arrays.fill(w.values, null); // keep no caller array reachable
                for (float[][] a : w.args) java.util.Arrays.fill(a, null);
                workspaces.release(w);
            }
        } finally {
            read.unlock();
        }
    }

    /** As {@link #execute(float[][], java.util.function.Consumer)}, returning copies the caller owns. */
    private float[][] execute(float[][] inputs) {
        float[][][] result = new float[1][][];
        execute(inputs, out -> {
            float[][] copies = new float[out.length][];
            for (int i = 0; i < out.length; i++) copies[i] = out[i].clone();
            result[0] = copies;
        });
        return result[0];
    }

    @Override
    public float[] run(float[] input) {
        String in = onlyInput();
        String out = onlyOutput();
        return run(Map.of(in, input)).get(out);
    }

    @Override
    public Tensor run(Tensor input) {
        Shape expected = inputShape();
        if (!input.shape().equals(expected)) {
            throw new ShapeException("input shape " + input.shape() + " differs from the compiled input shape " + expected);
        }
        return Tensor.of(outputShape(), run(input.toArray()));
    }

    @Override
    public void run(float[] input, float[] output) {
        Shape out = outputShape();
        if (output.length != out.elementCount()) {
            throw new ShapeException("output of " + output.length + " floats differs from the compiled output shape " + out
                    + " (" + out.elementCount() + " floats)");
        }
        if (channelsLast) {
            float[] result = run(input);
            System.arraycopy(result, 0, output, 0, output.length);
            return;
        }
        Shape in = inputShape();
        if (input.length != in.elementCount()) {
            throw new ShapeException("input of " + input.length + " floats differs from the compiled input shape " + in
                    + " (" + in.elementCount() + " floats)");
        }
        execute(new float[][] {input}, y -> System.arraycopy(y[0], 0, output, 0, output.length));
    }

    @Override
    public void run(MemorySegment input, MemorySegment output) {
        Shape inShape = inputShape();
        Shape outShape = outputShape();
        long in = inShape.elementCount() * Float.BYTES;
        long out = outShape.elementCount() * Float.BYTES;
        if (input.byteSize() != in || output.byteSize() != out) {
            throw new ShapeException("segments of " + input.byteSize() + " and " + output.byteSize()
                    + " bytes differ from the compiled shapes " + inShape + " (" + in + " bytes) and " + outShape + " (" + out + " bytes)");
        }
        if (output.isReadOnly()) {
            throw new IllegalArgumentException("output segment is read-only");
        }
        if (channelsLast) {
            float[] result = run(input.toArray(ValueLayout.JAVA_FLOAT));
            MemorySegment.copy(result, 0, output, ValueLayout.JAVA_FLOAT, 0, result.length);
            return;
        }
        // Copy in and out through the workspace's own arrays: nothing is allocated per run.
        Workspace w = workspaces.acquire();
        try {
            float[] x = w.staged[0];
            MemorySegment.copy(input, ValueLayout.JAVA_FLOAT, 0, x, 0, x.length);
            execute(new float[][] {x}, y -> MemorySegment.copy(y[0], 0, output, ValueLayout.JAVA_FLOAT, 0, y[0].length));
        } finally {
            workspaces.release(w);
        }
    }

    @Override
    public String plan() {
        StringBuilder sb = new StringBuilder(backend == BackendKind.JAVA
                ? "Java backend plan (nodes in topological order; im2col + blocked SGEMM for convolutions)"
                : "reference backend plan (nodes in topological order; direct loops, double accumulation)");
        sb.append(" for inputs ").append(plan.inputShapes()).append(" → outputs ").append(plan.outputShapes())
                .append(channelsLast ? " (channels-last input and output)" : "").append('\n');
        for (GraphSummary.Row row : plan.rows()) {
            sb.append(String.format("%-3d %-24s %-40s %s ← %s%n", row.index(), row.output(), row.layer(), row.outputShape(),
                    row.inputs()));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            write.unlock();
        }
        factory.close();
    }

    @Override
    public String toString() {
        return "GraphSession(" + backend + ", " + plan.inputShapes() + " → " + plan.outputShapes() + ")";
    }
}
