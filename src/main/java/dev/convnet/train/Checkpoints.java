package dev.convnet.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;

/**
 * Saves a checkpoint ({@link Trainer#saveCheckpoint}) after every epoch to one file, replaced atomically, so an
 * interrupted run resumes from its last finished epoch with {@link Trainer#resume}.
 *
 * <p>Thread-safety: immutable.
 */
public final class Checkpoints implements TrainingListener {
    private final Path file;

    /** Checkpoints to {@code file}. */
    public Checkpoints(Path file) {
        this.file = file;
    }

    @Override
    public void onEpochEnd(Trainer trainer, EpochResult result) {
        try {
            trainer.saveCheckpoint(file);
        } catch (IOException e) {
            throw new UncheckedIOException("checkpoint after epoch " + result.epoch() + " to " + file + ": " + e.getMessage(), e);
        }
    }
}
