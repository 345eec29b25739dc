package dev.convnet.onnx;

import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.net.Graph;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * Maps an ONNX model ({@link OnnxModelReader}) to a {@link Graph} of convnet layers, for fixed input shapes.
 *
 * <p>What it does, node by node in topological order:
 * <ul>
 *   <li>Weights come from initializers (and {@code Constant} nodes); a graph input that is also an
 *       initializer (IR &lt; 4) is a constant, not a runtime input.</li>
 *   <li>Static shapes are inferred with the layers' own shape rules; a dynamic dimension of an input
 *       (such as a symbolic batch) becomes 1 unless the caller gives the input's shape.</li>
 *   <li>Constant folding: a node whose inputs are all known is computed at import (integer shape
 *       arithmetic such as {@code Shape → Gather → Unsqueeze → Concat → Reshape} with its own small evaluator,
 *       float nodes with the reference kernels), so such sub-graphs leave only their result.</li>
 *   <li>{@code Identity} and {@code Dropout} (inference) are dropped.</li>
 *   <li>Operators: Conv (1-D, 2-D; groups, dilations, strides, pads, auto_pad), MaxPool, AveragePool (1-D, 2-D;
 *       ceil_mode, count_include_pad), GlobalAveragePool, GlobalMaxPool, Gemm (Linear when B and C are
 *       constant), MatMul, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Elu, Selu, Softplus, Softsign,
 *       HardSigmoid, HardSwish, ThresholdedRelu, Abs, Neg, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Erf, Clip,
 *       Softmax, LogSoftmax, Hardmax (both axis conventions), Flatten, Reshape, Squeeze, Unsqueeze, Transpose,
 *       Concat, Pad (constant, reflect, edge), Add, Sub, Mul, Div, Pow, PRelu, Max, Min, Sum, Mean, the Reduce
 *       family, Expand, Slice, Split, Gather (of constant indices), Constant, ConstantOfShape, Shape, Size, Cast,
 *       Range (these five computed at import), at opsets 7–17 (attribute-to-input moves at opsets 11, 13 and 18 handled).</li>
 * </ul>
 * Only float32 tensors flow at run time. A runtime input that must be constant (Reshape's shape, Pad's pads,
 * Clip's bounds, …) may be given a value with {@code inputValues}, which then replaces the input.
 *
 * <p>Errors: {@link OnnxUnsupportedException} for anything valid but not supported (naming the operator,
 * opset and node), {@link OnnxFormatException} for an inconsistent model, {@link ShapeException} naming the
 * node when shapes do not fit.
 *
 * <p>Thread-safety: stateless; each call works on its own state.
 */
public final class OnnxImporter {
    private OnnxImporter() {
    }

    /**
     * Reads and imports a model for the input shapes it declares (dynamic dimensions become 1).
     *
     * @throws IOException if the file cannot be read
     * @throws OnnxFormatException if the file is malformed ({@link OnnxUnsupportedException} if unsupported)
     * @throws ShapeException if the shapes do not fit
     */
    public static OnnxGraph load(Path modelFile) throws IOException {
        return importModel(OnnxModelReader.read(modelFile), Map.of(), Map.of());
    }

    /** As {@link #load(Path)}, with the shapes of some or all runtime inputs given. */
    public static OnnxGraph load(Path modelFile, Map<String, Shape> inputShapes) throws IOException {
        return importModel(OnnxModelReader.read(modelFile), inputShapes, Map.of());
    }

    /**
     * Imports a model.
     *
     * @param inputShapes shapes of runtime inputs (others: as declared, dynamic dimensions 1)
     * @param inputValues values for runtime inputs that an operator needs as constants (Reshape's shape, Pad's
     *                    pads, Clip's bounds, …); inputs given here and used only that way are not runtime inputs
     */
    public static OnnxGraph importModel(OnnxModel model, Map<String, Shape> inputShapes, Map<String, OnnxTensor> inputValues) {
        return new Importer(model, inputShapes, inputValues).run();
    }

    /** A known tensor: float or integer values with ONNX dimensions (rank 0 allowed). */
    private record Const(long[] dims, float[] f, long[] l, OnnxDataType type) {
        long count() {
            long c = 1;
            for (long d : dims) c *= d;
            return c;
        }

        boolean isFloat() {
            return f != null;
        }

        boolean isInt() {
            return l != null;
        }

        static Const floats(long[] dims, float[] v) {
            return new Const(dims, v, null, OnnxDataType.FLOAT);
        }

        static Const longs(long[] dims, long[] v) {
            return new Const(dims, null, v, OnnxDataType.INT64);
        }

        static Const of(OnnxTensor t) {
            return switch (t.dataType()) {
                case FLOAT -> floats(t.dims(), t.floats());
                case INT64, INT32 -> new Const(t.dims(), null, t.longs(), t.dataType());
                default -> new Const(t.dims(), null, null, t.dataType());
            };
        }

        double value(int i) {
            return f != null ? f[i] : l[i];
        }
    }

    /** A node to add to the graph; {@code parameterNames} are the initializer names of its layer's parameters (or empty). */
    private record PendingNode(String name, Layer layer, List<String> inputs, String output, List<String> parameterNames) {
    }

    private static final class Importer {
        private final OnnxModel model;
        private final long opset;
        private final Map<String, OnnxTensor> inputValues;
        private final Map<String, Shape> shapes = new HashMap<>();
        private final Map<String, Const> consts = new HashMap<>();
        private final Map<String, String> alias = new HashMap<>();
        private final List<String> inputOrder = new ArrayList<>();
        private final Set<String> usedInputs = new HashSet<>();
        private final Map<String, Const> graphConstants = new LinkedHashMap<>();
        private final List<PendingNode> nodes = new ArrayList<>();
        /** The initializer names of the parameters of the layer the current converter is about to emit, or null. */
        private List<String> parameterInputs;
        private final Set<String> names = new HashSet<>();
        private final ReferenceKernels reference = new ReferenceKernels();
        private OnnxNode node;
        private String label;

        Importer(OnnxModel model, Map<String, Shape> inputShapes, Map<String, OnnxTensor> inputValues) {
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
                if (in.tensor() && in.elemType() != OnnxDataType.FLOAT && in.elemType() != OnnxDataType.UNDEFINED) {
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

        OnnxGraph run() {
            List<OnnxNode> all = model.nodes();
            for (int i = 0; i < all.size(); i++) {
                node = all.get(i);
                label = node.label(i) + " (opset " + opset + ")";
                if (!node.domain().isEmpty() && !node.domain().equals("ai.onnx")) {
                    throw unsupported("operator domain '" + node.domain() + "'");
                }
                try {
                    convert();
                } catch (ShapeException e) {
                    ShapeException w = new ShapeException(label + ": " + e.getMessage());
                    w.initCause(e);
                    throw w;
                }
            }
            // Outputs: every one a float value with its own name.
            List<String> outputs = new ArrayList<>();
            Map<String, Shape> outShapes = new LinkedHashMap<>();
            for (OnnxValueInfo o : model.outputs()) {
                if (o.tensor() && o.elemType() != OnnxDataType.FLOAT && o.elemType() != OnnxDataType.UNDEFINED) {
                    throw new OnnxUnsupportedException("output '" + o.name() + "' has element type " + o.elemType()
                            + "; only float32 outputs are supported");
                }
                String name = o.name();
                String r = res(name);
                label = "output '" + name + "'";
                if (consts.containsKey(r)) {
                    Const c = consts.get(r);
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
                    addNode(name, Reshape.identity(), List.of(r), name);
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
            java.util.Set<String> usedNames = new java.util.HashSet<>();
            for (PendingNode n : nodes) {
                // An initializer shared by two layers (tied weights) cannot name both: the later ones get node names.
                List<String> pn = n.parameterNames().stream().allMatch(usedNames::add) ? n.parameterNames() : List.of();
                b.node(n.name(), n.layer(), n.inputs(), n.output(), pn);
            }
            b.output(outputs.toArray(String[]::new));
            return new OnnxGraph(b.build(), inShapes, outShapes, opset);
        }

        // ---------------------------------------------------------------- helpers

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

        private OnnxUnsupportedException unsupported(String what) {
            return new OnnxUnsupportedException(label + ": " + what + " is not supported");
        }

        private String res(String name) {
            String r = name;
            while (alias.containsKey(r)) r = alias.get(r);
            return r;
        }

        private int inputCount() {
            return node.inputs().size();
        }

        private boolean hasInput(int i) {
            return i < node.inputs().size() && !node.inputs().get(i).isEmpty();
        }

        private String in(int i) {
            if (!hasInput(i)) throw new OnnxFormatException(label + ": input " + i + " is missing");
            return res(node.inputs().get(i));
        }

        private String out() {
            for (int i = 1; i < node.outputs().size(); i++) {
                if (!node.outputs().get(i).isEmpty()) {
                    throw unsupported("output " + i + " ('" + node.outputs().get(i) + "')");
                }
            }
            if (node.outputs().isEmpty()) throw new OnnxFormatException(label + ": no output");
            return node.outputs().getFirst();
        }

        private boolean isConst(String resolved) {
            return consts.containsKey(resolved);
        }

        /** The known value of input i, binding a runtime input from {@code inputValues} if needed. */
        private Const constInput(int i, String what) {
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

        private long[] longsInput(int i, String what) {
            Const c = constInput(i, what);
            if (c.isInt()) return c.l();
            throw unsupported(what + " of element type " + c.type() + " (expected integers)");
        }

        private float scalarInput(int i, String what) {
            Const c = constInput(i, what);
            if (c.count() != 1) throw new OnnxFormatException(label + ": " + what + " must be a scalar, got " + Arrays.toString(c.dims()));
            return (float) c.value(0);
        }

        private Shape shapeOf(String resolved) {
            Const c = consts.get(resolved);
            if (c != null) return constShape(c);
            Shape s = shapes.get(resolved);
            if (s == null) throw new OnnxFormatException(label + ": value '" + resolved + "' is not defined");
            return s;
        }

        private static Shape constShape(Const c) {
            if (c.dims().length == 0) return Shape.of(1);
            int[] d = new int[c.dims().length];
            for (int i = 0; i < d.length; i++) {
                if (c.dims()[i] < 1) throw new OnnxUnsupportedException("zero-sized tensor " + Arrays.toString(c.dims()));
                d[i] = Math.toIntExact(c.dims()[i]);
            }
            return Shape.of(d);
        }

        private long[] onnxDims(String resolved) {
            Const c = consts.get(resolved);
            if (c != null) return c.dims();
            return Arrays.stream(shapeOf(resolved).dims()).asLongStream().toArray();
        }

        private long attrInt(String name, long def) {
            OnnxAttribute a = node.attributes().get(name);
            if (a == null) return def;
            if (a instanceof OnnxAttribute.Int(long v)) return v;
            throw new OnnxFormatException(label + ": attribute '" + name + "' must be an INT, got " + a);
        }

        private float attrFloat(String name, float def) {
            OnnxAttribute a = node.attributes().get(name);
            if (a == null) return def;
            if (a instanceof OnnxAttribute.Float(float v)) return v;
            if (a instanceof OnnxAttribute.Int(long v)) return v;
            throw new OnnxFormatException(label + ": attribute '" + name + "' must be a FLOAT, got " + a);
        }

        private long[] attrInts(String name) {
            OnnxAttribute a = node.attributes().get(name);
            if (a == null) return null;
            if (a instanceof OnnxAttribute.Ints ints) return ints.values();
            if (a instanceof OnnxAttribute.Int(long v)) return new long[] {v};
            throw new OnnxFormatException(label + ": attribute '" + name + "' must be INTS, got " + a);
        }

        private String attrString(String name, String def) {
            OnnxAttribute a = node.attributes().get(name);
            if (a == null) return def;
            if (a instanceof OnnxAttribute.Str(String v)) return v;
            throw new OnnxFormatException(label + ": attribute '" + name + "' must be a STRING, got " + a);
        }

        private static int[] ints(long[] v) {
            int[] r = new int[v.length];
            for (int i = 0; i < v.length; i++) r[i] = (int) Math.max(Integer.MIN_VALUE, Math.min(Integer.MAX_VALUE, v[i]));
            return r;
        }

        private String fresh(String base) {
            String n = base;
            int i = 1;
            while (names.contains(n) || shapes.containsKey(n) || consts.containsKey(n)) n = base + "_" + i++;
            names.add(n);
            return n;
        }

        private void define(String name, Const c) {
            consts.put(name, c);
            names.add(name);
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

        /** A float constant made up by the importer (a scale, a transposed weight, …). */
        private String newConst(String base, long[] dims, float[] values) {
            String n = fresh(base);
            define(n, Const.floats(dims, values));
            return n;
        }

        /**
         * {@code out = layer(inputs)}: folded into a constant if every input is known, else a graph node whose
         * output shape comes from the layer's shape rule.
         */
        private void emit(String out, Layer layer, List<String> inputs) {
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
                float[] y = new float[Math.toIntExact(outShape.elementCount())];
                NodeKernel k = reference.create(layer, inShapes, outShape);
                k.forward(x, y);
                define(out, Const.floats(Arrays.stream(outShape.dims()).asLongStream().toArray(), y));
                return;
            }
            List<String> operands = new ArrayList<>();
            for (String i : inputs) {
                if (isConst(i)) {
                    operands.add(constOperand(i));
                } else {
                    if (inputOrder.contains(i)) usedInputs.add(i);
                    operands.add(i);
                }
            }
            addNode(node == null ? out : nodeName(out), layer, operands, out);
        }

        private String nodeName(String out) {
            return node.name().isEmpty() || nodes.stream().anyMatch(n -> n.name().equals(node.name())) ? out : node.name();
        }

        private void addNode(String name, Layer layer, List<String> inputs, String out) {
            if (shapes.containsKey(out) || consts.containsKey(out)) {
                throw new OnnxFormatException(label + ": value '" + out + "' is defined twice");
            }
            List<Shape> inShapes = inputs.stream().map(this::shapeOf).toList();
            shapes.put(out, layer.outputShape(inShapes));
            names.add(out);
            List<String> pn = List.of();
            if (node != null && !layer.parameterNames().isEmpty() && parameterInputs != null
                    && parameterInputs.size() == layer.parameterNames().size()) {
                pn = parameterInputs;
            }
            parameterInputs = null;
            nodes.add(new PendingNode(name, layer, inputs, out, pn));
        }

        private void emit(String out, Layer layer, String... inputs) {
            emit(out, layer, List.of(inputs));
        }

        // ---------------------------------------------------------------- operators

        private void convert() {
            parameterInputs = null;
            String op = node.opType();
            switch (op) {
                case "Identity" -> alias(out(), in(0));
                case "Dropout" -> {
                    if (node.outputs().size() > 1 && !node.outputs().get(1).isEmpty()) throw unsupported("Dropout's mask output");
                    if (hasInput(2) && constInput(2, "training_mode").value(0) != 0) throw unsupported("Dropout in training mode");
                    alias(out(), in(0));
                }
                case "Constant" -> constant();
                case "Conv" -> conv();
                case "MaxPool", "AveragePool" -> pool(op.equals("MaxPool"));
                case "GlobalAveragePool", "GlobalMaxPool" -> {
                    boolean max = op.equals("GlobalMaxPool");
                    Shape s = shapeOf(in(0));
                    if (s.rank() == 4) {
                        emit(out(), max ? GlobalPool2d.max() : GlobalPool2d.average(), in(0));
                    } else {
                        int[] axes = java.util.stream.IntStream.range(2, s.rank()).toArray();
                        emit(out(), Reduce.of(max ? Reduce.Kind.MAX : Reduce.Kind.MEAN, axes, true), in(0));
                    }
                }
                case "Gemm" -> gemm();
                case "MatMul" -> matMul();
                case "BatchNormalization" -> batchNorm();
                case "Relu" -> emit(out(), Activation.relu(), in(0));
                case "LeakyRelu" -> emit(out(), Activation.leakyRelu(attrFloat("alpha", 0.01f)), in(0));
                case "Sigmoid" -> emit(out(), Activation.sigmoid(), in(0));
                case "Tanh" -> emit(out(), Activation.tanh(), in(0));
                case "Elu" -> emit(out(), Activation.elu(attrFloat("alpha", 1f)), in(0));
                case "Selu" -> emit(out(), Unary.of(Unary.Function.SELU, attrFloat("alpha", 1.67326319217681884765625f),
                        attrFloat("gamma", 1.05070102214813232421875f)), in(0));
                case "HardSigmoid" -> emit(out(), Unary.hardSigmoid(attrFloat("alpha", 0.2f), attrFloat("beta", 0.5f)), in(0));
                case "HardSwish" -> emit(out(), Unary.hardSwish(), in(0));
                case "ThresholdedRelu" -> emit(out(), Unary.of(Unary.Function.THRESHOLDED_RELU, attrFloat("alpha", 1f), 0f), in(0));
                case "Softplus", "Softsign", "Abs", "Neg", "Exp", "Log", "Sqrt", "Reciprocal", "Floor", "Ceil", "Erf" -> {
                    if ((op.equals("Abs") || op.equals("Neg")) && isConst(in(0)) && consts.get(in(0)).isInt()) {
                        Const c = consts.get(in(0));
                        long[] v = c.l().clone();
                        for (int i = 0; i < v.length; i++) v[i] = op.equals("Abs") ? Math.abs(v[i]) : -v[i];
                        define(out(), new Const(c.dims(), null, v, c.type()));
                        return;
                    }
                    emit(out(), Unary.of(Unary.Function.valueOf(op.toUpperCase(Locale.ROOT))), in(0));
                }
                case "Clip" -> clip();
                case "Softmax", "LogSoftmax", "Hardmax" -> softmax(op);
                case "Flatten" -> flatten();
                case "Reshape", "Squeeze", "Unsqueeze" -> reshape(op);
                case "Transpose" -> {
                    long[] perm = attrInts("perm");
                    Transpose t = Transpose.of(perm == null ? new int[0] : ints(perm));
                    if (isConst(in(0)) && consts.get(in(0)).isInt()) {
                        foldIntMove(t);
                    } else {
                        emit(out(), t, in(0));
                    }
                }
                case "Concat" -> concat();
                case "Pad" -> pad();
                case "Add", "Sub", "Mul", "Div", "Pow", "PRelu" -> binary(op);
                case "Max", "Min", "Sum", "Mean" -> variadic(op);
                case "Expand" -> expand();
                case "Split" -> split();
                case "ReduceMean", "ReduceSum", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2",
                     "ReduceSumSquare", "ReduceLogSum", "ReduceLogSumExp" -> reduce(op);
                case "Shape" -> shape();
                case "Size" -> define(out(), Const.longs(new long[0], new long[] {shapeOf(in(0)).elementCount()}));
                case "Gather" -> gather();
                case "Cast" -> cast();
                case "ConstantOfShape" -> constantOfShape();
                case "Range" -> range();
                case "Slice" -> slice();
                default -> throw unsupported("operator " + op);
            }
        }

        private void alias(String out, String in) {
            if (out.equals(in)) return;
            alias.put(out, in);
            names.add(out);
        }

        private void constant() {
            String out = out();
            Map<String, OnnxAttribute> a = node.attributes();
            if (a.get("value") instanceof OnnxAttribute.Tensor(OnnxTensor t)) {
                Const c = Const.of(t);
                if (!c.isFloat() && !c.isInt()) throw unsupported("a Constant of element type " + t.dataType());
                define(out, c);
            } else if (a.get("value_float") instanceof OnnxAttribute.Float(float v)) {
                define(out, Const.floats(new long[0], new float[] {v}));
            } else if (a.get("value_floats") instanceof OnnxAttribute.Floats(float[] v)) {
                define(out, Const.floats(new long[] {v.length}, v));
            } else if (a.get("value_int") instanceof OnnxAttribute.Int(long v)) {
                define(out, Const.longs(new long[0], new long[] {v}));
            } else if (a.get("value_ints") instanceof OnnxAttribute.Ints ints) {
                define(out, Const.longs(new long[] {ints.values().length}, ints.values()));
            } else {
                throw unsupported("a Constant with attributes " + a.keySet());
            }
        }

        private Padding padding(int spatial, String what) {
            String autoPad = attrString("auto_pad", "NOTSET");
            return switch (autoPad) {
                case "NOTSET", "" -> {
                    long[] pads = attrInts("pads");
                    if (pads == null) pads = new long[2 * spatial];
                    if (pads.length != 2 * spatial) {
                        throw new OnnxFormatException(label + ": pads " + Arrays.toString(pads) + " must have " + 2 * spatial + " entries");
                    }
                    int[] before = new int[spatial];
                    int[] after = new int[spatial];
                    for (int i = 0; i < spatial; i++) {
                        before[i] = (int) pads[i];
                        after[i] = (int) pads[spatial + i];
                    }
                    yield Padding.perAxis(before, after);
                }
                case "VALID" -> Padding.valid();
                case "SAME_UPPER" -> Padding.sameUpper();
                case "SAME_LOWER" -> Padding.sameLower();
                default -> throw new OnnxFormatException(label + ": auto_pad '" + autoPad + "' for " + what);
            };
        }

        private int[] attrPerAxis(String name, int spatial, int def) {
            long[] v = attrInts(name);
            int[] r = new int[spatial];
            Arrays.fill(r, def);
            if (v == null) return r;
            if (v.length != spatial) {
                throw new OnnxFormatException(label + ": " + name + " " + Arrays.toString(v) + " must have " + spatial + " entries");
            }
            return ints(v);
        }

        private void conv() {
            Const w = constInput(1, "Conv weights");
            if (!w.isFloat()) throw unsupported("Conv weights of type " + w.type());
            int rank = w.dims().length;
            int spatial = rank - 2;
            if (spatial != 1 && spatial != 2) throw unsupported("Conv with " + spatial + " spatial axes");
            long[] ks = attrInts("kernel_shape");
            for (int i = 0; ks != null && i < spatial; i++) {
                if (ks[i] != w.dims()[2 + i]) {
                    throw new OnnxFormatException(label + ": kernel_shape " + Arrays.toString(ks) + " differs from the weights "
                            + Arrays.toString(w.dims()));
                }
            }
            int group = (int) attrInt("group", 1);
            int outC = (int) w.dims()[0];
            int inC = (int) w.dims()[1] * group;
            int[] strides = attrPerAxis("strides", spatial, 1);
            int[] dil = attrPerAxis("dilations", spatial, 1);
            Padding p = padding(spatial, "Conv");
            float[] bias = null;
            if (hasInput(2)) {
                Const b = constInput(2, "Conv bias");
                if (!b.isFloat()) throw unsupported("Conv bias of type " + b.type());
                bias = b.f();
            }
            Layer layer;
            if (spatial == 2) {
                Conv2d.Builder b = Conv2d.builder(inC, outC, (int) w.dims()[2], (int) w.dims()[3]).groups(group)
                        .stride(strides[0], strides[1]).dilation(dil[0], dil[1]).padding(p).weights(w.f());
                layer = (bias == null ? b : b.bias(bias)).build();
            } else {
                Conv1d.Builder b = Conv1d.builder(inC, outC, (int) w.dims()[2]).groups(group).stride(strides[0])
                        .dilation(dil[0]).padding(p).weights(w.f());
                layer = (bias == null ? b : b.bias(bias)).build();
            }
            parameterInputs = bias == null ? List.of(node.inputs().get(1)) : List.of(node.inputs().get(1), node.inputs().get(2));
            emit(out(), layer, in(0));
        }

        private void pool(boolean max) {
            long[] ks = attrInts("kernel_shape");
            if (ks == null) throw new OnnxFormatException(label + ": kernel_shape is required");
            int spatial = ks.length;
            if (spatial != 1 && spatial != 2) throw unsupported((max ? "MaxPool" : "AveragePool") + " with " + spatial + " spatial axes");
            int[] strides = attrPerAxis("strides", spatial, 1);
            int[] dil = attrPerAxis("dilations", spatial, 1);
            for (int d : dil) if (d != 1) throw unsupported("pooling with dilations " + Arrays.toString(dil));
            boolean ceil = attrInt("ceil_mode", 0) != 0;
            boolean countPad = attrInt("count_include_pad", 0) != 0;
            Padding p = padding(spatial, "pooling");
            int[] k = ints(ks);
            if (spatial == 1) {
                k = new int[] {1, k[0]};
                strides = new int[] {1, strides[0]};
                if (p.mode() == Padding.Mode.EXPLICIT) {
                    long[] pads = attrInts("pads");
                    p = pads == null ? Padding.valid() : Padding.explicit2d(0, (int) pads[0], 0, (int) pads[1]);
                }
            }
            Layer layer = max
                    ? MaxPool2d.builder(k[0], k[1]).stride(strides[0], strides[1]).padding(p).ceilMode(ceil).build()
                    : AvgPool2d.builder(k[0], k[1]).stride(strides[0], strides[1]).padding(p).ceilMode(ceil)
                    .countIncludePad(countPad).build();
            String out = out();
            if (spatial == 1) {
                String x4 = fresh(out + "/as2d");
                emit(x4, Reshape.unsqueeze(2), in(0));
                String y4 = fresh(out + "/pool2d");
                emit(y4, layer, x4);
                emit(out, Reshape.squeeze(2), y4);
            } else {
                emit(out, layer, in(0));
            }
        }

        private void gemm() {
            float alpha = attrFloat("alpha", 1f);
            float beta = attrFloat("beta", 1f);
            boolean transA = attrInt("transA", 0) != 0;
            boolean transB = attrInt("transB", 0) != 0;
            String a = in(0);
            String b = in(1);
            String out = out();
            boolean hasC = hasInput(2);
            String c = hasC ? in(2) : null;
            if (isConst(b) && consts.get(b).isFloat() && consts.get(b).dims().length == 2 && !isConst(a)
                    && (!hasC || isConst(c) && consts.get(c).isFloat())) {
                Const bc = consts.get(b);
                int rows = (int) bc.dims()[0];
                int cols = (int) bc.dims()[1];
                int k = transB ? rows : cols;
                int d = transB ? cols : rows;
                float[] bv = bc.f();
                float[] w = new float[k * d];
                for (int o = 0; o < k; o++) {
                    for (int i = 0; i < d; i++) w[o * d + i] = alpha * (transB ? bv[o * d + i] : bv[i * k + o]);
                }
                float[] bias = null;
                boolean separateC = false;
                if (hasC) {
                    Const cc = consts.get(c);
                    long count = cc.count();
                    long[] cd = cc.dims();
                    if (count == k && (cd.length == 1 || cd.length == 2 && cd[0] == 1)) {
                        bias = new float[k];
                        for (int o = 0; o < k; o++) bias[o] = beta * cc.f()[o];
                    } else if (count == 1) {
                        bias = new float[k];
                        Arrays.fill(bias, beta * cc.f()[0]);
                    } else {
                        separateC = true;
                    }
                }
                String x = a;
                if (transA) {
                    x = fresh(out + "/transA");
                    emit(x, Transpose.of(1, 0), a);
                }
                Linear fc = Linear.of(d, k, w, bias);
                if (!separateC) {
                    if (alpha == 1f && (bias == null || beta == 1f && consts.get(c).count() == k)) {
                        parameterInputs = bias == null ? List.of(node.inputs().get(1)) : List.of(node.inputs().get(1), node.inputs().get(2));
                    }
                    emit(out, fc, x);
                } else {
                    String y = fresh(out + "/linear");
                    emit(y, fc, x);
                    emit(out, Binary.add(), y, scaled(c, beta, out + "/C"));
                }
                return;
            }
            String x = a;
            if (transA) {
                x = fresh(out + "/transA");
                emit(x, Transpose.of(1, 0), a);
            }
            String y = b;
            if (transB) {
                y = fresh(out + "/transB");
                emit(y, Transpose.of(1, 0), b);
            }
            String product = alpha == 1f && !hasC ? out : fresh(out + "/matmul");
            emit(product, new MatMul(), x, y);
            if (alpha != 1f) {
                String scaledProduct = hasC ? fresh(out + "/alpha") : out;
                emit(scaledProduct, Binary.mul(), product, newConst(out + "/alpha_value", new long[0], new float[] {alpha}));
                product = scaledProduct;
            }
            if (hasC) emit(out, Binary.add(), product, scaled(c, beta, out + "/C"));
        }

        /** {@code beta·c}: c itself when beta is 1, folded when c is constant. */
        private String scaled(String c, float beta, String base) {
            if (beta == 1f) return c;
            String s = fresh(base);
            emit(s, Binary.mul(), c, newConst(base + "_beta", new long[0], new float[] {beta}));
            return s;
        }

        private void matMul() {
            String a = in(0);
            String b = in(1);
            if (isConst(b) && consts.get(b).isFloat() && consts.get(b).dims().length == 2 && !isConst(a)
                    && shapeOf(a).rank() == 2) {
                Const bc = consts.get(b);
                int d = (int) bc.dims()[0];
                int k = (int) bc.dims()[1];
                float[] w = new float[k * d];
                for (int o = 0; o < k; o++) for (int i = 0; i < d; i++) w[o * d + i] = bc.f()[i * k + o];
                emit(out(), Linear.of(d, k, w, null), a);
                return;
            }
            emit(out(), new MatMul(), a, b);
        }

        private void batchNorm() {
            if (attrInt("training_mode", 0) != 0) throw unsupported("BatchNormalization in training mode");
            if (opset < 9 && attrInt("spatial", 1) == 0) throw unsupported("BatchNormalization with spatial = 0");
            float eps = attrFloat("epsilon", 1e-5f);
            float[][] p = new float[4][];
            String[] what = {"scale", "B", "mean", "var"};
            for (int i = 0; i < 4; i++) {
                Const c = constInput(i + 1, "BatchNormalization " + what[i]);
                if (!c.isFloat()) throw unsupported("BatchNormalization " + what[i] + " of type " + c.type());
                p[i] = c.f();
            }
            // ONNX's momentum weighs the old running value (default 0.9); convnet's, as PyTorch's, the new batch value.
            double momentum = java.math.BigDecimal.ONE.subtract(new java.math.BigDecimal(Float.toString(attrFloat("momentum", 0.9f))))
                    .doubleValue();
            parameterInputs = node.inputs().subList(1, 5);
            emit(out(), BatchNorm.of(p[0], p[1], p[2], p[3], eps).withMomentum(Math.min(1, Math.max(0, momentum))), in(0));
        }

        private void clip() {
            float min = Float.NEGATIVE_INFINITY;
            float max = Float.POSITIVE_INFINITY;
            if (opset < 11) {
                min = attrFloat("min", min);
                max = attrFloat("max", max);
            } else {
                if (hasInput(1)) min = scalarInput(1, "Clip min");
                if (hasInput(2)) max = scalarInput(2, "Clip max");
            }
            emit(out(), Unary.clip(min, max), in(0));
        }

        private void softmax(String op) {
            boolean legacy = opset < 13;
            int axis = (int) attrInt("axis", legacy ? 1 : -1);
            Shape s = shapeOf(in(0));
            int rank = s.rank();
            int a = axis < 0 ? axis + rank : axis;
            AxisSoftmax.Function f = switch (op) {
                case "Softmax" -> AxisSoftmax.Function.SOFTMAX;
                case "LogSoftmax" -> AxisSoftmax.Function.LOG_SOFTMAX;
                default -> AxisSoftmax.Function.HARDMAX;
            };
            boolean coerce = legacy && a < rank - 1;
            if (f == AxisSoftmax.Function.SOFTMAX && a == 1 && rank >= 2 && (!coerce || rank == 2)) {
                emit(out(), new Softmax(), in(0));
            } else {
                emit(out(), AxisSoftmax.of(f, axis, coerce), in(0));
            }
        }

        private void flatten() {
            int axis = (int) attrInt("axis", 1);
            String x = in(0);
            if (isConst(x) && consts.get(x).isInt()) {
                foldIntMove(Reshape.flatten(axis));
                return;
            }
            Shape s = shapeOf(x);
            int a = axis < 0 ? axis + s.rank() : axis;
            emit(out(), a == 1 && s.rank() >= 2 ? new Flatten() : Reshape.flatten(axis), x);
        }

        private void reshape(String op) {
            Reshape r;
            String x = in(0);
            long[] inDims = onnxDims(x);
            long[] target;
            switch (op) {
                case "Reshape" -> {
                    long[] shape = opset < 5 ? attrInts("shape") : longsInput(1, "Reshape's shape");
                    if (shape == null) throw new OnnxFormatException(label + ": no shape");
                    boolean allowZero = attrInt("allowzero", 0) != 0;
                    if (allowZero && Arrays.stream(shape).anyMatch(v -> v == 0)) throw unsupported("Reshape to a zero-sized shape");
                    target = reshapeDims(inDims, shape);
                }
                case "Squeeze" -> {
                    long[] axes = opset < 13 ? attrInts("axes") : hasInput(1) ? longsInput(1, "Squeeze's axes") : null;
                    target = squeezeDims(inDims, axes);
                }
                default -> {
                    long[] axes = opset < 13 ? attrInts("axes") : longsInput(1, "Unsqueeze's axes");
                    if (axes == null) throw new OnnxFormatException(label + ": no axes");
                    target = unsqueezeDims(inDims, axes);
                }
            }
            Const c = consts.get(x);
            if (c != null) {
                define(out(), new Const(target, c.f(), c.l(), c.type()));
                return;
            }
            if (target.length == 0) target = new long[] {1};
            r = Reshape.to(ints(target));
            emit(out(), r, x);
        }

        private long[] reshapeDims(long[] in, long[] shape) {
            long[] out = shape.clone();
            long total = 1;
            for (long d : in) total *= d;
            long known = 1;
            int inferred = -1;
            for (int i = 0; i < out.length; i++) {
                if (out[i] == 0) {
                    if (i >= in.length) throw new ShapeException("Reshape " + Arrays.toString(shape) + ": 0 at axis " + i + " beyond the input rank " + in.length);
                    out[i] = in[i];
                }
                if (out[i] == -1) {
                    if (inferred >= 0) throw new ShapeException("Reshape " + Arrays.toString(shape) + ": two −1");
                    inferred = i;
                } else if (out[i] < 0) {
                    throw new ShapeException("Reshape " + Arrays.toString(shape) + ": size " + out[i]);
                } else {
                    known *= out[i];
                }
            }
            if (inferred >= 0) {
                if (known == 0 || total % known != 0) {
                    throw new ShapeException("Reshape " + Arrays.toString(shape) + ": " + total + " elements do not divide by " + known);
                }
                out[inferred] = total / known;
            } else if (known != total) {
                throw new ShapeException("Reshape " + Arrays.toString(shape) + ": " + total + " elements, the target has " + known);
            }
            return out;
        }

        private static long[] squeezeDims(long[] in, long[] axes) {
            boolean[] drop = new boolean[in.length];
            if (axes == null || axes.length == 0) {
                for (int i = 0; i < in.length; i++) drop[i] = in[i] == 1;
            } else {
                for (long a : axes) {
                    int n = (int) (a < 0 ? a + in.length : a);
                    if (n < 0 || n >= in.length || in[n] != 1) {
                        throw new ShapeException("Squeeze: axis " + a + " of " + Arrays.toString(in) + " is not of size 1");
                    }
                    drop[n] = true;
                }
            }
            return java.util.stream.IntStream.range(0, in.length).filter(i -> !drop[i]).mapToLong(i -> in[i]).toArray();
        }

        private static long[] unsqueezeDims(long[] in, long[] axes) {
            int rank = in.length + axes.length;
            boolean[] ins = new boolean[rank];
            for (long a : axes) {
                int n = (int) (a < 0 ? a + rank : a);
                if (n < 0 || n >= rank || ins[n]) {
                    throw new ShapeException("Unsqueeze: axis " + a + " is invalid or repeated for output rank " + rank);
                }
                ins[n] = true;
            }
            long[] out = new long[rank];
            int j = 0;
            for (int i = 0; i < rank; i++) out[i] = ins[i] ? 1 : in[j++];
            return out;
        }

        /** Integer tensors through data-movement layers (Transpose, Flatten): index arithmetic on longs. */
        private void foldIntMove(Layer layer) {
            Const c = consts.get(in(0));
            Shape s = constShape(c);
            Shape o = layer.outputShape(s);
            float[] index = new float[(int) s.elementCount()];
            for (int i = 0; i < index.length; i++) index[i] = i;
            if (index.length > (1 << 24)) throw unsupported("folding an integer tensor this large");
            float[] moved = new float[(int) o.elementCount()];
            reference.create(layer, List.of(s), o).forward(new float[][] {index}, moved);
            long[] v = new long[moved.length];
            for (int i = 0; i < v.length; i++) v[i] = c.l()[(int) moved[i]];
            define(out(), new Const(Arrays.stream(o.dims()).asLongStream().toArray(), null, v, c.type()));
        }

        private void concat() {
            long axisAttr = attrInt("axis", opset < 4 ? 1 : Long.MIN_VALUE);
            if (axisAttr == Long.MIN_VALUE) throw new OnnxFormatException(label + ": axis is required");
            List<String> ins = new ArrayList<>();
            for (int i = 0; i < inputCount(); i++) if (hasInput(i)) ins.add(in(i));
            boolean allInt = ins.stream().allMatch(n -> isConst(n) && consts.get(n).isInt());
            if (allInt) {
                int rank = consts.get(ins.getFirst()).dims().length;
                int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
                long[] dims = consts.get(ins.getFirst()).dims().clone();
                long outer = 1;
                for (int i = 0; i < axis; i++) outer *= dims[i];
                long inner = 1;
                for (int i = axis + 1; i < rank; i++) inner *= dims[i];
                dims[axis] = 0;
                for (String n : ins) dims[axis] += consts.get(n).dims()[axis];
                List<Long> v = new ArrayList<>();
                for (long o = 0; o < outer; o++) {
                    for (String n : ins) {
                        Const c = consts.get(n);
                        long block = c.dims()[axis] * inner;
                        for (long j = 0; j < block; j++) v.add(c.l()[(int) (o * block + j)]);
                    }
                }
                define(out(), Const.longs(dims, v.stream().mapToLong(Long::longValue).toArray()));
                return;
            }
            emit(out(), Concat.of((int) axisAttr), ins);
        }

        private void pad() {
            String mode = attrString("mode", "constant");
            Pad.Mode m = switch (mode) {
                case "constant" -> Pad.Mode.CONSTANT;
                case "reflect" -> Pad.Mode.REFLECT;
                case "edge" -> Pad.Mode.EDGE;
                default -> throw unsupported("Pad mode '" + mode + "'");
            };
            long[] pads;
            float value = 0f;
            if (opset < 11) {
                pads = attrInts(opset < 2 ? "paddings" : "pads");
                value = attrFloat("value", 0f);
            } else {
                pads = longsInput(1, "Pad's pads");
                if (hasInput(2)) value = scalarInput(2, "Pad's constant_value");
            }
            if (pads == null) throw new OnnxFormatException(label + ": no pads");
            int rank = shapeOf(in(0)).rank();
            int[] before = new int[rank];
            int[] after = new int[rank];
            if (hasInput(3)) {
                long[] axes = longsInput(3, "Pad's axes");
                if (pads.length != 2 * axes.length) throw new OnnxFormatException(label + ": pads and axes differ in length");
                for (int i = 0; i < axes.length; i++) {
                    int a = (int) (axes[i] < 0 ? axes[i] + rank : axes[i]);
                    before[a] = (int) pads[i];
                    after[a] = (int) pads[axes.length + i];
                }
            } else {
                if (pads.length != 2 * rank) {
                    throw new ShapeException("Pad: pads " + Arrays.toString(pads) + " need 2·rank = " + 2 * rank + " entries");
                }
                for (int i = 0; i < rank; i++) {
                    before[i] = (int) pads[i];
                    after[i] = (int) pads[rank + i];
                }
            }
            emit(out(), Pad.of(before, after, m, value), in(0));
        }

        private void binary(String op) {
            String a = in(0);
            String b = in(1);
            Const ca = consts.get(a);
            Const cb = consts.get(b);
            if (ca != null && cb != null && ca.isInt() && cb.isInt() && !op.equals("Pow") && !op.equals("PRelu")) {
                foldIntBinary(op, ca, cb);
                return;
            }
            if (op.equals("Pow") && cb != null && cb.isInt()) {
                float[] f = new float[cb.l().length];
                for (int i = 0; i < f.length; i++) f[i] = cb.l()[i];
                b = newConst(b + "/float", cb.dims(), f);
            }
            b = legacyBroadcast(op, a, b);
            Binary.Op o = switch (op) {
                case "Add" -> Binary.Op.ADD;
                case "Sub" -> Binary.Op.SUB;
                case "Mul" -> Binary.Op.MUL;
                case "Div" -> Binary.Op.DIV;
                case "Pow" -> Binary.Op.POW;
                default -> Binary.Op.PRELU;
            };
            emitBinary(out(), o, a, b);
        }

        /**
         * Before opset 7 the second operand of Add, Sub, Mul, Div and Pow broadcast only with {@code broadcast = 1},
         * aligned at {@code axis} (default: the trailing axes), and PRelu's slope {@code [C]} applied per channel.
         * Returns the operand reshaped so that NumPy broadcasting means the same.
         */
        private String legacyBroadcast(String op, String a, String b) {
            if (opset >= 7) return b;
            int rankA = shapeOf(a).rank();
            Shape sb = shapeOf(b);
            long axis;
            if (op.equals("PRelu")) {
                if (sb.rank() != 1 || rankA < 3 || sb.dim(0) == 1) return b;
                axis = 1;
            } else {
                if (attrInt("broadcast", 0) == 0) return b;
                axis = attrInt("axis", rankA - sb.rank());
                if (axis < 0) axis += rankA;
            }
            int trailing = (int) (rankA - axis - sb.rank());
            if (trailing <= 0) return b;
            int[] axes = new int[trailing];
            for (int i = 0; i < trailing; i++) axes[i] = sb.rank() + i;
            String r = fresh(b + "/aligned");
            emit(r, Reshape.unsqueeze(axes), b);
            return r;
        }

        /** ONNX Expand: {@code x} broadcast with {@code shape}, computed as {@code x·ones(shape)}. */
        private void expand() {
            long[] target = longsInput(1, "Expand's shape");
            long count = 1;
            for (long d : target) count *= d;
            if (count < 1 || count > Integer.MAX_VALUE - 8) throw unsupported("Expand to " + Arrays.toString(target));
            float[] ones = new float[(int) count];
            Arrays.fill(ones, 1f);
            emit(out(), Binary.mul(), in(0), newConst(out() + "/ones", target, ones));
        }

        /** A binary node; a rank-0 constant stays broadcastable (it is [1]). */
        private void emitBinary(String out, Binary.Op o, String a, String b) {
            emit(out, Binary.of(o), a, b);
        }

        private void foldIntBinary(String op, Const a, Const b) {
            long[] da = a.dims();
            long[] db = b.dims();
            int rank = Math.max(da.length, db.length);
            long[] dims = new long[rank];
            for (int i = 0; i < rank; i++) {
                long x = i - (rank - da.length) >= 0 ? da[i - (rank - da.length)] : 1;
                long y = i - (rank - db.length) >= 0 ? db[i - (rank - db.length)] : 1;
                if (x != y && x != 1 && y != 1) throw new ShapeException(op + ": cannot broadcast " + Arrays.toString(da) + " and " + Arrays.toString(db));
                dims[i] = Math.max(x, y);
            }
            long count = 1;
            for (long d : dims) count *= d;
            long[] v = new long[(int) count];
            for (int i = 0; i < v.length; i++) {
                long x = a.l()[(int) bcast(i, dims, da)];
                long y = b.l()[(int) bcast(i, dims, db)];
                v[i] = switch (op) {
                    case "Add" -> x + y;
                    case "Sub" -> x - y;
                    case "Mul" -> x * y;
                    default -> {
                        if (y == 0) throw new OnnxFormatException(label + ": integer division by zero");
                        yield x / y; // integer division truncates toward zero
                    }
                };
            }
            define(out(), new Const(dims, null, v, a.type()));
        }

        /** The flat index in an operand of dims {@code d} of output flat index {@code i} (dims {@code out}). */
        private static long bcast(long i, long[] out, long[] d) {
            long off = 0;
            long mul = 1;
            for (int k = out.length - 1; k >= 0; k--) {
                long idx = i % out[k];
                i /= out[k];
                int dk = k - (out.length - d.length);
                if (dk >= 0) {
                    if (d[dk] != 1) off += idx * mul;
                    mul *= d[dk];
                }
            }
            return off;
        }

        private void variadic(String op) {
            List<String> ins = new ArrayList<>();
            for (int i = 0; i < inputCount(); i++) if (hasInput(i)) ins.add(in(i));
            if (ins.isEmpty()) throw new OnnxFormatException(label + ": no inputs");
            String out = out();
            if (ins.size() == 1) {
                alias(out, ins.getFirst());
                return;
            }
            Binary.Op o = switch (op) {
                case "Max" -> Binary.Op.MAX;
                case "Min" -> Binary.Op.MIN;
                default -> Binary.Op.ADD;
            };
            boolean mean = op.equals("Mean");
            String acc = ins.getFirst();
            for (int i = 1; i < ins.size(); i++) {
                String target = i == ins.size() - 1 && !mean ? out : fresh(out + "/" + i);
                emitBinary(target, o, acc, ins.get(i));
                acc = target;
            }
            if (mean) {
                emit(out, Binary.mul(), acc, newConst(out + "/1_over_n", new long[0], new float[] {1f / ins.size()}));
            }
        }

        private void reduce(String op) {
            Reduce.Kind kind = switch (op) {
                case "ReduceMean" -> Reduce.Kind.MEAN;
                case "ReduceSum" -> Reduce.Kind.SUM;
                case "ReduceMax" -> Reduce.Kind.MAX;
                case "ReduceMin" -> Reduce.Kind.MIN;
                case "ReduceProd" -> Reduce.Kind.PROD;
                case "ReduceL1" -> Reduce.Kind.L1;
                case "ReduceL2" -> Reduce.Kind.L2;
                case "ReduceSumSquare" -> Reduce.Kind.SUM_SQUARE;
                case "ReduceLogSum" -> Reduce.Kind.LOG_SUM;
                default -> Reduce.Kind.LOG_SUM_EXP;
            };
            boolean axesAsInput = op.equals("ReduceSum") ? opset >= 13 : opset >= 18;
            long[] axes = axesAsInput ? (hasInput(1) ? longsInput(1, op + "'s axes") : null) : attrInts("axes");
            boolean keep = attrInt("keepdims", 1) != 0;
            if ((axes == null || axes.length == 0) && attrInt("noop_with_empty_axes", 0) != 0) {
                alias(out(), in(0));
                return;
            }
            emit(out(), Reduce.of(kind, axes == null ? new int[0] : ints(axes), keep), in(0));
        }

        private void shape() {
            long[] dims = onnxDims(in(0));
            int rank = dims.length;
            long start = attrInt("start", 0);
            long end = attrInt("end", rank);
            int s = (int) Math.max(0, Math.min(rank, start < 0 ? start + rank : start));
            int e = (int) Math.max(0, Math.min(rank, end < 0 ? end + rank : end));
            long[] v = Arrays.copyOfRange(dims, s, Math.max(s, e));
            define(out(), Const.longs(new long[] {v.length}, v));
        }

        private void gather() {
            String data = in(0);
            Const c = consts.get(data);
            long[] idx = longsInput(1, "Gather's indices");
            long[] idxDims = consts.get(in(1)).dims();
            if (c == null) {
                gatherAtRunTime(data, idx, idxDims);
                return;
            }
            long[] dims = c.dims();
            int rank = dims.length;
            long axisAttr = attrInt("axis", 0);
            int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
            if (axis < 0 || axis >= rank) throw new ShapeException("Gather: axis " + axisAttr + " for rank " + rank);
            long outer = 1;
            for (int i = 0; i < axis; i++) outer *= dims[i];
            long inner = 1;
            for (int i = axis + 1; i < rank; i++) inner *= dims[i];
            long n = dims[axis];
            long[] outDims = new long[rank - 1 + idxDims.length];
            System.arraycopy(dims, 0, outDims, 0, axis);
            System.arraycopy(idxDims, 0, outDims, axis, idxDims.length);
            System.arraycopy(dims, axis + 1, outDims, axis + idxDims.length, rank - axis - 1);
            int count = (int) (outer * idx.length * inner);
            float[] f = c.isFloat() ? new float[count] : null;
            long[] l = c.isInt() ? new long[count] : null;
            int o = 0;
            for (long a = 0; a < outer; a++) {
                for (long j : idx) {
                    long jj = j < 0 ? j + n : j;
                    if (jj < 0 || jj >= n) throw new ShapeException("Gather: index " + j + " outside [" + -n + ", " + n + ")");
                    for (long b = 0; b < inner; b++) {
                        int src = (int) ((a * n + jj) * inner + b);
                        if (f != null) f[o] = c.f()[src];
                        else l[o] = c.l()[src];
                        o++;
                    }
                }
            }
            define(out(), new Const(outDims, f, l, c.type()));
        }

        /** Gather of constant indices (a scalar or a vector) from a runtime tensor: slices, squeezed or concatenated. */
        private void gatherAtRunTime(String data, long[] idx, long[] idxDims) {
            if (idxDims.length > 1) throw unsupported("Gather with " + idxDims.length + "-D indices on a tensor computed at run time");
            int rank = shapeOf(data).rank();
            long axisAttr = attrInt("axis", 0);
            int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
            long n = shapeOf(data).dim(Math.max(0, Math.min(rank - 1, axis)));
            String out = out();
            List<String> parts = new ArrayList<>();
            for (long j : idx) {
                long jj = j < 0 ? j + n : j;
                if (jj < 0 || jj >= n) throw new ShapeException("Gather: index " + j + " outside [" + -n + ", " + n + ")");
                String part = idxDims.length == 0 || idx.length == 1 ? (idxDims.length == 0 ? fresh(out + "/slice") : out)
                        : fresh(out + "/" + j);
                emit(part, Slice.range(axis, jj, jj + 1), data);
                parts.add(part);
            }
            if (idxDims.length == 0) {
                emit(out, Reshape.squeeze(axis), parts.getFirst());
            } else if (parts.size() > 1) {
                emit(out, Concat.of(axis), parts);
            }
        }

        /** ONNX Split: one slice per output along the axis (sizes from the input or attribute, else equal parts). */
        private void split() {
            String x = in(0);
            Shape s = shapeOf(x);
            long axisAttr = attrInt("axis", 0);
            int axis = (int) (axisAttr < 0 ? axisAttr + s.rank() : axisAttr);
            int outputs = node.outputs().size();
            long[] sizes = opset < 13 ? attrInts("split") : hasInput(1) ? longsInput(1, "Split's sizes") : null;
            if (sizes == null) {
                long d = s.dim(axis);
                long part = (d + outputs - 1) / outputs;
                sizes = new long[outputs];
                for (int i = 0; i < outputs; i++) sizes[i] = Math.min(part, d - i * part);
            }
            if (sizes.length != outputs) {
                throw new OnnxFormatException(label + ": " + sizes.length + " split sizes for " + outputs + " outputs");
            }
            long start = 0;
            for (int i = 0; i < outputs; i++) {
                String o = node.outputs().get(i);
                if (!o.isEmpty()) emit(o, Slice.range(axis, start, start + sizes[i]), x);
                start += sizes[i];
            }
        }

        private void cast() {
            int to = (int) attrInt("to", 0);
            OnnxDataType target = OnnxDataType.fromCode(to);
            String x = in(0);
            Const c = consts.get(x);
            if (c == null) {
                if (target == OnnxDataType.FLOAT) {
                    alias(out(), x);
                    return;
                }
                throw unsupported("Cast to " + target + " at run time");
            }
            if (!c.isFloat() && !c.isInt()) throw unsupported("Cast from " + c.type());
            switch (target) {
                case FLOAT -> {
                    float[] f = new float[(int) c.count()];
                    for (int i = 0; i < f.length; i++) f[i] = (float) c.value(i);
                    define(out(), Const.floats(c.dims(), f));
                }
                case INT64, INT32 -> {
                    long[] l = new long[(int) c.count()];
                    for (int i = 0; i < l.length; i++) l[i] = (long) c.value(i);
                    define(out(), new Const(c.dims(), null, l, target));
                }
                default -> throw unsupported("Cast to " + target);
            }
        }

        private void sliceAtRunTime() {
            long[] starts, ends, axes, steps = null;
            if (opset < 10) {
                starts = attrInts("starts");
                ends = attrInts("ends");
                axes = attrInts("axes");
            } else {
                starts = longsInput(1, "Slice's starts");
                ends = longsInput(2, "Slice's ends");
                axes = hasInput(3) ? longsInput(3, "Slice's axes") : null;
                steps = hasInput(4) ? longsInput(4, "Slice's steps") : null;
            }
            if (starts == null || ends == null) throw new OnnxFormatException(label + ": starts and ends are required");
            int[] ax = new int[starts.length];
            for (int i = 0; i < ax.length; i++) ax[i] = axes == null ? i : (int) axes[i];
            if (steps == null) {
                steps = new long[starts.length];
                Arrays.fill(steps, 1);
            }
            emit(out(), Slice.of(ax, starts, ends, steps), in(0));
        }

        private void constantOfShape() {
            long[] dims = longsInput(0, "ConstantOfShape's shape");
            long count = 1;
            for (long d : dims) count *= d;
            if (count == 0) throw unsupported("a zero-sized tensor");
            OnnxAttribute a = node.attributes().get("value");
            Const v = a instanceof OnnxAttribute.Tensor(OnnxTensor t) ? Const.of(t) : Const.floats(new long[] {1}, new float[] {0f});
            if (v.isFloat()) {
                float[] f = new float[(int) count];
                Arrays.fill(f, v.f()[0]);
                define(out(), Const.floats(dims, f));
            } else if (v.isInt()) {
                long[] l = new long[(int) count];
                Arrays.fill(l, v.l()[0]);
                define(out(), new Const(dims, null, l, v.type()));
            } else {
                throw unsupported("ConstantOfShape of type " + v.type());
            }
        }

        private void range() {
            Const s = constInput(0, "Range's start");
            Const l = constInput(1, "Range's limit");
            Const d = constInput(2, "Range's delta");
            double start = s.value(0);
            double limit = l.value(0);
            double delta = d.value(0);
            int n = (int) Math.max(0, Math.ceil((limit - start) / delta));
            if (n == 0) throw unsupported("an empty Range");
            if (s.isFloat()) {
                float[] f = new float[n];
                for (int i = 0; i < n; i++) f[i] = (float) (start + i * delta);
                define(out(), Const.floats(new long[] {n}, f));
            } else {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = s.l()[0] + i * d.l()[0];
                define(out(), new Const(new long[] {n}, null, v, s.type()));
            }
        }

        private void slice() {
            Const c = consts.get(in(0));
            if (c == null) {
                sliceAtRunTime();
                return;
            }
            long[] dims = c.dims();
            int rank = dims.length;
            long[] starts;
            long[] ends;
            long[] axes;
            long[] steps = null;
            if (opset < 10) {
                starts = attrInts("starts");
                ends = attrInts("ends");
                axes = attrInts("axes");
            } else {
                starts = longsInput(1, "Slice's starts");
                ends = longsInput(2, "Slice's ends");
                axes = hasInput(3) ? longsInput(3, "Slice's axes") : null;
                steps = hasInput(4) ? longsInput(4, "Slice's steps") : null;
            }
            long[] begin = new long[rank];
            long[] step = new long[rank];
            long[] size = dims.clone();
            Arrays.fill(step, 1);
            for (int i = 0; i < starts.length; i++) {
                int a = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + rank : axes[i]);
                long st = steps == null ? 1 : steps[i];
                if (st == 0) throw new OnnxFormatException(label + ": step 0");
                long n = dims[a];
                long b = starts[i] < 0 ? starts[i] + n : starts[i];
                long e = ends[i] < 0 ? ends[i] + n : ends[i];
                if (st > 0) {
                    b = Math.max(0, Math.min(n, b));
                    e = Math.max(0, Math.min(n, e));
                    size[a] = Math.max(0, (e - b + st - 1) / st);
                } else {
                    b = Math.max(-1, Math.min(n - 1, b));
                    e = Math.max(-1, Math.min(n - 1, e));
                    size[a] = Math.max(0, (b - e - st - 1) / -st);
                }
                begin[a] = b;
                step[a] = st;
            }
            long count = 1;
            for (long s : size) count *= s;
            if (count == 0) throw unsupported("an empty Slice");
            float[] f = c.isFloat() ? new float[(int) count] : null;
            long[] l = c.isInt() ? new long[(int) count] : null;
            for (int o = 0; o < count; o++) {
                long rest = o;
                long src = 0;
                long mul = 1;
                for (int k = rank - 1; k >= 0; k--) {
                    long idx = rest % size[k];
                    rest /= size[k];
                    src += (begin[k] + idx * step[k]) * mul;
                    mul *= dims[k];
                }
                if (f != null) f[o] = c.f()[(int) src];
                else l[o] = c.l()[(int) src];
            }
            define(out(), new Const(size, f, l, c.type()));
        }
    }
}
