package dev.convnet.net;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;

/**
 * A network as a directed acyclic graph of layers over named tensors: residual connections ({@code Add}),
 * branches joined by {@code Concat}, several inputs or outputs. A graph has
 * <ul>
 *   <li>inputs: names fed at run time;</li>
 *   <li>constants: named float tensors with a shape (for example an ONNX initializer used as an operand of
 *       {@code Add} or {@code Mul});</li>
 *   <li>nodes, in a topological order: a layer, the names of its inputs (graph inputs, constants or earlier
 *       nodes' outputs; as many as the layer's {@link Layer#arity() arity}) and the name of its output;</li>
 *   <li>outputs: the names returned by a run (node outputs, or inputs and constants, which are copied).</li>
 * </ul>
 * Like a {@link Network} it knows no sizes until {@link #plan(Map) planned} or
 * {@link #compile(Map, SessionOptions) compiled} for input shapes, which validates every node.
 *
 * <pre>{@code
 * Graph g = Graph.builder().input("x")
 *         .node("c1", conv1, "x").node("r1", Activation.relu(), "c1")
 *         .node("c2", conv2, "r1").node("sum", Binary.add(), "c2", "x")   // residual
 *         .node("y", Activation.relu(), "sum").output("y").build();
 * try (Session s = g.compile(Shape.of(1, 16, 32, 32))) { float[] y = s.run(x); }
 * }</pre>
 *
 * <p>Thread-safety: immutable; a graph may be planned and compiled many times, from several threads.
 */
public final class Graph {
    /**
     * One node: {@code output = layer(inputs…)}.
     *
     * @param name   the node's name, for messages (by default its output's name)
     * @param layer  the operation
     * @param inputs the names of its inputs, in order
     * @param output the name of its output
     * @param parameterNames the global names of the layer's {@link Layer#parameters() parameters}, in the layer's
     *                       order: an imported model's initializer names, or by default {@code <name>.<local name>}
     *                       (e.g. {@code conv1.weight})
     */
    public record Node(String name, Layer layer, List<String> inputs, String output, List<String> parameterNames) {
        /** Copies the lists; an empty or null {@code parameterNames} means the default names. */
        public Node {
            Objects.requireNonNull(name, "name");
            Objects.requireNonNull(layer, "layer");
            Objects.requireNonNull(output, "output");
            inputs = List.copyOf(inputs);
            List<String> local = layer.parameterNames();
            if (parameterNames == null || parameterNames.isEmpty()) {
                parameterNames = local.stream().map(l -> name + "." + l).toList();
            } else if (parameterNames.size() != local.size()) {
                throw new IllegalArgumentException("node '" + name + "' " + layer + " declares parameters " + local + ", got "
                        + parameterNames.size() + " names " + parameterNames);
            } else {
                parameterNames = List.copyOf(parameterNames);
            }
        }

        /** A node with the default parameter names. */
        public Node(String name, Layer layer, List<String> inputs, String output) {
            this(name, layer, inputs, output, List.of());
        }
    }

    private record Constant(Shape shape, float[] values) {
    }

    private final List<String> inputs;
    private final Map<String, Constant> constants;
    private final List<Node> nodes;
    private final List<String> outputs;
    /** Made by {@link #of(Network)}: planning errors name "layer i", as a network's always have. */
    private final boolean layerChain;

    private Graph(List<String> inputs, Map<String, Constant> constants, List<Node> nodes, List<String> outputs,
                  boolean layerChain) {
        this.layerChain = layerChain;
        this.inputs = List.copyOf(inputs);
        this.constants = Collections.unmodifiableMap(new LinkedHashMap<>(constants));
        this.nodes = List.copyOf(nodes);
        this.outputs = List.copyOf(outputs);
    }

    /** A builder. */
    public static Builder builder() {
        return new Builder();
    }

    /** The graph inputs' names, in order. */
    public List<String> inputNames() {
        return inputs;
    }

    /** The graph outputs' names, in order. */
    public List<String> outputNames() {
        return outputs;
    }

    /** The nodes in topological order. */
    public List<Node> nodes() {
        return nodes;
    }

    /** The constants' names and shapes, in the order they were added. */
    public Map<String, Shape> constantShapes() {
        Map<String, Shape> m = new LinkedHashMap<>();
        constants.forEach((k, v) -> m.put(k, v.shape()));
        return Collections.unmodifiableMap(m);
    }

