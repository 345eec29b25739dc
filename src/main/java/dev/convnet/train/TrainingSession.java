package dev.convnet.train;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;

import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * A graph compiled for training on fixed input shapes: a forward pass in training or inference mode and the backward
 * pass, reading the current values of a {@link ParameterSet} at every forward pass and writing the gradients of its
 * trained parameters ({@link Parameter#trained()}) into it. The loss and the update are the caller's (see
 * {@link Loss}, {@link Optimizer}, or {@link Trainer}, which does all of it).
 *
 * <pre>{@code
 * try (ParameterSet p = ParameterSet.of(net); TrainingSession s = TrainingSession.compile(net, p, Shape.of(64, 1, 28, 28))) {
 *     float[] logits = s.forward(images, true);
 *     float loss = Loss.softmaxCrossEntropy().compute(logits, labels, 10, dLogits);
 *     s.backward(dLogits);          // gradients now in p
 *     optimizer.step(p);
 * }
 * }</pre>
 *
 * <p>Modes: a training-mode forward runs batch norm with batch statistics (and updates its running statistics in
 * the set) and dropout with masks; an inference-mode forward runs them as a compiled inference session does. Even in
 * a training-mode pass, a batch norm whose scale and shift are both frozen runs in inference mode and keeps its
 * statistics, and so does every node of a frozen feature extractor (no trained parameter on it or before it, so no
 * gradient flows through it): a frozen backbone computes what an inference session computes. Frozen flags are read
 * when the session is compiled.
 *
 * <p>Thread-safety: not thread-safe: one thread drives a training session. {@link #close()} is idempotent; calls after
 * it throw {@link IllegalStateException}. The parameter set must stay open while the session is used.
 */
public interface TrainingSession extends AutoCloseable {
    /**
     * Compiles {@code graph} for training with the values and frozen flags of {@code parameters}.
     *
     * @throws dev.convnet.shape.ShapeException if a node does not fit its inputs
     * @throws IllegalArgumentException if the set lacks a parameter the graph declares, or a shape differs
     * @throws UnsupportedOperationException if the backend cannot train an operation of the graph, naming it
     */
    static TrainingSession compile(Graph graph, ParameterSet parameters, Map<String, Shape> inputShapes,
                                   TrainingOptions options) {
        Objects.requireNonNull(graph, "graph");
        Objects.requireNonNull(parameters, "parameters");
        Objects.requireNonNull(options, "options");
        GraphSummary plan = graph.plan(inputShapes);
        for (Graph.NamedParameter p : graph.parameterSpecs()) {
            Parameter q = parameters.get(p.name());
            if (!q.shape().equals(p.spec().shape())) {
                throw new IllegalArgumentException("parameter '" + p.name() + "': the set holds " + q.shape() + ", the graph declares "
                        + p.spec().shape());
            }
        }
        BackendKind backend = Backends.resolve(options.backend());
        return TrainingBackends.open(backend, graph, plan, parameters, options);
    }

    /** {@link #compile(Graph, ParameterSet, Map, TrainingOptions)} for a graph with one input, default options. */
    static TrainingSession compile(Graph graph, ParameterSet parameters, Shape inputShape) {
        return compile(graph, parameters, Map.of(graph.inputNames().getFirst(), inputShape), TrainingOptions.defaults());
    }

    /** {@link #compile(Graph, ParameterSet, Map, TrainingOptions)} for a graph with one input. */
    static TrainingSession compile(Graph graph, ParameterSet parameters, Shape inputShape, TrainingOptions options) {
        return compile(graph, parameters, Map.of(graph.inputNames().getFirst(), inputShape), options);
    }

    /** A network's chain graph ({@link Network#toGraph()}), with default options. */
    static TrainingSession compile(Network network, ParameterSet parameters, Shape inputShape) {
        return compile(network.toGraph(), parameters, inputShape);
    }

    /** The backend that runs it. */
    BackendKind backend();

    /** The validated plan. */
    GraphSummary summary();

    /** Input names, in order. */
    default List<String> inputNames() {
        return List.copyOf(summary().inputShapes().keySet());
    }

    /** Output names, in order. */
    default List<String> outputNames() {
        return List.copyOf(summary().outputShapes().keySet());
    }

    /** The shape of the only input. */
    default Shape inputShape() {
        return summary().inputShapes().values().iterator().next();
    }

    /** The shape of the only output. */
    default Shape outputShape() {
        return summary().outputShapes().values().iterator().next();
    }

    /**
     * Runs the forward pass on named inputs (row-major, each its shape's element count; only read) and returns every
     * output as a new array.
     *
     * @throws dev.convnet.shape.ShapeException if a length differs from its input's shape
     * @throws IllegalArgumentException if the names differ from {@link #inputNames()}
     */
    Map<String, float[]> forward(Map<String, float[]> inputs, boolean training);

    /** {@link #forward(Map, boolean)} for one input and one output. */
    default float[] forward(float[] input, boolean training) {
        if (inputNames().size() != 1 || outputNames().size() != 1) {
            throw new IllegalStateException("the graph has inputs " + inputNames() + " and outputs " + outputNames() + "; use forward(Map, boolean)");
        }
        return forward(Map.of(inputNames().getFirst(), input), training).get(outputNames().getFirst());
    }

    /**
     * The backward pass of the last training-mode forward pass, from ∂L/∂output per output name (an output without an
     * entry contributes nothing): overwrites the gradient of every trained parameter in the set (a trained parameter
     * that does not influence the outputs gets zeros) and, when compiled with input gradients, {@link #inputGradients()}.
     *
     * @throws IllegalStateException if no training-mode forward pass preceded it
     * @throws dev.convnet.shape.ShapeException if a gradient's length differs from its output's shape
     */
    void backward(Map<String, float[]> outputGradients);

    /** {@link #backward(Map)} for one output. */
    default void backward(float[] outputGradient) {
        if (outputNames().size() != 1) throw new IllegalStateException("the graph has outputs " + outputNames() + "; use backward(Map)");
        backward(Map.of(outputNames().getFirst(), outputGradient));
    }

    /**
     * ∂L/∂input per input name, from the last backward pass (copies).
     *
     * @throws IllegalStateException if the session was compiled without input gradients
     */
    Map<String, float[]> inputGradients();

    /** Seeds the random draws of the next training forward pass (dropout masks). */
    void reseed(long seed);

    /** What runs: per node the kernel or primitives, forward and backward. */
    String plan();

    /**
     * The number of native primitives this session has created so far (0 on the Java and reference backends): it
     * stops growing after compilation, which tests check.
     */
    default long primitivesCreated() {
        return 0;
    }

    /** Releases native memory and threads. Idempotent. */
    @Override
    void close();
}
