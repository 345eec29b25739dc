package dev.convnet.train;

/**
 * The learning rate as a function of the training progress: {@link #rate(double, long, long)} gives the rate for the
 * step {@code step} (counted from 0 over the whole run) when an epoch has {@code stepsPerEpoch} steps.
 * <ul>
 *   <li>{@link #constant()}: the base rate;</li>
 *   <li>{@link #step(int, double)}: multiplied by γ every k epochs (PyTorch's {@code StepLR});</li>
 *   <li>{@link #cosine(int, double)}: from the base rate down to {@code min} along half a cosine over the given epochs,
 *       per step;</li>
 *   <li>{@link #withWarmup(long)}: any schedule, multiplied by a linear ramp from 1/w to 1 over the first w steps.</li>
 * </ul>
 *
 * <p>Thread-safety: implementations are immutable.
 */
@FunctionalInterface
public interface LearningRateSchedule {
    /** The learning rate for a step. */
    double rate(double base, long step, long stepsPerEpoch);

    /** The base rate throughout. */
    static LearningRateSchedule constant() {
        return (base, step, per) -> base;
    }

    /** {@code base·γ^⌊epoch/everyEpochs⌋}. */
    static LearningRateSchedule step(int everyEpochs, double gamma) {
        if (everyEpochs < 1) throw new IllegalArgumentException("step schedule: every " + everyEpochs + " epochs must be ≥ 1");
        return (base, step, per) -> base * Math.pow(gamma, (step / Math.max(1, per)) / everyEpochs);
    }

    /** Cosine annealing from {@code base} to {@code min} over {@code epochs} epochs (then {@code min}). */
    static LearningRateSchedule cosine(int epochs, double min) {
        if (epochs < 1) throw new IllegalArgumentException("cosine schedule: " + epochs + " epochs must be ≥ 1");
        return (base, step, per) -> {
            double total = (double) epochs * Math.max(1, per);
            double t = Math.min(1, step / total);
            return min + (base - min) * 0.5 * (1 + Math.cos(Math.PI * t));
        };
    }

    /** This schedule with a linear warm-up over the first {@code steps} steps: factor (s + 1)/steps. */
    default LearningRateSchedule withWarmup(long steps) {
        if (steps < 0) throw new IllegalArgumentException("warm-up of " + steps + " steps must be ≥ 0");
        LearningRateSchedule inner = this;
        return (base, step, per) -> inner.rate(base, step, per) * (step < steps ? (step + 1.0) / steps : 1.0);
    }
}
