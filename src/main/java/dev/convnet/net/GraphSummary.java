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
 * A graph validated for its input shapes: every node's input and output shapes, its parameters and its
 * floating-point operations. {@link #table()} prints it.
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

    /** The summary of a planned sequential network, as its chain graph ({@link Graph#of(Network)}). */
    public static GraphSummary of(NetworkSummary plan) {
        List<Row> rows = new ArrayList<>();
        String previous = Session.INPUT;
        for (NetworkSummary.Row r : plan.rows()) {
            String out = r.index() == plan.rows().size() ? Session.OUTPUT : "layer" + r.index();
            List<Shape> in = List.of(r.inputShape());
            rows.add(new Row(r.index(), out, r.layer(), List.of(previous), in, out, r.outputShape(), 0,
                    Flops.of(r.layer(), in, r.outputShape())));
            previous = out;
        }
        return new GraphSummary(Map.of(Session.INPUT, plan.inputShape()), Map.of(Session.OUTPUT, plan.outputShape()),
                Map.of(), rows);
    }

    /** The input shapes by name, in the graph's order. */
    public Map<String, Shape> inputShapes() {
        return inputShapes;
    }

    /** The output shapes by name, in the graph's order. */
    public Map<String, Shape> outputShapes() {
        return outputShapes;
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

    /**
     * The nodes as a {@link NetworkSummary}: each row with its layer, its first input's shape and its output
     * shape; the summary's input shape is the first graph input's.
     */
    public NetworkSummary asNetworkSummary() {
        List<NetworkSummary.Row> r = rows.stream()
                .map(x -> new NetworkSummary.Row(x.index(), x.layer(), x.inputShapes().getFirst(), x.outputShape())).toList();
        Shape first = inputShapes.isEmpty() ? rows.isEmpty() ? Shape.of(1) : rows.getFirst().inputShapes().getFirst()
                : inputShapes.values().iterator().next();
        return new NetworkSummary(first, r);
    }

    /** A table: per node its name, operation, output shape, parameters and FLOPs, then the totals. */
    public String table() {
        List<String[]> lines = new ArrayList<>();
        lines.add(new String[] {"#", "node", "op", "output", "parameters", "FLOPs"});
        inputShapes.forEach((k, v) -> lines.add(new String[] {"", k, "input", v.toString(), "", ""}));
        for (Row r : rows) {
            lines.add(new String[] {Integer.toString(r.index()), r.name(), r.layer().toString(), r.outputShape().toString(),
                    n(r.parameters()), n(r.flops())});
        }
        lines.add(new String[] {"", "total", "", "", n(totalParameters()), n(totalFlops())});
        int[] width = new int[6];
        for (String[] l : lines) for (int i = 0; i < 6; i++) width[i] = Math.max(width[i], l[i].length());
        StringBuilder sb = new StringBuilder();
        for (String[] l : lines) {
            String s = String.format(Locale.ROOT, "%" + width[0] + "s  %-" + width[1] + "s  %-" + width[2] + "s  %-" + width[3]
                    + "s  %" + width[4] + "s  %" + width[5] + "s", (Object[]) l);
            sb.append(s.stripTrailing()).append('\n');
        }
        outputShapes.forEach((k, v) -> sb.append("output ").append(k).append(": ").append(v).append('\n'));
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
