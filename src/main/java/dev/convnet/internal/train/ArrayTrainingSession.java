package dev.convnet.internal.train;

import dev.convnet.internal.exec.RunGuard;
import dev.convnet.layer.Layer;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.train.Parameter;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link TrainingSession} that runs a graph's nodes on heap arrays, one {@link GradKernel} each (Java or reference
 * backend): the forward pass keeps every value for the backward pass, which visits the nodes in reverse topological
 * order and sums the gradients of values with several readers. Parameters are copied from the set before each forward
 * pass (and running statistics back after it); gradients are copied into the set after each backward pass. All
 * arrays are allocated once, when the session is compiled. Internal: obtain through
 * {@code TrainingSession.compile}.
 *
 * <p>Thread-safety: not thread-safe (one thread drives training).
 */
public final class ArrayTrainingSession extends AbstractTrainingSession {
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final BackendKind backend;
    private final GraphSummary plan;
    private final GradKernelFactory factory;
    private final int[] inputSlots;
    private final int[] outputSlots;
    private final float[][] values;    // by slot: inputs (copied in), constants, node outputs
    private final float[][] gradients; // by slot; null where no gradient flows
    private final boolean[] needsGradient;
    private final float[][] scratch;   // by slot, for the second and later contributions to a gradient
    private final GradKernel[] kernels;
    private final int[][] nodeInputs;
    private final int[] nodeOutput;
    private final boolean[] nodeTrains; // training-mode forward for this node ({@link TrainingModes})
    private final Parameter[][] nodeParams;
    private final float[][][] paramValues;
    private final float[][][] paramGradients; // null entries: not trained
    private final boolean[] written;
    private final boolean inputGradients;

    private ArrayTrainingSession(BackendKind backend, Graph graph, GraphSummary plan, ParameterSet parameters,
                                 TrainingOptions options, GradKernelFactory factory) {
        super(plan, options.inputGradients(), options.seed());
        this.backend = backend;
        this.plan = plan;
        this.factory = factory;
        this.inputGradients = options.inputGradients();
        Map<String, Integer> slot = new HashMap<>();
        List<float[]> vals = new ArrayList<>();
        List<Boolean> grads = new ArrayList<>();
        List<String> inputNames = inputNames();
        List<String> outputNames = outputNames();
        inputSlots = new int[inputNames.size()];
        for (int i = 0; i < inputNames.size(); i++) {
            inputSlots[i] = vals.size();
            slot.put(inputNames.get(i), vals.size());
            vals.add(new float[size("input '" + inputNames.get(i) + "'", plan.inputShapes().get(inputNames.get(i)))]);
            grads.add(inputGradients);
        }
        for (String c : graph.constantShapes().keySet()) {
            slot.put(c, vals.size());
            vals.add(graph.constantValues(c));
            grads.add(false);
        }
        List<Graph.Node> nodes = graph.nodes();
        List<GraphSummary.Row> rows = plan.rows();
        int n = rows.size();
        kernels = new GradKernel[n];
        nodeInputs = new int[n][];
        nodeOutput = new int[n];
        nodeTrains = new boolean[n];
        nodeParams = new Parameter[n][];
        paramValues = new float[n][][];
        paramGradients = new float[n][][];
        try {
            for (int k = 0; k < n; k++) {
                GraphSummary.Row r = rows.get(k);
                Graph.Node node = nodes.get(k);
                nodeInputs[k] = r.inputs().stream().mapToInt(slot::get).toArray();
                List<String> names = node.parameterNames();
                nodeParams[k] = new Parameter[names.size()];
                paramValues[k] = new float[names.size()][];
                paramGradients[k] = new float[names.size()][];
                boolean anyTrained = false;
                for (int j = 0; j < names.size(); j++) {
                    Parameter p = parameters.get(names.get(j));
                    nodeParams[k][j] = p;
                    paramValues[k][j] = new float[p.size()];
                    if (p.trained()) {
                        paramGradients[k][j] = new float[p.size()];
                        anyTrained = true;
                    }
                }
                boolean needs = anyTrained;
                for (int s : nodeInputs[k]) needs |= grads.get(s);
                nodeOutput[k] = vals.size();
                slot.put(r.output(), vals.size());
                vals.add(new float[size("node '" + r.name() + "' output", r.outputShape())]);
                grads.add(needs);
                kernels[k] = factory.create(r.layer(), r.inputShapes(), r.outputShape());
            }
        } catch (RuntimeException | Error e) {
            factory.close();
            throw e;
        }
        System.arraycopy(TrainingModes.of(graph, parameters, inputGradients), 0, nodeTrains, 0, n);
        outputSlots = outputNames.stream().mapToInt(slot::get).toArray();
        values = vals.toArray(new float[0][]);
        needsGradient = new boolean[values.length];
        gradients = new float[values.length][];
        scratch = new float[values.length][];
        for (int s = 0; s < values.length; s++) {
            needsGradient[s] = grads.get(s);
            if (needsGradient[s]) gradients[s] = new float[values[s].length];
        }
        // A value read by several nodes (or twice by one) gets a scratch array for the later contributions.
        int[] readers = new int[values.length];
        for (int[] ins : nodeInputs) for (int s : ins) readers[s]++;
        for (int s : outputSlots) readers[s]++;
        for (int s = 0; s < values.length; s++) {
            if (needsGradient[s] && readers[s] > 1) scratch[s] = new float[values[s].length];
        }
        written = new boolean[values.length];
    }

