package dev.convnet.net;

/**
 * Which implementation runs a compiled network.
 *
 * <p>Thread-safety: enum constants are immutable.
 */
public enum BackendKind {
    /** oneDNN through the FFM API (native, fastest). */
    ONEDNN,
    /** Pure-Java kernels: im2col + cache-blocked SGEMM, parallel; the fallback when oneDNN is missing. */
    JAVA,
    /** The lecture's equations as plain loops with double accumulation; slow, the test oracle. */
    REFERENCE
}
