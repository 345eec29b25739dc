package dev.convnet.net;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.List;
import java.util.Locale;

/**
 * A network validated for one input shape: every layer's input and output shape, its weight
 * and bias counts, and its neuron count (output elements per image, as in the lecture's
 * "each pixel in the feature map corresponds to a neuron"). {@link #toString()} prints a table.
 *
 * <p>Thread-safety: immutable.
 */
public final class NetworkSummary {
    /**
     * One planned layer.
     *
     * @param index       position in the network, from 1
     * @param layer       the layer
     * @param inputShape  its input shape (batch first)
     * @param outputShape its output shape (batch first)
     */
    public record Row(int index, Layer layer, Shape inputShape, Shape outputShape) {
        /** Weights (multiplicative parameters). */
        public long weights() {
            return layer.weightCount();
        }

        /** Biases. */
        public long biases() {
            return layer.biasCount();
        }

        /** Weights plus biases. */
        public long parameters() {
            return weights() + biases();
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

    private final Shape inputShape;
    private final List<Row> rows;

    NetworkSummary(Shape inputShape, List<Row> rows) {
        this.inputShape = inputShape;
        this.rows = List.copyOf(rows);
    }

    /** The input shape (batch first). */
    public Shape inputShape() {
        return inputShape;
    }

    /** The output shape of the last layer (batch first); the input shape for an empty network. */
    public Shape outputShape() {
        return rows.isEmpty() ? inputShape : rows.getLast().outputShape();
    }

    /** The planned layers, in order. */
    public List<Row> rows() {
        return rows;
    }

    /** The sum of all layers' weights. */
    public long totalWeights() {
        return rows.stream().mapToLong(Row::weights).sum();
    }

    /** The sum of all layers' biases. */
    public long totalBiases() {
        return rows.stream().mapToLong(Row::biases).sum();
    }

    /** Weights plus biases. */
    public long totalParameters() {
        return totalWeights() + totalBiases();
    }

    /** The table printed by {@link #toString()}. */
    public String table() {
        int nameWidth = "input".length();
        for (Row r : rows) {
            nameWidth = Math.max(nameWidth, r.layer().toString().length());
        }
        int shapeWidth = Math.max("output".length(), inputShape.withoutBatch().toString().length());
        for (Row r : rows) {
            shapeWidth = Math.max(shapeWidth, r.imageShape().toString().length());
        }
        String fmt = "%3s  %-" + nameWidth + "s  %-" + shapeWidth + "s  %12s  %9s  %12s  %12s%n";
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, fmt, "#", "layer", "output", "weights", "biases", "parameters", "neurons"));
        sb.append(String.format(Locale.ROOT, fmt, "", "input (batch " + inputShape.dim(0) + ")",
                inputShape.withoutBatch(), "", "", "", ""));
        for (Row r : rows) {
            sb.append(String.format(Locale.ROOT, fmt, r.index(), r.layer(), r.imageShape(), n(r.weights()),
                    n(r.biases()), n(r.parameters()), n(r.neurons())));
        }
        sb.append(String.format(Locale.ROOT, fmt, "", "total", "", n(totalWeights()), n(totalBiases()),
                n(totalParameters()), ""));
        return sb.toString().lines().map(String::stripTrailing)
                .collect(java.util.stream.Collectors.joining("\n", "", "\n"));
    }

    private static String n(long v) {
        return String.format(Locale.ROOT, "%,d", v);
    }

    @Override
    public String toString() {
        return table();
    }
}
