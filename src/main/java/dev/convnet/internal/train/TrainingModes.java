package dev.convnet.internal.train;

import dev.convnet.layer.BatchNorm;
import dev.convnet.net.Graph;
import dev.convnet.train.ParameterSet;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Which nodes of a graph run in training mode during a training-mode forward pass: the one rule every training
 * backend follows. A node runs in inference mode (batch norm on its running statistics, which stay unchanged; dropout
 * as the identity) when
 * <ul>
 *   <li>it is a batch norm whose scale and shift are both frozen, or</li>
 *   <li>it belongs to a frozen feature extractor: no trained parameter lies on it or on any node it depends on (and
 *       no input gradient is asked for), so no gradient flows through it.</li>
 * </ul>
 * So a frozen backbone computes exactly what an inference session computes, which is what makes training a head on
 * features computed once equal to training with the frozen layers in the loop. Internal.
 *
 * <p>Thread-safety: stateless.
 */
public final class TrainingModes {
    private TrainingModes() {
    }

    /** Per node of {@code graph} (topological order), whether it runs in training mode. */
    public static boolean[] of(Graph graph, ParameterSet parameters, boolean inputGradients) {
        List<Graph.Node> nodes = graph.nodes();
        boolean[] trains = new boolean[nodes.size()];
        Set<String> gradientFlows = new HashSet<>();
        if (inputGradients) gradientFlows.addAll(graph.inputNames());
        for (int k = 0; k < nodes.size(); k++) {
            Graph.Node n = nodes.get(k);
            boolean anyTrained = n.parameterNames().stream().anyMatch(p -> parameters.get(p).trained());
            boolean flows = anyTrained || n.inputs().stream().anyMatch(gradientFlows::contains);
            if (flows) gradientFlows.add(n.output());
            boolean frozenNorm = n.layer() instanceof BatchNorm && !anyTrained;
            trains[k] = flows && !frozenNorm;
        }
        return trains;
    }

    /**
     * Why a training-mode batch norm cannot run on {@code valuesPerChannel} values per channel (N·spatial), or null:
     * the batch variance needs at least two (PyTorch refuses one too). The one wording every backend uses.
     */
    public static String batchVarianceRefusal(long valuesPerChannel) {
        return valuesPerChannel >= 2 ? null : "BatchNorm: training needs more than one value per channel for the batch variance, "
                + "the input has N·spatial = " + valuesPerChannel;
    }
}
