package dev.convnet.onnx;

import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Shape;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * An imported ONNX model: the {@link Graph} and the static shapes it was imported for. Constant folding and
 * shape inference at import make the graph specific to these input shapes.
 *
 * <p>Immutable and thread-safe.
 *
 * @param graph        the graph (its input and output names are the model's)
 * @param inputShapes  the runtime inputs' shapes, in the model's order
 * @param outputShapes the outputs' shapes, in the model's order
 * @param opset        the default-domain opset the model imports
 */
public record OnnxGraph(Graph graph, Map<String, Shape> inputShapes, Map<String, Shape> outputShapes, long opset) {
    /** Copies the maps (keeping their order). */
    public OnnxGraph {
        inputShapes = Collections.unmodifiableMap(new LinkedHashMap<>(inputShapes));
        outputShapes = Collections.unmodifiableMap(new LinkedHashMap<>(outputShapes));
    }

    /** The graph planned for {@link #inputShapes()}: per node its output shape, parameters and FLOPs. */
    public GraphSummary plan() {
        return graph.plan(inputShapes);
    }

    /** The graph compiled for {@link #inputShapes()}. */
    public Session compile(SessionOptions options) {
        return graph.compile(inputShapes, options);
    }
}
