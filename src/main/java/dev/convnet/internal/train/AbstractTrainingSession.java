package dev.convnet.internal.train;

import dev.convnet.internal.exec.AbstractSession;
import dev.convnet.internal.exec.RunGuard;
import dev.convnet.net.GraphSummary;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.train.TrainingSession;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * What every backend's {@link TrainingSession} shares: the argument checks of {@code forward}, {@code backward} and
 * {@code inputGradients} (names, lengths, a training pass before a backward pass), the run guard that makes
 * {@code close} wait for a pass in flight, and the seed. A backend implements only the passes on checked, ordered
 * arrays. Internal.
 *
 * <p>Thread-safety: as {@link TrainingSession}: one thread drives a session; {@link #close()} from another waits.
 */
public abstract class AbstractTrainingSession implements TrainingSession {
    private final GraphSummary summary;
    private final List<String> inputNames;
    private final List<String> outputNames;
    private final boolean inputGradients;
    private final RunGuard guard = new RunGuard("training session");
    private boolean forwardDone;
    /** The seed of the next training pass's random draws. */
    protected long seed;

    protected AbstractTrainingSession(GraphSummary summary, boolean inputGradients, long seed) {
        this.summary = summary;
        this.inputNames = List.copyOf(summary.inputShapes().keySet());
        this.outputNames = List.copyOf(summary.outputShapes().keySet());
        this.inputGradients = inputGradients;
        this.seed = seed;
    }

    /** The forward pass on the inputs in {@link #inputNames()} order (lengths checked); returns the outputs in order. */
    protected abstract float[][] forwardPass(float[][] inputs, boolean training);

    /** The backward pass from the output gradients in order (null: the output contributes nothing; lengths checked). */
    protected abstract void backwardPass(float[][] outputGradients);

    /** ∂L/∂input of the last backward pass, in input order (copies). */
    protected abstract float[][] inputGradientArrays();

    /** Frees what the backend holds; called once, after the passes in flight have finished. */
    protected abstract void release();

    /**
     * A check a backend makes before a training pass (for example a batch norm with one value per channel), or null.
     */
    protected String trainingRefusal() {
        return null;
    }

    @Override
    public final GraphSummary summary() {
        return summary;
    }

    @Override
    public final List<String> inputNames() {
        return inputNames;
    }

    @Override
    public final List<String> outputNames() {
        return outputNames;
    }

    @Override
    public final Map<String, float[]> forward(Map<String, float[]> inputs, boolean training) {
        float[][] in = AbstractSession.orderedInputs(inputs, inputNames,
                inputNames.stream().map(summary.inputShapes()::get).toList());
        String refusal = training ? trainingRefusal() : null;
        if (refusal != null) throw new ShapeException(refusal);
        guard.enter();
        try {
            forwardDone = false;
            float[][] out = forwardPass(in, training);
            forwardDone = training;
            Map<String, float[]> m = new LinkedHashMap<>();
            for (int i = 0; i < out.length; i++) m.put(outputNames.get(i), out[i]);
            return m;
        } finally {
            guard.exit();
        }
    }

    @Override
    public final void backward(Map<String, float[]> outputGradients) {
        float[][] given = new float[outputNames.size()][];
        for (var e : outputGradients.entrySet()) {
            int i = outputNames.indexOf(e.getKey());
            if (i < 0) throw new IllegalArgumentException("'" + e.getKey() + "' is not an output; the outputs are " + outputNames);
            float[] g = e.getValue();
            Shape shape = summary.outputShapes().get(e.getKey());
            if (g == null || g.length != shape.elementCount()) {
                throw new ShapeException("gradient of output '" + e.getKey() + "' has " + (g == null ? "no" : g.length)
                        + " floats, the output " + shape + " has " + shape.elementCount());
            }
            given[i] = g;
        }
        guard.enter();
        try {
            if (!forwardDone) throw new IllegalStateException("backward needs a training-mode forward pass first");
            backwardPass(given);
        } finally {
            guard.exit();
        }
    }

    @Override
    public final Map<String, float[]> inputGradients() {
        if (!inputGradients) {
            throw new IllegalStateException("the session was compiled without input gradients (TrainingOptions.withInputGradients)");
        }
        guard.enter();
        try {
            float[][] g = inputGradientArrays();
            Map<String, float[]> m = new LinkedHashMap<>();
            for (int i = 0; i < g.length; i++) m.put(inputNames.get(i), g[i]);
            return m;
        } finally {
            guard.exit();
        }
    }

    @Override
    public final void reseed(long seed) {
        this.seed = seed;
    }

    /** Runs {@code action} as a pass: refused after close, and close waits for it. */
    protected final <T> T guarded(java.util.function.Supplier<T> action) {
        guard.enter();
        try {
            return action.get();
        } finally {
            guard.exit();
        }
    }

    @Override
    public final void close() {
        if (guard.close()) release();
    }
}
