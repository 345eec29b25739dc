package dev.convnet.internal.kernels;

import dev.convnet.internal.exec.AbstractSession;
import dev.convnet.internal.exec.ContextPool;
import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Session;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;

/**
 * A {@link Session} that runs a planned graph's nodes in topological order, one {@link NodeKernel} each, on
 * heap float arrays; used by the Java and reference backends. Every value (input, constant, node output) has a
 * slot; a run computes into a workspace's buffers, planned by liveness. The kernels work on NCHW; with
 * channels-last, 4-D inputs and outputs are transposed from and to the caller's NHWC at the edges. The {@code run}
 * methods and their checks are {@link AbstractSession}'s. Internal: obtain sessions through {@code Graph.compile}.
 *
 * <p>Thread-safety: as {@link Session}: runs are concurrent (each has its own workspace; constants are shared
 * and only read).
 */
public final class GraphSession extends AbstractSession {
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final KernelFactory factory;
    private final int[] inputSlots;
    private final int[] outputSlots;
    private final int[] inputSizes;
    /** Per input (output): whether the caller's array holds it NHWC (channels-last and 4-D). */
    private final boolean[] nhwcIn;
    private final boolean[] nhwcOut;
    private final boolean channelsLast;
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
     * kernels' argument arrays, a staging array per input (the segment path's copy, or the NCHW transpose of a
     * channels-last input), and, made on first use, the segment path's channels-last input and output.
     */
    private final class Workspace {
        final float[][] values = new float[slots][];
        final float[][][] args = new float[kernels.length][][];
        final float[][] buffers = new float[bufferSizes.length][];
        final float[][] staged = new float[inputSlots.length][];
        float[] nhwcInput;
        float[] nhwcOutput;

        Workspace() {
            for (int n = 0; n < kernels.length; n++) args[n] = new float[nodeInputs[n].length][];
            for (int b = 0; b < buffers.length; b++) buffers[b] = new float[bufferSizes[b]];
            for (int i = 0; i < staged.length; i++) staged[i] = new float[inputSizes[i]];
        }
    }

    private GraphSession(GraphSummary plan, BackendKind backend, KernelFactory factory, Map<String, float[]> constantValues,
                         boolean channelsLast) {
        super(plan, backend);
        this.factory = factory;
        this.channelsLast = channelsLast;
        Map<String, Integer> slot = new HashMap<>();
        List<String> inputNames = inputNames();
        List<String> outputNames = outputNames();
        nhwcIn = new boolean[inputNames.size()];
        nhwcOut = new boolean[outputNames.size()];
        for (int i = 0; i < nhwcIn.length; i++) nhwcIn[i] = channelsLast && inputShape(i).rank() == 4;
        for (int i = 0; i < nhwcOut.length; i++) nhwcOut[i] = channelsLast && outputShape(i).rank() == 4;
        inputSizes = new int[inputNames.size()];
        inputSlots = new int[inputNames.size()];
        for (int i = 0; i < inputNames.size(); i++) {
            inputSlots[i] = slot.size();
            slot.put(inputNames.get(i), slot.size());
            inputSizes[i] = arraySize("input '" + inputNames.get(i) + "'", inputShape(i));
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
     * @param channelsLast 4-D inputs and outputs are NHWC in the caller's arrays and segments
     * @throws ShapeException if a tensor of the plan is larger than a Java array
     */
    public static GraphSession open(GraphSummary plan, Map<String, float[]> constants, BackendKind backend,
                                    KernelFactory factory, boolean channelsLast) {
        try {
            return new GraphSession(plan, backend, factory, constants, channelsLast);
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

    /** NHWC ↔ NCHW for a 4-D shape [n, c, h, w], from {@code x} into {@code y}; {@code toChannelsFirst} picks the direction. */
    private static float[] transpose(float[] x, float[] y, Shape s, boolean toChannelsFirst) {
        int n = s.dim(0), c = s.dim(1), hw = s.dim(2) * s.dim(3);
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

    /** Makes input {@code k}'s value from the caller's array: the array itself, or its NCHW transpose. */
    private void load(Workspace w, int k, float[] x) {
        w.values[inputSlots[k]] = nhwcIn[k] ? transpose(x, w.staged[k], inputShape(k), true) : x;
    }

    /** Writes output {@code k} into {@code y} in the caller's layout. */
    private void store(Workspace w, int k, float[] y) {
        float[] v = w.values[outputSlots[k]];
        if (nhwcOut[k]) transpose(v, y, outputShape(k), false); else System.arraycopy(v, 0, y, 0, y.length);
    }

    @Override
    protected void execute(float[][] inputs, float[][] outputs) {
        Workspace w = acquire();
        try {
            for (int k = 0; k < inputs.length; k++) load(w, k, inputs[k]);
            runNodes(w);
            for (int k = 0; k < outputs.length; k++) store(w, k, outputs[k]);
        } finally {
            release(w);
        }
    }

    /** Copies in and out through the workspace's own arrays: nothing is allocated per run. */
    @Override
    protected void execute(MemorySegment input, MemorySegment output) {
        Workspace w = acquire();
        try {
            float[] x = w.staged[0];
            if (nhwcIn[0]) {
                if (w.nhwcInput == null) w.nhwcInput = new float[x.length];
                x = w.nhwcInput;
            }
            MemorySegment.copy(input, ValueLayout.JAVA_FLOAT, 0, x, 0, x.length);
            load(w, 0, x);
            runNodes(w);
            float[] y = w.values[outputSlots[0]];
            if (nhwcOut[0]) {
                if (w.nhwcOutput == null) w.nhwcOutput = new float[y.length];
                store(w, 0, y = w.nhwcOutput);
            }
            MemorySegment.copy(y, 0, output, ValueLayout.JAVA_FLOAT, 0, y.length);
        } finally {
            release(w);
        }
    }

    /** Runs every node on the input values in {@code w}. */
    private void runNodes(Workspace w) {
        float[][] values = w.values;
        for (int n = 0; n < kernels.length; n++) {
            int[] ins = nodeInputs[n];
            float[][] x = w.args[n];
            for (int i = 0; i < ins.length; i++) x[i] = values[ins[i]];
            float[] y = w.buffers[bufferOf[n]];
            kernels[n].forward(x, y);
            values[nodeOutput[n]] = y;
        }
    }

    /** A workspace for this run, its values holding the constants. */
    private Workspace acquire() {
        Workspace w = workspaces.acquire();
        System.arraycopy(constants, 0, w.values, 0, slots);
        return w;
    }

    /** Gives the workspace back, keeping no caller array reachable. */
    private void release(Workspace w) {
        java.util.Arrays.fill(w.values, null);
        for (float[][] a : w.args) java.util.Arrays.fill(a, null);
        workspaces.release(w);
    }

    @Override
    public String plan() {
        StringBuilder sb = new StringBuilder(backend() == BackendKind.JAVA
                ? "Java backend plan (nodes in topological order; im2col + blocked SGEMM for convolutions)"
                : "reference backend plan (nodes in topological order; direct loops, double accumulation)");
        sb.append(" for inputs ").append(inputShapes()).append(" → outputs ").append(outputShapes())
                .append(channelsLast ? " (channels-last input and output)" : "").append('\n');
        for (GraphSummary.Row row : summary().rows()) {
            sb.append(String.format("%-3d %-24s %-40s %s ← %s%n", row.index(), row.output(), row.layer(), row.outputShape(),
                    row.inputs()));
        }
        return sb.toString();
    }

    @Override
    protected void release() {
        factory.close();
    }

    @Override
    public String toString() {
        return "GraphSession(" + backend() + ", " + inputShapes() + " → " + outputShapes() + ")";
    }
}
