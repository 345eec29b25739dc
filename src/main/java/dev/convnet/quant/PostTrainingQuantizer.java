package dev.convnet.quant;

import dev.convnet.data.Batch;
import dev.convnet.data.Dataset;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.layer.Unary;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Post-training static quantization of a float {@link Graph}: calibrates it on batches the caller gives and returns it
 * in Q/DQ form.
 *
 * <ol>
 *   <li>Each {@link BatchNorm} that directly follows a {@link Conv2d} (and is its only reader) is folded into it
 *       ({@link BatchNorm#foldInto(Conv2d)}).</li>
 *   <li>The activations to quantize: the input of every {@link Conv2d}, {@link Conv1d}, {@link Linear} and
 *       {@link MatMul} with a constant 2-D right operand (before any Flatten, Reshape, MaxPool or Dropout that leads
 *       to it: those keep quantized values quantized), and the end of each such layer's chain of ReLU / Clip
 *       activations (the next layer's input, as ONNX Runtime's QDQ format puts it) unless that is a graph output. A
 *       {@link MaxPool2d} of a quantized value gets a pair after it too, with the same parameters.</li>
 *   <li>Calibration runs the folded float graph on every batch, with those values as extra outputs, and records each
 *       one's minimum and maximum ({@link Method#MIN_MAX}), or clips them to a percentile of a histogram
 *       ({@link Method#PERCENTILE}: a second pass over the batches).</li>
 *   <li>Each range, extended to include 0, becomes asymmetric parameters ({@link #activationParams}); a
 *       {@link QuantizeLinear} → {@link DequantizeLinear} pair is inserted after the value and its readers read the
 *       dequantized copy; the layers' weights become per-output-channel symmetric INT8 values
 *       ({@link PerChannelWeights}). Biases stay float.</li>
 * </ol>
 *
 * <pre>{@code
 * QuantizedGraph q = PostTrainingQuantizer.percentile(99.99).quantize(graph, calibrationImages, 64);
 * try (Session s = q.graph().compile(Shape.of(1, 1, 28, 28))) { ... }
 * OnnxExporter.save(q.graph(), Shape.of(1, 1, 28, 28), Path.of("model_qdq.onnx"));
 * }</pre>
 *
 * <p>Thread-safety: immutable; {@code quantize} may be called from several threads (each call compiles its own
 * sessions).
 */
public final class PostTrainingQuantizer {
    /** How a calibrated range is chosen from the observed values. */
    public enum Method {
        /** The smallest and largest value seen. */
        MIN_MAX,
        /** The {@code (100 − p)}-th and {@code p}-th percentiles of the values seen (from a histogram). */
        PERCENTILE
    }

    /** Histogram bins of {@link Method#PERCENTILE} by default. */
    public static final int DEFAULT_BINS = 2048;

    private final Method method;
    private final double percentile;
    private final QuantParams.Type activationType;
    private final SessionOptions options;
    private final int bins;

    private PostTrainingQuantizer(Method method, double percentile, QuantParams.Type activationType, SessionOptions options, int bins) {
        this.method = method;
        this.percentile = percentile;
        this.activationType = Objects.requireNonNull(activationType, "activationType");
        this.options = Objects.requireNonNull(options, "options");
        this.bins = bins;
    }

    /** Min/max calibration, UINT8 activations, calibration on the Java backend with the default threads. */
    public static PostTrainingQuantizer minMax() {
        return new PostTrainingQuantizer(Method.MIN_MAX, 100, QuantParams.Type.UINT8,
                SessionOptions.defaults().withBackend(BackendKind.JAVA), DEFAULT_BINS);
    }

    /**
     * Percentile calibration: each range is clipped to the {@code (100 − p)}-th and {@code p}-th percentiles.
     *
     * @param p the percentile, in (50, 100] (e.g. 99.99); 100 is min/max up to the histogram's resolution
     * @throws IllegalArgumentException if {@code p} is outside (50, 100]
     */
    public static PostTrainingQuantizer percentile(double p) {
        if (!(p > 50 && p <= 100)) throw new IllegalArgumentException("percentile " + p + " must be in (50, 100]");
        return new PostTrainingQuantizer(Method.PERCENTILE, p, QuantParams.Type.UINT8,
                SessionOptions.defaults().withBackend(BackendKind.JAVA), DEFAULT_BINS);
    }

    /** The same quantizer with activations of {@code type} (UINT8 by default; INT8 also has zero points). */
    public PostTrainingQuantizer withActivationType(QuantParams.Type type) {
        return new PostTrainingQuantizer(method, percentile, type, options, bins);
    }

    /** The same quantizer calibrating with these session options (backend and threads; any backend works). */
    public PostTrainingQuantizer withOptions(SessionOptions options) {
        return new PostTrainingQuantizer(method, percentile, activationType, options, bins);
    }

    /**
     * The same quantizer with {@code bins} histogram bins for {@link Method#PERCENTILE}.
     *
     * @throws IllegalArgumentException if {@code bins} &lt; 16
     */
    public PostTrainingQuantizer withHistogramBins(int bins) {
        if (bins < 16) throw new IllegalArgumentException("histogram bins = " + bins + " must be ≥ 16");
        return new PostTrainingQuantizer(method, percentile, activationType, options, bins);
    }

    /** The calibration method. */
    public Method method() {
        return method;
    }

    /** The percentile of {@link Method#PERCENTILE} (100 for {@link Method#MIN_MAX}). */
    public double percentile() {
        return percentile;
    }

    /** The activations' integer type. */
    public QuantParams.Type activationType() {
        return activationType;
    }

    /**
     * Calibrates a graph with one input on {@code batches} (row-major, each of {@code batchShape}) and returns it in
     * Q/DQ form. The batches are read once ({@link Method#MIN_MAX}) or twice ({@link Method#PERCENTILE}).
     *
     * @throws IllegalArgumentException if the graph does not have exactly one input, there is no batch, a batch's
     *                                  length differs from the shape's, the graph has nothing to quantize, or an
     *                                  activation is not finite
     */
    public QuantizedGraph quantize(Graph graph, Shape batchShape, Iterable<float[]> batches) {
        Objects.requireNonNull(batchShape, "batchShape");
        Objects.requireNonNull(batches, "batches");
        return quantize(graph, () -> new Iterator<>() {
            final Iterator<float[]> it = batches.iterator();
            int i;

            @Override
            public boolean hasNext() {
                return it.hasNext();
            }

            @Override
            public Feed next() {
                float[] x = it.next();
                if (x == null || x.length != batchShape.elementCount()) {
                    throw new IllegalArgumentException("calibration batch " + i + " has " + (x == null ? "no" : x.length)
                            + " values; shape " + batchShape + " needs " + batchShape.elementCount());
                }
                i++;
                return new Feed(x, batchShape);
            }
        });
    }

    /**
     * Calibrates a graph with one input on the images of {@code data} (in order, batches of {@code batchSize}, the
     * last one smaller) and returns it in Q/DQ form.
     *
     * @throws IllegalArgumentException as {@link #quantize(Graph, Shape, Iterable)}, or if {@code batchSize} &lt; 1
     */
    public QuantizedGraph quantize(Graph graph, Dataset data, int batchSize) {
        Objects.requireNonNull(data, "data");
        if (batchSize < 1) throw new IllegalArgumentException("batchSize = " + batchSize + " must be ≥ 1");
        return quantize(graph, () -> {
            Iterator<Batch> it = data.batches(batchSize, false, 0, 0, false).iterator();
            return new Iterator<>() {
                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public Feed next() {
                    Batch b = it.next();
                    return new Feed(b.images(), b.shape());
                }
            };
        });
    }

    /**
     * Asymmetric parameters for the range {@code [min, max]} extended to include 0: {@code scale = (max − min) /
     * (qmax − qmin)} and {@code zeroPoint = round_half_even(qmin − min / scale)} (clamped to the type); a range of
     * only 0 gets scale 1 and zero point 0.
     *
     * @throws IllegalArgumentException if a bound is not finite or {@code min > max}
     */
    public static QuantParams activationParams(double min, double max, QuantParams.Type type) {
        if (!Double.isFinite(min) || !Double.isFinite(max) || min > max) {
            throw new IllegalArgumentException("activation range [" + min + ", " + max + "] must be finite with min ≤ max");
        }
        double lo = Math.min(min, 0);
        double hi = Math.max(max, 0);
        float scale = (float) ((hi - lo) / (type.max() - type.min()));
        if (!(scale > 0f)) return QuantParams.perTensor(1f, 0, type); // only 0 was seen: any scale represents it
        long zp = (long) Math.rint(type.min() - lo / scale);
        zp = Math.max(type.min(), Math.min(type.max(), zp));
        return QuantParams.perTensor(scale, (int) zp, type);
    }

    // ------------------------------------------------------------------------------------------------ the steps

    /** One calibration batch. */
    private record Feed(float[] data, Shape shape) {
    }

    private QuantizedGraph quantize(Graph graph, Iterable<Feed> feeds) {
        Objects.requireNonNull(graph, "graph");
        if (graph.inputNames().size() != 1) {
            throw new IllegalArgumentException("calibration feeds one input; the graph has inputs " + graph.inputNames());
        }
        Graph folded = foldBatchNorms(graph);
        List<String> targets = targets(folded);
        if (targets.isEmpty()) {
            throw new IllegalArgumentException("nothing to quantize: the graph has no Conv2d, Conv1d, Linear or MatMul with a constant operand reading a run-time value");
        }
        Graph probe = withOutputs(folded, targets);
        Stats[] stats = new Stats[targets.size()];
        for (int i = 0; i < stats.length; i++) stats[i] = new Stats();
        int batches = run(probe, feeds, targets, (t, values) -> stats[t].observe(values, targets.get(t)));
        if (batches == 0) throw new IllegalArgumentException("no calibration batch was given");
        if (method == Method.PERCENTILE) {
            for (Stats s : stats) s.startHistogram(bins);
            run(probe, feeds, targets, (t, values) -> stats[t].histogram(values));
        }
        Map<String, ActivationRange> ranges = new LinkedHashMap<>();
        for (int i = 0; i < stats.length; i++) {
            Stats s = stats[i];
            double lo = s.min, hi = s.max;
            if (method == Method.PERCENTILE) {
                lo = s.lowerPercentile(percentile);
                hi = s.upperPercentile(percentile);
            }
            ranges.put(targets.get(i), new ActivationRange((float) s.min, (float) s.max, (float) lo, (float) hi,
                    activationParams(lo, hi, activationType)));
        }
        return new QuantizedGraph(rewrite(folded, ranges), folded, ranges);
    }

    private interface Sink {
        void accept(int target, float[] values);
    }

    /** Runs every batch, sending each target's values to the sink; returns the number of batches. */
    private int run(Graph probe, Iterable<Feed> feeds, List<String> targets, Sink sink) {
        String input = probe.inputNames().getFirst();
        Map<Shape, Session> sessions = new HashMap<>();
        int count = 0;
        try {
            for (Feed f : feeds) {
                Session s = sessions.get(f.shape());
                if (s == null) {
                    s = probe.compile(Map.of(input, f.shape()), options);
                    sessions.put(f.shape(), s);
                }
                Map<String, float[]> out = s.run(Map.of(input, f.data()));
                for (int t = 0; t < targets.size(); t++) sink.accept(t, out.get(targets.get(t)));
                count++;
            }
        } finally {
            for (Session s : sessions.values()) s.close();
        }
        return count;
    }

    /** Running min/max, then a histogram over [min, max]. */
    private static final class Stats {
        double min = Double.POSITIVE_INFINITY, max = Double.NEGATIVE_INFINITY;
        long[] counts;
        long total;

        void observe(float[] v, String name) {
            for (float x : v) {
                if (!Float.isFinite(x)) throw new IllegalArgumentException("calibration: value '" + name + "' holds " + x);
                if (x < min) min = x;
                if (x > max) max = x;
            }
        }

        void startHistogram(int bins) {
            counts = new long[bins];
        }

        void histogram(float[] v) {
            double width = max - min;
            int n = counts.length;
            for (float x : v) {
                int b = width > 0 ? (int) ((x - min) / width * n) : 0;
                counts[Math.max(0, Math.min(n - 1, b))]++;
            }
            total += v.length;
        }

        /**
         * The upper bound: the right edge of the highest bin such that the bins above it hold at most
         * {@code (1 − p/100)·total} values.
         */
        double upperPercentile(double p) {
            long allowed = (long) Math.floor((1 - p / 100) * total);
            int n = counts.length;
            long clipped = 0;
            int b = n - 1;
            while (b > 0 && clipped + counts[b] <= allowed) clipped += counts[b--];
            return b == n - 1 ? max : min + (max - min) * (b + 1) / n;
        }

        /** The lower bound, likewise from below. */
        double lowerPercentile(double p) {
            long allowed = (long) Math.floor((1 - p / 100) * total);
            int n = counts.length;
            long clipped = 0;
            int b = 0;
            while (b < n - 1 && clipped + counts[b] <= allowed) clipped += counts[b++];
            return b == 0 ? min : min + (max - min) * b / n;
        }
    }

    // ------------------------------------------------------------------------------------------------ graph edits

    /** The readers of each value. */
    private static Map<String, List<Graph.Node>> readers(Graph g) {
        Map<String, List<Graph.Node>> r = new HashMap<>();
        for (Graph.Node n : g.nodes()) for (String i : n.inputs()) r.computeIfAbsent(i, k -> new ArrayList<>()).add(n);
        return r;
    }

    /**
     * {@code g} with each BatchNorm folded into the Conv2d before it, where the convolution's output is read only by
     * the BatchNorm and is not a graph output. The folded node keeps the convolution's name and writes the
     * BatchNorm's output.
     */
    static Graph foldBatchNorms(Graph g) {
        Map<String, List<Graph.Node>> readers = readers(g);
        Set<String> outputs = new HashSet<>(g.outputNames());
        Map<String, Graph.Node> replaced = new HashMap<>();
        Set<String> dropped = new HashSet<>();
        for (Graph.Node n : g.nodes()) {
            if (!(n.layer() instanceof Conv2d conv) || outputs.contains(n.output())) continue;
            List<Graph.Node> r = readers.getOrDefault(n.output(), List.of());
            if (r.size() != 1 || !(r.getFirst().layer() instanceof BatchNorm bn) || bn.channels() != conv.outChannels()) continue;
            Conv2d folded = bn.foldInto(conv);
            List<String> names = folded.parameterNames().size() == n.parameterNames().size() ? n.parameterNames() : List.of();
            replaced.put(n.name(), new Graph.Node(n.name(), folded, n.inputs(), r.getFirst().output(), names));
            dropped.add(r.getFirst().name());
        }
        if (replaced.isEmpty()) return g;
        Graph.Builder b = Graph.builder();
        g.inputNames().forEach(b::input);
        g.constantShapes().forEach((name, shape) -> b.constant(name, shape, g.constantValues(name)));
        for (Graph.Node n : g.nodes()) {
            if (dropped.contains(n.name())) continue;
            Graph.Node m = replaced.getOrDefault(n.name(), n);
            b.node(m.name(), m.layer(), m.inputs(), m.output(), m.parameterNames());
        }
        return b.output(g.outputNames().toArray(String[]::new)).build();
    }

    private static boolean quantizable(Graph g, Graph.Node n) {
        boolean runtimeInput = !g.constantShapes().containsKey(n.inputs().getFirst());
        return switch (n.layer()) {
            case Conv2d c -> runtimeInput;
            case Conv1d c -> runtimeInput;
            case Linear l -> runtimeInput;
            case MatMul m -> runtimeInput && g.constantShapes().containsKey(n.inputs().get(1))
                    && g.constantShapes().get(n.inputs().get(1)).rank() == 2;
            default -> false;
        };
    }

    /** An activation that an int8 convolution fuses: ReLU or Clip. */
    private static boolean fusedActivation(Layer l) {
        return l instanceof Activation a && a.function() == Activation.Function.RELU
                || l instanceof Unary u && u.function() == Unary.Function.CLIP;
    }

    /** A layer whose output values are some of its input values: quantized inputs stay quantized. */
    private static boolean movesValues(Layer l) {
        return l instanceof Flatten || l instanceof Reshape || l instanceof MaxPool2d || l instanceof Dropout;
    }

    /** The values to quantize, in graph order: see the class comment. */
    static List<String> targets(Graph g) {
        Map<String, List<Graph.Node>> readers = readers(g);
        Set<String> outputs = new HashSet<>(g.outputNames());
        Set<String> targets = new LinkedHashSet<>();
        Map<String, Graph.Node> producers = new HashMap<>();
        for (Graph.Node n : g.nodes()) producers.put(n.output(), n);
        for (Graph.Node n : g.nodes()) {
            if (!quantizable(g, n)) continue;
            // through Flatten / Reshape / MaxPool / Dropout, which keep values on the grid, to the value they move
            String in = n.inputs().getFirst();
            while (producers.containsKey(in) && movesValues(producers.get(in).layer())) in = producers.get(in).inputs().getFirst();
            targets.add(in);
            String end = n.output();
            while (!outputs.contains(end)) {
                List<Graph.Node> r = readers.getOrDefault(end, List.of());
                if (r.size() != 1 || !fusedActivation(r.getFirst().layer())) break;
                end = r.getFirst().output();
            }
            if (!outputs.contains(end) && readers.containsKey(end)) targets.add(end);
        }
        // graph order: inputs first, then node outputs (a max pooling of a quantized value is quantized again with the
        // same parameters when the graph is rewritten)
        List<String> ordered = new ArrayList<>();
        for (String in : g.inputNames()) if (targets.contains(in)) ordered.add(in);
        for (Graph.Node n : g.nodes()) if (targets.contains(n.output())) ordered.add(n.output());
        return ordered;
    }

    private static Graph withOutputs(Graph g, List<String> extra) {
        Set<String> outs = new LinkedHashSet<>(g.outputNames());
        outs.addAll(extra);
        Graph.Builder b = Graph.builder();
        g.inputNames().forEach(b::input);
        g.constantShapes().forEach((name, shape) -> b.constant(name, shape, g.constantValues(name)));
        for (Graph.Node n : g.nodes()) b.node(n.name(), n.layer(), n.inputs(), n.output(), n.parameterNames());
        return b.output(outs.toArray(String[]::new)).build();
    }

    /** The Q/DQ graph: pairs after each calibrated value, readers redirected, weights quantized. */
    private static Graph rewrite(Graph g, Map<String, ActivationRange> ranges) {
        Set<String> taken = new HashSet<>(g.inputNames());
        taken.addAll(g.constantShapes().keySet());
        for (Graph.Node n : g.nodes()) {
            taken.add(n.name());
            taken.add(n.output());
        }
        Graph.Builder b = Graph.builder();
        g.inputNames().forEach(b::input);
        g.constantShapes().forEach((name, shape) -> b.constant(name, shape, g.constantValues(name)));
        Map<String, String> dequantized = new HashMap<>();
        Map<String, QuantParams> pairs = new HashMap<>(); // the values followed by a Q/DQ pair, with its parameters
        for (String in : g.inputNames()) {
            if (ranges.containsKey(in)) {
                pairs.put(in, ranges.get(in).params());
                dequantized.put(in, addPair(b, in, ranges.get(in).params(), taken));
            }
        }
        for (Graph.Node n : g.nodes()) {
            List<String> inputs = new ArrayList<>(n.inputs().size());
            for (String i : n.inputs()) inputs.add(dequantized.getOrDefault(i, i));
            Layer layer = n.layer();
            if (quantizable(g, n)) {
                switch (layer) {
                    case Conv2d c -> layer = c.toBuilder().weights(PerChannelWeights.quantize(c.weights(), c.outChannels())).build();
                    case Conv1d c -> {
                        List<float[]> p = new ArrayList<>(c.parameters().stream().map(s -> s.values()).toList());
                        p.set(0, PerChannelWeights.quantize(c.weights(), c.outChannels()));
                        layer = c.withParameters(p);
                    }
                    case Linear l -> layer = Linear.of(l.inFeatures(), l.outFeatures(),
                            PerChannelWeights.quantize(l.weights(), l.outFeatures()), l.bias().orElse(null));
                    case MatMul m -> {
                        String w = n.inputs().get(1);
                        Shape ws = g.constantShapes().get(w);
                        String qw = fresh(w + "/quantized", taken);
                        b.constant(qw, ws, PerChannelWeights.quantizeColumns(g.constantValues(w), ws.dim(1)));
                        inputs.set(1, qw);
                    }
                    default -> {
                    }
                }
            }
            b.node(n.name(), layer, inputs, n.output(), n.parameterNames());
            if (ranges.containsKey(n.output())) {
                QuantParams p = ranges.get(n.output()).params();
                pairs.put(n.output(), p);
                dequantized.put(n.output(), addPair(b, n.output(), p, taken));
            } else if (layer instanceof MaxPool2d && pairs.containsKey(n.inputs().getFirst())) {
                // Max pooling of dequantized values gives values on the same grid: quantized again with the same
                // parameters (as ONNX Runtime's QDQ format does), so that it runs on the 8-bit tensor.
                QuantParams p = pairs.get(n.inputs().getFirst());
                pairs.put(n.output(), p);
                dequantized.put(n.output(), addPair(b, n.output(), p, taken));
            }
        }
        return b.output(g.outputNames().toArray(String[]::new)).build();
    }

    /** Adds {@code value → QuantizeLinear → DequantizeLinear}; returns the dequantized value's name. */
    private static String addPair(Graph.Builder b, String value, QuantParams p, Set<String> taken) {
        String q = fresh(value + "/quantized", taken);
        String dq = fresh(value + "/dequantized", taken);
        b.node(q, QuantizeLinear.of(p), List.of(value), q);
        b.node(dq, DequantizeLinear.of(p), List.of(q), dq);
        return dq;
    }

    private static String fresh(String base, Set<String> taken) {
        String n = base;
        for (int i = 1; taken.contains(n); i++) n = base + "_" + i;
        taken.add(n);
        return n;
    }
}