    /**
     * A copy of a constant's values (row-major).
     *
     * @throws IllegalArgumentException if there is no such constant
     */
    public float[] constantValues(String name) {
        Constant c = constants.get(name);
        if (c == null) throw new IllegalArgumentException("no constant '" + name + "' in the graph");
        return c.values().clone();
    }

    /**
     * Every parameter the nodes declare, in node order then each layer's order, with its global name and the current
     * values (copies).
     */
    public List<NamedParameter> parameterSpecs() {
        List<NamedParameter> all = new ArrayList<>();
        for (Node n : nodes) {
            List<dev.convnet.layer.ParameterSpec> specs = n.layer().parameters();
            for (int i = 0; i < specs.size(); i++) all.add(new NamedParameter(n.parameterNames().get(i), n.name(), specs.get(i)));
        }
        return all;
    }

    /**
     * A parameter of a graph node.
     *
     * @param name the global name (unique in the graph)
     * @param node the name of the node that declares it
     * @param spec the layer's declaration, with the current values
     */
    public record NamedParameter(String name, String node, dev.convnet.layer.ParameterSpec spec) {
    }

    /**
     * This graph with new parameter values: every node whose parameters {@code values} names gets a copy of its layer
     * with those values (a node must get all or none of its parameters); the structure is unchanged.
     *
     * @param values arrays by global parameter name (copied by the layers)
     * @throws IllegalArgumentException if a name is unknown, or a node gets only some of its parameters
     * @throws ShapeException if an array's length differs from its parameter's
     */
    public Graph withParameterValues(Map<String, float[]> values) {
        Set<String> unknown = new HashSet<>(values.keySet());
        List<Node> updated = new ArrayList<>(nodes.size());
        for (Node n : nodes) {
            List<String> names = n.parameterNames();
            long given = names.stream().filter(values::containsKey).count();
            if (given == 0) {
                updated.add(n);
                continue;
            }
            if (given != names.size()) {
                throw new IllegalArgumentException("node '" + n.name() + "': values are given for "
                        + names.stream().filter(values::containsKey).toList() + " but not for all of " + names);
            }
            List<float[]> v = names.stream().map(values::get).toList();
            names.forEach(unknown::remove);
            updated.add(new Node(n.name(), n.layer().withParameters(v), n.inputs(), n.output(), names));
        }
        if (!unknown.isEmpty()) throw new IllegalArgumentException("no parameters named " + unknown + " in the graph");
        return new Graph(inputs, constants, updated, outputs, layerChain);
    }

    /**
     * Validates every node for the given input shapes (batch first) and reports each node's output shape,
     * parameters and FLOPs.
     *
     * @param inputShapes one shape per graph input, by name
     * @throws ShapeException naming the node (index and name; for a network's chain graph "layer" and index), its
     *                        operation, the rule and the numbers
     * @throws IllegalArgumentException if the names differ from {@link #inputNames()}
     */
    public GraphSummary plan(Map<String, Shape> inputShapes) {
        Objects.requireNonNull(inputShapes, "inputShapes");
        if (!new HashSet<>(inputs).equals(inputShapes.keySet())) {
            throw new IllegalArgumentException("input shapes are given for " + inputShapes.keySet() + ", the graph's inputs are "
                    + inputs);
        }
        Map<String, Shape> shapes = new HashMap<>();
        Map<String, Shape> ordered = new LinkedHashMap<>();
        for (String in : inputs) {
            Shape s = Objects.requireNonNull(inputShapes.get(in), "shape of " + in);
            shapes.put(in, s);
            ordered.put(in, s);
        }
        constants.forEach((k, v) -> shapes.put(k, v.shape()));
        Set<String> counted = new HashSet<>();
        List<GraphSummary.Row> rows = new ArrayList<>(nodes.size());
        int index = 1;
        for (Node n : nodes) {
            List<Shape> in = n.inputs().stream().map(shapes::get).toList();
            Shape out;
            try {
                out = n.layer().outputShape(in);
            } catch (ShapeException e) {
                String node = layerChain ? "layer " + index : "node " + index + " '" + n.name() + "'";
                ShapeException wrapped = new ShapeException(node + " " + n.layer() + " on "
                        + (in.size() == 1 ? "input " + in.getFirst() : "inputs " + in) + ": " + e.getMessage());
                wrapped.initCause(e);
                throw wrapped;
            }
            long constantElements = 0;
            for (String i : n.inputs()) {
                if (constants.containsKey(i) && counted.add(i)) constantElements += constants.get(i).shape().elementCount();
            }
            shapes.put(n.output(), out);
            rows.add(new GraphSummary.Row(index++, n.name(), n.layer(), n.inputs(), in, n.output(), out, constantElements,
                    Flops.of(n.layer(), in, out)));
        }
        Map<String, Shape> outShapes = new LinkedHashMap<>();
        for (String o : outputs) outShapes.put(o, shapes.get(o));
        return new GraphSummary(ordered, outShapes, constantShapes(), rows);
    }

