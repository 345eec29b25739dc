package dev.convnet.train;

import dev.convnet.net.BackendKind;

/**
 * How a {@link TrainingSession} is compiled: the backend ({@code null}: chosen as for inference, oneDNN when it
 * loads), the number of threads, whether gradients with respect to the graph inputs are computed too (for gradient
 * checks), and the seed of random draws (dropout masks; reset per step by {@link TrainingSession#reseed}).
 *
 * @param backend        the backend, or null for the automatic choice
 * @param threads        worker threads (≥ 1)
 * @param inputGradients whether {@link TrainingSession#inputGradients()} is computed
 * @param seed           the initial seed of random draws
 *
 * <p>Thread-safety: immutable.
 */
public record TrainingOptions(BackendKind backend, int threads, boolean inputGradients, long seed) {
    /** Checks the thread count. */
    public TrainingOptions {
        if (threads < 1) throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
    }

    /** The automatic backend, every core, no input gradients, seed 0. */
    public static TrainingOptions defaults() {
        return new TrainingOptions(null, Runtime.getRuntime().availableProcessors(), false, 0);
    }

    /** These options on {@code backend}. */
    public TrainingOptions withBackend(BackendKind backend) {
        return new TrainingOptions(backend, threads, inputGradients, seed);
    }

    /** These options with {@code threads} threads. */
    public TrainingOptions withThreads(int threads) {
        return new TrainingOptions(backend, threads, inputGradients, seed);
    }

    /** These options, computing gradients with respect to the inputs or not. */
    public TrainingOptions withInputGradients(boolean inputGradients) {
        return new TrainingOptions(backend, threads, inputGradients, seed);
    }

    /** These options with another seed. */
    public TrainingOptions withSeed(long seed) {
        return new TrainingOptions(backend, threads, inputGradients, seed);
    }
}
