package dev.convnet.train;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;

/**
 * Updates the trained parameters of a {@link ParameterSet} from their gradients, exactly as PyTorch's optimizers do
 * ({@code torch.optim.SGD}, {@code Adam}, {@code AdamW}):
 * <ul>
 *   <li>SGD: {@code g = ∇ + λ·w}; with momentum μ, {@code b = g} at the first step, then {@code b = μ·b + (1 − τ)·g}
 *       (τ = dampening); Nesterov uses {@code g + μ·b}, else {@code b}; {@code w ← w − η·that}.</li>
 *   <li>Adam: {@code g = ∇ + λ·w}; {@code m = β₁·m + (1 − β₁)·g}, {@code v = β₂·v + (1 − β₂)·g²};
 *       {@code w ← w − η/(1 − β₁ᵗ) · m / (√v/√(1 − β₂ᵗ) + ε)}.</li>
 *   <li>AdamW: as Adam without λ in the gradient; instead {@code w ← w·(1 − η·λ)} first (decoupled decay).</li>
 * </ul>
 * Options: gradient clipping by global norm (PyTorch's {@code clip_grad_norm_}: every gradient scaled by
 * {@code min(1, c/(‖∇‖₂ + 10⁻⁶))} before the update), and parameter groups: a learning-rate factor for the
 * parameters whose names match (the first matching group counts; for example the backbone at 0.1× the head).
 * The state (momentum buffers, moments, step count) is kept per parameter name and saved with checkpoints.
 *
 * <p>Thread-safety: not thread-safe.
 */
public final class Optimizer {
    /** The algorithm. */
    public enum Kind {
        /** Stochastic gradient descent, optionally with (Nesterov) momentum. */
        SGD,
        /** Adam (L2 penalty added to the gradient). */
        ADAM,
        /** AdamW (decoupled weight decay). */
        ADAMW
    }

    private record Group(Predicate<String> names, double factor, String description) {
    }

    private final Kind kind;
    private double learningRate;
    private final double momentum;
    private final double dampening;
    private final boolean nesterov;
    private final double weightDecay;
    private final double beta1;
    private final double beta2;
    private final double epsilon;
    private double clipNorm;
    private final List<Group> groups = new ArrayList<>();
    private final Map<String, float[][]> state = new HashMap<>();
    private final Map<String, Long> steps = new HashMap<>();
    private float[] valueBuffer = new float[0];
    private float[] gradientBuffer = new float[0];

    private Optimizer(Kind kind, double lr, double momentum, double dampening, boolean nesterov, double weightDecay,
                      double beta1, double beta2, double epsilon) {
        if (!(lr >= 0) || Double.isInfinite(lr)) throw new IllegalArgumentException("learning rate " + lr + " must be finite and ≥ 0");
        if (!(momentum >= 0)) throw new IllegalArgumentException("momentum " + momentum + " must be ≥ 0");
        if (!(weightDecay >= 0)) throw new IllegalArgumentException("weight decay " + weightDecay + " must be ≥ 0");
        if (nesterov && (momentum <= 0 || dampening != 0)) {
            throw new IllegalArgumentException("Nesterov momentum needs momentum > 0 and zero dampening (as in PyTorch)");
        }
        if (!(beta1 >= 0 && beta1 < 1) || !(beta2 >= 0 && beta2 < 1)) {
            throw new IllegalArgumentException("betas (" + beta1 + ", " + beta2 + ") must be in [0, 1)");
        }
        this.kind = kind;
        this.learningRate = lr;
        this.momentum = momentum;
        this.dampening = dampening;
        this.nesterov = nesterov;
        this.weightDecay = weightDecay;
        this.beta1 = beta1;
        this.beta2 = beta2;
        this.epsilon = epsilon;
    }

    /** Plain SGD. */
    public static Optimizer sgd(double learningRate) {
        return sgd(learningRate, 0, 0, false);
    }

    /** SGD with momentum, weight decay and optionally Nesterov momentum (no dampening). */
    public static Optimizer sgd(double learningRate, double momentum, double weightDecay, boolean nesterov) {
        return new Optimizer(Kind.SGD, learningRate, momentum, 0, nesterov, weightDecay, 0, 0, 0);
    }

    /** SGD with every PyTorch option. */
    public static Optimizer sgd(double learningRate, double momentum, double dampening, double weightDecay, boolean nesterov) {
        return new Optimizer(Kind.SGD, learningRate, momentum, dampening, nesterov, weightDecay, 0, 0, 0);
    }

    /** Adam with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8) and the given L2 weight decay. */
    public static Optimizer adam(double learningRate, double weightDecay) {
        return adam(learningRate, 0.9, 0.999, 1e-8, weightDecay);
    }

