package dev.convnet.train;

/**
 * Hooks into {@link Trainer#fit}: progress display, logging, checkpoints and early stopping are listeners, not loop
 * code. Every method has an empty default. A listener may call {@link Trainer#requestStop()} to end training after
 * the current epoch.
 *
 * <p>Thread-safety: called from the thread that runs {@code fit}.
 */
public interface TrainingListener {
    /** Before the first epoch that will run ({@code firstEpoch} &gt; 1 after a resume). */
    default void onFitStart(Trainer trainer, int firstEpoch, int epochs) {
    }

    /** Before an epoch's first batch. */
    default void onEpochStart(Trainer trainer, int epoch, int batches) {
    }

    /** After each training step, with the batch's loss and the epoch's running mean loss and accuracy. */
    default void onBatchEnd(Trainer trainer, int epoch, int batch, int batches, double loss, double meanLoss, double accuracy) {
    }

    /** After an epoch (and its validation). */
    default void onEpochEnd(Trainer trainer, EpochResult result) {
    }

    /** After the last epoch, or after a stop was requested. */
    default void onFitEnd(Trainer trainer, History history) {
    }
}
