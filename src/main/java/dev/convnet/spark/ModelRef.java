package dev.convnet.spark;

import dev.convnet.internal.exec.LeaseCache;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.onnx.OnnxModelSession;

import java.io.Serial;
import java.io.Serializable;
import java.util.Objects;
import org.apache.spark.broadcast.Broadcast;

/**
 * What a task needs to find its model: the broadcast bytes, their SHA-256 (computed once, on the driver), the backend
 * and the threads per run. Serialized into every task (a few hundred bytes; the bytes themselves travel once per
 * executor through the broadcast, and only on a cache miss).
 *
 * <p>Immutable and thread-safe.
 */
final class ModelRef implements Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final Broadcast<byte[]> bytes;
    private final String sha256;
    /** null: the executor's automatic choice. */
    private final BackendKind backend;
    private final int threads;

    ModelRef(Broadcast<byte[]> bytes, String sha256, BackendKind backend, int threads) {
        this.bytes = Objects.requireNonNull(bytes, "bytes");
        this.sha256 = Objects.requireNonNull(sha256, "sha256");
        this.backend = backend;
        if (threads < 1) throw new IllegalArgumentException("threads = " + threads + " must be ≥ 1");
        this.threads = threads;
    }

    /** The model, from this JVM's {@link ModelCache}. */
    LeaseCache.Lease<OnnxModelSession> acquire() {
        Broadcast<byte[]> b = bytes;
        return ModelCache.acquire(new ModelCache.Key(sha256, Backends.resolve(backend), threads, b::value));
    }

    String sha256() {
        return sha256;
    }

    int threads() {
        return threads;
    }

    BackendKind backend() {
        return backend;
    }
}
