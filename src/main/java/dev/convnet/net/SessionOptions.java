package dev.convnet.net;

/**
 * How {@link Network#compile(dev.convnet.shape.Shape, SessionOptions)} prepares a session.
 *
 * <p>Immutable and thread-safe.
 *
 * @param backend the backend, or {@code null} for the automatic choice ({@link Backends#resolve})
 * @param threads threads per run: oneDNN's OpenMP threads on the calling thread, or the Java backend's
 *                workers. All cores minimizes latency; 1 per run maximizes throughput when a service runs many
 *                sessions or many concurrent calls, and never oversubscribes the machine.
 * @param fusion  on oneDNN, fold batch normalization into the preceding convolution and fuse following
 *                activations as post-ops; off runs every layer as its own primitive (for comparison)
 * @param channelsLast the caller's 4-D input and output tensors are laid out N, H, W, C (channels last, as
 *                images usually come) instead of N, C, H, W; shapes are still given as [N, C, H, W]. On oneDNN this
 *                spares the reorders at the network's edges when its primitives choose that layout themselves.
 */
public record SessionOptions(BackendKind backend, int threads, boolean fusion, boolean channelsLast) {
    /** Options with NCHW input and output. */
    public SessionOptions(BackendKind backend, int threads, boolean fusion) {
        this(backend, threads, fusion, false);
    }

    /** Checks {@code threads ≥ 1}. */
    public SessionOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
        }
    }

    /** The automatic backend, every core, fusion on. */
    public static SessionOptions defaults() {
        return new SessionOptions(null, Runtime.getRuntime().availableProcessors(), true);
    }

    /** These options with another backend ({@code null}: automatic). */
    public SessionOptions withBackend(BackendKind kind) {
        return new SessionOptions(kind, threads, fusion, channelsLast);
    }

    /** These options with another thread count. */
    public SessionOptions withThreads(int n) {
        return new SessionOptions(backend, n, fusion, channelsLast);
    }

    /** These options with fusion on or off. */
    public SessionOptions withFusion(boolean on) {
        return new SessionOptions(backend, threads, on, channelsLast);
    }

    /** These options with channels-last (NHWC) or NCHW input and output. */
    public SessionOptions withChannelsLast(boolean on) {
        return new SessionOptions(backend, threads, fusion, on);
    }
}