    /**
     * {@link #plan(Map)} for a graph with one input.
     *
     * @throws IllegalStateException if the graph has another number of inputs
     */
    public GraphSummary plan(Shape inputShape) {
        return plan(Map.of(onlyInput(), Objects.requireNonNull(inputShape, "inputShape")));
    }

    private String onlyInput() {
        if (inputs.size() != 1) {
            throw new IllegalStateException("the graph has " + inputs.size() + " inputs " + inputs + "; give a shape for each");
        }
        return inputs.getFirst();
    }

    /**
     * Plans the graph for {@code inputShapes} and prepares it as {@code options} say. On the Java and reference
     * backends the nodes run in topological order; on oneDNN every node runs as a primitive where there is one (with
     * fusion, as {@link SessionOptions} says), the Java kernel otherwise. With
     * {@link SessionOptions#channelsLast()}, every 4-D input and output is NHWC in the caller's buffers.
     *
     * @throws ShapeException if a node does not fit its inputs
     * @throws UnsupportedOperationException if the backend cannot run this graph
     */
    public Session compile(Map<String, Shape> inputShapes, SessionOptions options) {
        Objects.requireNonNull(options, "options");
        return SessionFactory.create(this, plan(inputShapes), options);
    }

    /** {@link #compile(Map, SessionOptions)} for a graph with one input. */
    public Session compile(Shape inputShape, SessionOptions options) {
        return compile(Map.of(onlyInput(), Objects.requireNonNull(inputShape, "inputShape")), options);
    }

    /** {@link #compile(Map, SessionOptions)} for a graph with one input, on the automatically chosen backend. */
    public Session compile(Shape inputShape) {
        return compile(inputShape, SessionOptions.defaults());
    }

    /**
     * This graph as a sequential network, if it is one: one input, one output, no constants, and every node a
     * single-input layer reading the previous node's output (the first reads the input), the last producing the
     * output.
     */
    public Optional<Network> asChain() {
        if (inputs.size() != 1 || outputs.size() != 1 || !constants.isEmpty() || nodes.isEmpty()) return Optional.empty();
        String previous = inputs.getFirst();
        List<Layer> layers = new ArrayList<>();
        for (Node n : nodes) {
            if (n.layer().arity() != 1 || n.inputs().size() != 1 || !n.inputs().getFirst().equals(previous)) {
                return Optional.empty();
            }
            layers.add(n.layer());
            previous = n.output();
        }
        return previous.equals(outputs.getFirst()) ? Optional.of(Network.of(layers)) : Optional.empty();
    }

    /**
     * The chain graph of a sequential network: input {@value Session#INPUT}, output {@value Session#OUTPUT}, node
     * {@code "layer<i>"} (from 1) producing the value {@code "layer<i>"} (the last one the output); its parameters are
     * {@code layer<i>.weight}, {@code layer<i>.bias}, …. Planning errors name the layer as {@link Network#plan(Shape)}
     * does ({@code "layer 2 Linear(…) on input […]: …"}). An empty network becomes one identity node.
     */
    public static Graph of(Network network) {
        Builder b = builder().input(Session.INPUT);
        String previous = Session.INPUT;
        List<Layer> layers = network.layers();
        if (layers.isEmpty()) {
            b.node(Session.OUTPUT, dev.convnet.layer.Reshape.identity(), Session.INPUT);
        }
        for (int i = 0; i < layers.size(); i++) {
            String out = i == layers.size() - 1 ? Session.OUTPUT : "layer" + (i + 1);
            b.node("layer" + (i + 1), layers.get(i), List.of(previous), out);
            previous = out;
        }
        Graph g = b.output(Session.OUTPUT).build();
        return new Graph(g.inputs, g.constants, g.nodes, g.outputs, true);
    }

