package dev.convnet.train;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Shows training progress: on a terminal a progress bar per epoch (the {@code me.tongfei:progressbar} library) with the
 * running loss and accuracy; without one (a log file, CI) plain lines, at most {@code linesPerEpoch} per epoch; and
 * after every epoch its {@link EpochResult#line()}.
 *
 * <p>Thread-safety: not thread-safe (the trainer calls it from one thread).
 */
public final class ProgressListener implements TrainingListener {
    private final PrintStream out;
    private final boolean terminal;
    private final int linesPerEpoch;
    private ProgressBar bar;

    /** Progress on standard output: a bar when it is a terminal, else 4 lines per epoch. */
    public ProgressListener() {
        this(System.out, System.console() != null && System.console().isTerminal(), 4);
    }

    /**
     * Progress on {@code out}.
     *
     * @param terminal      draw a progress bar (else plain lines)
     * @param linesPerEpoch plain lines per epoch without a terminal (0: only the epoch summary)
     */
    public ProgressListener(PrintStream out, boolean terminal, int linesPerEpoch) {
        this.out = out;
        this.terminal = terminal;
        this.linesPerEpoch = linesPerEpoch;
    }

    @Override
    public void onEpochStart(Trainer trainer, int epoch, int batches) {
        if (terminal) {
            bar = new ProgressBarBuilder().setTaskName("epoch " + epoch).setInitialMax(batches).setStyle(ProgressBarStyle.ASCII)
                    .setUpdateIntervalMillis(200).continuousUpdate().setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(out))
                    .build();
        }
    }

    @Override
    public void onBatchEnd(Trainer trainer, int epoch, int batch, int batches, double loss, double meanLoss, double accuracy) {
        String extra = String.format(Locale.ROOT, "loss=%.4f acc=%.4f", meanLoss, accuracy);
        if (bar != null) {
            bar.stepTo(batch);
            bar.setExtraMessage(extra);
        } else if (linesPerEpoch > 0 && batch < batches && (long) batch * linesPerEpoch / batches != (long) (batch - 1) * linesPerEpoch / batches) {
            out.println("epoch " + epoch + " [" + batch + "/" + batches + "] " + extra);
        }
    }

    @Override
    public void onEpochEnd(Trainer trainer, EpochResult result) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
        out.println(result.line());
    }

    @Override
    public void onFitEnd(Trainer trainer, History history) {
        if (bar != null) {
            bar.close();
            bar = null;
        }
    }
}
