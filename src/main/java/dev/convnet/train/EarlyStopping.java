package dev.convnet.train;

/**
 * Stops training when the validation loss has not improved by more than {@code minDelta} for {@code patience} epochs,
 * and optionally puts back the parameter values of the best epoch when training ends.
 *
 * <p>Thread-safety: not thread-safe; one trainer.
 */
public final class EarlyStopping implements TrainingListener, AutoCloseable {
    private final int patience;
    private final double minDelta;
    private final boolean restoreBest;
    private double best = Double.POSITIVE_INFINITY;
    private int bestEpoch;
    private int waited;
    private ParameterSet bestValues;

    /**
     * @param patience    epochs without improvement before stopping (≥ 1)
     * @param minDelta    the smallest decrease of the validation loss that counts as an improvement (≥ 0)
     * @param restoreBest whether to copy the best epoch's values back when training ends
     */
    public EarlyStopping(int patience, double minDelta, boolean restoreBest) {
        if (patience < 1) throw new IllegalArgumentException("patience " + patience + " must be ≥ 1");
        if (!(minDelta >= 0)) throw new IllegalArgumentException("minDelta " + minDelta + " must be ≥ 0");
        this.patience = patience;
        this.minDelta = minDelta;
        this.restoreBest = restoreBest;
    }

    /** The epoch with the lowest validation loss so far (0 before any). */
    public int bestEpoch() {
        return bestEpoch;
    }

    @Override
    public void onEpochEnd(Trainer trainer, EpochResult result) {
        double v = result.validationLoss();
        if (Double.isNaN(v)) throw new IllegalStateException("early stopping needs a validation set: fit(train, validation, epochs)");
        if (v < best - minDelta) {
            best = v;
            bestEpoch = result.epoch();
            waited = 0;
            if (restoreBest) {
                if (bestValues != null) bestValues.close();
                bestValues = trainer.parameters().copy();
            }
        } else if (++waited >= patience) {
            trainer.requestStop();
        }
    }

    @Override
    public void onFitEnd(Trainer trainer, History history) {
        if (restoreBest && bestValues != null) trainer.parameters().copyValuesFrom(bestValues);
    }

    /** Frees the copy of the best values. */
    @Override
    public void close() {
        if (bestValues != null) bestValues.close();
        bestValues = null;
    }
}
