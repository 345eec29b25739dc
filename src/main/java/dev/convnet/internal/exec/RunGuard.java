package dev.convnet.internal.exec;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Lets many threads run a session while one closes it, without a crash and without a lock on the run path.
 *
 * <p>{@link #enter()} counts a run in, or throws {@link IllegalStateException} if the session is closed;
 * {@link #exit()} counts it out. {@link #close()} marks the session closed, so that every later
 * {@code enter} fails, then waits until the runs already inside have left; only then may the caller free
 * native memory. No allocation on the run path.
 */
public final class RunGuard {
    private final AtomicInteger inFlight = new AtomicInteger();
    private final String what;
    private volatile boolean closed;

    /** @param what the guarded object, for the exception message (e.g. "session") */
    public RunGuard(String what) {
        this.what = what;
    }

    /** Counts a run in. @throws IllegalStateException if closed */
    public void enter() {
        inFlight.incrementAndGet();
        if (closed) {
            exit();
            throw new IllegalStateException(what + " is closed");
        }
    }

    /** Counts a run out; wakes a waiting {@link #close()} when the last one leaves. */
    public void exit() {
        if (inFlight.decrementAndGet() == 0 && closed) {
            synchronized (this) {
                notifyAll();
            }
        }
    }

    /** True once {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /**
     * Marks closed and waits for the runs in flight to finish.
     *
     * @return false if it was already closed (the caller then has nothing to free)
     */
    public boolean close() {
        synchronized (this) {
            if (closed) return false;
            closed = true;
            boolean interrupted = false;
            while (inFlight.get() > 0) {
                try {
                    wait(10);
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
            return true;
        }
    }
}