    @Override
    public String toString() {
        return "Graph[inputs " + inputs + ", " + constants.size() + " constants, " + nodes.size() + " nodes, outputs " + outputs + "]";
    }

    /**
     * Collects inputs, constants, nodes (in topological order) and outputs; {@link #build()} checks the names.
     *
     * <p>Thread-safety: not thread-safe.
     */
    public static final class Builder {
        private final List<String> inputs = new ArrayList<>();
        private final Map<String, Constant> constants = new LinkedHashMap<>();
        private final List<Node> nodes = new ArrayList<>();
        private final List<String> outputs = new ArrayList<>();
        private final Set<String> defined = new HashSet<>();
        private final Set<String> parameterNamesUsed = new HashSet<>();

        private Builder() {
        }

        private void define(String name, String what) {
            if (name == null || name.isEmpty()) throw new IllegalArgumentException(what + ": a name must not be empty");
            if (!defined.add(name)) throw new IllegalArgumentException(what + " '" + name + "': the name is already defined");
        }

        /** Adds a graph input. */
        public Builder input(String name) {
            define(name, "input");
            inputs.add(name);
            return this;
        }

        /**
         * Adds a constant tensor (values copied, row-major).
         *
         * @throws ShapeException if the number of values differs from the shape's element count
         */
        public Builder constant(String name, Shape shape, float[] values) {
            Objects.requireNonNull(shape, "shape");
            Objects.requireNonNull(values, "values");
            if (values.length != shape.elementCount()) {
                throw new ShapeException("constant '" + name + "': shape " + shape + " has " + shape.elementCount()
                        + " elements, got " + values.length + " values");
            }
            define(name, "constant");
            constants.put(name, new Constant(shape, values.clone()));
            return this;
        }

        /** Adds a node named after its output. */
        public Builder node(String output, Layer layer, String... inputs) {
            return node(output, layer, List.of(inputs), output);
        }

        /**
         * Adds a node.
         *
         * @throws IllegalArgumentException if an input is not yet defined, the output name is taken, or the number
         *                                  of inputs does not match the layer's arity
         */
        public Builder node(String name, Layer layer, List<String> inputs, String output) {
            return node(name, layer, inputs, output, List.of());
        }

        /**
         * Adds a node whose parameters have the given global names (in the layer's {@link Layer#parameters()} order;
         * empty for the default {@code <name>.<local name>}).
         *
         * @throws IllegalArgumentException as {@link #node(String, Layer, List, String)}, or if the number of names
         *                                  differs from the layer's parameters or a name is already used
         */
        public Builder node(String name, Layer layer, List<String> inputs, String output, List<String> parameterNames) {
            Objects.requireNonNull(layer, "layer");
            int arity = layer.arity();
            if (arity == Layer.VARIADIC ? inputs.isEmpty() : inputs.size() != arity) {
                throw new IllegalArgumentException("node '" + name + "' " + layer + " takes "
                        + (arity == Layer.VARIADIC ? "at least 1 input" : arity + " input(s)") + ", got " + inputs.size() + " " + inputs);
            }
            for (String in : inputs) {
                if (!defined.contains(in)) {
                    throw new IllegalArgumentException("node '" + name + "' " + layer + ": input '" + in
                            + "' is not an input, a constant or an earlier node's output (nodes go in topological order)");
                }
            }
            Node node = new Node(name, layer, inputs, output, parameterNames);
            for (String p : node.parameterNames()) {
                if (!parameterNamesUsed.add(p)) {
                    throw new IllegalArgumentException("node '" + name + "': parameter name '" + p + "' is already used");
                }
            }
            define(output, "node '" + name + "' output");
            nodes.add(node);
            return this;
        }

        /** Marks values as graph outputs, in order. */
        public Builder output(String... names) {
            for (String n : names) {
                if (!defined.contains(n)) throw new IllegalArgumentException("output '" + n + "' is not defined in the graph");
                if (outputs.contains(n)) throw new IllegalArgumentException("output '" + n + "' is listed twice");
                outputs.add(n);
            }
            return this;
        }

        /**
         * The graph.
         *
         * @throws IllegalStateException if it has no output
         */
        public Graph build() {
            if (outputs.isEmpty()) throw new IllegalStateException("a graph needs at least one output");
            return new Graph(inputs, constants, nodes, outputs, false);
        }
    }
}
