package dev.convnet.train;

import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;

import java.io.IOException;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;

/**
 * The epochs of a training run, in order: written as CSV ({@link #writeCsv}) and as a PNG chart of the loss and
 * accuracy curves ({@link #writeChart}, drawn with XChart).
 *
 * <p>Thread-safety: not thread-safe (the trainer appends to it).
 */
public final class History {
    private final List<EpochResult> epochs = new ArrayList<>();

    /** An empty history. */
    public History() {
    }

    void add(EpochResult r) {
        epochs.add(r);
    }

    /** The epochs so far. */
    public List<EpochResult> epochs() {
        return Collections.unmodifiableList(epochs);
    }

    /** The last epoch. @throws IllegalStateException if there is none */
    public EpochResult last() {
        if (epochs.isEmpty()) throw new IllegalStateException("no epoch has run");
        return epochs.getLast();
    }

    /** The CSV text: a header line, then one line per epoch. */
    public String csv() {
        StringBuilder sb = new StringBuilder("epoch,train_loss,train_accuracy,validation_loss,validation_accuracy,images_per_second,seconds,learning_rate\n");
        for (EpochResult r : epochs) {
            sb.append(String.format(Locale.ROOT, "%d,%.6f,%.6f,%s,%s,%.1f,%.3f,%.6g%n", r.epoch(), r.trainLoss(), r.trainAccuracy(),
                    num(r.validationLoss()), num(r.validationAccuracy()), r.imagesPerSecond(), r.seconds(), r.learningRate()));
        }
        return sb.toString();
    }

    private static String num(double v) {
        return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.6f", v);
    }

    /** Writes {@link #csv()} to {@code file} (temporary name, then renamed). */
    public void writeCsv(Path file) throws IOException {
        AtomicFiles.write(file, out -> {
            Writer w = new OutputStreamWriter(out, StandardCharsets.UTF_8);
            w.write(csv());
            w.flush();
        });
    }

    /**
     * Draws the loss (left) and accuracy (right) per epoch, training and validation, into one PNG (temporary name, then
     * renamed).
     */
    public void writeChart(Path file, String title) throws IOException {
        double[] x = epochs.stream().mapToDouble(EpochResult::epoch).toArray();
        XYChart loss = chart(title + ": loss", "loss");
        XYChart accuracy = chart(title + ": accuracy", "accuracy");
        if (x.length > 0) {
            series(loss, "training", x, epochs.stream().mapToDouble(EpochResult::trainLoss).toArray());
            series(accuracy, "training", x, epochs.stream().mapToDouble(EpochResult::trainAccuracy).toArray());
            if (epochs.stream().noneMatch(r -> Double.isNaN(r.validationLoss()))) {
                series(loss, "validation", x, epochs.stream().mapToDouble(EpochResult::validationLoss).toArray());
                series(accuracy, "validation", x, epochs.stream().mapToDouble(EpochResult::validationAccuracy).toArray());
            }
        }
        java.awt.image.BufferedImage left = BitmapEncoder.getBufferedImage(loss);
        java.awt.image.BufferedImage right = BitmapEncoder.getBufferedImage(accuracy);
        java.awt.image.BufferedImage both = new java.awt.image.BufferedImage(left.getWidth() + right.getWidth(),
                Math.max(left.getHeight(), right.getHeight()), java.awt.image.BufferedImage.TYPE_INT_RGB);
        java.awt.Graphics2D g = both.createGraphics();
        g.drawImage(left, 0, 0, null);
        g.drawImage(right, left.getWidth(), 0, null);
        g.dispose();
        AtomicFiles.write(file, out -> javax.imageio.ImageIO.write(both, "png", out));
    }

    private static XYChart chart(String title, String y) {
        XYChart c = new XYChartBuilder().width(560).height(400).title(title).xAxisTitle("epoch").yAxisTitle(y).build();
        c.getStyler().setChartBackgroundColor(java.awt.Color.WHITE);
        c.getStyler().setLegendPosition(y.equals("loss") ? org.knowm.xchart.style.Styler.LegendPosition.InsideNE
                : org.knowm.xchart.style.Styler.LegendPosition.InsideSE);
        return c;
    }

    private static void series(XYChart c, String name, double[] x, double[] y) {
        XYSeries s = c.addSeries(name, x, y);
        s.setMarker(org.knowm.xchart.style.markers.SeriesMarkers.CIRCLE);
    }
}
