package dev.convnet.internal.jvm;

import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.locks.LockSupport;
import java.util.function.IntConsumer;

/**
 * Runs {@code count} independent tasks on the calling thread and up to {@code threads − 1} helpers on a private
 * {@link ForkJoinPool}, and carries the {@link FloatKernels} those tasks run, so that one backend instance uses one
 * implementation throughout. Internal.
 *
 * <p>Tasks are handed out one index at a time from a shared counter, and the calling thread takes them too, so a
 * call never waits for a helper before work starts. A helper that runs out of tasks polls for the next call's tasks
 * for {@value #SPIN_NANOS} ns before it returns to the pool: layers run back to back, and a helper that had to be
 * woken (and, on a busy machine, wait for a core) for every call mostly arrived after the caller had done all the
 * work (measured on a loaded 2-core machine: a 4-task convolution ran all four tasks on one thread in most calls).
 * The call returns when every task has finished; the first exception a task throws is rethrown by the call, after
 * the tasks already running have finished, and tasks not yet started are skipped.
 *
 * <p>Thread-safety: {@link #forEach} may be called from several threads at once, and from inside a task.
 */
final class Parallel implements AutoCloseable {
    /** How long a helper without tasks polls for more before it leaves. */
    static final long SPIN_NANOS = 200_000;

    private final ForkJoinPool pool;
    private final int threads;
    private final FloatKernels kernels;
    /** Calls whose tasks are not all handed out yet. */
    private final ConcurrentLinkedQueue<Batch> open = new ConcurrentLinkedQueue<>();
    /** Helpers running or polling. */
    private final AtomicInteger helpers = new AtomicInteger();
    private final Runnable helper = this::help;

    /** {@code threads} threads (the caller and {@code threads − 1} helpers) and the kernels {@link Vectorization} chose. */
    Parallel(int threads) {
        this(threads, Vectorization.kernels());
    }

    /** {@code threads} threads and the given kernels (tests pick each implementation this way). */
    Parallel(int threads, FloatKernels kernels) {
        this.threads = threads;
        this.kernels = kernels;
        this.pool = threads > 1 ? new ForkJoinPool(threads - 1) : null;
    }

    int threads() {
        return threads;
    }

    /** The inner loops: Vector API or scalar. */
    FloatKernels kernels() {
        return kernels;
    }

    void forEach(int count, IntConsumer body) {
        if (pool == null || count <= 1) {
            for (int i = 0; i < count; i++) {
                body.accept(i);
            }
            return;
        }
        Batch batch = new Batch(count, body, Thread.currentThread());
        open.add(batch);
        int wanted = Math.min(threads - 1, count - 1);
        for (int h = helpers.get(); h < wanted; h = helpers.get()) {
            if (helpers.compareAndSet(h, h + 1)) {
                pool.execute(helper);
            }
        }
        batch.run();
        open.remove(batch);
        batch.await();
    }

    /** A helper: runs the open calls' tasks, polls for {@link #SPIN_NANOS} when there are none, then leaves. */
    private void help() {
        try {
            long idleSince = System.nanoTime();
            while (System.nanoTime() - idleSince < SPIN_NANOS) {
                Batch b = open.peek();
                if (b == null) {
                    Thread.onSpinWait();
                    continue;
                }
                b.run();
                open.remove(b);
                idleSince = System.nanoTime();
            }
        } finally {
            helpers.decrementAndGet();
        }
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }

    /** One {@link #forEach} call: the next index to hand out, how many have finished, the first failure. */
    private static final class Batch implements Runnable {
        private final int count;
        private final IntConsumer body;
        private final Thread caller;
        private final AtomicInteger next = new AtomicInteger();
        private final AtomicInteger finished = new AtomicInteger();
        private final AtomicReference<Throwable> failure = new AtomicReference<>();

        Batch(int count, IntConsumer body, Thread caller) {
            this.count = count;
            this.body = body;
            this.caller = caller;
        }

        /** Takes and runs tasks until none is left to take. */
        @Override
        public void run() {
            for (int i = next.getAndIncrement(); i < count; i = next.getAndIncrement()) {
                try {
                    if (failure.get() == null) {
                        body.accept(i);
                    }
                } catch (Throwable t) {
                    failure.compareAndSet(null, t);
                } finally {
                    if (finished.incrementAndGet() == count) {
                        LockSupport.unpark(caller);
                    }
                }
            }
        }

        /** On the calling thread: until every task has finished; then rethrows the first failure. */
        void await() {
            while (finished.get() < count) {
                LockSupport.park(this);
            }
            Throwable t = failure.get();
            if (t instanceof RuntimeException e) {
                throw e;
            }
            if (t instanceof Error e) {
                throw e;
            }
            if (t != null) {
                throw new IllegalStateException("a parallel task failed", t);
            }
        }
    }
}
