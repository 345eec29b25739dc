package dev.convnet.internal.onednn;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.shape.Shape;
import dev.convnet.train.Parameter;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs one graph for training on oneDNN and on the reference backend with the same parameter values, inputs and
 * output gradients (one training forward pass, one backward pass), and compares outputs, parameter gradients, input
 * gradients and the parameter values after the pass (running statistics) element by element.
 *
 * <p>The bound of an element is {@code γ_n·S + rel·‖ref‖∞ + atol + u·|ref|}: n is the number of rounded terms behind
 * the tensor's elements (Higham's {@code γ_n = n·u/(1 − n·u)}, u = 2⁻²⁴), S the same element computed by the
 * reference from the absolute values of every factor (so {@code S = Σ|tᵢ|} for sums of products tᵢ, in any order,
 * with or without FMA), and {@code rel}, {@code atol} normwise and absolute terms for results that are not sums of
 * products (batch norm, transcendental eltwise functions, softmax), scaled with the reduction length by the caller.
 */
final class TrainingComparison {
    static final double U = 0x1p-24;

    private TrainingComparison() {
    }

    static double gamma(long n) {
        return n * U / (1 - n * U);
    }

    /** Term counts per tensor kind and the normwise part of the bound. */
    record Bound(long output, long inputs, long params, double rel, double atol) {
        Bound(long output, long inputs, long params, double rel) {
            this(output, inputs, params, rel, 0);
        }

        static Bound exact() {
            return new Bound(1, 1, 1, 0);
        }
    }

    /** What one backend computed. */
    record Result(Map<String, float[]> outputs, Map<String, float[]> paramGradients, Map<String, float[]> inputGradients,
                  Map<String, float[]> paramValues, long primitives) {
    }

    /** Worst element seen: its |error| and its |error| / bound. */
    record Worst(double maxError, double worstRatio, long checked) {
        static final Worst NONE = new Worst(0, 0, 0);

        Worst max(Worst o) {
            return new Worst(Math.max(maxError, o.maxError), Math.max(worstRatio, o.worstRatio), checked + o.checked);
        }
    }

    /** Inputs, parameter values and output gradients of one case. */
    record Case(Graph graph, Map<String, Shape> inputShapes, Map<String, float[]> inputs, Map<String, float[]> params,
                Map<String, float[]> outputGradients, Set<String> frozen) {
        /** The same case with every value replaced by its absolute value (inputs kept when {@code keepInputs}). */
        Case magnitudes(boolean keepInputs) {
            return new Case(graph, inputShapes, keepInputs ? inputs : abs(inputs), abs(params), abs(outputGradients), frozen);
        }
    }

    /** A case with inputs, parameters and output gradients uniform in [-1, 1] (variances in [0.5, 1.5]). */
    static Case random(Graph graph, Map<String, Shape> inputShapes, long seed, Set<String> frozen) {
        SplittableRandom r = new SplittableRandom(seed);
        Map<String, float[]> x = new LinkedHashMap<>();
        inputShapes.forEach((k, s) -> x.put(k, uniform(r, (int) s.elementCount())));
        Map<String, float[]> p = new LinkedHashMap<>();
        for (Graph.NamedParameter np : graph.parameterSpecs()) {
            float[] v = uniform(r, (int) np.spec().shape().elementCount());
            if (np.spec().role() == dev.convnet.layer.ParameterSpec.Role.RUNNING_VARIANCE) {
                for (int i = 0; i < v.length; i++) v[i] = 0.5f + Math.abs(v[i]);
            }
            p.put(np.name(), v);
        }
        Map<String, float[]> dy = new LinkedHashMap<>();
        graph.plan(inputShapes).outputShapes().forEach((k, s) -> dy.put(k, uniform(r, (int) s.elementCount())));
        return new Case(graph, inputShapes, x, p, dy, frozen);
    }

