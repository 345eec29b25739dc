package dev.convnet.internal.onnx;

import dev.convnet.layer.Concat;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxAttribute;
import dev.convnet.onnx.OnnxDataType;
import dev.convnet.onnx.OnnxFormatException;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxNode;
import dev.convnet.onnx.OnnxTensor;
import dev.convnet.onnx.OnnxUnsupportedException;
import dev.convnet.onnx.OnnxValueInfo;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One import of an ONNX model for fixed input shapes: the state every converter shares (the known shapes, the
 * constants, aliases, the graph nodes emitted so far) and the node being converted, with the helpers converters use
 * to read it (inputs, attributes, constant inputs) and to produce results ({@link #emit}, {@link #define},
 * {@link #alias}). {@link #importGraph} walks the nodes in topological order and asks the {@link ConverterRegistry}
 * for each node's converter at the model's opset.
 *
 * <p>A node whose inputs are all known is folded at import: {@link #emit} computes it by compiling a one-node graph
 * on the public reference backend, so shape sub-graphs ({@code Shape → Gather → Unsqueeze → Concat → Reshape}) leave
 * only their result. Internal.
 *
 * <p>Thread-safety: not thread-safe; one import per context.
 */
public final class ImportContext {
    private static final SessionOptions FOLDING = SessionOptions.defaults().withBackend(BackendKind.REFERENCE).withThreads(1);

    /** A node to add to the graph; {@code parameterNames} are the initializer names of its layer's parameters (or empty). */
    private record PendingNode(String name, Layer layer, List<String> inputs, String output, List<String> parameterNames) {
    }

    private final OnnxModel model;
    private final long opset;
    private final Map<String, OnnxTensor> inputValues;
    private final Map<String, Shape> shapes = new HashMap<>();
    private final Map<String, Const> consts = new HashMap<>();
    private final Map<String, String> alias = new HashMap<>();
    private final List<String> inputOrder = new ArrayList<>();
    private final Set<String> usedInputs = new HashSet<>();
    private final Map<String, Const> graphConstants = new LinkedHashMap<>();
    /** Run-time values that hold 8-bit integers (carried as floats): integer inputs and QuantizeLinear outputs. */
    private final Map<String, OnnxDataType> byteTypes = new HashMap<>();
    private final List<PendingNode> nodes = new ArrayList<>();
    private final Set<String> names = new HashSet<>();
    private OnnxNode node;
    private String label;

    /**
     * @param inputShapes shapes of runtime inputs (others: as declared, dynamic dimensions 1)
     * @param inputValues values for runtime inputs that an operator needs as constants
     */
    public ImportContext(OnnxModel model, Map<String, Shape> inputShapes, Map<String, OnnxTensor> inputValues) {
        this.model = model;
        this.opset = model.opsetVersion("").orElse(1);
        this.inputValues = inputValues;
        for (Map.Entry<String, OnnxTensor> e : model.initializers().entrySet()) {
            consts.put(e.getKey(), Const.of(e.getValue()));
            names.add(e.getKey());
        }
        for (OnnxValueInfo in : model.runtimeInputs()) {
            names.add(in.name());
            Shape given = inputShapes.get(in.name());
            if (in.tensor() && isByteType(in.elemType())) {
                byteTypes.put(in.name(), in.elemType()); // 8-bit integers flow as floats (exact)
            } else if (in.tensor() && in.elemType() != OnnxDataType.FLOAT && in.elemType() != OnnxDataType.UNDEFINED) {
                OnnxTensor v = inputValues.get(in.name());
                if (v == null) {
                    throw new OnnxUnsupportedException("input '" + in.name() + "' has element type " + in.elemType()
                            + "; only float32 values can flow at run time");
                }
                consts.put(in.name(), Const.of(v));
                continue;
            }
            inputOrder.add(in.name());
            shapes.put(in.name(), given != null ? given : declaredShape(in));
        }
        for (String k : inputShapes.keySet()) {
            if (!inputOrder.contains(k) && !consts.containsKey(k)) {
                throw new IllegalArgumentException("a shape is given for '" + k + "', which is not a runtime input of the model "
                        + model.runtimeInputs().stream().map(OnnxValueInfo::name).toList());
            }
        }
    }

    private static Shape declaredShape(OnnxValueInfo in) {
        if (in.shape().isEmpty()) {
            throw new OnnxUnsupportedException("input '" + in.name() + "' declares no shape; give its shape");
        }
        List<OnnxValueInfo.Dim> dims = in.shape().get();
        if (dims.isEmpty()) return Shape.of(1);
        int[] d = new int[dims.size()];
        for (int i = 0; i < d.length; i++) {
            long v = dims.get(i).isDynamic() ? 1 : dims.get(i).value();
            if (v < 1 || v > Integer.MAX_VALUE) {
                throw new OnnxUnsupportedException("input '" + in.name() + "' has dimension " + v + " on axis " + i
                        + " (zero-sized and huge tensors are not supported)");
            }
            d[i] = (int) v;
        }
        return Shape.of(d);
    }

    /** Converts every node with {@code registry}'s converters, then collects the outputs into the graph. */
    public OnnxGraph importGraph(ConverterRegistry registry) {
        List<OnnxNode> all = model.nodes();
        for (int i = 0; i < all.size(); i++) {
            node = all.get(i);
            label = node.label(i) + " (opset " + opset + ")";
            if (!node.domain().isEmpty() && !node.domain().equals("ai.onnx")) {
                throw unsupported("operator domain '" + node.domain() + "'");
            }
            Converter converter = registry.find(node.opType(), opset,
                    node.name().isEmpty() ? "node #" + i : "node '" + node.name() + "'");
            try {
                converter.convert(this);
            } catch (ShapeException e) {
                ShapeException w = new ShapeException(label + ": " + e.getMessage());
                w.initCause(e);
                throw w;
            }
        }
        return finish();
    }

    /** The outputs (every one a float value with its own name), then the graph. */
    private OnnxGraph finish() {
        List<String> outputs = new ArrayList<>();
        Map<String, Shape> outShapes = new LinkedHashMap<>();
        for (OnnxValueInfo o : model.outputs()) {
            if (o.tensor() && o.elemType() != OnnxDataType.FLOAT && o.elemType() != OnnxDataType.UNDEFINED
                    && !isByteType(o.elemType())) {
                throw new OnnxUnsupportedException("output '" + o.name() + "' has element type " + o.elemType()
                        + "; only float32, int8 and uint8 outputs are supported");
            }
            String name = o.name();
            String r = resolve(name);
            label = "output '" + name + "'";
            if (consts.containsKey(r)) {
                Const c = consts.get(r);
                if (c.isInt() && isByteType(c.type())) c = asFloats(c); // a folded QuantizeLinear: integers as floats
                if (!c.isFloat()) throw unsupported("an integer (" + c.type() + ") output");
                if (!graphConstants.containsKey(name)) {
                    if (!r.equals(name) && (shapes.containsKey(name) || graphConstants.containsKey(name))) {
                        throw new OnnxFormatException("output '" + name + "' is defined twice");
                    }
                    graphConstants.put(name, c);
                }
            } else if (!r.equals(name) && isModelOutputFree(r) && !shapes.containsKey(name)) {
                rename(r, name); // Identity at the end: the producing node writes the output directly
            } else if (!r.equals(name)) {
                addNode(name, Reshape.identity(), List.of(r), name, List.of());
            } else if (!shapes.containsKey(name)) {
                throw new OnnxFormatException("output '" + name + "' is not produced by any node");
            }
            if (inputOrder.contains(r)) usedInputs.add(r);
            outputs.add(name);
            outShapes.put(name, shapeOf(name));
        }
        Graph.Builder b = Graph.builder();
        Map<String, Shape> inShapes = new LinkedHashMap<>();
        for (String in : inputOrder) {
            if (usedInputs.contains(in) && !consts.containsKey(in)) {
                b.input(in);
                inShapes.put(in, shapes.get(in));
            }
        }
        graphConstants.forEach((k, c) -> b.constant(k, constShape(c), c.f()));
        Set<String> usedNames = new HashSet<>();
        for (PendingNode n : nodes) {
            // An initializer shared by two layers (tied weights) cannot name both: the later ones get node names.
            List<String> pn = n.parameterNames().stream().allMatch(usedNames::add) ? n.parameterNames() : List.of();
            b.node(n.name(), n.layer(), n.inputs(), n.output(), pn);
        }
        b.output(outputs.toArray(String[]::new));
        return new OnnxGraph(b.build(), inShapes, outShapes, opset);
    }

    private static boolean isByteType(OnnxDataType t) {
        return t == OnnxDataType.INT8 || t == OnnxDataType.UINT8;
    }

    private static Const asFloats(Const c) {
        float[] f = new float[(int) c.count()];
        for (int i = 0; i < f.length; i++) f[i] = (float) c.value(i);
        return Const.floats(c.dims(), f);
    }

    /**
     * The element type of a (resolved) value as far as the import knows it: a constant's type, INT8 or UINT8 for an
     * 8-bit integer input or a value {@link #setByteType marked} by a converter, else FLOAT.
     */
    public OnnxDataType elementType(String resolved) {
        Const c = consts.get(resolved);
        if (c != null) return c.type();
        return byteTypes.getOrDefault(resolved, OnnxDataType.FLOAT);
    }

    /** Marks a run-time value as holding 8-bit integers of {@code type} (INT8 or UINT8), carried as floats. */
    public void setByteType(String name, OnnxDataType type) {
        if (!isByteType(type)) throw new IllegalArgumentException(type + " is not INT8 or UINT8");
        byteTypes.put(name, type);
    }

    /** Marks a run-time value as FLOAT (a Cast of 8-bit integers to float: the same numbers). */
    public void setFloatType(String name) {
        byteTypes.remove(name);
    }

    /** Whether {@code value} is a node output that is not itself a model output. */
    private boolean isModelOutputFree(String value) {
        return !inputOrder.contains(value) && nodes.stream().anyMatch(n -> n.output().equals(value))
                && model.outputs().stream().noneMatch(o -> o.name().equals(value));
    }

    /** Renames a node output everywhere (names are unique, so this changes nothing else). */
    private void rename(String from, String to) {
        for (int i = 0; i < nodes.size(); i++) {
            PendingNode n = nodes.get(i);
            List<String> ins = n.inputs().stream().map(x -> x.equals(from) ? to : x).toList();
            String o = n.output().equals(from) ? to : n.output();
            String nm = n.name().equals(from) ? to : n.name();
            nodes.set(i, new PendingNode(nm, n.layer(), ins, o, n.parameterNames()));
        }
        shapes.put(to, shapes.remove(from));
        alias.replaceAll((k, v) -> v.equals(from) ? to : v);
        alias.remove(to);
        alias.put(from, to);
    }

    // ---------------------------------------------------------------- the node being converted

    /** The node being converted. */
    public OnnxNode node() {
        return node;
    }

    /** The model's default-domain opset. */
    public long opset() {
        return opset;
    }

    /** The node's label for messages, e.g. {@code Conv 'conv1' (opset 13)}. */
    public String label() {
        return label;
    }

    /** {@code label: what is not supported}. */
    public OnnxUnsupportedException unsupported(String what) {
        return new OnnxUnsupportedException(label + ": " + what + " is not supported");
    }

    /** {@code label: what}, for a model that contradicts itself or the operator's definition. */
    public OnnxFormatException malformed(String what) {
        return new OnnxFormatException(label + ": " + what);
    }

    /** The value a name stands for after aliases ({@code Identity}, {@code Dropout}, …). */
    public String resolve(String name) {
        String r = name;
        while (alias.containsKey(r)) r = alias.get(r);
        return r;
    }

    /** How many inputs the node lists (absent optional ones included). */
    public int inputCount() {
        return node.inputs().size();
    }

    /** Whether input {@code i} is present. */
    public boolean hasInput(int i) {
        return i < node.inputs().size() && !node.inputs().get(i).isEmpty();
    }

    /** Input {@code i}, resolved. @throws OnnxFormatException if absent */
    public String in(int i) {
        if (!hasInput(i)) throw malformed("input " + i + " is missing");
        return resolve(node.inputs().get(i));
    }

    /** Input {@code i}'s name as the model writes it (an initializer's own name, not resolved). */
    public String rawInput(int i) {
        return node.inputs().get(i);
    }

    /** The present inputs, resolved, in order. */
    public List<String> presentInputs() {
        List<String> ins = new ArrayList<>();
        for (int i = 0; i < inputCount(); i++) if (hasInput(i)) ins.add(in(i));
        return ins;
    }

    /** The only output. @throws OnnxUnsupportedException if the node asks for a second one */
    public String out() {
        for (int i = 1; i < node.outputs().size(); i++) {
            if (!node.outputs().get(i).isEmpty()) {
                throw unsupported("output " + i + " ('" + node.outputs().get(i) + "')");
            }
        }
        if (node.outputs().isEmpty()) throw malformed("no output");
        return node.outputs().getFirst();
    }

    /** Whether a (resolved) value is known at import. */
    public boolean isConst(String resolved) {
        return consts.containsKey(resolved);
    }

    /** The known value of a (resolved) name, or null. */
    public Const constant(String resolved) {
        return consts.get(resolved);
    }

    /** Whether a (resolved) value is a known integer tensor. */
    public boolean isIntConst(String resolved) {
        Const c = consts.get(resolved);
        return c != null && c.isInt();
    }

    /** The known value of input i, binding a runtime input from {@code inputValues} if needed. */
    public Const constInput(int i, String what) {
        String name = in(i);
        Const c = consts.get(name);
        if (c == null && inputValues.containsKey(name) && inputOrder.contains(name)) {
            c = Const.of(inputValues.get(name));
            consts.put(name, c);
        }
        if (c == null) {
            throw unsupported(what + " computed at run time (input '" + name + "' must be a constant)");
        }
        if (!c.isFloat() && !c.isInt()) throw unsupported(what + " of element type " + c.type());
        return c;
    }

    /** Input i as known integers. */
    public long[] longsInput(int i, String what) {
        Const c = constInput(i, what);
        if (c.isInt()) return c.l();
        throw unsupported(what + " of element type " + c.type() + " (expected integers)");
    }

    /** Input i as one known number. */
    public float scalarInput(int i, String what) {
        Const c = constInput(i, what);
        if (c.count() != 1) throw malformed(what + " must be a scalar, got " + Arrays.toString(c.dims()));
        return (float) c.value(0);
    }

    /** The shape of a (resolved) value: a constant's ({@code [1]} for a scalar) or one computed by a node. */
    public Shape shapeOf(String resolved) {
        Const c = consts.get(resolved);
        if (c != null) return constShape(c);
        Shape s = shapes.get(resolved);
        if (s == null) throw malformed("value '" + resolved + "' is not defined");
        return s;
    }

    /** A constant's shape; a scalar is {@code [1]}. */
    public static Shape constShape(Const c) {
        if (c.dims().length == 0) return Shape.of(1);
        int[] d = new int[c.dims().length];
        for (int i = 0; i < d.length; i++) {
            if (c.dims()[i] < 1) throw new OnnxUnsupportedException("zero-sized tensor " + Arrays.toString(c.dims()));
            d[i] = Math.toIntExact(c.dims()[i]);
        }
        return Shape.of(d);
    }

    /** The ONNX dimensions of a (resolved) value (a scalar constant's are {@code []}). */
    public long[] onnxDims(String resolved) {
        Const c = consts.get(resolved);
        if (c != null) return c.dims();
        return Arrays.stream(shapeOf(resolved).dims()).asLongStream().toArray();
    }

    // ---------------------------------------------------------------- attributes

    /** An attribute, or null. */
    public OnnxAttribute attribute(String name) {
        return node.attributes().get(name);
    }

    /** An INT attribute, or {@code def}. */
    public long attrInt(String name, long def) {
        OnnxAttribute a = node.attributes().get(name);
        if (a == null) return def;
        if (a instanceof OnnxAttribute.Int(long v)) return v;
        throw malformed("attribute '" + name + "' must be an INT, got " + a);
    }

    /** A FLOAT (or INT) attribute, or {@code def}. */
    public float attrFloat(String name, float def) {
        OnnxAttribute a = node.attributes().get(name);
        if (a == null) return def;
        if (a instanceof OnnxAttribute.Float(float v)) return v;
        if (a instanceof OnnxAttribute.Int(long v)) return v;
        throw malformed("attribute '" + name + "' must be a FLOAT, got " + a);
    }

    /** An INTS (or INT) attribute, or null. */
    public long[] attrInts(String name) {
        OnnxAttribute a = node.attributes().get(name);
        if (a == null) return null;
        if (a instanceof OnnxAttribute.Ints ints) return ints.values();
        if (a instanceof OnnxAttribute.Int(long v)) return new long[] {v};
        throw malformed("attribute '" + name + "' must be INTS, got " + a);
    }

    /** A STRING attribute, or {@code def}. */
    public String attrString(String name, String def) {
        OnnxAttribute a = node.attributes().get(name);
        if (a == null) return def;
        if (a instanceof OnnxAttribute.Str(String v)) return v;
        throw malformed("attribute '" + name + "' must be a STRING, got " + a);
    }

    /** Longs as ints, saturated. */
    public static int[] ints(long[] v) {
        int[] r = new int[v.length];
        for (int i = 0; i < v.length; i++) r[i] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v[i]));
        return r;
    }

    // ---------------------------------------------------------------- results

    /** A name not used yet: {@code base}, else {@code base_1}, {@code base_2}, … */
    public String fresh(String base) {
        String n = base;
        int i = 1;
        while (names.contains(n) || shapes.containsKey(n) || consts.containsKey(n)) n = base + "_" + i++;
        names.add(n);
        return n;
    }

    /** {@code name} is known at import. */
    public void define(String name, Const c) {
        consts.put(name, c);
        names.add(name);
    }

    /** {@code out} is {@code in} (no node). */
    public void alias(String out, String in) {
        if (out.equals(in)) return;
        alias.put(out, in);
        names.add(out);
    }

    /** A float constant as an operand: registered as a graph constant once. */
    private String constOperand(String name) {
        Const c = consts.get(name);
        if (c.isInt()) {
            throw unsupported("integer tensor '" + name + "' (" + c.type() + ") as an operand of a float operation");
        }
        if (!c.isFloat()) throw unsupported("tensor '" + name + "' of element type " + c.type());
        graphConstants.putIfAbsent(name, c);
        return name;
    }

    /** A float constant made up by the importer (a scale, a transposed weight, …); returns its name. */
    public String newConst(String base, long[] dims, float[] values) {
        String n = fresh(base);
        define(n, Const.floats(dims, values));
        return n;
    }

    /** {@code out = layer(inputs)}, as {@link #emit(String, Layer, List, List)} without parameter names. */
    public void emit(String out, Layer layer, String... inputs) {
        emit(out, layer, List.of(), List.of(inputs));
    }

    /** {@code out = layer(inputs)}, as {@link #emit(String, Layer, List, List)} without parameter names. */
    public void emit(String out, Layer layer, List<String> inputs) {
        emit(out, layer, List.of(), inputs);
    }

    /**
     * {@code out = layer(inputs)}: folded into a constant if every input is known (computed on the reference
     * backend), else a graph node whose output shape comes from the layer's shape rule.
     *
     * @param parameterNames the initializer names of the layer's parameters, in its order, or empty for the node's
     *                       default names
     */
    public void emit(String out, Layer layer, List<String> parameterNames, List<String> inputs) {
        List<Shape> inShapes = inputs.stream().map(this::shapeOf).toList();
        Shape outShape = layer.outputShape(inShapes);
        if (inputs.stream().allMatch(this::isConst)) {
            float[][] x = new float[inputs.size()][];
            for (int i = 0; i < x.length; i++) {
                Const c = consts.get(inputs.get(i));
                if (!c.isFloat()) {
                    throw unsupported("constant folding over tensor '" + inputs.get(i) + "' of type " + c.type());
                }
                x[i] = c.f();
            }
            float[] y = evaluate(layer, inShapes, x);
            define(out, Const.floats(Arrays.stream(outShape.dims()).asLongStream().toArray(), y));
            return;
        }
        OnnxDataType bytes = byteInputType(layer, inputs);
        List<String> operands = new ArrayList<>();
        for (String i : inputs) {
            if (isConst(i)) {
                operands.add(constOperand(i));
            } else {
                if (inputOrder.contains(i)) usedInputs.add(i);
                operands.add(i);
            }
        }
        addNode(node == null ? out : nodeName(out), layer, operands, out, parameterNames);
        if (bytes != null) byteTypes.put(out, bytes);
    }

    /**
     * Checks the layer may read 8-bit integer values (carried as floats): a DequantizeLinear, or an operation that only
     * moves values (its output then holds the same integers: the type returned). Arithmetic would compute in float
     * what ONNX computes in integers (division, overflow), so it is refused. Null when no input holds integers.
     */
    private OnnxDataType byteInputType(Layer layer, List<String> inputs) {
        OnnxDataType t = null;
        for (String i : inputs) {
            OnnxDataType ti = isConst(i) ? null : byteTypes.get(i);
            if (ti == null) continue;
            if (layer instanceof DequantizeLinear) return null;
            boolean moves = layer instanceof Reshape || layer instanceof Transpose || layer instanceof Flatten
                    || layer instanceof MaxPool2d || layer instanceof Slice || layer instanceof Concat;
            if (!moves || (t != null && t != ti)) {
                throw unsupported(layer.kind() + " of " + ti + " values (convnet computes on 8-bit integers only"
                        + " through DequantizeLinear, which makes them floats)");
            }
            t = ti;
        }
        if (t != null && inputs.stream().anyMatch(i -> isConst(i) || byteTypes.get(i) != byteTypes.get(inputs.getFirst()))) {
            throw unsupported(layer.kind() + " of " + t + " values mixed with other values");
        }
        return t;
    }

    /**
     * {@code layer} applied to known values: a one-node graph compiled on the reference backend (the lecture's
     * equations with double accumulation) and run once.
     */
    public static float[] evaluate(Layer layer, List<Shape> inShapes, float[][] values) {
        Graph.Builder b = Graph.builder();
        Map<String, Shape> shapes = new LinkedHashMap<>();
        Map<String, float[]> feed = new HashMap<>();
        List<String> ins = new ArrayList<>();
        for (int i = 0; i < values.length; i++) {
            String name = "x" + i;
            b.input(name);
            ins.add(name);
            shapes.put(name, inShapes.get(i));
            feed.put(name, values[i]);
        }
        Graph g = b.node("y", layer, ins, "y").output("y").build();
        try (Session s = g.compile(shapes, FOLDING)) {
            return s.run(feed).get("y");
        }
    }

    private String nodeName(String out) {
        return node.name().isEmpty() || nodes.stream().anyMatch(n -> n.name().equals(node.name())) ? out : node.name();
    }

    private void addNode(String name, Layer layer, List<String> inputs, String out, List<String> parameterNames) {
        if (shapes.containsKey(out) || consts.containsKey(out)) {
            throw malformed("value '" + out + "' is defined twice");
        }
        List<Shape> inShapes = inputs.stream().map(this::shapeOf).toList();
        shapes.put(out, layer.outputShape(inShapes));
        names.add(out);
        List<String> pn = List.of();
        if (node != null && !layer.parameterNames().isEmpty() && parameterNames.size() == layer.parameterNames().size()) {
            pn = parameterNames;
        }
        nodes.add(new PendingNode(name, layer, inputs, out, pn));
    }
}