    /** Adam. */
    public static Optimizer adam(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) {
        return new Optimizer(Kind.ADAM, learningRate, 0, 0, false, weightDecay, beta1, beta2, epsilon);
    }

    /** AdamW with PyTorch's defaults (β = (0.9, 0.999), ε = 1e-8) and the given decoupled weight decay (PyTorch: 0.01). */
    public static Optimizer adamW(double learningRate, double weightDecay) {
        return adamW(learningRate, 0.9, 0.999, 1e-8, weightDecay);
    }

    /** AdamW. */
    public static Optimizer adamW(double learningRate, double beta1, double beta2, double epsilon, double weightDecay) {
        return new Optimizer(Kind.ADAMW, learningRate, 0, 0, false, weightDecay, beta1, beta2, epsilon);
    }

    /** The algorithm. */
    public Kind kind() {
        return kind;
    }

    /** The current base learning rate (a schedule changes it between steps). */
    public double learningRate() {
        return learningRate;
    }

    /** Sets the base learning rate (what {@link LearningRateSchedule}s do). */
    public void setLearningRate(double learningRate) {
        if (!(learningRate >= 0) || Double.isInfinite(learningRate)) {
            throw new IllegalArgumentException("learning rate " + learningRate + " must be finite and ≥ 0");
        }
        this.learningRate = learningRate;
    }

    /** Clips gradients to a global L2 norm of at most {@code maxNorm} before each update (0 turns it off). */
    public Optimizer clipGradientNorm(double maxNorm) {
        if (!(maxNorm >= 0)) throw new IllegalArgumentException("max gradient norm " + maxNorm + " must be ≥ 0");
        this.clipNorm = maxNorm;
        return this;
    }

    /**
     * Adds a parameter group: parameters whose names match use {@code factor}·(base learning rate). Groups are tried in
     * the order added; parameters matching none use the base rate.
     */
    public Optimizer group(String description, Predicate<String> names, double factor) {
        if (!(factor >= 0) || Double.isInfinite(factor)) throw new IllegalArgumentException("learning-rate factor " + factor + " must be finite and ≥ 0");
        groups.add(new Group(names, factor, description));
        return this;
    }

    /** The learning-rate factor of a parameter (1 unless a group matches). */
    public double factor(String parameterName) {
        for (Group g : groups) if (g.names().test(parameterName)) return g.factor();
        return 1;
    }

    /**
     * One update of every trained parameter of {@code parameters} from its gradient. Returns the global gradient norm
     * before clipping.
     *
     * @throws ArithmeticException naming the parameter if a gradient is NaN or infinite
     */
    public double step(ParameterSet parameters) {
        List<Parameter> trained = parameters.list().stream().filter(Parameter::trained).toList();
        double sumSquares = 0;
        for (Parameter p : trained) {
            MemorySegment g = p.gradient();
            double s = 0;
            for (long i = 0, n = p.size(); i < n; i++) {
                float v = g.getAtIndex(ValueLayout.JAVA_FLOAT, i);
                s += (double) v * v;
            }
            if (!Double.isFinite(s)) {
                throw new ArithmeticException("the gradient of parameter '" + p.name() + "' is not finite: the network diverged "
                        + "(lower the learning rate or clip gradients)");
            }
            sumSquares += s;
        }
        double norm = Math.sqrt(sumSquares);
        float clip = clipNorm > 0 && norm > 0 ? (float) Math.min(1.0, clipNorm / (norm + 1e-6)) : 1f;
        for (Parameter p : trained) update(p, clip);
        return norm;
    }

