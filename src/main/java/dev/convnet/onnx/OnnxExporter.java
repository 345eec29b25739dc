package dev.convnet.onnx;

import dev.convnet.layer.QuantizeLinear;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Pad;
import dev.convnet.layer.PoolKind;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.net.Graph;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.NodeProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

/**
 * Writes a {@link Graph} (and so any {@code Network}, through {@code network.toGraph()}) as an ONNX model, opset
 * {@value #OPSET}, IR version {@value #IR_VERSION}: the inverse of {@link OnnxImporter}, so that a network built or
 * trained here can be served by any ONNX runtime.
 *
 * <p>The model:
 * <ul>
 *   <li>graph inputs and outputs keep the graph's names; each node's ONNX node is named after it and writes its
 *       output, helper nodes and values are named {@code <node>/<role>};</li>
 *   <li>graph constants become initializers of their own name; layer parameters become initializers named by
 *       {@link #parameterName}: {@code <node>.weight} and {@code <node>.bias} (batch norm: {@code .weight} γ,
 *       {@code .bias} β, {@code .running_mean}, {@code .running_var}); names that are taken get a {@code _1},
 *       {@code _2}, … suffix;</li>
 *   <li>with a symbolic batch (the default, {@link Options#symbolicBatch()}) axis 0 of every input whose axis 0
 *       equals the first input's is {@code dim_param "}{@value #BATCH}{@code "}, and so is every output axis that
 *       follows the batch. The model must then mean the same at every batch size, which is checked: the graph is
 *       exported for the given shapes and for a second batch size (2, or 1 when the given batch is larger), and
 *       every node must fit both and become the same ONNX nodes; a Reshape whose target holds the batch writes
 *       {@code 0} (copy the input's batch) or {@code −1} for it. A graph that fixes its batch size is refused
 *       with the node named, and can still be exported with {@code withSymbolicBatch(false)}.</li>
 * </ul>
 * Convolution and pooling padding is written as explicit {@code pads} from the geometry at the given input shapes
 * (the lecture's "same" padding depends on the input size), so the spatial sizes are fixed.
 *
 * <p>Each layer becomes: Conv2d, Conv1d → {@code Conv} (a true-convolution Conv1d with its kernels reversed, as ONNX
 * convolves by cross-correlation);
 * MaxPool2d, AvgPool2d → {@code MaxPool}, {@code AveragePool} ({@code count_include_pad}, {@code ceil_mode}
 * where it changes the output size); GlobalPool2d → {@code GlobalAveragePool}, {@code GlobalMaxPool}; Linear →
 * {@code Gemm} with {@code transB = 1} (a {@code Flatten} before it on input of rank &gt; 2); MatMul;
 * Activation → {@code Relu}, {@code LeakyRelu}, {@code Sigmoid}, {@code Tanh}, {@code Elu}, and GELU (no operator
 * at opset 13) as {@code x·½·(1 + erf(x/√2))}: {@code Div, Erf, Add, Mul, Mul}; Softmax → {@code Softmax} over
 * axis 1; AxisSoftmax → {@code Softmax}, {@code LogSoftmax}, {@code Hardmax} over its axis (the opset-&lt;13
 * 2-D form as {@code Flatten}, the function, {@code Reshape} to {@code Shape} of the input); BatchNorm →
 * {@code BatchNormalization} (inference form, ε as a float32 attribute, momentum 0.9); Flatten; Reshape →
 * {@code Reshape} (target as an int64 initializer), {@code Flatten}, {@code Squeeze}, {@code Unsqueeze} (axes as
 * inputs), {@code Identity}; Transpose; Pad ({@code pads} and {@code constant_value} as inputs); Concat; Slice
 * (starts, ends, axes, steps as inputs); Binary → {@code Add, Sub, Mul, Div, Max, Min, Pow, PRelu}; Unary →
 * {@code Clip} (bounds as inputs, an infinite one left out), {@code HardSigmoid}, HardSwish (an opset-14
 * operator) as {@code x·HardSigmoid(x)} with α = 1/6, β = ½, and {@code Abs, Neg, Exp, Log, Sqrt, Reciprocal,
 * Floor, Ceil, Erf, Softplus, Softsign, Selu, ThresholdedRelu}; Reduce → {@code ReduceMean}, {@code ReduceSum}
 * (axes as an input at opset 13), … with explicit axes; QuantizeLinear, DequantizeLinear → the operators of that name
 * with a FLOAT scale and an INT8 or UINT8 zero point (scalars per tensor; 1-D and {@code axis} per axis). A
 * QuantizeLinear's output is an INT8/UINT8 tensor when only DequantizeLinears of that type read it (else it is cast
 * back to FLOAT), a graph input read only by such DequantizeLinears is declared INT8/UINT8, and a DequantizeLinear of
 * any other (float) value casts it to the integer type first. A result that the layer represents as {@code [1]} but
 * ONNX as a scalar is reshaped to {@code [1]}.
 *
 * <p>Refused with an {@link UnsupportedOperationException} naming the node and its layer: {@link DepthPool}
 * (ONNX has no pooling across channels), a PRelu whose slope does not broadcast to the input's shape, a model
 * whose initializers pass protobuf's 2 GiB limit (external data is not written), and a graph that is not
 * batch-independent when a symbolic batch is asked for. Shapes that do not fit are a {@link ShapeException} from
 * {@link Graph#plan(Map)}.
 *
 * <p>{@link #save} builds the whole model in memory before it touches the file, then writes it to a temporary
 * file in the same folder and renames it over the target, so a failed export never leaves a partial file.
 *
 * <p>Thread-safety: stateless; every call works on its own state, so calls may run concurrently.
 */
public final class OnnxExporter {
    /** The default-domain opset written. */
    public static final int OPSET = 13;
    /** The IR version written. */
    public static final int IR_VERSION = 7;
    /** {@code producer_name}. */
    public static final String PRODUCER = "convnet";
    /** The {@code dim_param} of the batch axis. */
    public static final String BATCH = "N";

