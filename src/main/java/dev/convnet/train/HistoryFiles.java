package dev.convnet.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Writes the history as CSV and as a PNG chart of the loss and accuracy curves after every epoch (each file replaced
 * atomically), so they are current even if training is interrupted.
 *
 * <p>Thread-safety: immutable.
 */
public final class HistoryFiles implements TrainingListener {
    private final Path csv;
    private final Path chart;
    private final String title;

    /** CSV to {@code csv} and the chart to {@code chart} (either may be null), titled {@code title}. */
    public HistoryFiles(Path csv, Path chart, String title) {
        this.csv = csv;
        this.chart = chart;
        this.title = title;
    }

    @Override
    public void onEpochEnd(Trainer trainer, EpochResult result) {
        try {
            if (csv != null) trainer.history().writeCsv(csv);
            if (chart != null) trainer.history().writeChart(chart, title);
        } catch (IOException e) {
            throw new UncheckedIOException("history after epoch " + result.epoch() + ": " + e.getMessage(), e);
        }
    }
}
