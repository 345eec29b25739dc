package dev.convnet.internal.jvm;

import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RecursiveAction;
import java.util.function.IntConsumer;

/**
 * Runs {@code count} independent tasks on a private {@link ForkJoinPool}, or on the calling
 * thread when there is one worker; and carries the {@link FloatKernels} those tasks run, so that one backend
 * instance uses one implementation throughout. Internal.
 *
 * <p>Thread-safety: {@link #forEach} may be called from several threads at once.
 */
final class Parallel implements AutoCloseable {
    private final ForkJoinPool pool;
    private final int threads;
    private final FloatKernels kernels;

    /** {@code threads} workers and the kernels {@link Vectorization} chose for this JVM. */
    Parallel(int threads) {
        this(threads, Vectorization.kernels());
    }

    /** {@code threads} workers and the given kernels (tests pick each implementation this way). */
    Parallel(int threads, FloatKernels kernels) {
        this.threads = threads;
        this.kernels = kernels;
        this.pool = threads > 1 ? new ForkJoinPool(threads) : null;
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
        pool.invoke(new Range(body, 0, count));
    }

    @Override
    public void close() {
        if (pool != null) {
            pool.shutdown();
        }
    }

    private static final class Range extends RecursiveAction {
        private final transient IntConsumer body;
        private final int from;
        private final int to;

        Range(IntConsumer body, int from, int to) {
            this.body = body;
            this.from = from;
            this.to = to;
        }

        @Override
        protected void compute() {
            if (to - from == 1) {
                body.accept(from);
                return;
            }
            int mid = (from + to) >>> 1;
            invokeAll(new Range(body, from, mid), new Range(body, mid, to));
        }
    }
}
