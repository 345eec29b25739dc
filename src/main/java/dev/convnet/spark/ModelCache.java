package dev.convnet.spark;

import dev.convnet.internal.exec.LeaseCache;
import dev.convnet.net.BackendKind;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxModelSession;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.util.Objects;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;

/**
 * The models loaded in this JVM (a Spark executor; in local mode, the driver): one {@link OnnxModelSession} per
 * (SHA-256 of the model's bytes, backend, threads per run), loaded by the first task that needs it and shared by every
 * later task of every job in this JVM, so a model is read and compiled once per executor, not once per task or
 * partition. Each loaded model keeps its compiled shapes (one per batch size it has run at) as
 * {@link OnnxModelSession} does.
 *
 * <p>At most {@value #DEFAULT_CAPACITY} models are kept (system property {@value #CAPACITY_PROPERTY} on the executor);
 * beyond that the least recently used one is closed as soon as no task uses it. Every model is closed when the JVM
 * ends (a shutdown hook).
 *
 * <p>Thread-safe: tasks that want a model being loaded wait for that one load; other models are not blocked.
 */
public final class ModelCache {
    /** How many models one JVM keeps loaded by default. */
    public static final int DEFAULT_CAPACITY = 4;
    /** The system property that changes how many models one JVM keeps loaded. */
    public static final String CAPACITY_PROPERTY = "convnet.spark.cachedModels";
    /** Compiled shapes kept per model: a batch size and the powers of two below it that partition tails run at. */
    static final int SHAPES_PER_MODEL = 16;

    private static final Logger LOG = System.getLogger("dev.convnet.spark");

    /**
     * How this JVM's cache has been used since the JVM started.
     *
     * @param loads    models read and opened (a miss: the model's bytes were taken from the broadcast)
     * @param hits     requests served by a model already loaded
     * @param cached   models loaded now
     */
    public record Stats(long loads, long hits, int cached) {
    }

    /** A model's identity; {@code source} gives its bytes on a miss and takes no part in equality. */
    static final class Key {
        final String sha256;
        final BackendKind backend;
        final int threads;
        final Supplier<byte[]> source;

        Key(String sha256, BackendKind backend, int threads, Supplier<byte[]> source) {
            this.sha256 = Objects.requireNonNull(sha256, "sha256");
            this.backend = Objects.requireNonNull(backend, "backend");
            this.threads = threads;
            this.source = source;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof Key k && k.sha256.equals(sha256) && k.backend == backend && k.threads == threads;
        }

        @Override
        public int hashCode() {
            return Objects.hash(sha256, backend, threads);
        }
    }

    private static final class Holder {
        static final LeaseCache<Key, OnnxModelSession> CACHE = new LeaseCache<>(capacity(), ModelCache::load);
        static final LongAdder REQUESTS = new LongAdder();

        static {
            Thread hook = new Thread(CACHE::close, "convnet-model-cache-close");
            Runtime.getRuntime().addShutdownHook(hook);
        }
    }

    private ModelCache() {
    }

    /** This JVM's counts; loads and hits only grow. */
    public static Stats stats() {
        long loads = Holder.CACHE.counts()[0];
        return new Stats(loads, Holder.REQUESTS.sum() - loads, Holder.CACHE.keys().size());
    }

    /**
     * The model for this key, loaded now from {@code key.source} if this JVM does not hold it; close the lease when the
     * task is done with it.
     */
    static LeaseCache.Lease<OnnxModelSession> acquire(Key key) {
        LeaseCache.Lease<OnnxModelSession> lease = Holder.CACHE.acquire(key);
        Holder.REQUESTS.increment();
        return lease;
    }

    private static OnnxModelSession load(Key key) {
        long start = System.nanoTime();
        byte[] bytes = key.source.get();
        String actual = Sha256.hex(bytes);
        if (!actual.equals(key.sha256)) {
            throw new IllegalStateException("the model's bytes have SHA-256 " + actual + ", the driver sent " + key.sha256
                    + " (" + bytes.length + " bytes): the broadcast is damaged");
        }
        SessionOptions options = SessionOptions.defaults().withBackend(key.backend).withThreads(key.threads);
        OnnxModelSession model = OnnxModelSession.open(OnnxModelReader.read(bytes), options, SHAPES_PER_MODEL);
        LOG.log(Level.INFO, () -> String.format("loaded model %s (%d bytes) on %s, %d thread(s) per run, in %.0f ms",
                key.sha256.substring(0, 12), bytes.length, key.backend.name().toLowerCase(java.util.Locale.ROOT), key.threads,
                (System.nanoTime() - start) / 1e6));
        return model;
    }

    private static int capacity() {
        String v = System.getProperty(CAPACITY_PROPERTY);
        if (v == null || v.isBlank()) return DEFAULT_CAPACITY;
        try {
            int n = Integer.parseInt(v.strip());
            if (n >= 1) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new IllegalArgumentException("system property " + CAPACITY_PROPERTY + " = '" + v + "' must be an integer ≥ 1");
    }
}
