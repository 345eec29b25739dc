package dev.convnet.internal.exec;

import dev.convnet.onednn.OneDnn;
import dev.convnet.onednn.bindings.dnnl_h;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * For tests that measure malloc'd memory: oneDNN's primitive cache holds the primitives of the tests that ran before
 * in this JVM, and new primitives would evict (free) them inside a measurement. {@link #emptiedDuring} runs a
 * measurement with the cache emptied and restores its capacity after.
 */
public final class PrimitiveCache {
    /** A measurement that may throw. */
    public interface Measurement {
        void run() throws Throwable;
    }

    private PrimitiveCache() {
    }

    /** Runs {@code m} with oneDNN's primitive cache at capacity 0, then restores the capacity. */
    public static void emptiedDuring(Measurement m) throws Throwable {
        OneDnn.require();
        int capacity;
        try (Arena a = Arena.ofConfined()) {
            MemorySegment c = a.allocate(ValueLayout.JAVA_INT);
            dnnl_h.dnnl_get_primitive_cache_capacity(c);
            capacity = c.get(ValueLayout.JAVA_INT, 0);
        }
        dnnl_h.dnnl_set_primitive_cache_capacity(0);
        try {
            m.run();
        } finally {
            dnnl_h.dnnl_set_primitive_cache_capacity(capacity);
        }
    }
}
