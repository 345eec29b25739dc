package dev.convnet.net;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A graph or network validated for its input shapes: every node's input and output shapes, its weights, biases
 * and other parameters, its neurons (output elements per image, as in the lecture's "each pixel in the feature map
 * corresponds to a neuron") and its floating-point operations. {@link #table()} prints it per node with FLOPs,
 * {@link #layerTable()} per layer with weights, biases and neurons, as the lecture does.
 *
 * <p>{@link Network#plan(Shape)} gives the summary of the network's chain graph ({@link Graph#of(Network)}): one
 * row per layer, node {@code layer<i>}, input {@value Session#INPUT}, output {@value Session#OUTPUT}.
 *
 * <p>FLOPs (one multiply-add counts 2):
 * <ul>
 *   <li>convolution: {@code 2·N·C_out·C_in/groups} per (output position, kernel tap) pair whose input element
 *       lies inside the image (taps that fall on padding are not counted);</li>
 *   <li>Linear {@code 2·N·D·K}; MatMul {@code 2·K} per output element;</li>
 *   <li>element-wise operations (activations, Add, Mul, …): one per output element; BatchNorm two;
 *       softmax three;</li>
 *   <li>pooling: the window size per output element; global pooling and reductions: one per input
 *       element;</li>
 *   <li>data movement (Flatten, Reshape, Transpose, Pad, Concat): 0.</li>
 * </ul>
 * Parameters: a layer's weights and biases, plus the elements of the constants a node reads (each constant
 * counted at its first reader).
 *
 * <p>Thread-safety: immutable.
 */
public final class GraphSummary {
    /**
     * One planned node.
     *
     * @param index            position in the graph's topological order, from 1
     * @param name             the node's name
     * @param layer            its operation
     * @param inputs           its input names
     * @param inputShapes      their shapes (batch first)
     * @param output           its output name
     * @param outputShape      the output shape (batch first)
     * @param constantElements elements of constants first read by this node
     * @param flops            floating-point operations (see {@link GraphSummary})
     */
    public record Row(int index, String name, Layer layer, List<String> inputs, List<Shape> inputShapes, String output,
                      Shape outputShape, long constantElements, long flops) {
        /** Copies the lists. */
        public Row {
            inputs = List.copyOf(inputs);
            inputShapes = List.copyOf(inputShapes);
        }

        /** The layer's weights. */
        public long weights() {
            return layer.weightCount();
        }

        /** The layer's biases. */
        public long biases() {
            return layer.biasCount();
        }

        /** Weights, biases and constant elements. */
        public long parameters() {
            return weights() + biases() + constantElements;
        }

        /** Output elements per image (the output shape without the batch). */
        public long neurons() {
            return outputShape.elementCount(1);
        }

        /** The output shape without the batch dimension, e.g. {@code [6, 28, 28]}. */
        public Shape imageShape() {
            return outputShape.withoutBatch();
        }
    }

    private final Map<String, Shape> inputShapes;
    private final Map<String, Shape> outputShapes;
    private final Map<String, Shape> constantShapes;
    private final List<Row> rows;

    GraphSummary(Map<String, Shape> inputShapes, Map<String, Shape> outputShapes, Map<String, Shape> constantShapes,
                 List<Row> rows) {
        this.inputShapes = Collections.unmodifiableMap(new LinkedHashMap<>(inputShapes));
        this.outputShapes = Collections.unmodifiableMap(new LinkedHashMap<>(outputShapes));
        this.constantShapes = Collections.unmodifiableMap(new LinkedHashMap<>(constantShapes));
        this.rows = List.copyOf(rows);
    }

    /** The input shapes by name, in the graph's order. */
    public Map<String, Shape> inputShapes() {
        return inputShapes;
    }

    /** The output shapes by name, in the graph's order. */
    public Map<String, Shape> outputShapes() {
        return outputShapes;
    }

    /**
     * The shape of the only input (batch first).
     *
     * @throws IllegalStateException if there are several inputs
     */
    public Shape inputShape() {
        return only("inputs", inputShapes);
    }

    /**
     * The shape of the only output (batch first): a network's last layer's output.
     *
     * @throws IllegalStateException if there are several outputs
     */
    public Shape outputShape() {
        return only("outputs", outputShapes);
    }

    private static Shape only(String what, Map<String, Shape> shapes) {
        if (shapes.size() != 1) {
            throw new IllegalStateException("the graph has " + shapes.size() + " " + what + " " + shapes.keySet());
        }
        return shapes.values().iterator().next();
    }

    /** The constants' shapes by name. */
    public Map<String, Shape> constantShapes() {
        return constantShapes;
    }

    /** The planned nodes in topological order. */
    public List<Row> rows() {
        return rows;
    }

    /** The sum of the layers' weights. */
    public long totalWeights() {
        return rows.stream().mapToLong(Row::weights).sum();
    }

    /** The sum of the layers' biases. */
    public long totalBiases() {
        return rows.stream().mapToLong(Row::biases).sum();
    }

    /** Weights, biases and constant elements of every node. */
    public long totalParameters() {
        return rows.stream().mapToLong(Row::parameters).sum();
    }

    /** The FLOPs of a whole run. */
    public long totalFlops() {
        return rows.stream().mapToLong(Row::flops).sum();
    }

    /** A table: per node its name, operation, output shape, parameters and FLOPs, then the totals and the outputs. */
    public String table() {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"#", "node", "op", "output", "parameters", "FLOPs"});
        inputShapes.forEach((k, v) -> lines.add(new String[] {"", k, "input", v.toString(), "", ""}));
        for (Row r : rows) {
            lines.add(new String[] {Integer.toString(r.index()), r.name(), r.layer().toString(), r.outputShape().toString(),
                    n(r.parameters()), n(r.flops())});
        }
        lines.add(new String[] {"", "total", "", "", n(totalParameters()), n(totalFlops())});
        StringBuilder sb = new StringBuilder(render(lines, new int[6], "RLLLRR"));
        outputShapes.forEach((k, v) -> sb.append("output ").append(k).append(": ").append(v).append('\n'));
        return sb.toString();
    }

    /**
     * The lecture's table: per node its operation, output shape per image, weights, biases, parameters and neurons,
     * then the totals. For a network, one line per layer.
     */
    public String layerTable() {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"#", "layer", "output", "weights", "biases", "parameters", "neurons"});
        inputShapes.forEach((k, v) -> lines.add(new String[] {"", (inputShapes.size() == 1 ? "input" : "input " + k)
                + " (batch " + v.dim(0) + ")", v.withoutBatch().toString(), "", "", "", ""}));
        for (Row r : rows) {
            lines.add(new String[] {Integer.toString(r.index()), r.layer().toString(), r.imageShape().toString(),
                    n(r.weights()), n(r.biases()), n(r.parameters()), n(r.neurons())});
        }
        lines.add(new String[] {"", "total", "", n(totalWeights()), n(totalBiases()), n(totalParameters()), ""});
        return render(lines, new int[] {3, 0, 0, 12, 9, 12, 12}, "RLLRRRR");
    }

    /**
     * Lines of cells as columns two spaces apart, each as wide as its widest cell (at least {@code minWidth}), aligned
     * left or right as {@code align} says per column ('L' or 'R'); trailing blanks stripped.
     */
    private static String render(List<String[]> lines, int[] minWidth, String align) {
        int[] width = minWidth.clone();
        for (String[] l : lines) for (int i = 0; i < width.length; i++) width[i] = Math.max(width[i], l[i].length());
        StringBuilder sb = new StringBuilder();
        for (String[] l : lines) {
            StringBuilder line = new StringBuilder();
            for (int i = 0; i < width.length; i++) {
                if (i > 0) line.append("  ");
                String pad = " ".repeat(width[i] - l[i].length());
                line.append(align.charAt(i) == 'L' ? l[i] + pad : pad + l[i]);
            }
            sb.append(line.toString().stripTrailing()).append('\n');
        }
        return sb.toString();
    }

    private static String n(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    @Override
    public String toString() {
        return table();
    }
}