    static float[] uniform(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    private static Map<String, float[]> abs(Map<String, float[]> m) {
        Map<String, float[]> a = new LinkedHashMap<>();
        m.forEach((k, v) -> {
            float[] c = v.clone();
            for (int i = 0; i < c.length; i++) c[i] = Math.abs(c[i]);
            a.put(k, c);
        });
        return a;
    }

    /** Runs {@code c} on {@code backend}: compile, one training forward pass, one backward pass. */
    static Result run(BackendKind backend, Case c, int threads) {
        try (ParameterSet p = ParameterSet.of(c.graph())) {
            c.params().forEach((k, v) -> p.get(k).set(v));
            for (String f : c.frozen()) p.freeze(f::equals);
            TrainingOptions o = TrainingOptions.defaults().withBackend(backend).withThreads(threads).withInputGradients(true);
            try (TrainingSession s = TrainingSession.compile(c.graph(), p, c.inputShapes(), o)) {
                Map<String, float[]> y = s.forward(c.inputs(), true);
                s.backward(c.outputGradients());
                Map<String, float[]> pg = new LinkedHashMap<>();
                Map<String, float[]> pv = new LinkedHashMap<>();
                for (Parameter q : p.list()) {
                    if (q.trained()) pg.put(q.name(), q.gradientArray());
                    pv.put(q.name(), q.toArray());
                }
                return new Result(y, pg, s.inputGradients(), pv, s.primitivesCreated());
            }
        }
    }

    /**
     * Compares oneDNN against the reference on {@code c}; {@code magnitudes} is the reference on the case of absolute
     * values (null: S = 0). Fails naming the worst element; returns the worst error seen.
     */
    static Worst compare(Case c, Bound bound, boolean maxLike, int threads) {
        return compare(c, bound, run(BackendKind.REFERENCE, c.magnitudes(maxLike), 1), threads);
    }

    /**
     * Compares a whole network with a normwise bound only: {@code |oneDNN − ref| ≤ rel·‖ref‖∞ + u·|ref|} per tensor
     * (S from absolute values means nothing once ReLU and max pooling route by sign).
     */
    static Worst compareNormwise(Case c, double rel, int threads) {
        return compare(c, new Bound(1, 1, 1, rel), null, threads);
    }

    private static Worst compare(Case c, Bound bound, Result mag, int threads) {
        Result ref = run(BackendKind.REFERENCE, c, 1);
        Result got = run(BackendKind.ONEDNN, c, threads);
        String what = c.graph().nodes().stream().map(n -> n.layer().toString()).toList() + " on " + c.inputShapes();
        Worst w = Worst.NONE;
        w = w.max(compare(what, "output", ref.outputs(), mag == null ? null : mag.outputs(), got.outputs(), bound.output(),
                bound.rel(), bound.atol()));
        w = w.max(compare(what, "∂L/∂", ref.paramGradients(), mag == null ? null : mag.paramGradients(), got.paramGradients(),
                bound.params(), bound.rel(), bound.atol()));
        w = w.max(compare(what, "∂L/∂", ref.inputGradients(), mag == null ? null : mag.inputGradients(), got.inputGradients(),
                bound.inputs(), bound.rel(), bound.atol()));
        // Parameter values after the pass: unchanged ones exactly, running statistics as the outputs.
        w = w.max(compare(what, "value of ", ref.paramValues(), null, got.paramValues(), 1, bound.rel() + 4 * U, 0));
        return w;
    }

    private static Worst compare(String what, String prefix, Map<String, float[]> ref, Map<String, float[]> mag,
                                 Map<String, float[]> got, long n, double rel, double atol) {
        if (!ref.keySet().equals(got.keySet())) fail(what + ": " + prefix + " names " + got.keySet() + ", reference " + ref.keySet());
        Worst w = Worst.NONE;
        for (String k : ref.keySet()) {
            float[] e = ref.get(k), a = got.get(k), s = mag == null ? null : mag.get(k);
            w = w.max(compare(what, prefix + k, e, s, a, n, rel, atol));
        }
        return w;
    }

    static Worst compare(String what, String tensor, float[] e, float[] s, float[] a, long n, double rel, double atol) {
        if (e.length != a.length) fail(what + ": " + tensor + " has " + a.length + " values, reference " + e.length);
        double norm = 0;
        for (float v : e) norm = Math.max(norm, Math.abs(v));
        double g = gamma(n);
        double maxErr = 0, worst = 0;
        int worstAt = -1;
        for (int i = 0; i < e.length; i++) {
            double err = Math.abs((double) a[i] - e[i]);
            if (Double.isNaN(err)) err = Double.POSITIVE_INFINITY;
            double b = (s == null ? 0 : g * Math.abs(s[i])) + rel * norm + atol + U * Math.abs(e[i]);
            double ratio = b > 0 ? err / b : err == 0 ? 0 : Double.POSITIVE_INFINITY;
            maxErr = Math.max(maxErr, err);
            if (ratio > worst) {
                worst = ratio;
                worstAt = i;
            }
        }
        if (worst > 1) {
            int i = worstAt;
            fail(what + ": " + tensor + "[" + i + "] = " + a[i] + ", reference " + e[i] + " (error "
                    + Math.abs((double) a[i] - e[i]) + " is " + String.format("%.2f", worst) + "× the bound; n = " + n
                    + ", S = " + (s == null ? "-" : s[i]) + ", rel = " + rel + ", atol = " + atol + ")");
        }
        return new Worst(maxErr, worst, e.length);
    }

    /** A graph of one node {@code y = layer(x…)} with inputs x0, x1, … (or x for one input). */
    static Graph single(dev.convnet.layer.Layer layer, int inputs) {
        Graph.Builder b = Graph.builder();
        String[] names = new String[inputs];
        for (int i = 0; i < inputs; i++) {
            names[i] = inputs == 1 ? "x" : "x" + i;
            b.input(names[i]);
        }
        return b.node("y", layer, names).output("y").build();
    }

    /** Input shapes by the names {@link #single} uses. */
    static Map<String, Shape> shapes(List<Shape> in) {
        Map<String, Shape> m = new LinkedHashMap<>();
        for (int i = 0; i < in.size(); i++) m.put(in.size() == 1 ? "x" : "x" + i, in.get(i));
        return m;
    }

    /** Prints one summary line for a family of cases. */
    static void report(String name, int cases, Worst w) {
        System.out.printf("oneDNN vs reference, %-22s %4d cases, %9d values: max |oneDNN − ref| %.2e, worst error/bound %.3f%n",
                name, cases, w.checked(), w.maxError(), w.worstRatio());
    }

    /** Applies {@code f} to each of {@code count} seeds, skipping geometries the layer refuses. */
    static int forEachValid(int count, long seed, Function<Long, Boolean> f) {
        int valid = 0;
        for (int i = 0; i < count; i++) {
            try {
                if (f.apply(seed * 1_000_003L + i)) valid++;
            } catch (dev.convnet.shape.ShapeException invalid) {
                // an invalid random geometry: skipped
            }
        }
        return valid;
    }
}
