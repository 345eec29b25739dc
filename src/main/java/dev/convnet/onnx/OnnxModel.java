package dev.convnet.onnx;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;

/**
 * An ONNX model as read from a file, before any mapping to layers: the main graph's declared inputs and
 * outputs, its initializers (named constant tensors) and its nodes in a topological order (every node
 * comes after the nodes producing its inputs). Made by {@link OnnxModelReader}, which has checked that the
 * graph is acyclic and that every node input is a graph input, an initializer or an earlier node's output.
 *
 * <p>Immutable and thread-safe.
 */
public final class OnnxModel {
    private final long irVersion;
    private final String producerName;
    private final String graphName;
    private final Map<String, Long> opsetImports;
    private final List<OnnxValueInfo> inputs;
    private final List<OnnxValueInfo> outputs;
    private final Map<String, OnnxTensor> initializers;
    private final List<OnnxNode> nodes;

    OnnxModel(long irVersion, String producerName, String graphName, Map<String, Long> opsetImports,
              List<OnnxValueInfo> inputs, List<OnnxValueInfo> outputs, Map<String, OnnxTensor> initializers,
              List<OnnxNode> nodes) {
        this.irVersion = irVersion;
        this.producerName = producerName;
        this.graphName = graphName;
        this.opsetImports = Collections.unmodifiableMap(new LinkedHashMap<>(opsetImports));
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.initializers = Collections.unmodifiableMap(new LinkedHashMap<>(initializers));
        this.nodes = List.copyOf(nodes);
    }

    /** The ONNX IR version the file declares ({@code ir_version}), 0 if absent. */
    public long irVersion() {
        return irVersion;
    }

    /** The tool that wrote the file ({@code producer_name}), possibly empty. */
    public String producerName() {
        return producerName;
    }

    /** The main graph's name, possibly empty. */
    public String graphName() {
        return graphName;
    }

    /** Operator set versions by domain, as declared; the default ONNX domain is {@code ""}. Unmodifiable. */
    public Map<String, Long> opsetImports() {
        return opsetImports;
    }

    /**
     * The imported version of an operator set; {@code ""} and {@code "ai.onnx"} both name the default domain.
     */
    public OptionalLong opsetVersion(String domain) {
        String d = domain.equals("ai.onnx") ? "" : domain;
        for (Map.Entry<String, Long> e : opsetImports.entrySet()) {
            String k = e.getKey().equals("ai.onnx") ? "" : e.getKey();
            if (k.equals(d)) return OptionalLong.of(e.getValue());
        }
        return OptionalLong.empty();
    }

    /**
     * The graph inputs as declared, in order. Before IR version 4 initializers were also listed as inputs:
     * see {@link #runtimeInputs()}.
     */
    public List<OnnxValueInfo> inputs() {
        return inputs;
    }

    /** The graph inputs that are not initializers: the values a caller must feed. */
    public List<OnnxValueInfo> runtimeInputs() {
        return inputs.stream().filter(i -> !initializers.containsKey(i.name())).toList();
    }

    /** The graph outputs as declared, in order. */
    public List<OnnxValueInfo> outputs() {
        return outputs;
    }

    /** The initializers by name, in file order. Unmodifiable. */
    public Map<String, OnnxTensor> initializers() {
        return initializers;
    }

    /** The nodes in a topological order (file order wherever the file's order allows). */
    public List<OnnxNode> nodes() {
        return nodes;
    }

    @Override
    public String toString() {
        return "OnnxModel['" + graphName + "', opsets " + opsetImports + ", " + inputs.size() + " inputs, " + outputs.size()
                + " outputs, " + initializers.size() + " initializers, " + nodes.size() + " nodes]";
    }
}