    /**
     * Prepares every node of {@code plan} with {@code factory}; the session owns the factory and closes it (also when
     * preparation fails).
     */
    public static ArrayTrainingSession open(BackendKind backend, Graph graph, GraphSummary plan, ParameterSet parameters,
                                            TrainingOptions options, GradKernelFactory factory) {
        return new ArrayTrainingSession(backend, graph, plan, parameters, options, factory);
    }

    private static int size(String what, Shape shape) {
        if (shape.elementCount() > MAX_ARRAY) {
            throw new ShapeException(what + " " + shape + " has " + shape.elementCount() + " elements, more than a Java array holds");
        }
        return (int) shape.elementCount();
    }

    @Override
    public BackendKind backend() {
        return backend;
    }

    @Override
    protected float[][] forwardPass(float[][] inputs, boolean training) {
        {
            for (int i = 0; i < inputSlots.length; i++) System.arraycopy(inputs[i], 0, values[inputSlots[i]], 0, inputs[i].length);
            for (int k = 0; k < kernels.length; k++) {
                Parameter[] ps = nodeParams[k];
                for (int j = 0; j < ps.length; j++) {
                    MemorySegment.copy(ps[j].values(), ValueLayout.JAVA_FLOAT, 0, paramValues[k][j], 0, paramValues[k][j].length);
                }
                int[] ins = nodeInputs[k];
                float[][] x = new float[ins.length][];
                for (int i = 0; i < ins.length; i++) x[i] = values[ins[i]];
                boolean train = training && nodeTrains[k];
                if (train) kernels[k].reseed(seed * 0x9E3779B97F4A7C15L + k);
                kernels[k].forward(x, paramValues[k], values[nodeOutput[k]], train);
                if (train) {
                    for (int j = 0; j < ps.length; j++) {
                        if (!ps[j].role().trainable()) {
                            MemorySegment.copy(paramValues[k][j], 0, ps[j].values(), ValueLayout.JAVA_FLOAT, 0, paramValues[k][j].length);
                        }
                    }
                }
            }
            float[][] out = new float[outputSlots.length][];
            for (int i = 0; i < outputSlots.length; i++) out[i] = values[outputSlots[i]].clone();
            return out;
        }
    }

