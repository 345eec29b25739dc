package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.dnnl_memory_desc_clone;
import static dev.convnet.onednn.bindings.dnnl_h.dnnl_memory_desc_destroy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * The constant operands (weights, biases, batch-norm statistics, constant tensors) of the oneDNN plans that one model
 * compiles for different input shapes, each held once per memory layout and shared by every plan that reads it in
 * that layout: keyed by (values, memory descriptor). A plan asks for a buffer ({@link #acquire}); when another plan
 * already holds the same values in the same layout, it gets that buffer, else the buffer is filled (reordered) once
 * and kept until the last plan holding it gives it back ({@link #release}).
 *
 * <p>Values are compared exactly: the candidate is laid out into a temporary buffer and compared byte for byte with
 * the held one (the hash only picks candidates), so equal-looking parameters are never confused. Buffers are read-only
 * for the primitives that use them (weights, biases, statistics, second operands of binary primitives).
 *
 * <p>Owned by the object that owns the plans (a model compiled per shape) and closed after every plan; closing frees
 * what is left. Thread-safe: plans compile concurrently; lookups, fills and releases are serialized.
 */
public final class WeightCache implements AutoCloseable {
    /** One held buffer: the values in the layout {@code md} (a clone owned here). */
    private static final class Entry {
        final long key;
        final MemorySegment md;
        final Arena arena;
        final MemorySegment buffer;
        int holders;

        Entry(long key, MemorySegment md, Arena arena, MemorySegment buffer) {
            this.key = key;
            this.md = md;
            this.arena = arena;
            this.buffer = buffer;
        }
    }

    private final Map<Long, List<Entry>> byKey = new HashMap<>();
    /** Entries by buffer address, so that {@link #release} finds them. */
    private final Map<MemorySegment, Entry> byBuffer = new IdentityHashMap<>();
    private long bytes;
    private long fills;
    private long hits;
    private boolean closed;

    /**
     * The buffer that holds {@code values} in the layout {@code md}, shared with every plan that asked for the same;
     * {@code fill} writes the values in that layout into a buffer of {@code MemoryFormats.bytes(md)} bytes (it is called
     * for a new entry and, to compare exactly, for a candidate). The caller gives the buffer back with
     * {@link #release} when its plan is freed.
     *
     * @throws IllegalStateException if the cache is closed
     */
    public synchronized MemorySegment acquire(float[] values, MemorySegment md, Consumer<MemorySegment> fill) {
        if (closed) throw new IllegalStateException("weight cache is closed");
        long size = MemoryFormats.bytes(md);
        long key = hash(values) * 31 + size;
        List<Entry> candidates = byKey.computeIfAbsent(key, k -> new ArrayList<>());
        Arena arena = Arena.ofShared();
        try {
            MemorySegment filled = arena.allocate(Math.max(size, 64), 64);
            fill.accept(filled);
            for (Entry e : candidates) {
                if (MemoryFormats.same(e.md, md) && e.buffer.byteSize() == filled.byteSize() && e.buffer.mismatch(filled) < 0) {
                    e.holders++;
                    hits++;
                    arena.close();
                    return e.buffer;
                }
            }
            Entry e = new Entry(key, clone(md), arena, filled);
            e.holders = 1;
            candidates.add(e);
            byBuffer.put(filled, e);
            bytes += filled.byteSize();
            fills++;
            return filled;
        } catch (RuntimeException | Error t) {
            if (arena.scope().isAlive()) arena.close();
            if (candidates.isEmpty()) byKey.remove(key);
            throw t;
        }
    }

    /** Gives back buffers from {@link #acquire}; a buffer no plan holds any more is freed. Idempotent after close. */
    public synchronized void release(List<MemorySegment> buffers) {
        if (closed) return;
        for (MemorySegment b : buffers) {
            Entry e = byBuffer.get(b);
            if (e == null) throw new IllegalStateException("buffer " + b + " is not held by this cache");
            if (--e.holders > 0) continue;
            byBuffer.remove(b);
            List<Entry> list = byKey.get(e.key);
            list.remove(e);
            if (list.isEmpty()) byKey.remove(e.key);
            free(e);
        }
    }

    /** Bytes of native memory the held buffers take. */
    public synchronized long bytes() {
        return bytes;
    }

    /** How many buffers are held. */
    public synchronized int size() {
        return byBuffer.size();
    }

    /** How many requests were answered with a buffer already held (the reorders saved). */
    public synchronized long hits() {
        return hits;
    }

    /** How many buffers were filled (reordered or copied) since the cache was made. */
    public synchronized long fills() {
        return fills;
    }

    private void free(Entry e) {
        bytes -= e.buffer.byteSize();
        try {
            Dnnl.check("dnnl_memory_desc_destroy", dnnl_memory_desc_destroy(e.md));
        } finally {
            e.arena.close();
        }
    }

    private static MemorySegment clone(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment slot = a.allocate(ValueLayout.ADDRESS);
            Dnnl.check("dnnl_memory_desc_clone", dnnl_memory_desc_clone(slot, md));
            return slot.get(ValueLayout.ADDRESS, 0);
        }
    }

    /** A 64-bit hash of the values' bits (only to pick candidates; equality is checked byte for byte). */
    private static long hash(float[] values) {
        long h = 0x9E3779B97F4A7C15L ^ values.length;
        for (float v : values) {
            h = (h ^ Float.floatToRawIntBits(v)) * 0xBF58476D1CE4E5B9L;
            h ^= h >>> 29;
        }
        return h;
    }

    /** Frees every buffer still held. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        for (Entry e : byBuffer.values()) {
            try {
                free(e);
            } catch (RuntimeException x) {
                if (first == null) first = x; else first.addSuppressed(x);
            }
        }
        byBuffer.clear();
        byKey.clear();
        if (first != null) throw first;
    }
}