    private void update(Parameter p, float clip) {
        int n = p.size();
        if (valueBuffer.length < n) {
            valueBuffer = new float[n];
            gradientBuffer = new float[n];
        }
        float[] w = valueBuffer;
        float[] g = gradientBuffer;
        MemorySegment.copy(p.values(), ValueLayout.JAVA_FLOAT, 0, w, 0, n);
        MemorySegment.copy(p.gradient(), ValueLayout.JAVA_FLOAT, 0, g, 0, n);
        if (clip != 1f) for (int i = 0; i < n; i++) g[i] *= clip;
        float lr = (float) (learningRate * factor(p.name()));
        float wd = (float) weightDecay;
        long t = steps.merge(p.name(), 1L, Long::sum);
        switch (kind) {
            case SGD -> {
                if (wd != 0) for (int i = 0; i < n; i++) g[i] += wd * w[i];
                if (momentum != 0) {
                    float mu = (float) momentum;
                    float keep = (float) (1 - dampening);
                    float[][] s = state.get(p.name());
                    float[] b;
                    if (s == null) {
                        b = g.clone();
                        if (b.length != n) b = java.util.Arrays.copyOf(b, n);
                        state.put(p.name(), new float[][] {b});
                    } else {
                        b = s[0];
                        for (int i = 0; i < n; i++) b[i] = mu * b[i] + keep * g[i];
                    }
                    if (nesterov) {
                        for (int i = 0; i < n; i++) g[i] = g[i] + mu * b[i];
                    } else {
                        System.arraycopy(b, 0, g, 0, n);
                    }
                }
                for (int i = 0; i < n; i++) w[i] -= lr * g[i];
            }
            case ADAM, ADAMW -> {
                if (kind == Kind.ADAMW) {
                    float decay = (float) (1 - learningRate * factor(p.name()) * weightDecay);
                    for (int i = 0; i < n; i++) w[i] *= decay;
                } else if (wd != 0) {
                    for (int i = 0; i < n; i++) g[i] += wd * w[i];
                }
                float[][] s = state.computeIfAbsent(p.name(), k -> new float[][] {new float[n], new float[n]});
                float[] m = s[0];
                float[] v = s[1];
                float b1 = (float) beta1;
                float b2 = (float) beta2;
                double c1 = 1 - Math.pow(beta1, t);
                double c2 = Math.sqrt(1 - Math.pow(beta2, t));
                float stepSize = (float) (learningRate * factor(p.name()) / c1);
                float c2f = (float) c2;
                float eps = (float) epsilon;
                for (int i = 0; i < n; i++) {
                    m[i] = m[i] * b1 + (1 - b1) * g[i];
                    v[i] = v[i] * b2 + (1 - b2) * g[i] * g[i];
                    float denom = (float) Math.sqrt(v[i]) / c2f + eps;
                    w[i] -= stepSize * (m[i] / denom);
                }
            }
        }
        MemorySegment.copy(w, 0, p.values(), ValueLayout.JAVA_FLOAT, 0, n);
    }

    /** Forgets every buffer and step count (a fresh optimizer with the same settings). */
    public void reset() {
        state.clear();
        steps.clear();
    }

    /** Writes the state (step counts and buffers per parameter, and the current learning rate). */
    void writeState(DataOutputStream out) throws IOException {
        out.writeUTF(kind.name());
        out.writeDouble(learningRate);
        Map<String, Long> sorted = new LinkedHashMap<>(steps);
        out.writeInt(sorted.size());
        for (Map.Entry<String, Long> e : sorted.entrySet()) {
            out.writeUTF(e.getKey());
            out.writeLong(e.getValue());
            float[][] s = state.get(e.getKey());
            out.writeInt(s == null ? 0 : s.length);
            if (s != null) {
                for (float[] b : s) {
                    out.writeInt(b.length);
                    for (float f : b) out.writeFloat(f);
                }
            }
        }
    }

    /** Reads a state written by {@link #writeState}, replacing this optimizer's. */
    void readState(DataInputStream in, String source) throws IOException {
        String k = in.readUTF();
        if (!k.equals(kind.name())) throw new IOException(source + ": the checkpoint's optimizer is " + k + ", this one is " + kind);
        double lr = in.readDouble();
        int count = in.readInt();
        Map<String, float[][]> st = new HashMap<>();
        Map<String, Long> sp = new HashMap<>();
        for (int i = 0; i < count; i++) {
            String name = in.readUTF();
            sp.put(name, in.readLong());
            int buffers = in.readInt();
            if (buffers < 0 || buffers > 2) throw new IOException(source + ": optimizer state of '" + name + "' has " + buffers + " buffers");
            if (buffers > 0) {
                float[][] s = new float[buffers][];
                for (int b = 0; b < buffers; b++) {
                    int len = in.readInt();
                    if (len < 0 || len > Integer.MAX_VALUE - 8) throw new IOException(source + ": bad buffer length " + len);
                    s[b] = new float[len];
                    for (int e = 0; e < len; e++) s[b][e] = in.readFloat();
                }
                st.put(name, s);
            }
        }
        state.clear();
        state.putAll(st);
        steps.clear();
        steps.putAll(sp);
        learningRate = lr;
    }

    @Override
    public String toString() {
        return switch (kind) {
            case SGD -> "SGD(lr=" + learningRate + (momentum != 0 ? ", momentum=" + momentum : "") + (nesterov ? ", nesterov" : "")
                    + (weightDecay != 0 ? ", weight_decay=" + weightDecay : "") + ")";
            case ADAM, ADAMW -> (kind == Kind.ADAM ? "Adam" : "AdamW") + "(lr=" + learningRate + ", betas=(" + beta1 + ", " + beta2
                    + "), eps=" + epsilon + ", weight_decay=" + weightDecay + ")";
        } + (clipNorm > 0 ? " clip " + clipNorm : "") + (groups.isEmpty() ? "" : " groups " + groups.stream().map(g -> g.description() + "×" + g.factor()).toList());
    }
}
