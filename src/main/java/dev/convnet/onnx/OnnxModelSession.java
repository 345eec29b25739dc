package dev.convnet.onnx;

import dev.convnet.internal.exec.LeaseCache;
import dev.convnet.internal.exec.RunGuard;
import dev.convnet.internal.exec.SessionFactory;
import dev.convnet.internal.onednn.WeightCache;
import dev.convnet.layer.Layer;
import dev.convnet.layer.ParameterSpec;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.Profile;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One ONNX model, loaded once, run at whatever input shapes arrive (any batch size) from any number of threads: the
 * shape a JVM service needs. Each run names its input shapes (or takes them from a {@link Tensor}); the model is
 * imported and compiled for each new combination of shapes on first use, and the compiled sessions are cached.
 *
 * <pre>{@code
 * try (OnnxModelSession model = OnnxModelSession.open(Path.of("resnet18.onnx"), SessionOptions.defaults().withThreads(1))) {
 *     // from any request thread, any batch size:
 *     float[] scores = model.run(pixels, Shape.of(batch, 3, 224, 224));
 * }
 * }</pre>
 *
 * <p><b>Which shapes.</b> The model's declared input dimensions are kept, symbolic ones ({@code dim_param}, such as
 * {@code "N"} or {@code "batch"}) with their names: a symbolic or unnamed dynamic dimension takes any size, and the
 * same name must have the same size in every input of one run; axis 0 (the batch) takes any size even where the
 * model fixes it (a model exported without dynamic axes still runs at any batch when nothing in it depends on the
 * batch; a node that does is named in the {@link ShapeException}); every other static dimension must be given as
 * declared. {@link #inputDims()} lists them.
 *
 * <p><b>What is cached.</b> Up to {@code cachedShapes} compiled sessions, one per combination of input shapes; beyond
 * that the least recently used one is evicted and closed as soon as no run uses it (runs in flight finish on it).
 * On oneDNN the constants (weights reordered into the layout each primitive chose, biases, batch-norm statistics) are
 * laid out once per layout and shared by every cached session that reads them in that layout, not copied per shape
 * (ResNet-18 at batches 1, 4 and 8: 105 MB of native memory instead of 200 MB for three separate sessions); the layers on
 * the Java heap are shared between the cached shapes too. On the Java backend each shape's kernels still hold their own
 * (heap) copy of the weights. A new shape costs one import and one compile,
 * on the calling thread (other shapes keep running; callers of the same new shape wait for that one compile).
 *
 * <p><b>Threads.</b> Thread-safe: any number of threads may call {@code run} at once, with the same or different
 * shapes; {@link SessionOptions#threads()} is the threads each run uses, as for a {@link Session}. {@link #close()}
 * makes later runs throw {@link IllegalStateException}, waits for runs in flight, then frees every session and the
 * shared weights. Closing twice is harmless.
 */
public final class OnnxModelSession implements AutoCloseable {
    /** How many input-shape combinations are kept compiled by default. */
    public static final int DEFAULT_CACHED_SHAPES = 8;

    /**
     * How the cache has been used.
     *
     * @param cachedShapes        how many shape combinations are compiled now
     * @param compiles            how many sessions were compiled since the model was opened
     * @param evictions           how many were evicted
     * @param sharedConstantBytes on oneDNN, native bytes of the constants shared by the cached sessions (0 elsewhere)
     * @param sharedConstantHits  on oneDNN, how many constants a compile found already laid out (reorders saved)
     */
    public record CacheStats(int cachedShapes, long compiles, long evictions, long sharedConstantBytes, long sharedConstantHits) {
    }

    private final OnnxModel model;
    private final SessionOptions options;
    private final OnnxGraph template;
    private final List<String> inputNames;
    private final List<String> outputNames;
    private final Map<String, List<OnnxValueInfo.Dim>> inputDims;
    private final WeightCache weights;
    private final LeaseCache<List<Shape>, Session> sessions;
    private final RunGuard guard = new RunGuard("model session");

    private OnnxModelSession(OnnxModel model, SessionOptions options, int cachedShapes) {
        this.model = Objects.requireNonNull(model, "model");
        Objects.requireNonNull(options, "options");
        this.options = options.withBackend(Backends.resolve(options.backend()));
        // The import for the declared shapes (dynamic sizes 1): refuses an unsupported model now, names the inputs and
        // outputs, and its layers are the ones every shape's graph shares.
        this.template = OnnxImporter.importModel(model, Map.of(), Map.of());
        this.inputNames = List.copyOf(template.inputShapes().keySet());
        this.outputNames = List.copyOf(template.outputShapes().keySet());
        Map<String, List<OnnxValueInfo.Dim>> dims = new LinkedHashMap<>();
        for (String name : inputNames) {
            OnnxValueInfo info = model.runtimeInputs().stream().filter(i -> i.name().equals(name)).findFirst().orElseThrow();
            dims.put(name, info.shape().orElseThrow());
        }
        this.inputDims = Collections.unmodifiableMap(dims);
        this.weights = this.options.backend() == BackendKind.ONEDNN ? new WeightCache() : null;
        this.sessions = new LeaseCache<>(cachedShapes, this::compile);
    }

    /**
     * Reads a model and prepares it to run at any input shapes, with {@link SessionOptions#defaults()} and
     * {@value #DEFAULT_CACHED_SHAPES} cached shapes. Nothing is compiled until the first run.
     *
     * @throws IOException                 if the file cannot be read
     * @throws OnnxFormatException         if it is malformed ({@link OnnxUnsupportedException} if unsupported)
     */
    public static OnnxModelSession open(Path modelFile) throws IOException {
        return open(modelFile, SessionOptions.defaults());
    }

    /** As {@link #open(Path)}, compiling with {@code options} (the backend is resolved once, now). */
    public static OnnxModelSession open(Path modelFile, SessionOptions options) throws IOException {
        return open(OnnxModelReader.read(modelFile), options, DEFAULT_CACHED_SHAPES);
    }

    /**
     * Prepares a model read by {@link OnnxModelReader} to run at any input shapes.
     *
     * @param cachedShapes how many input-shape combinations to keep compiled (≥ 1)
     * @throws OnnxFormatException if the model cannot be imported ({@link OnnxUnsupportedException} if unsupported)
     * @throws IllegalArgumentException if {@code cachedShapes} &lt; 1
     */
    public static OnnxModelSession open(OnnxModel model, SessionOptions options, int cachedShapes) {
        if (cachedShapes < 1) throw new IllegalArgumentException("cachedShapes = " + cachedShapes + " must be ≥ 1");
        return new OnnxModelSession(model, options, cachedShapes);
    }

    /** The backend every shape runs on. */
    public BackendKind backend() {
        return options.backend();
    }

    /** The options sessions are compiled with (the backend resolved). */
    public SessionOptions options() {
        return options;
    }

    /** The runtime input names, in the model's order. */
    public List<String> inputNames() {
        return inputNames;
    }

    /** The output names, in the model's order. */
    public List<String> outputNames() {
        return outputNames;
    }

    /** The inputs' dimensions as the model declares them, symbolic names kept (e.g. {@code [N, 3, 224, 224]}). */
    public Map<String, List<OnnxValueInfo.Dim>> inputDims() {
        return inputDims;
    }

    /** The model's default-domain opset. */
    public long opset() {
        return template.opset();
    }

    /**
     * Runs on named inputs (row-major, each exactly its shape's element count; only read) of the given shapes, and
     * returns every output as a new array, by name in {@link #outputNames()} order.
     *
     * @throws IllegalArgumentException if the names differ from {@link #inputNames()}, or a shape contradicts the
     *                                  model's declared dimensions
     * @throws ShapeException if an array's length differs from its shape's element count, or the model does not fit
     *                        these shapes (naming the node)
     * @throws IllegalStateException if the model session is closed
     */
    public Map<String, float[]> run(Map<String, float[]> inputs, Map<String, Shape> shapes) {
        Objects.requireNonNull(inputs, "inputs");
        if (!new HashSet<>(inputNames).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the model's inputs are " + inputNames);
        }
        List<Shape> key = key(shapes);
        guard.enter();
        try (LeaseCache.Lease<Session> lease = sessions.acquire(key)) {
            return lease.value().run(inputs);
        } finally {
            guard.exit();
        }
    }

    /**
     * Runs a model with one input and one output on {@code input} of shape {@code shape}, and returns the output.
     *
     * @throws IllegalStateException if the model has several inputs or outputs, or the model session is closed
     * @throws IllegalArgumentException as {@link #run(Map, Map)}
     * @throws ShapeException as {@link #run(Map, Map)}
     */
    public float[] run(float[] input, Shape shape) {
        requireSingle();
        return run(Map.of(inputNames.getFirst(), input), Map.of(inputNames.getFirst(), shape)).get(outputNames.getFirst());
    }

    /**
     * Runs a model with one input and one output on a tensor of any accepted shape, and returns a new tensor owned by
     * the caller (close it).
     *
     * @throws IllegalStateException if the model has several inputs or outputs, or the model session or the input is
     *                               closed
     * @throws IllegalArgumentException as {@link #run(Map, Map)}
     * @throws ShapeException as {@link #run(Map, Map)}
     */
    public Tensor run(Tensor input) {
        requireSingle();
        List<Shape> key = key(Map.of(inputNames.getFirst(), input.shape()));
        guard.enter();
        try (LeaseCache.Lease<Session> lease = sessions.acquire(key)) {
            return lease.value().run(input);
        } finally {
            guard.exit();
        }
    }

    /**
     * The output shapes for these input shapes (compiling them if they are new).
     *
     * @throws IllegalArgumentException as {@link #run(Map, Map)}
     * @throws ShapeException as {@link #run(Map, Map)}
     */
    public Map<String, Shape> outputShapes(Map<String, Shape> inputShapes) {
        return withSession(inputShapes, Session::outputShapes);
    }

    /**
     * The session's profile for these input shapes (compiling them if they are new): the time per step over the runs at
     * those shapes, when the options have {@link SessionOptions#withProfiling(boolean) profiling} on.
     */
    public Profile profile(Map<String, Shape> inputShapes) {
        return withSession(inputShapes, Session::profile);
    }

    /** What runs for these input shapes (compiling them if they are new): the session's {@link Session#plan()}. */
    public String plan(Map<String, Shape> inputShapes) {
        return withSession(inputShapes, Session::plan);
    }

    private <T> T withSession(Map<String, Shape> inputShapes, java.util.function.Function<Session, T> f) {
        List<Shape> key = key(inputShapes);
        guard.enter();
        try (LeaseCache.Lease<Session> lease = sessions.acquire(key)) {
            return f.apply(lease.value());
        } finally {
            guard.exit();
        }
    }

    /** The input shapes compiled now, least recently used first. */
    public List<Map<String, Shape>> cachedShapes() {
        List<Map<String, Shape>> out = new ArrayList<>();
        for (List<Shape> key : sessions.keys()) out.add(shapesOf(key));
        return out;
    }

    /** How the cache has been used. */
    public CacheStats cacheStats() {
        long[] c = sessions.counts();
        return new CacheStats(sessions.keys().size(), c[0], c[1], weights == null ? 0 : weights.bytes(),
                weights == null ? 0 : weights.hits());
    }

    private void requireSingle() {
        if (inputNames.size() != 1 || outputNames.size() != 1) {
            throw new IllegalStateException("the model has inputs " + inputNames + " and outputs " + outputNames + ": use run(Map, Map)");
        }
    }

    private Map<String, Shape> shapesOf(List<Shape> key) {
        Map<String, Shape> m = new LinkedHashMap<>();
        for (int i = 0; i < key.size(); i++) m.put(inputNames.get(i), key.get(i));
        return m;
    }

    /**
     * The cache key for these shapes, after checking them against the declared dimensions: ranks, static sizes (axis 0
     * excepted), and one size per symbolic name.
     */
    private List<Shape> key(Map<String, Shape> shapes) {
        Objects.requireNonNull(shapes, "shapes");
        if (!new HashSet<>(inputNames).equals(shapes.keySet())) {
            throw new IllegalArgumentException("shapes are given for " + shapes.keySet() + ", the model's inputs are " + inputNames);
        }
        List<Shape> key = new ArrayList<>(inputNames.size());
        Map<String, Integer> symbols = new HashMap<>();
        Map<String, String> symbolSource = new HashMap<>();
        for (String name : inputNames) {
            Shape s = Objects.requireNonNull(shapes.get(name), "shape of " + name);
            List<OnnxValueInfo.Dim> declared = inputDims.get(name);
            int rank = Math.max(1, declared.size()); // a declared scalar runs as [1]
            if (s.rank() != rank) {
                throw new IllegalArgumentException("input '" + name + "' has shape " + s + " of rank " + s.rank()
                        + "; the model declares " + declared + " (rank " + rank + ")");
            }
            for (int a = 0; a < declared.size(); a++) {
                OnnxValueInfo.Dim d = declared.get(a);
                if (d.isDynamic() && d.param() != null) {
                    Integer before = symbols.putIfAbsent(d.param(), s.dim(a));
                    if (before != null && before != s.dim(a)) {
                        throw new IllegalArgumentException("input '" + name + "' has " + d.param() + " = " + s.dim(a) + " on axis " + a
                                + ", but " + symbolSource.get(d.param()) + " has " + d.param() + " = " + before
                                + " (the model declares " + inputDims + ")");
                    }
                    symbolSource.putIfAbsent(d.param(), "input '" + name + "' axis " + a);
                } else if (!d.isDynamic() && a > 0 && d.value() != s.dim(a)) {
                    throw new IllegalArgumentException("input '" + name + "' has shape " + s + "; the model declares " + declared
                            + ": axis " + a + " must be " + d.value());
                }
            }
            key.add(s);
        }
        return List.copyOf(key);
    }

    /** Imports and compiles the model for one combination of shapes (called by the cache, outside its lock). */
    private Session compile(List<Shape> key) {
        Map<String, Shape> shapes = shapesOf(key);
        OnnxGraph imported = shapes.equals(template.inputShapes()) ? template : OnnxImporter.importModel(model, shapes, Map.of());
        Graph graph = shareLayers(imported.graph(), template.graph());
        return SessionFactory.create(graph, graph.plan(shapes), options, weights);
    }

    /**
     * {@code g} with each layer that has parameters replaced by the template's layer of the same node when they are the
     * same (class, description and parameter values), so that the cached shapes share one copy of the weights on the
     * heap. The import of one model node does not depend on the input sizes except for layers without parameters
     * (reshape targets), so in practice every parameterized layer is shared.
     */
    private static Graph shareLayers(Graph g, Graph template) {
        if (g == template) return g;
        Map<String, Layer> byName = new HashMap<>();
        for (Graph.Node n : template.nodes()) byName.put(n.name(), n.layer());
        Graph.Builder b = Graph.builder();
        g.inputNames().forEach(b::input);
        g.constantShapes().forEach((name, shape) -> b.constant(name, shape, g.constantValues(name)));
        for (Graph.Node n : g.nodes()) {
            Layer t = byName.get(n.name());
            Layer layer = t != null && sameParameterizedLayer(t, n.layer()) ? t : n.layer();
            b.node(n.name(), layer, n.inputs(), n.output(), n.parameterNames());
        }
        return b.output(g.outputNames().toArray(String[]::new)).build();
    }

    private static boolean sameParameterizedLayer(Layer a, Layer b) {
        if (a.getClass() != b.getClass() || a.parameterNames().isEmpty() || !a.toString().equals(b.toString())) return false;
        List<ParameterSpec> pa = a.parameters();
        List<ParameterSpec> pb = b.parameters();
        if (pa.size() != pb.size()) return false;
        for (int i = 0; i < pa.size(); i++) {
            if (!pa.get(i).shape().equals(pb.get(i).shape()) || !Arrays.equals(pa.get(i).values(), pb.get(i).values())) return false;
        }
        return true;
    }

    /** Waits for runs in flight, then frees every compiled session and the shared weights. Idempotent. */
    @Override
    public void close() {
        if (!guard.close()) return;
        try {
            sessions.close();
        } finally {
            if (weights != null) weights.close();
        }
    }

    @Override
    public String toString() {
        return "OnnxModelSession[" + options.backend().name().toLowerCase(java.util.Locale.ROOT) + ", inputs " + inputDims
                + ", outputs " + outputNames + ", " + sessions.keys().size() + " shape(s) compiled]";
    }
}
