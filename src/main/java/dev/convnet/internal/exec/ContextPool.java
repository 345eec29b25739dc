package dev.convnet.internal.exec;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * Execution contexts (stream, scratchpad, activation buffers) handed out one per concurrent run.
 *
 * <p>A run takes a free context or, when every context is in use, creates a new one; it gives it back
 * afterwards. In steady state {@link #acquire()} and {@link #release} are a CAS on a slot each and allocate
 * nothing. At most {@code capacity} idle contexts are kept; extra ones are disposed on release. Thread-safe.
 *
 * @param <T> the context type
 */
public final class ContextPool<T> {
    private final AtomicReferenceArray<T> idle;
    private final Supplier<T> factory;
    private final Consumer<T> disposer;
    private final List<T> all = new ArrayList<>();

    /**
     * @param capacity how many idle contexts to keep
     * @param factory creates a context
     * @param disposer frees one
     */
    public ContextPool(int capacity, Supplier<T> factory, Consumer<T> disposer) {
        this.idle = new AtomicReferenceArray<>(capacity);
        this.factory = factory;
        this.disposer = disposer;
    }

    /** A context for the calling run's exclusive use. */
    public T acquire() {
        for (int i = 0; i < idle.length(); i++) {
            T t = idle.get(i);
            if (t != null && idle.compareAndSet(i, t, null)) return t;
        }
        T created = factory.get();
        synchronized (all) {
            all.add(created);
        }
        return created;
    }

    /** Gives a context back. */
    public void release(T t) {
        for (int i = 0; i < idle.length(); i++) {
            if (idle.get(i) == null && idle.compareAndSet(i, null, t)) return;
        }
        synchronized (all) {
            all.remove(t);
        }
        disposer.accept(t);
    }

    /** How many contexts exist now (idle or in use). */
    public int size() {
        synchronized (all) {
            return all.size();
        }
    }

    /** Disposes every context; call only when no run is in flight. */
    public void disposeAll() {
        synchronized (all) {
            for (T t : all) disposer.accept(t);
            all.clear();
        }
        for (int i = 0; i < idle.length(); i++) idle.set(i, null);
    }
}
