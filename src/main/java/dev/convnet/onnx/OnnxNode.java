package dev.convnet.onnx;

import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One operator of the graph ({@code NodeProto}).
 *
 * <p>Immutable (the lists and map are unmodifiable copies) and thread-safe.
 *
 * @param name       the node's name; may be empty (ONNX makes it optional)
 * @param opType     the operator, such as {@code "Conv"}
 * @param domain     the operator set's domain; empty for the default ONNX domain
 * @param inputs     the input value names in order; an empty string marks an optional input that is absent
 * @param outputs    the output value names in order; an empty string marks an optional output not wanted
 * @param attributes the attributes by name, in file order
 */
public record OnnxNode(String name, String opType, String domain, List<String> inputs, List<String> outputs,
                       Map<String, OnnxAttribute> attributes) {

    public OnnxNode {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        attributes = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(attributes));
    }

    /** The attribute with this name, if present. */
    public Optional<OnnxAttribute> attribute(String attributeName) {
        return Optional.ofNullable(attributes.get(attributeName));
    }

    /**
     * A readable label for messages: {@code Conv 'conv1'}, or {@code Conv #3} for an unnamed node at index 3.
     *
     * @param index the node's position in {@link OnnxModel#nodes()}
     */
    public String label(int index) {
        return opType + (name.isEmpty() ? " #" + index : " '" + name + "'");
    }
}
