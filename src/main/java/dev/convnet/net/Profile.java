package dev.convnet.net;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where the time of a session's runs went, per step of its plan: on oneDNN each primitive (reorders included) and each
 * Java kernel step, on the Java and reference backends each node. Made by {@link Session#profile()} for sessions
 * compiled with {@link SessionOptions#withProfiling(boolean) profiling} on; a snapshot, not updated afterwards.
 *
 * <p>Each step is timed on the calling thread around its execution (on oneDNN, until the stream has finished it), so
 * the steps add up to slightly less than a run's wall time; a run with profiling on is a little slower than one
 * without (one clock read and, on oneDNN, one stream wait per step).
 *
 * <p>Immutable and thread-safe.
 *
 * @param runs  how many runs were timed
 * @param steps every step of the plan, in execution order
 */
public record Profile(long runs, List<Step> steps) {
    /** The profile of a session that does not profile. */
    public static final Profile EMPTY = new Profile(0, List.of());

    /**
     * One step.
     *
     * @param name           what it computes (the node or layer, with its fused operations)
     * @param kind           the primitive kind ({@code convolution}, {@code reorder}, …) or the layer kind on the Java
     *                       backends
     * @param implementation the implementation (oneDNN's, e.g. {@code brg_conv_fwd:avx512_core}, or the backend's)
     * @param calls          how many times it ran
     * @param nanos          its total time in nanoseconds
     */
    public record Step(String name, String kind, String implementation, long calls, long nanos) {
    }

    /** Copies the list. */
    public Profile {
        steps = List.copyOf(steps);
    }

    /** Whether nothing was timed (profiling off, or no run yet). */
    public boolean isEmpty() {
        return runs == 0;
    }

    /**
     * The runs since {@code earlier}, an earlier profile of the same session (for example to leave warm-up runs out).
     *
     * @throws IllegalArgumentException if {@code earlier} has other steps
     */
    public Profile since(Profile earlier) {
        if (earlier.steps().isEmpty()) return this;
        if (earlier.steps().size() != steps.size()) {
            throw new IllegalArgumentException("the earlier profile has " + earlier.steps().size() + " steps, this one " + steps.size());
        }
        List<Step> out = new ArrayList<>(steps.size());
        for (int i = 0; i < steps.size(); i++) {
            Step s = steps.get(i);
            Step e = earlier.steps().get(i);
            if (!s.name().equals(e.name())) throw new IllegalArgumentException("step " + i + " differs: " + e.name() + " vs " + s.name());
            out.add(new Step(s.name(), s.kind(), s.implementation(), s.calls() - e.calls(), s.nanos() - e.nanos()));
        }
        return new Profile(runs - earlier.runs(), out);
    }

    /** The total time of every step, in nanoseconds. */
    public long totalNanos() {
        return steps.stream().mapToLong(Step::nanos).sum();
    }

    /** The steps grouped by kind and implementation (named by their kind): total calls and time; longest first. */
    public List<Step> byKind() {
        Map<List<String>, Step> groups = new LinkedHashMap<>();
        for (Step s : steps) {
            groups.merge(List.of(s.kind(), s.implementation()), new Step(s.kind(), s.kind(), s.implementation(), s.calls(), s.nanos()),
                    (a, b) -> new Step(a.name(), a.kind(), a.implementation(), a.calls() + b.calls(), a.nanos() + b.nanos()));
        }
        List<Step> out = new ArrayList<>(groups.values());
        out.sort(Comparator.comparingLong(Step::nanos).reversed());
        return out;
    }

    /**
     * A table of the {@code top} longest steps (all if {@code top} is 0 or more than there are): per step its share of
     * the total, its time per run, its kind and implementation and its name; then the same grouped by kind.
     */
    public String table(int top) {
        if (isEmpty()) return "no profile (compile with SessionOptions.withProfiling(true) and run)\n";
        double total = Math.max(1, totalNanos());
        StringBuilder sb = new StringBuilder();
        String fmt = "%6s  %10s  %-20s  %-32s  %s%n";
        sb.append(String.format(Locale.ROOT, fmt, "%", "ms/run", "kind", "implementation", "step"));
        List<Step> sorted = new ArrayList<>(steps);
        sorted.sort(Comparator.comparingLong(Step::nanos).reversed());
        int n = top <= 0 ? sorted.size() : Math.min(top, sorted.size());
        for (Step s : sorted.subList(0, n)) {
            sb.append(String.format(Locale.ROOT, fmt, String.format(Locale.ROOT, "%.1f", 100 * s.nanos() / total),
                    String.format(Locale.ROOT, "%.3f", s.nanos() / 1e6 / runs), s.kind(), s.implementation(), s.name()));
        }
        if (n < sorted.size()) sb.append(String.format(Locale.ROOT, "  … %d more steps%n", sorted.size() - n));
        sb.append(String.format(Locale.ROOT, "by kind (%d runs, %.3f ms per run in steps):%n", runs, total / 1e6 / runs));
        for (Step s : byKind()) {
            sb.append(String.format(Locale.ROOT, fmt, String.format(Locale.ROOT, "%.1f", 100 * s.nanos() / total),
                    String.format(Locale.ROOT, "%.3f", s.nanos() / 1e6 / runs), s.kind(), s.implementation(),
                    (s.calls() / runs) + " step(s)"));
        }
        return sb.toString();
    }
}
