package dev.convnet.internal.onednn;

import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

/** Training on oneDNN (being written). Internal. */
public final class OneDnnTraining {
    private OneDnnTraining() {
    }

    /** A training session on oneDNN's primitives. */
    public static TrainingSession open(Graph graph, GraphSummary plan, ParameterSet parameters, TrainingOptions options) {
        throw new UnsupportedOperationException("training on oneDNN is not available yet; use the java backend");
    }
}
