package dev.convnet.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.internal.onednn.OneDnnTraining;
import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.internal.train.ArrayTrainingSession;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;

/** The one place that chooses a training implementation for a backend. Stateless. */
final class TrainingBackends {
    private TrainingBackends() {
    }

    static TrainingSession open(BackendKind backend, Graph graph, GraphSummary plan, ParameterSet parameters,
                                TrainingOptions options) {
        return switch (backend) {
            case ONEDNN -> OneDnnTraining.open(graph, plan, parameters, options);
            case JAVA -> ArrayTrainingSession.open(BackendKind.JAVA, graph, plan, parameters, options,
                    new JavaGradients(options.threads()));
            case REFERENCE -> ArrayTrainingSession.open(BackendKind.REFERENCE, graph, plan, parameters, options,
                    new ReferenceGradients());
        };
    }
}