    /** The largest total of initializer bytes written: protobuf's 2 GiB message limit, with room for the rest. */
    private static final long MAX_INITIALIZER_BYTES = Integer.MAX_VALUE - (1L << 24);

    private OnnxExporter() {
    }

    /**
     * How a model is written. Immutable and thread-safe.
     *
     * @param modelName     the ONNX graph's name
     * @param symbolicBatch whether axis 0 of the inputs and outputs is the symbolic {@value #BATCH} (checked, see
     *                      {@link OnnxExporter}); otherwise every dimension is fixed to the given shapes
     */
    public record Options(String modelName, boolean symbolicBatch) {
        /**
         * @throws IllegalArgumentException if the name is blank
         */
        public Options {
            Objects.requireNonNull(modelName, "modelName");
            if (modelName.isBlank()) throw new IllegalArgumentException("the model name must not be blank");
        }

        /** Name {@code "convnet"}, symbolic batch. */
        public static Options defaults() {
            return new Options("convnet", true);
        }

        /** These options with another graph name. */
        public Options withModelName(String name) {
            return new Options(name, symbolicBatch);
        }

        /** These options with the batch symbolic ({@code true}) or fixed to the given shapes ({@code false}). */
        public Options withSymbolicBatch(boolean on) {
            return new Options(modelName, on);
        }
    }

    /**
     * Writes a graph with one input, for that input's shape (batch first), with {@link Options#defaults()}.
     *
     * @throws IllegalStateException         if the graph has another number of inputs
     * @throws ShapeException                if a node does not fit its inputs
     * @throws UnsupportedOperationException if a node cannot be written (see {@link OnnxExporter})
     * @throws IOException                   if the file cannot be written; the target is then unchanged
     */
    public static void save(Graph graph, Shape inputShape, Path file) throws IOException {
        save(graph, Map.of(onlyInput(graph), Objects.requireNonNull(inputShape, "inputShape")), file, Options.defaults());
    }

    /** {@link #save(Graph, Map, Path, Options)} with {@link Options#defaults()}. */
    public static void save(Graph graph, Map<String, Shape> inputShapes, Path file) throws IOException {
        save(graph, inputShapes, file, Options.defaults());
    }

    /**
     * Writes a graph for the given input shapes (batch first, one per graph input): the model is built first, then
     * written to a temporary file in the target's folder and renamed over the target.
     *
     * @throws IllegalArgumentException      if the names differ from the graph's inputs
     * @throws ShapeException                if a node does not fit its inputs
     * @throws UnsupportedOperationException if a node cannot be written (see {@link OnnxExporter}); nothing is
     *                                       written
     * @throws IOException                   if the file cannot be written; the target is then unchanged
     */
    public static void save(Graph graph, Map<String, Shape> inputShapes, Path file, Options options) throws IOException {
        Objects.requireNonNull(file, "file");
        AtomicFiles.write(file, toBytes(graph, inputShapes, options));
    }

    /** The serialized model of a one-input graph, with {@link Options#defaults()}; see {@link #save(Graph, Shape, Path)}. */
    public static byte[] toBytes(Graph graph, Shape inputShape) {
        return toBytes(graph, Map.of(onlyInput(graph), Objects.requireNonNull(inputShape, "inputShape")), Options.defaults());
    }

    /** The serialized model; see {@link #save(Graph, Map, Path, Options)} for the exceptions. */
    public static byte[] toBytes(Graph graph, Map<String, Shape> inputShapes, Options options) {
        return toModel(graph, inputShapes, options).toByteArray();
    }

    /** The model as a protobuf message (the generated classes are not public API; for the tests). */
    static ModelProto toModel(Graph graph, Map<String, Shape> inputShapes, Options options) {
        Objects.requireNonNull(graph, "graph");
        Objects.requireNonNull(inputShapes, "inputShapes");
        Objects.requireNonNull(options, "options");
        return new Exporter(graph, options).run(inputShapes);
    }

    /**
     * The initializer name of a layer parameter: the node's global name for it ({@link Graph.Node#parameterNames()}: an
     * imported model's initializer name, or {@code <node name>.<role>}) for role {@code weight}, {@code bias},
     * {@code running_mean} or {@code running_var} (before de-duplication). The one place parameter names are made.
     */
    static String parameterName(Graph.Node node, String role) {
        int i = node.layer().parameterNames().indexOf(role);
        return i >= 0 ? node.parameterNames().get(i) : node.name() + "." + role;
    }

    private static String onlyInput(Graph graph) {
        Objects.requireNonNull(graph, "graph");
        if (graph.inputNames().size() != 1) {
            throw new IllegalStateException("the graph has " + graph.inputNames().size() + " inputs " + graph.inputNames()
                    + "; give a shape for each");
        }
        return graph.inputNames().getFirst();
    }

    // ------------------------------------------------------------------------------------------------ the graph

    /** One export: the value names, the shapes at the given batch and at the probe batch, and the graph built. */
    private static final class Exporter {
        private final Graph graph;
        private final Options options;
        private final Names names = new Names(null);
        private final Names nodeNames = new Names(null);
        private final Map<String, Shape> shapes = new HashMap<>();
        /** Shapes at the probe batch; null for a fixed batch. */
        private Map<String, Shape> probeShapes;
        private final Set<String> batchedInputs = new HashSet<>();
        private int batch;
        private int probeBatch;
        private final GraphProto.Builder g = GraphProto.newBuilder();
        private long initializerBytes;
        /** Values written as INT8 or UINT8 tensors: see {@link #byteValues()}. */
        private final Map<String, OnnxDataType> byteValues = new HashMap<>();

        Exporter(Graph graph, Options options) {
            this.graph = graph;
            this.options = options;
        }

