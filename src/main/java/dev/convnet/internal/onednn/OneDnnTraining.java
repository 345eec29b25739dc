package dev.convnet.internal.onednn;

import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

/**
 * Training on oneDNN: the entry point {@code TrainingBackends} calls. Stateless. Internal.
 *
 * @see OneDnnTrainingPlan how a graph becomes forward-training and backward primitives
 */
public final class OneDnnTraining {
    private OneDnnTraining() {
    }

    /**
     * A training session on oneDNN's primitives for a validated graph.
     *
     * @throws dev.convnet.onednn.NativeLibraryException if oneDNN cannot be loaded
     * @throws UnsupportedOperationException if a node needs a Java training kernel that the Java backend lacks
     */
    public static TrainingSession open(Graph graph, GraphSummary plan, ParameterSet parameters, TrainingOptions options) {
        return new OneDnnTrainingSession(graph, plan, parameters, options);
    }
}
