package dev.convnet.quant;

import dev.convnet.net.Graph;

import java.util.Map;

/**
 * The result of {@link PostTrainingQuantizer#quantize}: the graph in Q/DQ form, the float graph it was calibrated on
 * (the input with its BatchNorms folded into the convolutions), and each quantized activation's range, by value name.
 *
 * <p>Thread-safety: immutable.
 *
 * @param graph  the quantized graph: same inputs and outputs as the input graph
 * @param folded the float graph that was calibrated
 * @param ranges the calibrated activations in graph order
 */
public record QuantizedGraph(Graph graph, Graph folded, Map<String, ActivationRange> ranges) {
    /** Copies the map (order kept). */
    public QuantizedGraph {
        ranges = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(ranges));
    }
}