    @Override
    protected void backwardPass(float[][] outputGradients) {
        {
            Arrays.fill(written, false);
            for (int i = 0; i < outputSlots.length; i++) {
                float[] g = outputGradients[i];
                int s = outputSlots[i];
                if (g == null || !needsGradient[s]) continue;
                accumulate(s, g);
            }
            for (int k = kernels.length - 1; k >= 0; k--) {
                int out = nodeOutput[k];
                if (!needsGradient[out]) continue;
                boolean anyTrained = false;
                for (float[] pg : paramGradients[k]) anyTrained |= pg != null;
                boolean anyInput = false;
                for (int s : nodeInputs[k]) anyInput |= needsGradient[s];
                if (!anyTrained && !anyInput) continue;
                if (!written[out]) {
                    Arrays.fill(gradients[out], 0f); // nothing downstream reached this value
                    written[out] = true;
                }
                int[] ins = nodeInputs[k];
                float[][] x = new float[ins.length][];
                float[][] dx = new float[ins.length][];
                boolean[] later = new boolean[ins.length];
                for (int i = 0; i < ins.length; i++) {
                    int s = ins[i];
                    x[i] = values[s];
                    if (!needsGradient[s]) continue;
                    boolean repeated = false;
                    for (int j = 0; j < i; j++) repeated |= ins[j] == s;
                    if (!written[s] && !repeated) {
                        dx[i] = gradients[s];
                    } else {
                        dx[i] = repeated ? new float[values[s].length] : scratch[s];
                        later[i] = true;
                    }
                }
                kernels[k].backward(x, values[out], gradients[out], paramValues[k], dx, paramGradients[k]);
                for (int i = 0; i < ins.length; i++) {
                    int s = ins[i];
                    if (dx[i] == null) continue;
                    if (later[i]) {
                        float[] g = gradients[s];
                        float[] d = dx[i];
                        for (int e = 0; e < g.length; e++) g[e] += d[e];
                    }
                    written[s] = true;
                }
            }
            for (int k = 0; k < kernels.length; k++) {
                Parameter[] ps = nodeParams[k];
                for (int j = 0; j < ps.length; j++) {
                    float[] g = paramGradients[k][j];
                    if (g == null) continue;
                    boolean reached = needsGradient[nodeOutput[k]] && written[nodeOutput[k]];
                    if (!reached) Arrays.fill(g, 0f);
                    MemorySegment.copy(g, 0, ps[j].gradient(), ValueLayout.JAVA_FLOAT, 0, g.length);
                }
            }
            for (int s : inputSlots) {
                if (needsGradient[s] && !written[s]) Arrays.fill(gradients[s], 0f);
            }
        }
    }

    private void accumulate(int s, float[] g) {
        if (!written[s]) {
            System.arraycopy(g, 0, gradients[s], 0, g.length);
            written[s] = true;
        } else {
            float[] d = gradients[s];
            for (int e = 0; e < d.length; e++) d[e] += g[e];
        }
    }

    @Override
    protected float[][] inputGradientArrays() {
        float[][] g = new float[inputSlots.length][];
        for (int i = 0; i < g.length; i++) g[i] = gradients[inputSlots[i]].clone();
        return g;
    }

    @Override
    public String plan() {
        StringBuilder sb = new StringBuilder((backend == BackendKind.JAVA ? "Java" : "reference")
                + " backend training plan for inputs " + plan.inputShapes() + " → outputs " + plan.outputShapes() + '\n');
        for (int k = 0; k < kernels.length; k++) {
            GraphSummary.Row r = plan.rows().get(k);
            Layer l = r.layer();
            long trained = Arrays.stream(paramGradients[k]).filter(java.util.Objects::nonNull).count();
            sb.append(String.format("%-3d %-24s %-40s %s%s%s%n", r.index(), r.name(), l, r.outputShape(),
                    nodeParams[k].length == 0 ? "" : ", " + trained + "/" + nodeParams[k].length + " parameters trained",
                    nodeTrains[k] ? "" : ", inference mode (frozen)"));
        }
        return sb.toString();
    }

    @Override
    protected void release() {
        factory.close();
    }
}
