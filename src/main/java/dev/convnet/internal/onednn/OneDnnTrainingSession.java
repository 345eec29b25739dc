package dev.convnet.internal.onednn;

import dev.convnet.internal.train.AbstractTrainingSession;

import static dev.convnet.onednn.bindings.dnnl_h.omp_get_max_threads;
import static dev.convnet.onednn.bindings.dnnl_h.omp_set_num_threads;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.onednn.OneDnn;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
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
final class OneDnnTrainingSession extends AbstractTrainingSession {
    private final ParameterSet parameters;
    private final NativeScope scope = new NativeScope();
    private final OneDnnTrainingPlan plan;
    private final MemorySegment stream;
    private final int threads;
    private JavaGradients javaKernels;

    OneDnnTrainingSession(Graph graph, GraphSummary summary, ParameterSet parameters, TrainingOptions options) {
        super(summary, options.inputGradients(), options.seed());
        OneDnn.require();
        this.parameters = parameters;
        this.threads = options.threads();
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
    protected String trainingRefusal() {
        return plan.trainingRefusals.isEmpty() ? null : plan.trainingRefusals.getFirst();
    }

    @Override
    protected float[][] forwardPass(float[][] inputs, boolean training) {
        parameters.names(); // throws if the set was closed
        for (int i = 0; i < inputs.length; i++) {
            MemorySegment.copy(inputs[i], 0, plan.inputs[i].data.buffer().segment, ValueLayout.JAVA_FLOAT, 0, inputs[i].length);
        }
        plan.training = training;
        plan.seed = seed;
        plan.run(plan.forwardSteps, stream);
        float[][] out = new float[plan.outputNames.size()][];
        for (int i = 0; i < out.length; i++) {
            int n = (int) summary().outputShapes().get(plan.outputNames.get(i)).elementCount();
            out[i] = new float[n];
            MemorySegment.copy(plan.outputs[i].buffer().segment, ValueLayout.JAVA_FLOAT, 0, out[i], 0, n);
        }
        return out;
    }

    @Override
    protected void backwardPass(float[][] outputGradients) {
        parameters.names(); // throws if the set was closed
        plan.training = true;
        plan.outputGradients = outputGradients;
        try {
            plan.run(plan.backwardSteps, stream);
        } finally {
            plan.outputGradients = null; // do not keep the caller's arrays reachable
        }
    }

    @Override
    protected float[][] inputGradientArrays() {
        float[][] m = new float[plan.inputNames.size()][];
        for (int i = 0; i < m.length; i++) {
            int n = (int) plan.inputs[i].shape.elementCount();
            MemorySegment g = plan.inputGradient(i);
            m[i] = new float[n];
            if (g != null) MemorySegment.copy(g, ValueLayout.JAVA_FLOAT, 0, m[i], 0, n);
        }
        return m;
    }

    @Override
    public String plan() {
        return guarded(() -> plan.describe("oneDNN training plan for inputs " + summary().inputShapes() + " → outputs "
                + summary().outputShapes()));
    }

    @Override
    public long primitivesCreated() {
        return plan.primitives;
    }

    @Override
    protected void release() {
        closeNative();
    }

    private void closeNative() {
        try {
            scope.close();
        } finally {
            if (javaKernels != null) javaKernels.close();
        }
    }
}
