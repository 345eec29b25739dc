package dev.convnet.train;

/**
 * What one epoch of {@link Trainer#fit} measured.
 *
 * @param epoch              the epoch, from 1
 * @param trainLoss          mean training loss over the epoch's batches (weighted by batch size)
 * @param trainAccuracy      fraction of training examples whose training-mode prediction was right
 * @param validationLoss     loss on the validation set in inference mode (NaN without one)
 * @param validationAccuracy accuracy on the validation set (NaN without one)
 * @param imagesPerSecond    training images per second (forward, backward and update; data preparation included)
 * @param seconds            wall time of the epoch's training steps
 * @param learningRate       the base learning rate at the epoch's last step
 *
 * <p>Thread-safety: immutable.
 */
public record EpochResult(int epoch, double trainLoss, double trainAccuracy, double validationLoss, double validationAccuracy,
                          double imagesPerSecond, double seconds, double learningRate) {
    /** One line: epoch, losses, accuracies, speed. */
    public String line() {
        return String.format(java.util.Locale.ROOT, "epoch %d: loss=%.4f accuracy=%.4f%s images/s=%.0f time=%.1fs lr=%.4g", epoch,
                trainLoss, trainAccuracy, Double.isNaN(validationLoss) ? ""
                        : String.format(java.util.Locale.ROOT, " val_loss=%.4f val_accuracy=%.4f", validationLoss, validationAccuracy),
                imagesPerSecond, seconds, learningRate);
    }
}
