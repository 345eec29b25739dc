package dev.convnet.internal.exec;

import dev.convnet.net.Profile;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The time each step of a session's plan took, summed over runs, for {@link dev.convnet.net.Session#profile()}. A
 * backend's run adds each step's time ({@link #add}) and counts the run ({@link #run()}); no allocation there.
 *
 * <p>Thread-safe: concurrent runs add into atomic counters.
 */
public final class StepTimes {
    private final String[] names;
    private final String[] kinds;
    private final String[] implementations;
    private final AtomicLongArray nanos;
    private final AtomicLongArray calls;
    private final AtomicLong runs = new AtomicLong();

    /** One entry per step, in execution order. */
    public StepTimes(List<String> names, List<String> kinds, List<String> implementations) {
        this.names = names.toArray(String[]::new);
        this.kinds = kinds.toArray(String[]::new);
        this.implementations = implementations.toArray(String[]::new);
        this.nanos = new AtomicLongArray(this.names.length);
        this.calls = new AtomicLongArray(this.names.length);
    }

    /** Step {@code step} ran once and took {@code elapsed} nanoseconds. */
    public void add(int step, long elapsed) {
        nanos.addAndGet(step, elapsed);
        calls.incrementAndGet(step);
    }

    /** One run finished. */
    public void run() {
        runs.incrementAndGet();
    }

    /** The times so far. */
    public Profile snapshot() {
        List<Profile.Step> steps = new ArrayList<>(names.length);
        for (int i = 0; i < names.length; i++) {
            steps.add(new Profile.Step(names[i], kinds[i], implementations[i], calls.get(i), nanos.get(i)));
        }
        return new Profile(runs.get(), steps);
    }
}
