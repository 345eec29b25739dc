package dev.convnet.train;

import dev.convnet.data.Batches;
import dev.convnet.data.Dataset;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Transfer learning (the lecture's §3) on any graph, built with the layer API or imported from ONNX:
 * <ul>
 *   <li>{@link #backbone}: cut a graph at a named node; the feature extractor is that node and everything it depends
 *       on. {@link #defaultCut} is the producer of the last Linear's input (the classification layer removed).</li>
 *   <li>{@link #withHead}: the backbone with a new head for the new classes ({@code [Flatten] → [Linear → ReLU]* →
 *       Linear}), whose parameters are named {@code head.fc1.weight}, …, {@code head.fc.bias};
 *       {@link #head} is the same head alone, reading features.</li>
 *   <li>Freezing ({@link ParameterSet#freeze}, {@link #freezeBackbone}, {@link #topBlocks} for fine-tuning only the
 *       last k blocks) and per-group learning rates ({@link Optimizer#group}); a frozen batch norm, and every node of
 *       a frozen extractor, runs in inference mode.</li>
 *   <li>{@link #featurize}: run the frozen extractor once per example and keep the features (in memory, or in a file
 *       mapped from disk); training {@link #head} on them equals training {@link #withHead} with the frozen layers in
 *       the loop, at the cost of the head alone per epoch. The two classifiers the lecture names are the head trained
 *       with {@link Loss#softmaxCrossEntropy()} (softmax regression) or {@link Loss#multiclassHinge()} (a linear SVM,
 *       with weight decay as its regularizer).</li>
 * </ul>
 *
 * <p>Thread-safety: stateless.
 */
public final class TransferLearning {
    /** The name of the head's input value in {@link #head}. */
    public static final String FEATURES = "features";
    /** The name of the head's output value. */
    public static final String SCORES = "scores";

    private TransferLearning() {
    }

    private static boolean isClassifier(Layer l) {
        return l instanceof Linear || l instanceof MatMul;
    }

    /**
     * The default cut: the node producing the input of the graph's last Linear (or MatMul) node, i.e. the graph
     * without its classification layer.
     *
     * @throws IllegalArgumentException if the graph has no Linear node, or the last one reads a graph input
     */
    public static String defaultCut(Graph graph) {
        List<Graph.Node> nodes = graph.nodes();
        for (int k = nodes.size() - 1; k >= 0; k--) {
            Graph.Node n = nodes.get(k);
            if (isClassifier(n.layer())) {
                String in = n.inputs().getFirst();
                for (Graph.Node m : nodes) if (m.output().equals(in)) return m.name();
                throw new IllegalArgumentException("the last classifier node '" + n.name() + "' reads the graph input '" + in
                        + "': there is no feature extractor before it");
            }
        }
        throw new IllegalArgumentException("the graph has no Linear/Gemm/MatMul node to remove; name the cut node (--cut)");
    }

    /**
     * The feature extractor: node {@code cut} (a node name, or the name of the value a node produces) and every node it
     * depends on, with the constants they read; its output is the cut node's output.
     *
     * @throws IllegalArgumentException naming the graph's nodes if there is no such node
     */
    public static Graph backbone(Graph graph, String cut) {
        Objects.requireNonNull(cut, "cut");
        Graph.Node target = null;
        for (Graph.Node n : graph.nodes()) if (n.name().equals(cut) || n.output().equals(cut)) target = n;
        if (target == null) {
            List<String> names = graph.nodes().stream().map(Graph.Node::name).toList();
            throw new IllegalArgumentException("no node or value named '" + cut + "' to cut at; the nodes are "
                    + (names.size() <= 12 ? names : names.subList(0, 6) + " … " + names.subList(names.size() - 6, names.size())));
        }
        Set<String> needed = new HashSet<>(List.of(target.output()));
        List<Graph.Node> kept = new ArrayList<>();
        List<Graph.Node> nodes = graph.nodes();
        for (int k = nodes.indexOf(target); k >= 0; k--) {
            Graph.Node n = nodes.get(k);
            if (needed.contains(n.output())) {
                kept.addFirst(n);
                needed.addAll(n.inputs());
            }
        }
        Graph.Builder b = Graph.builder();
        for (String in : graph.inputNames()) if (needed.contains(in)) b.input(in);
        for (var c : graph.constantShapes().entrySet()) {
            if (needed.contains(c.getKey())) b.constant(c.getKey(), c.getValue(), graph.constantValues(c.getKey()));
        }
        for (Graph.Node n : kept) b.node(n.name(), n.layer(), n.inputs(), n.output(), n.parameterNames());
        return b.output(target.output()).build();
    }

    /**
     * The backbone followed by a new head: a Flatten when the backbone's output has rank &gt; 2, then a
     * {@code Linear → ReLU} per entry of {@code hidden}, then a Linear with {@code classes} outputs; weights Kaiming
     * uniform, biases U(±1/√fan_in), drawn with {@code seed}. The output is named {@value #SCORES}.
     *
     * @param inputShapes the backbone's input shapes (batch first), to size the head
     */
    public static Graph withHead(Graph backbone, Map<String, Shape> inputShapes, int classes, int[] hidden, long seed) {
        if (backbone.outputNames().size() != 1) throw new IllegalArgumentException("a backbone has one output, got " + backbone.outputNames());
        GraphSummary plan = backbone.plan(inputShapes);
        Shape features = plan.outputShapes().values().iterator().next();
        Graph.Builder b = Graph.builder();
        for (String in : backbone.inputNames()) b.input(in);
        for (var c : backbone.constantShapes().entrySet()) b.constant(c.getKey(), c.getValue(), backbone.constantValues(c.getKey()));
        for (Graph.Node n : backbone.nodes()) b.node(n.name(), n.layer(), n.inputs(), n.output(), n.parameterNames());
        appendHead(b, backbone.outputNames().getFirst(), features.withoutBatch(), classes, hidden, seed);
        return b.output(SCORES).build();
    }

    /** {@link #withHead} for a backbone with one input. */
    public static Graph withHead(Graph backbone, Shape inputShape, int classes, int[] hidden, long seed) {
        return withHead(backbone, Map.of(backbone.inputNames().getFirst(), inputShape), classes, hidden, seed);
    }

    /**
     * The head of {@link #withHead} alone, reading features of shape {@code featureShape} (no batch) from the input
     * {@value #FEATURES}: the same node and parameter names, the same initial values for the same seed.
     */
    public static Graph head(Shape featureShape, int classes, int[] hidden, long seed) {
        Graph.Builder b = Graph.builder().input(FEATURES);
        appendHead(b, FEATURES, featureShape, classes, hidden, seed);
        return b.output(SCORES).build();
    }

    private static void appendHead(Graph.Builder b, String from, Shape featureShape, int classes, int[] hidden, long seed) {
        if (classes < 1) throw new IllegalArgumentException("the head needs ≥ 1 class, got " + classes);
        SplittableRandom random = new SplittableRandom(seed);
        String x = from;
        int d = (int) featureShape.elementCount();
        if (featureShape.rank() > 1) {
            b.node("head.flatten", new Flatten(), List.of(x), "head.flatten");
            x = "head.flatten";
        }
        for (int i = 0; i < hidden.length; i++) {
            String fc = "head.fc" + (i + 1);
            b.node(fc, linear(d, hidden[i], random), List.of(x), fc);
            b.node("head.relu" + (i + 1), Activation.relu(), List.of(fc), "head.relu" + (i + 1));
            x = "head.relu" + (i + 1);
            d = hidden[i];
        }
        b.node("head.fc", linear(d, classes, random), List.of(x), SCORES);
    }

    private static Linear linear(int in, int out, SplittableRandom random) {
        float[] w = new float[in * out];
        float[] bias = new float[out];
        Initializer.KAIMING_UNIFORM.fill(w, in, out, random);
        Initializer.UNIFORM_FAN_IN.fill(bias, in, out, random);
        return Linear.of(in, out, w, bias);
    }

    /**
     * Freezes every parameter of the backbone's nodes in {@code parameters} (a set of the backbone with a head);
     * returns how many.
     */
    public static int freezeBackbone(ParameterSet parameters, Graph backbone) {
        Set<String> names = new HashSet<>();
        for (Graph.Node n : backbone.nodes()) names.addAll(n.parameterNames());
        if (names.isEmpty()) throw new IllegalArgumentException("the backbone has no parameters to freeze");
        return parameters.freeze(names::contains);
    }

    /**
     * The parameter names of the backbone's top {@code k} blocks, for fine-tuning only them: a block is a convolution
     * or Linear node with the batch norms that directly follow it, counted from the output back.
     *
     * @throws IllegalArgumentException if k is not in [1, number of blocks]
     */
    public static List<String> topBlocks(Graph backbone, int k) {
        List<Graph.Node> nodes = backbone.nodes();
        List<List<String>> blocks = new ArrayList<>();
        for (int i = 0; i < nodes.size(); i++) {
            Layer l = nodes.get(i).layer();
            if (l instanceof Conv2d || l instanceof Conv1d || l instanceof Linear) {
                List<String> names = new ArrayList<>(nodes.get(i).parameterNames());
                String value = nodes.get(i).output();
                for (int j = i + 1; j < nodes.size() && nodes.get(j).layer() instanceof BatchNorm
                        && nodes.get(j).inputs().getFirst().equals(value); j++) {
                    names.addAll(nodes.get(j).parameterNames());
                    value = nodes.get(j).output();
                }
                blocks.add(names);
            }
        }
        if (k < 1 || k > blocks.size()) {
            throw new IllegalArgumentException("top k blocks: k = " + k + " must be in [1, " + blocks.size() + "] (the backbone has "
                    + blocks.size() + " convolution/Linear blocks)");
        }
        Set<String> out = new LinkedHashSet<>();
        for (List<String> b : blocks.subList(blocks.size() - k, blocks.size())) out.addAll(b);
        return List.copyOf(out);
    }

    /**
     * The features of every example of {@code data}: the backbone (with its current values in {@code graph}) run once,
     * in inference mode, in batches of {@code batch}. The result has the same labels and class names, images of the
     * backbone's output shape per example (rank 1 becomes {@code [D, 1, 1]}, rank 2 {@code [C, L, 1]}).
     *
     * @param spill null to keep the features in memory; else a file they are written to and mapped from (for features
     *              larger than the heap); it is replaced if it exists
     * @throws IOException if the spill file cannot be written
     */
    public static Dataset featurize(Graph backbone, Dataset data, SessionOptions options, int batch, Path spill) throws IOException {
        if (batch < 1) throw new IllegalArgumentException("batch " + batch + " must be ≥ 1");
        if (data.size() == 0) throw new IllegalArgumentException("no examples to featurize");
        Batches batches = data.batches(batch, false, 0, 0, false);
        Shape featureShape = null;
        float[] memory = null;
        OutputStream file = spill == null ? null : new java.io.BufferedOutputStream(Files.newOutputStream(spill), 1 << 20);
        Session full = null;
        Session last = null;
        try {
            for (int b = 0; b < batches.count(); b++) {
                int n = batches.size(b);
                float[] x = new float[n * data.imageSize()];
                batches.fill(b, x, new int[n]);
                Session s = n == batch ? full : last;
                if (s == null) {
                    s = backbone.compile(Map.of(backbone.inputNames().getFirst(), batchShape(n, data.imageShape())), options);
                    if (n == batch) full = s;
                    else last = s;
                }
                Shape out = s.outputShapes().values().iterator().next();
                if (featureShape == null) {
                    featureShape = asImage(out.withoutBatch());
                    if (spill == null) {
                        long total = (long) data.size() * featureShape.elementCount();
                        if (total > Integer.MAX_VALUE - 8) {
                            throw new ShapeException(data.size() + " features of " + featureShape + " (" + total
                                    + " floats) do not fit in memory: give a spill file");
                        }
                        memory = new float[(int) total];
                    }
                }
                float[] y = s.run(Map.of(backbone.inputNames().getFirst(), x)).values().iterator().next();
                if (memory != null) {
                    System.arraycopy(y, 0, memory, (int) ((long) b * batch * featureShape.elementCount()), y.length);
                } else {
                    ByteBuffer bb = ByteBuffer.allocate(y.length * Float.BYTES).order(ByteOrder.nativeOrder());
                    bb.asFloatBuffer().put(y);
                    file.write(bb.array());
                }
            }
        } finally {
            if (full != null) full.close();
            if (last != null) last.close();
            if (file != null) file.close();
        }
        int[] labels = data.labels();
        return memory != null ? Dataset.of(featureShape, memory, labels, data.classNames())
                : Dataset.mapped(spill, featureShape, labels, data.classNames());
    }

    private static Shape asImage(Shape s) {
        return switch (s.rank()) {
            case 1 -> Shape.of(s.dim(0), 1, 1);
            case 2 -> Shape.of(s.dim(0), s.dim(1), 1);
            case 3 -> s;
            default -> Shape.of((int) s.elementCount(), 1, 1);
        };
    }

    static Shape batchShape(int n, Shape image) {
        int[] dims = new int[image.rank() + 1];
        dims[0] = n;
        System.arraycopy(image.dims(), 0, dims, 1, image.rank());
        return Shape.of(dims);
    }
}
