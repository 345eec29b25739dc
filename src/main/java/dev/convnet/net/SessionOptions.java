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
 * @param profiling time every step of every run, for {@link Session#profile()} (one clock read per step and, on oneDNN,
 *                  a stream wait per primitive: slightly slower runs); off by default
 * @param precision the number format between the network's edges ({@link Precision#FP32} by default; see
 *                  {@link Precision#BF16} for what it needs and the error it adds)
 * @param precisionFallback what happens where {@code precision} cannot be had (another backend than oneDNN, or a CPU
 *                  without native bf16): {@code false} (the default) makes compiling fail with an
 *                  {@link UnsupportedOperationException} that says why; {@code true} logs the reason (System.Logger
 *                  {@code dev.convnet.net}, WARNING) and compiles in FP32 instead
 */
public record SessionOptions(BackendKind backend, int threads, boolean fusion, boolean channelsLast, boolean profiling,
                             Precision precision, boolean precisionFallback) {
    /** Options with NCHW input and output, profiling off. */
    public SessionOptions(BackendKind backend, int threads, boolean fusion) {
        this(backend, threads, fusion, false, false);
    }

    /** Options with profiling off. */
    public SessionOptions(BackendKind backend, int threads, boolean fusion, boolean channelsLast) {
        this(backend, threads, fusion, channelsLast, false);
    }

    /** Options in FP32. */
    public SessionOptions(BackendKind backend, int threads, boolean fusion, boolean channelsLast, boolean profiling) {
        this(backend, threads, fusion, channelsLast, profiling, Precision.FP32, false);
    }

    /** Checks {@code threads ≥ 1} and that a precision is given. */
    public SessionOptions {
        if (threads < 1) {
            throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
        }
        java.util.Objects.requireNonNull(precision, "precision");
    }

    /** The automatic backend, every core, fusion on, NCHW, profiling off. */
    public static SessionOptions defaults() {
        return new SessionOptions(null, Runtime.getRuntime().availableProcessors(), true);
    }

    /** These options with another backend ({@code null}: automatic). */
    public SessionOptions withBackend(BackendKind kind) {
        return new SessionOptions(kind, threads, fusion, channelsLast, profiling, precision, precisionFallback);
    }

    /** These options with another thread count. */
    public SessionOptions withThreads(int n) {
        return new SessionOptions(backend, n, fusion, channelsLast, profiling, precision, precisionFallback);
    }

    /** These options with fusion on or off. */
    public SessionOptions withFusion(boolean on) {
        return new SessionOptions(backend, threads, on, channelsLast, profiling, precision, precisionFallback);
    }

    /** These options with channels-last (NHWC) or NCHW input and output. */
    public SessionOptions withChannelsLast(boolean on) {
        return new SessionOptions(backend, threads, fusion, on, profiling, precision, precisionFallback);
    }

    /** These options with profiling on or off. */
    public SessionOptions withProfiling(boolean on) {
        return new SessionOptions(backend, threads, fusion, channelsLast, on, precision, precisionFallback);
    }

    /** These options computing in {@code p}; compiling fails where {@code p} cannot be had. */
    public SessionOptions withPrecision(Precision p) {
        return withPrecision(p, false);
    }

    /**
     * These options computing in {@code p}; where {@code p} cannot be had, compiling fails ({@code fallback} false) or
     * logs why and computes in FP32 ({@code fallback} true).
     */
    public SessionOptions withPrecision(Precision p, boolean fallback) {
        return new SessionOptions(backend, threads, fusion, channelsLast, profiling, p, fallback);
    }
}
