package dev.convnet.internal.exec;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.function.Function;

/**
 * A bounded cache of closeable values made on demand per key (compiled sessions per input shape), handed out as
 * leases: {@link #acquire} returns the value for a key, making it on the calling thread if it is missing (other
 * threads that want the same key meanwhile wait for it; other keys are not blocked), and the caller gives it back with
 * {@link Lease#close()}. Beyond {@code capacity} values the least recently used one is evicted, and closed as soon as no
 * lease on it is open, so eviction never waits for a run and never frees what a run uses. A value that failed to be
 * made is not cached: its waiters see the same exception, the next acquire tries again.
 *
 * <p>Thread-safe. Making a value happens outside the lock; closing evicted values happens outside it too.
 *
 * @param <K> the key (immutable, with equals and hashCode)
 * @param <V> the value
 */
public final class LeaseCache<K, V extends AutoCloseable> implements AutoCloseable {
    /** A value in use; close it to give it back. Not thread-safe (one per acquiring call). */
    public interface Lease<V> extends AutoCloseable {
        /** The value. */
        V value();

        /** Gives the value back (once). */
        @Override
        void close();
    }

    private final class Entry {
        final K key;
        V value;
        Throwable failure;
        boolean ready;
        boolean evicted;
        int leases;

        Entry(K key) {
            this.key = key;
        }
    }

    private final class Handle implements Lease<V> {
        private final Entry entry;
        private boolean closed;

        Handle(Entry entry) {
            this.entry = entry;
        }

        @Override
        public V value() {
            return entry.value;
        }

        @Override
        public void close() {
            if (closed) return;
            closed = true;
            release(entry);
        }
    }

    private final int capacity;
    private final Function<K, V> factory;
    /** Access order: the first entry is the least recently used. */
    private final LinkedHashMap<K, Entry> entries = new LinkedHashMap<>(16, 0.75f, true);
    private boolean closed;
    private long made;
    private long evictions;

    /**
     * @param capacity how many values to keep (≥ 1)
     * @param factory  makes the value for a key (called outside the lock; may throw)
     */
    public LeaseCache(int capacity, Function<K, V> factory) {
        if (capacity < 1) throw new IllegalArgumentException("capacity = " + capacity + " must be ≥ 1");
        this.capacity = capacity;
        this.factory = factory;
    }

    /**
     * The value for {@code key}, made now if it is not cached; close the lease when done.
     *
     * @throws IllegalStateException if the cache is closed
     * @throws RuntimeException      what making the value threw (for this call or the one it waited for)
     */
    public Lease<V> acquire(K key) {
        Entry e;
        boolean make = false;
        List<Entry> toClose = new ArrayList<>();
        synchronized (this) {
            if (closed) throw new IllegalStateException("closed");
            e = entries.get(key);
            if (e == null) {
                e = new Entry(key);
                entries.put(key, e);
                make = true;
                evictBeyondCapacity(toClose);
            }
            e.leases++;
        }
        closeAll(toClose);
        if (make) {
            V v;
            try {
                v = factory.apply(key);
            } catch (RuntimeException | Error t) {
                synchronized (this) {
                    e.failure = t;
                    e.ready = true;
                    e.leases--;
                    entries.remove(key, e);
                    notifyAll();
                }
                throw t;
            }
            synchronized (this) {
                e.value = v;
                e.ready = true;
                made++;
                notifyAll();
            }
        } else {
            synchronized (this) {
                boolean interrupted = false;
                while (!e.ready) {
                    try {
                        wait();
                    } catch (InterruptedException x) {
                        interrupted = true;
                    }
                }
                if (interrupted) Thread.currentThread().interrupt();
                if (e.failure != null) {
                    e.leases--;
                    if (e.failure instanceof RuntimeException r) throw r;
                    if (e.failure instanceof Error r) throw r;
                    throw new IllegalStateException(e.failure);
                }
            }
        }
        return new Handle(e);
    }

    /** Evicts least recently used entries while there are more than {@code capacity}; collects those to close now. */
    private void evictBeyondCapacity(List<Entry> toClose) {
        Iterator<Entry> it = entries.values().iterator();
        while (entries.size() > capacity && it.hasNext()) {
            Entry old = it.next();
            it.remove();
            old.evicted = true;
            evictions++;
            if (old.leases == 0 && old.ready) toClose.add(old);
        }
    }

    private void release(Entry e) {
        boolean close;
        synchronized (this) {
            e.leases--;
            close = e.evicted && e.leases == 0 && e.value != null;
        }
        if (close) closeAll(List.of(e));
    }

    private void closeAll(List<Entry> list) {
        RuntimeException first = null;
        for (Entry e : list) {
            V v;
            synchronized (this) {
                v = e.value;
                e.value = null;
            }
            if (v == null) continue;
            try {
                v.close();
            } catch (Exception x) {
                RuntimeException r = x instanceof RuntimeException re ? re : new IllegalStateException(x);
                if (first == null) first = r; else first.addSuppressed(r);
            }
        }
        if (first != null) throw first;
    }

    /** The cached keys, least recently used first. */
    public synchronized List<K> keys() {
        List<K> keys = new ArrayList<>();
        for (Entry e : entries.values()) if (e.ready && e.failure == null) keys.add(e.key);
        return keys;
    }

    /** How many values were made, and how many evicted, since the cache was created. */
    public synchronized long[] counts() {
        return new long[] {made, evictions};
    }

    /**
     * Closes every value; call when no lease is open any more (the owner has waited for its runs). Later acquires
     * throw. Idempotent.
     */
    @Override
    public void close() {
        List<Entry> all;
        synchronized (this) {
            if (closed) return;
            closed = true;
            all = new ArrayList<>(entries.values());
            entries.clear();
            for (Entry e : all) e.evicted = true;
        }
        closeAll(all);
    }
}