        ModelProto run(Map<String, Shape> inputShapes) {
            graph.plan(inputShapes); // validates the names and every node, naming the one that does not fit
            g.setName(options.modelName());
            List<String> inputs = graph.inputNames();
            Map<String, Shape> probeInputs = new HashMap<>();
            if (!inputs.isEmpty()) {
                batch = inputShapes.get(inputs.getFirst()).dim(0);
                probeBatch = batch == 1 ? 2 : 1;
            }
            for (String in : inputs) {
                Shape s = inputShapes.get(in);
                shapes.put(in, s);
                names.reserve(in);
                if (options.symbolicBatch() && s.dim(0) == batch) {
                    batchedInputs.add(in);
                    int[] d = s.dims();
                    d[0] = probeBatch;
                    probeInputs.put(in, Shape.of(d));
                } else {
                    probeInputs.put(in, s);
                }
            }
            if (options.symbolicBatch()) probeShapes = probeInputs;
            graph.constantShapes().forEach((name, s) -> {
                names.reserve(name);
                shapes.put(name, s);
                if (probeShapes != null) probeShapes.put(name, s);
                g.addInitializer(floats(name, dims(s), graph.constantValues(name)));
                countBytes(s.elementCount(), "constant '" + name + "'");
            });
            for (Graph.Node n : graph.nodes()) names.reserve(n.output());
            byteValues();
            for (String in : inputs) g.addInput(valueInfo(in, shapes.get(in), probeShapes == null ? null : probeShapes.get(in)));
            for (Graph.Node n : graph.nodes()) node(n);
            for (String out : graph.outputNames()) {
                g.addOutput(valueInfo(out, shapes.get(out), probeShapes == null ? null : probeShapes.get(out)));
            }
            ModelProto.Builder m = ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName(PRODUCER)
                    .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET))
                    .setDocString("exported by convnet for input shapes " + inputShapes
                            + (probeShapes != null && !batchedInputs.isEmpty()
                            ? ", batch (axis 0 of " + batchedInputs.stream().sorted().toList() + ") symbolic '" + BATCH + "'"
                            : ", fixed batch")
                            + "; convolution and pooling padding computed for these spatial sizes")
                    .setGraph(g);
            String version = OnnxExporter.class.getPackage().getImplementationVersion();
            if (version != null) m.setProducerVersion(version);
            return m.build();
        }

        /** Writes one graph node; with a symbolic batch, first checks that it is the same at the probe batch. */
        private void node(Graph.Node n) {
            List<Shape> in = n.inputs().stream().map(shapes::get).toList();
            List<Shape> probeIn = probeShapes == null ? null : n.inputs().stream().map(probeShapes::get).toList();
            Layer form = exportForm(n.layer(), in, probeIn);
            Shape out = form.outputShape(in);
            NodeWriter w = new NodeWriter(n, form, in, out, names.child(), nodeNames.child(), false, this::countBytes);
            w.byteValues = byteValues;
            convert(w);
            if (probeShapes != null) {
                Shape probeOut;
                NodeWriter probe;
                try {
                    probeOut = form.outputShape(probeIn);
                    probe = new NodeWriter(n, form, probeIn, probeOut, names.child(), nodeNames.child(), true, (c, what) -> { });
                    probe.byteValues = byteValues;
                    convert(probe);
                } catch (ShapeException e) {
                    throw notBatchIndependent(n, "at batch " + probeBatch + " it does not fit: " + e.getMessage());
                }
                if (!w.sameAs(probe)) {
                    throw notBatchIndependent(n, "it becomes " + w.describe() + " at batch " + batch + " but "
                            + probe.describe() + " at batch " + probeBatch);
                }
                probeShapes.put(n.output(), probeOut);
            }
            names.commit(w.names);
            nodeNames.commit(w.nodeNames);
            w.addTo(g);
            shapes.put(n.output(), out);
        }

        /**
         * The layer as written: itself, except a Reshape to a target, whose target is the output shape, with the
         * batch (when the input's only batch-dependent axis is axis 0) as 0 (same size as the input's axis 0) or −1.
         */
        private Layer exportForm(Layer layer, List<Shape> in, List<Shape> probeIn) {
            if (!(layer instanceof Reshape r) || r.mode() != Reshape.Mode.TO) return layer;
            Shape x = in.getFirst();
            int[] target = r.outputShape(x).dims();
            if (probeIn != null && !x.equals(probeIn.getFirst())) {
                Shape p = probeIn.getFirst();
                boolean onlyAxis0 = p.rank() == x.rank()
                        && IntStream.range(1, x.rank()).allMatch(i -> x.dim(i) == p.dim(i));
                if (!onlyAxis0) return layer; // as given: the probe decides whether it is batch-independent
                target[0] = target[0] == x.dim(0) ? 0 : -1;
            }
            return Reshape.to(target);
        }

        /**
         * Which values are written as 8-bit integer tensors (a graph carries them as floats): a QuantizeLinear's output,
         * and a graph input, when every node that reads it is a DequantizeLinear of the same integer type. Any other
         * QuantizeLinear output is cast back to FLOAT, and a DequantizeLinear of a FLOAT value casts it first, so every
         * ONNX node gets the element types its operator requires.
         */
        private void byteValues() {
            Map<String, List<Layer>> readers = new HashMap<>();
            for (Graph.Node n : graph.nodes()) {
                for (String i : n.inputs()) readers.computeIfAbsent(i, k -> new ArrayList<>()).add(n.layer());
            }
            Map<String, QuantParams.Type> candidates = new HashMap<>();
            for (String in : graph.inputNames()) {
                List<Layer> r = readers.getOrDefault(in, List.of());
                if (!r.isEmpty() && r.getFirst() instanceof DequantizeLinear d) candidates.put(in, d.params().type());
            }
            for (Graph.Node n : graph.nodes()) {
                if (n.layer() instanceof QuantizeLinear q) candidates.put(n.output(), q.params().type());
            }
            candidates.forEach((value, type) -> {
                boolean onlyDequantized = readers.getOrDefault(value, List.of()).stream()
                        .allMatch(l -> l instanceof DequantizeLinear d && d.params().type() == type);
                if (onlyDequantized) byteValues.put(value, onnxType(type));
            });
        }

        private UnsupportedOperationException notBatchIndependent(Graph.Node n, String detail) {
            return new UnsupportedOperationException("node '" + n.name() + "' " + n.layer() + ": cannot be exported with a"
                    + " symbolic batch (axis 0 of inputs " + batchedInputs.stream().sorted().toList() + "): " + detail
                    + "; the graph depends on its batch size: export it with Options.withSymbolicBatch(false) for batch "
                    + batch + " only");
        }

        private void countBytes(long floats, String what) {
            initializerBytes += floats * Float.BYTES;
            if (initializerBytes > MAX_INITIALIZER_BYTES) {
                throw new UnsupportedOperationException(what + ": the initializers pass " + MAX_INITIALIZER_BYTES
                        + " bytes; an ONNX file holds at most 2 GiB and external data is not written");
            }
        }

        /**
         * A FLOAT (or, for {@link #byteValues()}, INT8 or UINT8) tensor value: a fixed shape, or the batch-dependent
         * axes symbolic ({@value #BATCH} or unnamed).
         */
        private ValueInfoProto valueInfo(String name, Shape s, Shape probe) {
            TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
            for (int i = 0; i < s.rank(); i++) {
                TensorShapeProto.Dimension.Builder d = TensorShapeProto.Dimension.newBuilder();
                if (probe == null || probe.dim(i) == s.dim(i)) {
                    d.setDimValue(s.dim(i));
                } else if (s.dim(i) == batch && probe.dim(i) == probeBatch) {
                    d.setDimParam(BATCH);
                } // else: a size that depends on the batch otherwise (e.g. N·C after a reshape): left unknown
                shape.addDim(d);
            }
            return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                    TypeProto.Tensor.newBuilder().setElemType(byteValues.getOrDefault(name, OnnxDataType.FLOAT).code())
                            .setShape(shape))).build();
        }
    }

    // ------------------------------------------------------------------------------------------------ one node

    /**
     * Names in use (of values, or of nodes: ONNX Runtime refuses two nodes of one name): a scope, and child scopes
     * whose names are committed once their node is accepted.
     */
    private static final class Names {
        private final Names parent;
        private final Set<String> taken = new HashSet<>();

        Names(Names parent) {
            this.parent = parent;
        }

        boolean isTaken(String name) {
            return taken.contains(name) || parent != null && parent.isTaken(name);
        }

        void reserve(String name) {
            taken.add(name);
        }

        /** {@code base}, or {@code base_1}, {@code base_2}, … if taken; reserved. */
        String fresh(String base) {
            String n = base;
            for (int i = 1; isTaken(n); i++) n = base + "_" + i;
            taken.add(n);
            return n;
        }

        Names child() {
            return new Names(this);
        }

        void commit(Names child) {
            taken.addAll(child.taken);
        }
    }

    /** Counts initializer floats against the size limit. */
    private interface ByteCounter {
        void count(long floats, String what);
    }

    /**
     * The ONNX nodes and initializers one graph node becomes, for one set of input shapes. A probe writer (the
     * symbolic-batch check) leaves the layer weights' values out.
     */
    private static final class NodeWriter {
        final Graph.Node node;
        final Layer layer;
        final List<Shape> in;
        final Shape out;
        final Names names;
        final Names nodeNames;
        final boolean probe;
        final ByteCounter counter;
        final List<NodeProto.Builder> nodes = new ArrayList<>();
        final List<TensorProto> initializers = new ArrayList<>();
        /** The values written as INT8 or UINT8 tensors. */
        Map<String, OnnxDataType> byteValues = Map.of();

        NodeWriter(Graph.Node node, Layer layer, List<Shape> in, Shape out, Names names, Names nodeNames, boolean probe,
                   ByteCounter counter) {
            this.node = node;
            this.layer = layer;
            this.in = in;
            this.out = out;
            this.names = names;
            this.nodeNames = nodeNames;
            this.probe = probe;
            this.counter = counter;
        }

        String in(int i) {
            return node.inputs().get(i);
        }

        Shape inShape(int i) {
            return in.get(i);
        }

        String out() {
            return node.output();
        }

        /**
         * Adds {@code output = opType(inputs…)}; the node writing the graph node's output carries its name (and the
         * layer as its doc string), a helper node the name of the helper value it writes (made unique among nodes).
         */
        NodeProto.Builder op(String opType, String output, String... inputs) {
            NodeProto.Builder b = NodeProto.newBuilder().setOpType(opType).addAllInput(Arrays.asList(inputs)).addOutput(output);
            if (output.equals(out())) {
                b.setName(nodeNames.fresh(node.name())).setDocString(layer.toString());
            } else {
                b.setName(nodeNames.fresh(output));
            }
            nodes.add(b);
            return b;
        }

        /** A new helper value {@code <node>/<role>}. */
        String temp(String role) {
            return names.fresh(node.name() + "/" + role);
        }

        /** A layer parameter as a FLOAT initializer named by {@link #parameterName}. */
        String weight(String role, Shape shape, Supplier<float[]> values) {
            String name = names.fresh(parameterName(node, role));
            if (probe) {
                initializers.add(TensorProto.newBuilder().setName(name).setDataType(OnnxDataType.FLOAT.code())
                        .addAllDims(Arrays.stream(dims(shape)).boxed().toList()).build());
            } else {
                counter.count(shape.elementCount(), "node '" + node.name() + "' " + layer);
                initializers.add(floats(name, dims(shape), values.get()));
            }
            return name;
        }

        /** A 1-D INT64 initializer {@code <node>/<role>} (shapes, axes, pads, …). */
        String longs(String role, long... values) {
            String name = temp(role);
            initializers.add(OnnxTensor.ofLongs(name, new long[] {values.length}, values).toProto());
            return name;
        }

        /** An INT8 or UINT8 initializer {@code <node>/<role>} (zero points). */
        String bytes(String role, OnnxDataType type, long[] dims, long... values) {
            String name = temp(role);
            initializers.add(OnnxTensor.ofBytes(name, type, dims, values).toProto());
            return name;
        }

        /** A FLOAT initializer {@code <node>/<role>} of these dims (scales). */
        String floatsInit(String role, long[] dims, float... values) {
            String name = temp(role);
            initializers.add(floats(name, dims, values));
            return name;
        }

        /** A rank-0 FLOAT initializer {@code <node>/<role>}. */
        String scalar(String role, float value) {
            String name = temp(role);
            initializers.add(floats(name, new long[0], new float[] {value}));
            return name;
        }

        UnsupportedOperationException unsupported(String why) {
            return new UnsupportedOperationException("node '" + node.name() + "' " + layer + ": cannot be exported to ONNX: " + why);
        }

        /** Whether both writers made the same nodes and initializers (weights' values aside). */
        boolean sameAs(NodeWriter other) {
            if (nodes.size() != other.nodes.size() || initializers.size() != other.initializers.size()) return false;
            for (int i = 0; i < nodes.size(); i++) {
                if (!nodes.get(i).build().equals(other.nodes.get(i).build())) return false;
            }
            for (int i = 0; i < initializers.size(); i++) {
                TensorProto a = initializers.get(i);
                TensorProto b = other.initializers.get(i);
                boolean sameValues = a.getRawData().isEmpty() || b.getRawData().isEmpty() || a.getRawData().equals(b.getRawData());
                if (!a.getName().equals(b.getName()) || !a.getDimsList().equals(b.getDimsList())
                        || a.getDataType() != b.getDataType() || !sameValues) {
                    return false;
                }
            }
            return true;
        }

        /** The nodes in short, with the values of their integer inputs, e.g. {@code Squeeze(x, axes [0, 2])}. */
        String describe() {
            Map<String, String> ints = new HashMap<>();
            for (TensorProto t : initializers) {
                if (t.getDataType() == OnnxDataType.INT64.code()) {
                    ByteBuffer b = t.getRawData().asReadOnlyByteBuffer().order(ByteOrder.LITTLE_ENDIAN);
                    long[] v = new long[b.remaining() / Long.BYTES];
                    b.asLongBuffer().get(v);
                    ints.put(t.getName(), Arrays.toString(v));
                }
            }
            return nodes.stream().map(NodeProto.Builder::build).map(n -> n.getOpType() + "("
                    + n.getInputList().stream().map(i -> ints.getOrDefault(i, i)).collect(Collectors.joining(", "))
                    + n.getAttributeList().stream().map(a -> ", " + a.getName() + "=" + attributeValue(a)).collect(Collectors.joining())
                    + ")").collect(Collectors.joining(" → "));
        }

        void addTo(GraphProto.Builder g) {
            for (NodeProto.Builder n : nodes) g.addNode(n);
            g.addAllInitializer(initializers);
        }
    }

    // ------------------------------------------------------------------------------------------------ the layers

    /** Writes one layer; the switch over the sealed {@link Layer} makes every new layer a compile error here. */
    private static void convert(NodeWriter w) {
        switch (w.layer) {
            case Conv2d c -> conv2d(w, c);
            case Conv1d c -> conv1d(w, c);
            case MaxPool2d p -> pool(w, "MaxPool", p.geometry(w.inShape(0)), p.ceilMode(), null);
            case AvgPool2d p -> pool(w, "AveragePool", p.geometry(w.inShape(0)), p.ceilMode(), p.countIncludePad());
            case GlobalPool2d p -> w.op(p.poolKind() == PoolKind.MAX ? "GlobalMaxPool" : "GlobalAveragePool", w.out(), w.in(0));
            case DepthPool d -> throw w.unsupported("DepthPool (pooling across channels) has no ONNX operator");
            case Activation a -> activation(w, a);
            case Flatten f -> w.op("Flatten", w.out(), w.in(0)).addAttribute(intAttr("axis", 1));
            case Linear l -> linear(w, l);
            case MatMul m -> matMul(w);
            case Softmax s -> w.op("Softmax", w.out(), w.in(0)).addAttribute(intAttr("axis", 1));
            case AxisSoftmax s -> axisSoftmax(w, s);
            case BatchNorm b -> batchNorm(w, b);
            case Binary b -> binary(w, b);
            case Concat c -> w.op("Concat", w.out(), w.node.inputs().toArray(String[]::new))
                    .addAttribute(intAttr("axis", c.axis(w.inShape(0).rank())));
            case Reshape r -> reshape(w, r);
            case Transpose t -> w.op("Transpose", w.out(), w.in(0)).addAttribute(intsAttr("perm", longs(t.perm(w.inShape(0).rank()))));
            case Pad p -> pad(w, p);
            case Slice s -> w.op("Slice", w.out(), w.in(0), w.longs("starts", s.starts()), w.longs("ends", s.ends()),
                    w.longs("axes", longs(s.axes())), w.longs("steps", s.steps()));
            case Unary u -> unary(w, u);
            case Reduce r -> reduce(w, r);
            case Dropout d -> w.op("Identity", w.out(), w.in(0)); // inference: dropout is the identity
            case QuantizeLinear q -> quantizeLinear(w, q.params());
            case DequantizeLinear q -> dequantizeLinear(w, q.params());
        }
    }

    private static void conv2d(NodeWriter w, Conv2d c) {
        Geometry2d g = c.geometry(w.inShape(0));
        String weight = w.weight("weight", c.weightShape(), c::weights);
        String[] inputs = c.bias().isPresent()
                ? new String[] {w.in(0), weight, w.weight("bias", Shape.of(c.outChannels()), () -> c.bias().orElseThrow())}
                : new String[] {w.in(0), weight};
        w.op("Conv", w.out(), inputs)
                .addAttribute(intsAttr("kernel_shape", c.kernelHeight(), c.kernelWidth()))
                .addAttribute(intsAttr("strides", c.strideHeight(), c.strideWidth()))
                .addAttribute(intsAttr("dilations", c.dilationHeight(), c.dilationWidth()))
                .addAttribute(intAttr("group", c.groups()))
                .addAttribute(intsAttr("pads", g.height().padBefore(), g.width().padBefore(), g.height().padAfter(), g.width().padAfter()));
    }

    private static void conv1d(NodeWriter w, Conv1d c) {
        ConvAxis a = c.geometry(w.inShape(0));
        String weight = w.weight("weight", c.weightShape(), () -> c.trueConvolution() ? flipKernels(c.weights(), c.kernelSize()) : c.weights());
        String[] inputs = c.bias().isPresent()
                ? new String[] {w.in(0), weight, w.weight("bias", Shape.of(c.outChannels()), () -> c.bias().orElseThrow())}
                : new String[] {w.in(0), weight};
        w.op("Conv", w.out(), inputs)
                .addAttribute(intsAttr("kernel_shape", c.kernelSize()))
                .addAttribute(intsAttr("strides", c.stride()))
                .addAttribute(intsAttr("dilations", c.dilation()))
                .addAttribute(intAttr("group", c.groups()))
                .addAttribute(intsAttr("pads", a.padBefore(), a.padAfter()));
    }

    /** Each kernel row reversed: ONNX Conv is cross-correlation, a flipped-kernel Conv1d is true convolution. */
    private static float[] flipKernels(float[] weights, int k) {
        float[] f = new float[weights.length];
        for (int row = 0; row < weights.length; row += k) {
            for (int i = 0; i < k; i++) f[row + i] = weights[row + k - 1 - i];
        }
        return f;
    }

    /**
     * MaxPool / AveragePool. End padding that no window reaches is left out (ONNX Runtime refuses pooling pads as
     * large as the window, and they change nothing); {@code ceil_mode} is written only where it changes the output
     * size (else both modes agree).
     */
    private static void pool(NodeWriter w, String opType, Geometry2d g, boolean ceil, Boolean countIncludePad) {
        ConvAxis h = g.height();
        ConvAxis x = g.width();
        int hAfter = reachedPadAfter(h);
        int wAfter = reachedPadAfter(x);
        NodeProto.Builder n = w.op(opType, w.out(), w.in(0))
                .addAttribute(intsAttr("kernel_shape", h.kernel(), x.kernel()))
                .addAttribute(intsAttr("strides", h.stride(), x.stride()))
                .addAttribute(intsAttr("pads", h.padBefore(), x.padBefore(), hAfter, wAfter));
        if (ceil && (floorOutput(h, hAfter) != h.output() || floorOutput(x, wAfter) != x.output())) {
            n.addAttribute(intAttr("ceil_mode", 1));
        }
        if (countIncludePad != null) n.addAttribute(intAttr("count_include_pad", countIncludePad ? 1 : 0));
    }

    /** The end padding up to the last window's end (never more than given, so a ceil-mode window still overhangs). */
    private static int reachedPadAfter(ConvAxis a) {
        long needed = (long) (a.output() - 1) * a.stride() + a.effectiveKernel() - a.input() - a.padBefore();
        return (int) Math.min(a.padAfter(), Math.max(0, needed));
    }

    private static long floorOutput(ConvAxis a, int padAfter) {
        return Math.floorDiv((long) a.input() + a.padBefore() + padAfter - a.effectiveKernel(), a.stride()) + 1;
    }

    private static void activation(NodeWriter w, Activation a) {
        String x = w.in(0);
        switch (a.function()) {
            case RELU -> w.op("Relu", w.out(), x);
            case LEAKY_RELU -> w.op("LeakyRelu", w.out(), x).addAttribute(floatAttr("alpha", a.alpha()));
            case SIGMOID -> w.op("Sigmoid", w.out(), x);
            case TANH -> w.op("Tanh", w.out(), x);
            case ELU -> w.op("Elu", w.out(), x).addAttribute(floatAttr("alpha", a.alpha()));
            case GELU -> { // opset 13 has no Gelu: x·½·(1 + erf(x/√2))
                String scaled = w.temp("div");
                w.op("Div", scaled, x, w.scalar("sqrt2", (float) Math.sqrt(2)));
                String erf = w.temp("erf");
                w.op("Erf", erf, scaled);
                String plusOne = w.temp("add");
                w.op("Add", plusOne, erf, w.scalar("one", 1f));
                String product = w.temp("mul");
                w.op("Mul", product, x, plusOne);
                w.op("Mul", w.out(), product, w.scalar("half", 0.5f));
            }
        }
    }

    private static void linear(NodeWriter w, Linear l) {
        String x = w.in(0);
        if (w.inShape(0).rank() > 2) { // Gemm takes a matrix
            String flat = w.temp("flatten");
            w.op("Flatten", flat, x).addAttribute(intAttr("axis", 1));
            x = flat;
        }
        String weight = w.weight("weight", l.weightShape(), l::weights);
        String[] inputs = l.bias().isPresent()
                ? new String[] {x, weight, w.weight("bias", Shape.of(l.outFeatures()), () -> l.bias().orElseThrow())}
                : new String[] {x, weight};
        w.op("Gemm", w.out(), inputs).addAttribute(intAttr("transB", 1));
    }

    private static OnnxDataType onnxType(QuantParams.Type t) {
        return t == QuantParams.Type.INT8 ? OnnxDataType.INT8 : OnnxDataType.UINT8;
    }

    /**
     * A QuantizeLinear or DequantizeLinear node's scale (FLOAT) and zero point (INT8 or UINT8) inputs: scalars per
     * tensor, 1-D per axis (with the {@code axis} attribute).
     */
    private static NodeProto.Builder quantOp(NodeWriter w, String opType, String output, String x, QuantParams p) {
        long[] dims = p.perTensor() ? new long[0] : new long[] {p.count()};
        long[] zp = Arrays.stream(p.zeroPoints()).asLongStream().toArray();
        NodeProto.Builder n = w.op(opType, output, x, w.floatsInit("scale", dims, p.scales()),
                w.bytes("zero_point", onnxType(p.type()), dims, zp));
        if (!p.perTensor()) n.addAttribute(intAttr("axis", p.axis()));
        return n;
    }

    /** QuantizeLinear; cast back to FLOAT where a reader of the output is not a DequantizeLinear. */
    private static void quantizeLinear(NodeWriter w, QuantParams p) {
        if (w.byteValues.containsKey(w.out())) {
            quantOp(w, "QuantizeLinear", w.out(), w.in(0), p);
        } else {
            String q = w.temp("quantized");
            quantOp(w, "QuantizeLinear", q, w.in(0), p);
            w.op("Cast", w.out(), q).addAttribute(intAttr("to", OnnxDataType.FLOAT.code()));
        }
    }

    /** DequantizeLinear; a FLOAT input (integers carried as floats) is cast to the integer type first. */
    private static void dequantizeLinear(NodeWriter w, QuantParams p) {
        String x = w.in(0);
        if (!w.byteValues.containsKey(x)) {
            String cast = w.temp("integers");
            w.op("Cast", cast, x).addAttribute(intAttr("to", onnxType(p.type()).code()));
            x = cast;
        }
        quantOp(w, "DequantizeLinear", w.out(), x, p);
    }

    private static void matMul(NodeWriter w) {
        if (w.inShape(0).rank() == 1 && w.inShape(1).rank() == 1) { // ONNX: a scalar; the layer: [1]
            String dot = w.temp("dot");
            w.op("MatMul", dot, w.in(0), w.in(1));
            w.op("Reshape", w.out(), dot, w.longs("shape", 1));
        } else {
            w.op("MatMul", w.out(), w.in(0), w.in(1));
        }
    }

    private static void axisSoftmax(NodeWriter w, AxisSoftmax s) {
        String opType = switch (s.function()) {
            case SOFTMAX -> "Softmax";
            case LOG_SOFTMAX -> "LogSoftmax";
            case HARDMAX -> "Hardmax";
        };
        String x = w.in(0);
        int axis = s.axis(w.inShape(0).rank());
        if (!s.coerce2d()) {
            w.op(opType, w.out(), x).addAttribute(intAttr("axis", axis));
            return;
        }
        // the opset < 13 form: over all axes from `axis` on, i.e. over the rows of the input read as a matrix
        String rows = w.temp("flatten");
        w.op("Flatten", rows, x).addAttribute(intAttr("axis", axis));
        String y = w.temp(opType.toLowerCase(Locale.ROOT));
        w.op(opType, y, rows).addAttribute(intAttr("axis", 1));
        String shape = w.temp("shape");
        w.op("Shape", shape, x);
        w.op("Reshape", w.out(), y, shape);
    }

    private static void batchNorm(NodeWriter w, BatchNorm b) {
        Shape c = Shape.of(b.channels());
        w.op("BatchNormalization", w.out(), w.in(0), w.weight("weight", c, b::gamma), w.weight("bias", c, b::beta),
                        w.weight("running_mean", c, b::mean), w.weight("running_var", c, b::variance))
                .addAttribute(floatAttr("epsilon", (float) b.epsilon()))
                .addAttribute(floatAttr("momentum", (float) (1 - b.momentum()))); // ONNX weighs the old running value
    }

    private static void binary(NodeWriter w, Binary b) {
        String opType = switch (b.op()) {
            case ADD -> "Add";
            case SUB -> "Sub";
            case MUL -> "Mul";
            case DIV -> "Div";
            case MAX -> "Max";
            case MIN -> "Min";
            case POW -> "Pow";
            case PRELU -> "PRelu";
        };
        if (b.op() == Binary.Op.PRELU && !Broadcasting.shape("PRelu", w.inShape(0), w.inShape(1)).equals(w.inShape(0))) {
            throw w.unsupported("ONNX PRelu broadcasts the slope " + w.inShape(1) + " to the input " + w.inShape(0)
                    + " only; here the output " + w.out + " is larger than the input");
        }
        w.op(opType, w.out(), w.in(0), w.in(1));
    }

    private static void reshape(NodeWriter w, Reshape r) {
        String x = w.in(0);
        Shape s = w.inShape(0);
        int rank = s.rank();
        switch (r.mode()) {
            case TO -> w.op("Reshape", w.out(), x, w.longs("shape", longs(r.values())));
            case FLATTEN -> {
                int axis = r.values()[0];
                w.op("Flatten", w.out(), x).addAttribute(intAttr("axis", axis < 0 ? axis + rank : axis));
            }
            case SQUEEZE -> {
                int[] given = r.values();
                boolean[] drop = new boolean[rank];
                for (int i = 0; i < rank; i++) drop[i] = given.length == 0 && s.dim(i) == 1;
                for (int a : given) drop[Broadcasting.axis("Squeeze", a, rank)] = true;
                long[] axes = IntStream.range(0, rank).filter(i -> drop[i]).asLongStream().toArray();
                if (axes.length == rank) {
                    w.op("Reshape", w.out(), x, w.longs("shape", 1)); // ONNX: a scalar; the layer: [1]
                } else {
                    w.op("Squeeze", w.out(), x, w.longs("axes", axes));
                }
            }
            case UNSQUEEZE -> {
                int outRank = w.out.rank();
                long[] axes = Arrays.stream(r.values()).mapToLong(a -> Broadcasting.axis("Unsqueeze", a, outRank)).toArray();
                w.op("Unsqueeze", w.out(), x, w.longs("axes", axes));
            }
            case IDENTITY -> w.op("Identity", w.out(), x);
        }
    }

    private static void pad(NodeWriter w, Pad p) {
        long[] pads = new long[2 * p.before().length];
        for (int i = 0; i < p.before().length; i++) {
            pads[i] = p.before()[i];
            pads[p.before().length + i] = p.after()[i];
        }
        String mode = p.mode().name().toLowerCase(Locale.ROOT);
        String padsName = w.longs("pads", pads);
        NodeProto.Builder n = p.mode() == Pad.Mode.CONSTANT
                ? w.op("Pad", w.out(), w.in(0), padsName, w.scalar("value", p.value()))
                : w.op("Pad", w.out(), w.in(0), padsName);
        n.addAttribute(stringAttr("mode", mode));
    }

    private static void unary(NodeWriter w, Unary u) {
        String x = w.in(0);
        switch (u.function()) {
            case CLIP -> {
                boolean min = u.alpha() != Float.NEGATIVE_INFINITY;
                boolean max = u.beta() != Float.POSITIVE_INFINITY;
                String minName = min ? w.scalar("min", u.alpha()) : "";
                if (max) {
                    w.op("Clip", w.out(), x, minName, w.scalar("max", u.beta()));
                } else if (min) {
                    w.op("Clip", w.out(), x, minName);
                } else {
                    w.op("Clip", w.out(), x);
                }
            }
            case HARD_SIGMOID -> w.op("HardSigmoid", w.out(), x).addAttribute(floatAttr("alpha", u.alpha())).addAttribute(floatAttr("beta", u.beta()));
            case HARD_SWISH -> { // HardSwish is opset 14: x·HardSigmoid(x) with α = 1/6, β = ½
                String gate = w.temp("hard_sigmoid");
                w.op("HardSigmoid", gate, x).addAttribute(floatAttr("alpha", 1f / 6)).addAttribute(floatAttr("beta", 0.5f));
                w.op("Mul", w.out(), x, gate);
            }
            case SELU -> w.op("Selu", w.out(), x).addAttribute(floatAttr("alpha", u.alpha())).addAttribute(floatAttr("gamma", u.beta()));
            case THRESHOLDED_RELU -> w.op("ThresholdedRelu", w.out(), x).addAttribute(floatAttr("alpha", u.alpha()));
            case ABS -> w.op("Abs", w.out(), x);
            case NEG -> w.op("Neg", w.out(), x);
            case EXP -> w.op("Exp", w.out(), x);
            case LOG -> w.op("Log", w.out(), x);
            case SQRT -> w.op("Sqrt", w.out(), x);
            case RECIPROCAL -> w.op("Reciprocal", w.out(), x);
            case FLOOR -> w.op("Floor", w.out(), x);
            case CEIL -> w.op("Ceil", w.out(), x);
            case ERF -> w.op("Erf", w.out(), x);
            case SOFTPLUS -> w.op("Softplus", w.out(), x);
            case SOFTSIGN -> w.op("Softsign", w.out(), x);
        }
    }

    private static void reduce(NodeWriter w, Reduce r) {
        String opType = switch (r.reduceKind()) {
            case MEAN -> "ReduceMean";
            case SUM -> "ReduceSum";
            case MAX -> "ReduceMax";
            case MIN -> "ReduceMin";
            case PROD -> "ReduceProd";
            case L1 -> "ReduceL1";
            case L2 -> "ReduceL2";
            case SUM_SQUARE -> "ReduceSumSquare";
            case LOG_SUM -> "ReduceLogSum";
            case LOG_SUM_EXP -> "ReduceLogSumExp";
        };
        int rank = w.inShape(0).rank();
        boolean[] reduced = r.reducedAxes(rank);
        long[] axes = IntStream.range(0, rank).filter(i -> reduced[i]).asLongStream().toArray();
        boolean scalar = !r.keepDims() && axes.length == rank; // ONNX: a scalar; the layer: [1]
        String y = scalar ? w.temp("reduced") : w.out();
        NodeProto.Builder n = r.reduceKind() == Reduce.Kind.SUM
                ? w.op(opType, y, w.in(0), w.longs("axes", axes)) // ReduceSum-13 takes its axes as an input
                : w.op(opType, y, w.in(0)).addAttribute(intsAttr("axes", axes));
        n.addAttribute(intAttr("keepdims", r.keepDims() ? 1 : 0));
        if (scalar) w.op("Reshape", w.out(), y, w.longs("shape", 1));
    }

    // ------------------------------------------------------------------------------------------------ protobuf

    private static TensorProto floats(String name, long[] dims, float[] values) {
        return OnnxTensor.ofFloats(name, dims, values).toProto();
    }

    private static long[] dims(Shape s) {
        return Arrays.stream(s.dims()).asLongStream().toArray();
    }

    private static long[] longs(int[] v) {
        return Arrays.stream(v).asLongStream().toArray();
    }

    private static AttributeProto intAttr(String name, long value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT_VALUE).setI(value).build();
    }

    private static AttributeProto floatAttr(String name, float value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT_VALUE).setF(value).build();
    }

    private static AttributeProto intsAttr(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS_VALUE);
        for (long v : values) a.addInts(v);
        return a.build();
    }

    private static AttributeProto stringAttr(String name, String value) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING_VALUE)
                .setS(com.google.protobuf.ByteString.copyFromUtf8(value)).build();
    }

    private static String attributeValue(AttributeProto a) {
        return switch (a.getType()) {
            case AttributeProto.AttributeType.INT_VALUE -> Long.toString(a.getI());
            case AttributeProto.AttributeType.FLOAT_VALUE -> Float.toString(a.getF());
            case AttributeProto.AttributeType.INTS_VALUE -> a.getIntsList().toString();
            case AttributeProto.AttributeType.STRING_VALUE -> a.getS().toStringUtf8();
            default -> "?";
        };
    }
}
