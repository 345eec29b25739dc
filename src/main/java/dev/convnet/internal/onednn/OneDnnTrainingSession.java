package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.omp_get_max_threads;
import static dev.convnet.onednn.bindings.dnnl_h.omp_set_num_threads;

import dev.convnet.internal.exec.RunGuard;
import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.onednn.OneDnn;
import dev.convnet.shape.ShapeException;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * A {@link TrainingSession} on oneDNN: the graph compiled once into forward-training and backward primitives
 * ({@link OneDnnTrainingPlan}); each pass copies the caller's arrays in and out and executes the steps on one stream.
 * The parameter set is read at every forward pass and receives the gradients of its trained parameters after every
 * backward pass, exactly as on the Java and reference backends.
 *
 * <p>Threads: the oneDNN primitives use {@link TrainingOptions#threads()} OpenMP threads (set when they are created
 * and at every pass, as the inference sessions do); Java steps use a Java backend pool of the same size.
 *
 * <p>Thread-safety: not thread-safe (one thread drives training). {@link #close()} is idempotent, waits for a pass
 * in flight on another thread, and frees every native handle; later calls throw {@link IllegalStateException}.
 */
final class OneDnnTrainingSession implements TrainingSession {
    private final GraphSummary summary;
    private final ParameterSet parameters;
    private final NativeScope scope = new NativeScope();
    private final OneDnnTrainingPlan plan;
    private final MemorySegment stream;
    private final RunGuard guard = new RunGuard("training session");
    private final int threads;
    private JavaGradients javaKernels;
    private boolean forwardDone;
    private long seed;

    OneDnnTrainingSession(Graph graph, GraphSummary summary, ParameterSet parameters, TrainingOptions options) {
        OneDnn.require();
        this.summary = summary;
        this.parameters = parameters;
        this.threads = options.threads();
        this.seed = options.seed();
        int before = omp_get_max_threads();
        try {
            omp_set_num_threads(threads);
            plan = new OneDnnTrainingPlan(scope, graph, summary, parameters, threads, options.inputGradients(),
                    (layer, in, out) -> {
                        if (javaKernels == null) javaKernels = new JavaGradients(threads);
                        return javaKernels.create(layer, in, out);
                    });
            stream = scope.stream(plan.engine);
        } catch (RuntimeException | Error e) {
            closeNative();
            throw e;
        } finally {
            omp_set_num_threads(before);
        }
    }

    @Override
    public BackendKind backend() {
        return BackendKind.ONEDNN;
    }

    @Override
    public GraphSummary summary() {
        return summary;
    }

    @Override
    public Map<String, float[]> forward(Map<String, float[]> inputs, boolean training) {
        if (!new HashSet<>(plan.inputNames).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the session's inputs are " + plan.inputNames);
        }
        for (int i = 0; i < plan.inputNames.size(); i++) {
            String name = plan.inputNames.get(i);
            float[] x = inputs.get(name);
            long n = plan.inputs[i].shape.elementCount();
            if (x == null || x.length != n) {
                throw new ShapeException("input '" + name + "' of " + (x == null ? "null" : x.length + " floats")
                        + " differs from the compiled shape " + plan.inputs[i].shape + " (" + n + " floats)");
            }
        }
        if (training && !plan.trainingRefusals.isEmpty()) throw new ShapeException(plan.trainingRefusals.getFirst());
        guard.enter();
        try {
            parameters.names(); // throws if the set was closed
            for (int i = 0; i < plan.inputNames.size(); i++) {
                float[] x = inputs.get(plan.inputNames.get(i));
                MemorySegment.copy(x, 0, plan.inputs[i].data.buffer().segment, ValueLayout.JAVA_FLOAT, 0, x.length);
            }
            forwardDone = false;
            plan.training = training;
            plan.seed = seed;
            plan.run(plan.forwardSteps, stream);
            forwardDone = training;
            Map<String, float[]> out = new LinkedHashMap<>();
            for (int i = 0; i < plan.outputNames.size(); i++) {
                int n = (int) summary.outputShapes().get(plan.outputNames.get(i)).elementCount();
                float[] y = new float[n];
                MemorySegment.copy(plan.outputs[i].buffer().segment, ValueLayout.JAVA_FLOAT, 0, y, 0, n);
                out.put(plan.outputNames.get(i), y);
            }
            return out;
        } finally {
            guard.exit();
        }
    }

    @Override
    public void backward(Map<String, float[]> outputGradients) {
        float[][] given = new float[plan.outputNames.size()][];
        for (var e : outputGradients.entrySet()) {
            int i = plan.outputNames.indexOf(e.getKey());
            if (i < 0) throw new IllegalArgumentException("'" + e.getKey() + "' is not an output; the outputs are " + plan.outputNames);
            float[] g = e.getValue();
            long n = summary.outputShapes().get(e.getKey()).elementCount();
            if (g == null || g.length != n) {
                throw new ShapeException("gradient of output '" + e.getKey() + "' has " + (g == null ? "no" : g.length)
                        + " floats, the output " + summary.outputShapes().get(e.getKey()) + " has " + n);
            }
            given[i] = g;
        }
        guard.enter();
        try {
            if (!forwardDone) throw new IllegalStateException("backward needs a training-mode forward pass first");
            parameters.names(); // throws if the set was closed
            plan.training = true;
            plan.outputGradients = given;
            try {
                plan.run(plan.backwardSteps, stream);
            } finally {
                plan.outputGradients = null; // do not keep the caller's arrays reachable
            }
        } finally {
            guard.exit();
        }
    }

    @Override
    public Map<String, float[]> inputGradients() {
        if (!plan.inputGradients) {
            throw new IllegalStateException("the session was compiled without input gradients (TrainingOptions.withInputGradients)");
        }
        guard.enter();
        try {
            Map<String, float[]> m = new LinkedHashMap<>();
            for (int i = 0; i < plan.inputNames.size(); i++) {
                int n = (int) plan.inputs[i].shape.elementCount();
                MemorySegment g = plan.inputGradient(i);
                float[] a = new float[n];
                if (g != null) MemorySegment.copy(g, ValueLayout.JAVA_FLOAT, 0, a, 0, n);
                m.put(plan.inputNames.get(i), a);
            }
            return m;
        } finally {
            guard.exit();
        }
    }

    @Override
    public void reseed(long seed) {
        this.seed = seed;
    }

    @Override
    public String plan() {
        guard.enter();
        try {
            return plan.describe("oneDNN training plan for inputs " + summary.inputShapes() + " → outputs "
                    + summary.outputShapes());
        } finally {
            guard.exit();
        }
    }

    @Override
    public long primitivesCreated() {
        return plan.primitives;
    }

    @Override
    public void close() {
        if (guard.close()) closeNative();
    }

    private void closeNative() {
        try {
            scope.close();
        } finally {
            if (javaKernels != null) javaKernels.close();
        }
    }
}
