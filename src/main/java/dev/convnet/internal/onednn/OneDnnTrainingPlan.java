package dev.convnet.internal.onednn;

import dev.convnet.internal.train.TrainingModes;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.internal.onednn.Primitives.Eltwise;
import dev.convnet.internal.train.GradKernel;
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
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Unary;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.train.Parameter;
import dev.convnet.train.ParameterSet;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * A graph compiled for training into oneDNN primitives: a forward step list (primitives created with
 * {@code dnnl_forward_training}, so that every backward descriptor has its forward descriptor as the hint) and a
 * backward step list, both built once here; running a pass only executes them.
 *
 * <p>Layouts: every activation lives in the layout its producer chose ({@code format_tag_any}), and its gradient in
 * the same layout; a primitive that wants another layout gets a reorder (forward: a copy kept for the backward pass;
 * backward: into a temporary). Parameters stay plain (OIHW, …) in the {@link ParameterSet}: each forward pass copies
 * them into plain buffers of the session (so the backward pass sees the values of its forward pass, and oneDNN never
 * holds an address of the caller's set) and reorders them into the layouts the primitives chose; each backward pass
 * reorders the weight gradients back to plain and copies them into the set.
 *
 * <p>Memory: every value the backward pass needs is kept; an eltwise whose input has no other reader runs in place
 * with its {@code _use_dst_for_bwd} algorithm (and its backward in place on the gradient); reshapes and flattens
 * are views; an inner product reads a flattened 4-D activation in its own layout. Gradients with several
 * contributions (fan-out) are summed by reorders with a sum post-op.
 *
 * <p>Nodes oneDNN has no primitive for run their Java training kernel ({@code JavaGradients}) on heap copies.
 *
 * <p>Built and run by one thread (a training session is not thread-safe).
 */
final class OneDnnTrainingPlan {
    /** A native buffer of the session: its size grows while the plan compiles; allocated by {@link #finish}. */
    static final class Buffer {
        final String what;
        long bytes;
        MemorySegment segment;

        Buffer(String what, long bytes) {
            this.what = what;
            this.bytes = bytes;
        }

        void fit(MemorySegment md) {
            bytes = Math.max(bytes, MemoryFormats.bytes(md));
        }
    }

    /** A buffer seen through a memory descriptor. */
    record View(Buffer buffer, MemorySegment md) {
    }

    /** When a forward step runs. */
    enum Mode { ALWAYS, TRAINING, INFERENCE }

    /** One step: a primitive with its arguments, or Java code. */
    static final class Step {
        final String node;
        final String kind;
        final String implementation;
        final String formats;
        final Mode mode;
        final MemorySegment primitive; // NULL for a Java step
        final int[] argKinds;
        final View[] argViews;
        final Runnable java;
        MemorySegment args;
        int nargs;

        Step(String node, String kind, String implementation, String formats, Mode mode, MemorySegment primitive,
             int[] argKinds, View[] argViews, Runnable java) {
            this.node = node;
            this.kind = kind;
            this.implementation = implementation;
            this.formats = formats;
            this.mode = mode;
            this.primitive = primitive;
            this.argKinds = argKinds;
            this.argViews = argViews;
            this.java = java;
        }
    }

    /** A tensor of the graph during compilation. */
    static final class Value {
        final String name;
        final Shape shape;
        final View data;
        /** A reshape view shares the data and the gradient of this value; null for a value of its own. */
        final Value aliasOf;
        boolean needsGrad;
        /** The producer's backward pass reads this value's data as its destination (softmax, use-dst eltwise). */
        boolean producerReadsDst;
        /** Written by a node of the graph into a buffer of its own (not an input, constant or view). */
        boolean ownBuffer;
        /** A constant of the graph. */
        boolean constant;
        int readers;
        /** Root only: the gradient buffer (same layout as the data), allocated at the first contribution. */
        Buffer grad;
        /** Root only, while the backward pass compiles: whether the gradient has had its first contribution. */
        boolean written;
        /** Forward copies in other layouts, made for readers that want them. */
        final List<View> copies = new ArrayList<>();

        Value(String name, Shape shape, View data, Value aliasOf) {
            this.name = name;
            this.shape = shape;
            this.data = data;
            this.aliasOf = aliasOf;
        }

        Value root() {
            return aliasOf == null ? this : aliasOf.root();
        }

        MemorySegment md() {
            return data.md();
        }
    }

    /** What a node's backward pass does, emitted in reverse order once the forward plan is complete. */
    private record Backward(Value out, List<Value> inputs, List<Parameter> trained, Runnable emit) {
    }

    /** A parameter as the forward pass staged it: a plain copy owned by the session, and copies in other layouts. */
    private final class Staged {
        final Parameter parameter;
        final View plain;
        final List<View> forward = new ArrayList<>();
        final List<View> backward = new ArrayList<>();
        View gradPlain;

        Staged(Parameter p, String node) {
            this.parameter = p;
            this.plain = newView("parameter " + p.name(), prims.plain(dims(p.shape())));
            long bytes = (long) p.size() * Float.BYTES;
            forwardStep(node, "copy " + p.name() + " from the parameter set", Mode.ALWAYS,
                    () -> MemorySegment.copy(p.values(), 0, plain.buffer().segment, 0, bytes));
        }

        /** Copies {@code diff} (any layout) into the set's gradient of the parameter after each backward pass. */
        void gradientFrom(String node, View diff) {
            View src = diff;
            if (!MemoryFormats.same(diff.md(), plain.md())) {
                if (gradPlain == null) gradPlain = newView("gradient of " + parameter.name(), plain.md());
                reorderStep(backwardSteps, node, "reorder (gradient of " + parameter.name() + ")", diff, gradPlain, false, Mode.ALWAYS);
                src = gradPlain;
            }
            View from = src;
            long bytes = (long) parameter.size() * Float.BYTES;
            backwardStep(node, "copy gradient of " + parameter.name() + " into the parameter set",
                    () -> MemorySegment.copy(from.buffer().segment, 0, parameter.gradient(), 0, bytes));
        }
    }

    final NativeScope scope;
    final MemorySegment engine;
    final Primitives prims;
    final int threads;
    final List<Step> forwardSteps = new ArrayList<>();
    final List<Step> backwardSteps = new ArrayList<>();
    final List<String> inputNames;
    final List<String> outputNames;
    /** Per graph input: its plain buffer (the caller's values are copied in), and its gradient's value. */
    final Value[] inputs;
    /** Per graph output: the plain view the caller's copy is read from. */
    final View[] outputs;
    final boolean inputGradients;
    long primitives;

    /** Why a training-mode forward pass is refused (checked before anything runs); empty if it is not. */
    final List<String> trainingRefusals = new ArrayList<>();

    /** Set by the session before each pass; read by Java steps. */
    boolean training;
    long seed;
    float[][] outputGradients;

    private final List<Buffer> buffers = new ArrayList<>();
    private final Buffer scratchpad = new Buffer("scratchpad", 0);
    private final Map<String, Value> values = new HashMap<>();
    private final List<Backward> backwards = new ArrayList<>();
    private final ArrayDeque<Buffer> freeTemps = new ArrayDeque<>();
    private final List<Buffer> usedTemps = new ArrayList<>();
    private final Map<Buffer, Map<MemorySegment, MemorySegment>> memories = new HashMap<>();
    private final Map<String, Staged> staged = new HashMap<>();
    private final List<Runnable> initializers = new ArrayList<>();
    /** Per tensor: whether only Linear layers read it (a Flatten before them can then be a view of the 4-D tensor). */
    private final Map<String, Boolean> linearReaders = new HashMap<>();
    private final JavaKernels java;
    private final ParameterSet parameters;
    private String currentNode = "";
    /** Per node, whether it runs in training mode in a training pass ({@link TrainingModes}: the rule every backend follows). */
    private boolean[] trainingMode;
    /** {@link #trainingMode} of the node being lowered. */
    private boolean currentTrains;

    /** Makes the Java training kernel of a node oneDNN cannot run. */
    @FunctionalInterface
    interface JavaKernels {
        GradKernel create(Layer layer, List<Shape> inputs, Shape output);
    }

    /**
     * Compiles {@code graph} as planned for training with the frozen flags of {@code parameters}. The caller owns
     * {@code scope} and closes it on failure.
     */
    OneDnnTrainingPlan(NativeScope scope, Graph graph, GraphSummary plan, ParameterSet parameters, int threads,
                       boolean inputGradients, JavaKernels java) {
        this.scope = scope;
        this.engine = scope.cpuEngine();
        this.prims = new Primitives(scope, engine);
        this.threads = threads;
        this.inputGradients = inputGradients;
        this.java = java;
        this.parameters = parameters;
        buffers.add(scratchpad);
        inputNames = List.copyOf(plan.inputShapes().keySet());
        outputNames = List.copyOf(plan.outputShapes().keySet());
        linearReaders.putAll(onlyLinearReaders(plan));
        Map<String, Integer> readers = new HashMap<>();
        for (GraphSummary.Row r : plan.rows()) for (String in : r.inputs()) readers.merge(in, 1, Integer::sum);
        for (String o : outputNames) readers.merge(o, 1, Integer::sum);
        inputs = new Value[inputNames.size()];
        for (int i = 0; i < inputs.length; i++) {
            String name = inputNames.get(i);
            Shape s = plan.inputShapes().get(name);
            checkArraySize("input '" + name + "'", s);
            Value v = new Value(name, s, newView("input " + name, prims.plain(dims(s))), null);
            v.needsGrad = inputGradients;
            inputs[i] = v;
            values.put(name, v);
        }
        for (String c : graph.constantShapes().keySet()) {
            Shape s = graph.constantShapes().get(c);
            Value v = new Value(c, s, newView("constant " + c, prims.plain(dims(s))), null);
            v.constant = true;
            float[] data = graph.constantValues(c);
            initializers.add(() -> MemorySegment.copy(data, 0, v.data.buffer().segment, ValueLayout.JAVA_FLOAT, 0, data.length));
            values.put(c, v);
        }
        List<Graph.Node> nodes = graph.nodes();
        trainingMode = TrainingModes.of(graph, parameters, inputGradients);
        for (int k = 0; k < plan.rows().size(); k++) {
            GraphSummary.Row r = plan.rows().get(k);
            currentNode = "#" + r.index() + " " + r.name();
            currentTrains = trainingMode[k];
            List<Parameter> ps = nodes.get(k).parameterNames().stream().map(parameters::get).toList();
            Value out = lower(k, r, ps);
            out.readers = readers.getOrDefault(r.output(), 0);
            values.put(r.output(), out);
        }
        currentNode = "output";
        outputs = new View[outputNames.size()];
        for (int i = 0; i < outputs.length; i++) {
            Value o = values.get(outputNames.get(i));
            checkArraySize("output '" + outputNames.get(i) + "'", o.shape);
            outputs[i] = read(o, prims.plain(dims(o.shape)));
        }
        compileBackward();
        finish();
    }

    private static void checkArraySize(String what, Shape s) {
        if (s.elementCount() > Integer.MAX_VALUE - 8) {
            throw new ShapeException(what + " " + s + " has " + s.elementCount() + " elements, more than a Java array holds");
        }
    }

    static long[] dims(Shape s) {
        return OneDnnPlan.longs(s);
    }

    private View newView(String what, MemorySegment md) {
        Buffer b = new Buffer(what, MemoryFormats.bytes(md));
        buffers.add(b);
        return new View(b, md);
    }

    private Staged staged(Parameter p) {
        return staged.computeIfAbsent(p.name(), n -> new Staged(p, currentNode));
    }

    // ---------------------------------------------------------------- steps

    private void forwardStep(String node, String what, Mode mode, Runnable r) {
        forwardSteps.add(new Step(node, "java", what, "", mode, MemorySegment.NULL, new int[0], new View[0], r));
    }

    private void backwardStep(String node, String what, Runnable r) {
        backwardSteps.add(new Step(node, "java", what, "", Mode.ALWAYS, MemorySegment.NULL, new int[0], new View[0], r));
    }

    /**
     * Adds a primitive step: {@code pairs} alternate {@code DNNL_ARG_*} kinds and views; the scratchpad is added when
     * the primitive needs one.
     */
    private void primitive(List<Step> steps, String kind, MemorySegment pd, Mode mode, Object... pairs) {
        int n = pairs.length / 2;
        MemorySegment scratch = Primitives.queryMd(pd, dnnl_query_scratchpad_md());
        boolean needsScratch = !scratch.equals(MemorySegment.NULL) && MemoryFormats.bytes(scratch) > 0;
        int[] kinds = new int[n + (needsScratch ? 1 : 0)];
        View[] views = new View[kinds.length];
        List<String> formats = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            kinds[i] = (Integer) pairs[2 * i];
            views[i] = (View) pairs[2 * i + 1];
            views[i].buffer().fit(views[i].md());
            if (isData(kinds[i])) formats.add(argName(kinds[i]) + ":" + MemoryFormats.describe(views[i].md()));
        }
        if (needsScratch) {
            kinds[n] = DNNL_ARG_SCRATCHPAD();
            views[n] = new View(scratchpad, scratch);
            scratchpad.fit(scratch);
        }
        MemorySegment handle = scope.primitive(pd);
        primitives++;
        steps.add(new Step(currentNode, kind, prims.implementation(pd), String.join(" ", formats), mode, handle, kinds,
                views, null));
    }

    private static boolean isData(int arg) {
        return arg == DNNL_ARG_SRC() || arg == DNNL_ARG_DST() || arg == DNNL_ARG_WEIGHTS() || arg == DNNL_ARG_DIFF_SRC()
                || arg == DNNL_ARG_DIFF_DST() || arg == DNNL_ARG_DIFF_WEIGHTS() || arg == DNNL_ARG_FROM() || arg == DNNL_ARG_TO();
    }

    private static String argName(int arg) {
        if (arg == DNNL_ARG_SRC()) return "src";
        if (arg == DNNL_ARG_DST()) return "dst";
        if (arg == DNNL_ARG_WEIGHTS()) return "wei";
        if (arg == DNNL_ARG_DIFF_SRC()) return "diff_src";
        if (arg == DNNL_ARG_DIFF_DST()) return "diff_dst";
        if (arg == DNNL_ARG_DIFF_WEIGHTS()) return "diff_wei";
        if (arg == DNNL_ARG_FROM()) return "from";
        if (arg == DNNL_ARG_TO()) return "to";
        return "arg" + arg;
    }

    /** A reorder {@code from → to}; with {@code accumulate}, {@code to += from} (sum post-op). */
    private void reorderStep(List<Step> steps, String node, String what, View from, View to, boolean accumulate, Mode mode) {
        MemorySegment pd = prims.reorder(what, from.md(), to.md(), prims.attr(accumulate ? List.of(Eltwise.SUM) : List.of()));
        String saved = currentNode;
        currentNode = node;
        primitive(steps, accumulate ? "reorder+sum" : "reorder", pd, mode, DNNL_ARG_FROM(), from, DNNL_ARG_TO(), to);
        currentNode = saved;
    }

    // ---------------------------------------------------------------- values

    /** {@code v}'s forward data in layout {@code md}: the data itself, or a copy made by a reorder (kept). */
    private View read(Value v, MemorySegment md) {
        if (MemoryFormats.same(v.md(), md)) return v.data;
        for (View c : v.copies) if (MemoryFormats.same(c.md(), md)) return c;
        View c = newView(v.name + " in " + MemoryFormats.describe(md), md);
        reorderStep(forwardSteps, currentNode, "reorder (" + v.name + ")", v.data, c, false, Mode.ALWAYS);
        v.copies.add(c);
        return c;
    }

    /** A new value written by the current node into a buffer of its own. */
    private Value produce(String name, Shape shape, MemorySegment md) {
        Value v = new Value(name, shape, newView(name, md), null);
        v.ownBuffer = true;
        return v;
    }

    /** {@code v} with a plain layout: itself, or a copy that passes its gradient back to {@code v}. */
    private Value plainOf(Value v) {
        MemorySegment plain = prims.plain(MemoryFormats.dims(v.md()));
        if (MemoryFormats.same(v.md(), plain)) return v;
        View copy = read(v, plain);
        Value p = new Value(v.name + " (plain)", v.shape, copy, null);
        p.needsGrad = v.root().needsGrad;
        backwards.add(new Backward(p, List.of(v), List.of(), () -> contributeCopy(v, gradient(p))));
        return p;
    }

    /** A view of {@code v}'s buffers with another descriptor (a reshape); gradients flow into {@code v}'s. */
    private Value alias(Value v, MemorySegment md, Shape shape) {
        Value a = new Value(v.name + " (view " + shape + ")", shape, new View(v.data.buffer(), md), v);
        a.needsGrad = v.root().needsGrad;
        return a;
    }

    private static boolean needsGrad(Value v) {
        return v.root().needsGrad;
    }

    // ---------------------------------------------------------------- gradients (backward compilation)

    /** The gradient buffer of {@code v}'s root, allocated on first use. */
    private Buffer gradBuffer(Value v) {
        Value root = v.root();
        if (root.grad == null) {
            root.grad = new Buffer("gradient of " + root.name, MemoryFormats.bytes(root.md()));
            buffers.add(root.grad);
        }
        return root.grad;
    }

    /** ∂L/∂v as a view in {@code v}'s layout. */
    private View gradient(Value v) {
        return new View(gradBuffer(v), v.md());
    }

    /** ∂L/∂v in layout {@code md}: the gradient itself, or a temporary reorder of it. */
    private View gradientIn(Value v, MemorySegment md) {
        View g = gradient(v);
        if (MemoryFormats.same(g.md(), md)) return g;
        View t = temp(md);
        reorderStep(backwardSteps, currentNode, "reorder (gradient of " + v.name + ")", g, t, false, Mode.ALWAYS);
        return t;
    }

    /** {@code v}'s forward data in layout {@code md} for a backward primitive (a kept copy, or a temporary reorder). */
    private View dataIn(Value v, MemorySegment md) {
        if (MemoryFormats.same(v.md(), md)) return v.data;
        for (View c : v.copies) if (MemoryFormats.same(c.md(), md)) return c;
        View t = temp(md);
        reorderStep(backwardSteps, currentNode, "reorder (" + v.name + ")", v.data, t, false, Mode.ALWAYS);
        return t;
    }

    private View temp(MemorySegment md) {
        Buffer b = freeTemps.poll();
        if (b == null) {
            b = new Buffer("temporary", 0);
            buffers.add(b);
        }
        b.fit(md);
        usedTemps.add(b);
        return new View(b, md);
    }

    /**
     * Adds a contribution to ∂L/∂v that {@code write} computes into the view it is given, in layout {@code md}: the
     * first contribution goes straight into the gradient when the layouts agree, any other through a temporary that a
     * reorder converts or (with a sum post-op) adds.
     */
    private void contribute(Value v, MemorySegment md, java.util.function.Consumer<View> write) {
        Value root = v.root();
        if (!root.needsGrad) return;
        View g = gradient(v);
        if (!root.written && MemoryFormats.same(md, g.md())) {
            write.accept(g);
        } else {
            View t = temp(md);
            write.accept(t);
            reorderStep(backwardSteps, currentNode, (root.written ? "accumulate" : "reorder") + " (gradient of " + v.name + ")",
                    t, g, root.written, Mode.ALWAYS);
        }
        root.written = true;
    }

    /** Adds {@code from} (any layout, same dimensions) to ∂L/∂v: one reorder, with a sum post-op after the first. */
    private void contributeCopy(Value v, View from) {
        Value root = v.root();
        if (!root.needsGrad) return;
        reorderStep(backwardSteps, currentNode, (root.written ? "accumulate" : "copy") + " (gradient of " + v.name + ")",
                from, gradient(v), root.written, Mode.ALWAYS);
        root.written = true;
    }

    private void compileBackward() {
        currentNode = "output";
        for (int i = 0; i < outputs.length; i++) {
            Value o = values.get(outputNames.get(i));
            int index = i;
            contribute(o, prims.plain(dims(o.shape)), dst -> backwardStep("output", "copy ∂L/∂" + outputNames.get(index), () -> {
                float[] g = outputGradients[index];
                if (g == null) dst.buffer().segment.asSlice(0, o.shape.elementCount() * Float.BYTES).fill((byte) 0);
                else MemorySegment.copy(g, 0, dst.buffer().segment, ValueLayout.JAVA_FLOAT, 0, g.length);
            }));
        }
        releaseTemps();
        for (int k = backwards.size() - 1; k >= 0; k--) {
            Backward b = backwards.get(k);
            boolean reached = b.out().root().written;
            boolean anyInput = b.inputs().stream().anyMatch(OneDnnTrainingPlan::needsGrad);
            if (reached && (anyInput || !b.trained().isEmpty())) {
                b.emit().run();
                releaseTemps();
            } else {
                for (Parameter p : b.trained()) {
                    backwardStep(currentNode, "zero gradient of " + p.name() + " (it does not reach an output)",
                            () -> p.gradient().fill((byte) 0));
                }
            }
        }
        currentNode = "input";
        for (Value in : inputs) {
            if (in.needsGrad && !in.written) {
                View g = gradient(in);
                backwardStep("input", "zero ∂L/∂" + in.name + " (it does not reach an output)",
                        () -> g.buffer().segment.fill((byte) 0));
                in.written = true;
            }
        }
    }

    private void releaseTemps() {
        freeTemps.addAll(usedTemps);
        usedTemps.clear();
    }

    // ---------------------------------------------------------------- lowering

    private Value lower(int k, GraphSummary.Row r, List<Parameter> ps) {
        Layer layer = r.layer();
        List<Value> ins = r.inputs().stream().map(values::get).toList();
        boolean anyConstant = ins.stream().anyMatch(v -> v.root().constant);
        boolean anyTrained = ps.stream().anyMatch(Parameter::trained);
        boolean needs = anyTrained || ins.stream().anyMatch(OneDnnTrainingPlan::needsGrad);
        String name = r.output();
        Shape out = r.outputShape();
        Value v;
        if (layer instanceof Binary b) {
            v = binary(k, r, b, ins);
        } else if (layer instanceof Concat c && !anyConstant) {
            v = concat(name, c.axis(out.rank()), ins, out);
        } else if (ins.size() == 1 && !anyConstant) {
            v = single(k, r, layer, ins.getFirst(), ps);
        } else {
            v = javaNode(k, r, ins, ps, "no oneDNN primitive for " + layer.kind() + " with these inputs");
        }
        if (v.aliasOf == null) v.needsGrad = needs;
        return v;
    }

    private Value single(int k, GraphSummary.Row r, Layer layer, Value in, List<Parameter> ps) {
        Shape outShape = r.outputShape();
        String name = r.output();
        return switch (layer) {
            case Conv2d c -> {
                Geometry2d g = c.geometry(in.shape);
                ConvAxis h = g.height(), w = g.width();
                Value v = convolution(name, in, outShape, ps, c.groups(), c.outChannels(), c.inChannels(),
                        new long[] {c.kernelHeight(), c.kernelWidth()}, new long[] {h.stride(), w.stride()},
                        new long[] {h.dilation() - 1, w.dilation() - 1}, new long[] {h.padBefore(), w.padBefore()},
                        new long[] {h.padAfter(), w.padAfter()});
                yield v != null ? v : javaNode(k, r, List.of(in), ps,
                        "no correct oneDNN 3.8.1 implementation for this geometry, see Primitives.convolution");
            }
            case Conv1d c when !c.trueConvolution() -> {
                ConvAxis x = c.geometry(in.shape);
                Value v = convolution(name, in, outShape, ps, c.groups(), c.outChannels(), c.inChannels(),
                        new long[] {c.kernelSize()}, new long[] {x.stride()}, new long[] {x.dilation() - 1},
                        new long[] {x.padBefore()}, new long[] {x.padAfter()});
                yield v != null ? v : javaNode(k, r, List.of(in), ps,
                        "no correct oneDNN 3.8.1 implementation for this geometry, see Primitives.convolution");
            }
            case Linear l -> innerProduct(name, in, outShape, ps, l.outFeatures());
            case MaxPool2d p -> pooling(name, in, outShape, dnnl_pooling_max(), p.geometry(in.shape));
            case AvgPool2d p when !(p.countIncludePad() && p.ceilMode() && OneDnnPlan.ceilOverrun(p.geometry(in.shape))) ->
                    pooling(name, in, outShape, p.countIncludePad() ? dnnl_pooling_avg_include_padding()
                            : dnnl_pooling_avg_exclude_padding(), p.geometry(in.shape));
            case GlobalPool2d p -> globalPooling(name, in, outShape, p.poolKind() == PoolKind.MAX
                    ? dnnl_pooling_max() : dnnl_pooling_avg_exclude_padding());
            case Activation a -> eltwise(name, in, OneDnnPlan.eltwiseOf(a));
            case Unary u when OneDnnPlan.eltwiseOf(u) != null -> eltwise(name, in, OneDnnPlan.eltwiseOf(u));
            case BatchNorm bn -> batchNorm(name, in, bn, ps);
            case Softmax s -> softmax(name, in, false, 1);
            case AxisSoftmax a when a.function() != AxisSoftmax.Function.HARDMAX
                    && (!a.coerce2d() || a.axis(in.shape.rank()) == in.shape.rank() - 1) ->
                    softmax(name, in, a.function() == AxisSoftmax.Function.LOG_SOFTMAX, a.axis(in.shape.rank()));
            case Flatten f -> reshape(r, in, outShape, true);
            case Reshape rs -> reshape(r, in, outShape, rs.mode() == Reshape.Mode.FLATTEN && outShape.dim(0) == in.shape.dim(0));
            default -> javaNode(k, r, List.of(in), ps, "no oneDNN primitive for " + layer.kind());
        };
    }

    /** Whether every reader of the tensor {@code output} is a Linear (and the caller does not read it). */
    private boolean onlyLinearReads(String output) {
        return linearReaders.getOrDefault(output, false);
    }

    private Value reshape(GraphSummary.Row r, Value in, Shape outShape, boolean flattens) {
        if (flattens && in.shape.rank() > 2 && onlyLinearReads(r.output())) {
            // The inner product reads the 4-D activation in its own layout: no copy, no reorder.
            return alias(in, in.md(), outShape);
        }
        Value p = plainOf(in);
        return alias(p, prims.reshape(p.md(), dims(outShape)), outShape);
    }

    /** The forward step of a convolution or inner product: source, weights, the bias when there is one, destination. */
    private void weightedForward(String kind, MemorySegment fwd, View src, View weights, Staged bias, Value out) {
        if (bias == null) {
            primitive(forwardSteps, kind, fwd, Mode.ALWAYS, DNNL_ARG_SRC(), src, DNNL_ARG_WEIGHTS(), weights,
                    DNNL_ARG_DST(), out.data);
        } else {
            primitive(forwardSteps, kind, fwd, Mode.ALWAYS, DNNL_ARG_SRC(), src, DNNL_ARG_WEIGHTS(), weights,
                    DNNL_ARG_BIAS(), bias.plain, DNNL_ARG_DST(), out.data);
        }
    }

    private Value convolution(String name, Value in, Shape outShape, List<Parameter> ps, int groups, int oc, int ic,
                              long[] kernel, long[] strides, long[] dil, long[] padL, long[] padR) {
        long[] wDims = Primitives.convolutionWeightDims(groups, oc, ic, kernel);
        long[] srcDims = MemoryFormats.dims(in.md());
        long[] dstDims = dims(outShape);
        Parameter weight = ps.get(0);
        Parameter bias = ps.size() > 1 ? ps.get(1) : null;
        MemorySegment bMd = bias == null ? MemorySegment.NULL : prims.plain(oc);
        MemorySegment fwd = prims.convolution(name, dnnl_forward_training(), prims.any(srcDims), prims.any(wDims), bMd,
                prims.any(dstDims), strides, dil, padL, padR, prims.attr(List.of()), ic / groups == 1, kernel);
        if (fwd == null) return null;
        View src = read(in, Primitives.queryMd(fwd, dnnl_query_src_md()));
        Staged w = staged(weight);
        // The weights' parameter shape is OIHW; with groups the primitive sees [G, O/G, I/G, ...] over the same bytes.
        Staged b = bias == null ? null : staged(bias);
        View wFwd = weightsIn(w, wDims, Primitives.queryMd(fwd, dnnl_query_weights_md()), false);
        Value out = produce(name, outShape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        weightedForward("convolution", fwd, src, wFwd, b, out);
        List<Parameter> trained = ps.stream().filter(Parameter::trained).toList();
        String node = currentNode;
        backwards.add(new Backward(out, List.of(in), trained, () -> {
            currentNode = node;
            if (needsGrad(in)) {
                MemorySegment bd = prims.convolutionBackwardData(name, prims.any(srcDims), prims.any(wDims),
                        prims.any(dstDims), strides, dil, padL, padR, fwd, prims.attr(List.of()));
                View wBd = weightsIn(w, wDims, Primitives.queryMd(bd, dnnl_query_weights_md()), true);
                View dd = gradientIn(out, Primitives.queryMd(bd, dnnl_query_diff_dst_md()));
                contribute(in, Primitives.queryMd(bd, dnnl_query_diff_src_md()), dst -> primitive(backwardSteps,
                        "convolution backward data", bd, Mode.ALWAYS, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_WEIGHTS(), wBd,
                        DNNL_ARG_DIFF_SRC(), dst));
            }
            if (!trained.isEmpty()) {
                MemorySegment bw = prims.convolutionBackwardWeights(name, prims.any(srcDims), prims.any(wDims), bMd,
                        prims.any(dstDims), strides, dil, padL, padR, fwd, prims.attr(List.of()), kernel, ic / groups);
                if (bw == null) {
                    throw new UnsupportedOperationException(name + ": no oneDNN backward-weights implementation is left "
                            + "for this 1×1 strided geometry after skipping the faulty jit_1x1 kernels (oneDNN issue #6035)");
                }
                View s = dataIn(in, Primitives.queryMd(bw, dnnl_query_src_md()));
                View dd = gradientIn(out, Primitives.queryMd(bw, dnnl_query_diff_dst_md()));
                MemorySegment dwMd = Primitives.queryMd(bw, dnnl_query_diff_weights_md());
                View dw = temp(dwMd);
                if (b == null) {
                    primitive(backwardSteps, "convolution backward weights", bw, Mode.ALWAYS, DNNL_ARG_SRC(), s,
                            DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_WEIGHTS(), dw);
                } else {
                    View db = temp(bMd);
                    primitive(backwardSteps, "convolution backward weights", bw, Mode.ALWAYS, DNNL_ARG_SRC(), s,
                            DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_WEIGHTS(), dw, DNNL_ARG_DIFF_BIAS(), db);
                    if (bias.trained()) b.gradientFrom(node, db);
                }
                if (weight.trained()) w.gradientFrom(node, plainDims(dw, wDims, weight));
            }
        }));
        return out;
    }

    /**
     * The staged weights seen with the primitive's dimensions ({@code wDims}, which may differ from the parameter's
     * shape by a group axis) in layout {@code md}.
     */
    private View weightsIn(Staged w, long[] wDims, MemorySegment md, boolean backward) {
        MemorySegment plain = prims.plain(wDims);
        if (MemoryFormats.same(plain, md)) return new View(w.plain.buffer(), plain);
        // A reorder from the plain copy seen with the primitive's dimensions.
        // The forward pass's copy serves a backward primitive that wants the same layout (it holds the same values).
        for (View c : w.forward) if (MemoryFormats.same(c.md(), md)) return c;
        List<View> cache = backward ? w.backward : w.forward;
        for (View c : cache) if (MemoryFormats.same(c.md(), md)) return c;
        View c = newView(w.parameter.name() + " in " + MemoryFormats.describe(md), md);
        reorderStep(backward ? backwardSteps : forwardSteps, currentNode, "reorder (" + w.parameter.name() + ")",
                new View(w.plain.buffer(), plain), c, false, Mode.ALWAYS);
        cache.add(c);
        return c;
    }

    /** A diff-weights view with the primitive's dimensions, seen as the parameter's shape when it is plain. */
    private View plainDims(View dw, long[] wDims, Parameter p) {
        MemorySegment plain = prims.plain(wDims);
        if (MemoryFormats.same(dw.md(), plain)) return new View(dw.buffer(), prims.plain(dims(p.shape())));
        // Reorder to the plain layout with the primitive's dimensions, then see it with the parameter's shape.
        View t = temp(plain);
        reorderStep(backwardSteps, currentNode, "reorder (gradient of " + p.name() + ")", dw, t, false, Mode.ALWAYS);
        return new View(t.buffer(), prims.plain(dims(p.shape())));
    }

    private Value innerProduct(String name, Value in, Shape outShape, List<Parameter> ps, int outFeatures) {
        // The activation's own dimensions: after a Flatten that became a view they are still [N, C, H, W], and the
        // inner product reads the 4-D tensor in its layout with [O, C, H, W] weights (the same bytes as [O, C·H·W]).
        long[] srcDims = MemoryFormats.dims(in.md());
        long[] wDims = srcDims.clone();
        wDims[0] = outFeatures;
        long[] dstDims = dims(outShape);
        Parameter weight = ps.get(0);
        Parameter bias = ps.size() > 1 ? ps.get(1) : null;
        MemorySegment bMd = bias == null ? MemorySegment.NULL : prims.plain(outFeatures);
        MemorySegment fwd = prims.innerProduct(name, dnnl_forward_training(), prims.any(srcDims), prims.any(wDims), bMd,
                prims.any(dstDims), prims.attr(List.of()));
        View src = read(in, Primitives.queryMd(fwd, dnnl_query_src_md()));
        Staged w = staged(weight);
        Staged b = bias == null ? null : staged(bias);
        View wFwd = weightsIn(w, wDims, Primitives.queryMd(fwd, dnnl_query_weights_md()), false);
        Value out = produce(name, outShape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        weightedForward("inner_product", fwd, src, wFwd, b, out);
        List<Parameter> trained = ps.stream().filter(Parameter::trained).toList();
        String node = currentNode;
        backwards.add(new Backward(out, List.of(in), trained, () -> {
            currentNode = node;
            if (needsGrad(in)) {
                MemorySegment bd = prims.innerProductBackwardData(name, prims.any(srcDims), prims.any(wDims),
                        prims.any(dstDims), fwd, prims.attr(List.of()));
                View wBd = weightsIn(w, wDims, Primitives.queryMd(bd, dnnl_query_weights_md()), true);
                View dd = gradientIn(out, Primitives.queryMd(bd, dnnl_query_diff_dst_md()));
                contribute(in, Primitives.queryMd(bd, dnnl_query_diff_src_md()), dst -> primitive(backwardSteps,
                        "inner_product backward data", bd, Mode.ALWAYS, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_WEIGHTS(), wBd,
                        DNNL_ARG_DIFF_SRC(), dst));
            }
            if (!trained.isEmpty()) {
                MemorySegment bw = prims.innerProductBackwardWeights(name, prims.any(srcDims), prims.any(wDims), bMd,
                        prims.any(dstDims), fwd, prims.attr(List.of()));
                View s = dataIn(in, Primitives.queryMd(bw, dnnl_query_src_md()));
                View dd = gradientIn(out, Primitives.queryMd(bw, dnnl_query_diff_dst_md()));
                View dw = temp(Primitives.queryMd(bw, dnnl_query_diff_weights_md()));
                if (b == null) {
                    primitive(backwardSteps, "inner_product backward weights", bw, Mode.ALWAYS, DNNL_ARG_SRC(), s,
                            DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_WEIGHTS(), dw);
                } else {
                    View db = temp(bMd);
                    primitive(backwardSteps, "inner_product backward weights", bw, Mode.ALWAYS, DNNL_ARG_SRC(), s,
                            DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_WEIGHTS(), dw, DNNL_ARG_DIFF_BIAS(), db);
                    if (bias.trained()) b.gradientFrom(node, db);
                }
                if (weight.trained()) w.gradientFrom(node, plainDims(dw, wDims, weight));
            }
        }));
        return out;
    }

    private Value pooling(String name, Value in, Shape outShape, int alg, Geometry2d g) {
        ConvAxis h = g.height(), w = g.width();
        return pooling(name, in, outShape, alg, new long[] {h.stride(), w.stride()}, new long[] {h.kernel(), w.kernel()},
                new long[] {h.dilation() - 1, w.dilation() - 1}, new long[] {h.padBefore(), w.padBefore()},
                OneDnnPlan.poolingPadR(g));
    }

    private Value globalPooling(String name, Value in, Shape outShape, int alg) {
        return pooling(name, in, outShape, alg, new long[] {1, 1}, new long[] {in.shape.dim(2), in.shape.dim(3)},
                new long[] {0, 0}, new long[] {0, 0}, new long[] {0, 0});
    }

    private Value pooling(String name, Value in, Shape outShape, int alg, long[] strides, long[] kernel, long[] dil,
                          long[] padL, long[] padR) {
        long[] srcDims = MemoryFormats.dims(in.md());
        long[] dstDims = dims(outShape);
        MemorySegment fwd = prims.pooling(name, dnnl_forward_training(), alg, in.md(), prims.any(dstDims), strides,
                kernel, dil, padL, padR, prims.attr(List.of()));
        View src = read(in, Primitives.queryMd(fwd, dnnl_query_src_md()));
        Value out = produce(name, outShape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        MemorySegment wsMd = Primitives.queryMd(fwd, dnnl_query_workspace_md());
        boolean hasWs = !wsMd.equals(MemorySegment.NULL) && MemoryFormats.bytes(wsMd) > 0;
        View ws = hasWs ? newView("workspace of " + name, wsMd) : null;
        if (hasWs) {
            primitive(forwardSteps, "pooling", fwd, Mode.ALWAYS, DNNL_ARG_SRC(), src, DNNL_ARG_DST(), out.data,
                    DNNL_ARG_WORKSPACE(), ws);
        } else {
            primitive(forwardSteps, "pooling", fwd, Mode.ALWAYS, DNNL_ARG_SRC(), src, DNNL_ARG_DST(), out.data);
        }
        String node = currentNode;
        backwards.add(new Backward(out, List.of(in), List.of(), () -> {
            currentNode = node;
            MemorySegment bd = prims.poolingBackward(name, alg, prims.any(srcDims), prims.any(dstDims), strides, kernel,
                    dil, padL, padR, fwd, prims.attr(List.of()));
            View dd = gradientIn(out, Primitives.queryMd(bd, dnnl_query_diff_dst_md()));
            contribute(in, Primitives.queryMd(bd, dnnl_query_diff_src_md()), dst -> {
                if (hasWs) {
                    primitive(backwardSteps, "pooling backward", bd, Mode.ALWAYS, DNNL_ARG_DIFF_DST(), dd,
                            DNNL_ARG_WORKSPACE(), ws, DNNL_ARG_DIFF_SRC(), dst);
                } else {
                    primitive(backwardSteps, "pooling backward", bd, Mode.ALWAYS, DNNL_ARG_DIFF_DST(), dd,
                            DNNL_ARG_DIFF_SRC(), dst);
                }
            });
        }));
        return out;
    }

    /** The algorithm that computes the same function and whose backward pass reads the destination, or -1. */
    private static int useDstAlgorithm(Eltwise e) {
        int a = e.alg();
        if (a == dnnl_eltwise_relu() && e.alpha() >= 0) return dnnl_eltwise_relu_use_dst_for_bwd();
        if (a == dnnl_eltwise_tanh()) return dnnl_eltwise_tanh_use_dst_for_bwd();
        if (a == dnnl_eltwise_elu() && e.alpha() >= 0) return dnnl_eltwise_elu_use_dst_for_bwd();
        if (a == dnnl_eltwise_logistic()) return dnnl_eltwise_logistic_use_dst_for_bwd();
        if (a == dnnl_eltwise_exp()) return dnnl_eltwise_exp_use_dst_for_bwd();
        if (a == dnnl_eltwise_sqrt()) return dnnl_eltwise_sqrt_use_dst_for_bwd();
        if (a == dnnl_eltwise_clip_v2()) return dnnl_eltwise_clip_v2_use_dst_for_bwd();
        return -1;
    }

    private Value eltwise(String name, Value in, Eltwise e) {
        int dstAlg = useDstAlgorithm(e);
        // In place when nothing else reads the input and its producer's backward pass does not need it as its output.
        boolean inPlace = dstAlg >= 0 && in.ownBuffer && in.readers == 1 && in.aliasOf == null && !in.producerReadsDst;
        Eltwise op = inPlace ? new Eltwise(dstAlg, e.alpha(), e.beta(), e.name()) : e;
        MemorySegment fwd = prims.eltwise(name, dnnl_forward_training(), op, in.md(), in.md(), prims.attr(List.of()));
        Value out;
        if (inPlace) {
            out = new Value(name, in.shape, in.data, null);
            out.ownBuffer = true;
            out.producerReadsDst = true;
        } else {
            out = produce(name, in.shape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        }
        primitive(forwardSteps, "eltwise " + e.name() + (inPlace ? " (in place)" : ""), fwd, Mode.ALWAYS,
                DNNL_ARG_SRC(), in.data, DNNL_ARG_DST(), out.data);
        String node = currentNode;
        backwards.add(new Backward(out, List.of(in), List.of(), () -> {
            currentNode = node;
            View data = inPlace ? out.data : in.data;
            MemorySegment bd = prims.eltwiseBackward(name, op, in.md(), out.md(), data.md(), fwd, prims.attr(List.of()));
            View dd = gradient(out);
            int dataArg = inPlace ? DNNL_ARG_DST() : DNNL_ARG_SRC();
            if (inPlace && !in.written && in.grad == null) {
                // The gradient in place too: ∂L/∂in takes over ∂L/∂out's buffer, which nothing reads afterwards.
                in.grad = dd.buffer();
                primitive(backwardSteps, "eltwise " + e.name() + " backward (in place)", bd, Mode.ALWAYS,
                        dataArg, data, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_SRC(), new View(dd.buffer(), in.md()));
                in.written = true;
            } else {
                contribute(in, in.md(), dst -> primitive(backwardSteps, "eltwise " + e.name() + " backward", bd,
                        Mode.ALWAYS, dataArg, data, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_SRC(), dst));
            }
        }));
        return out;
    }

    private Value softmax(String name, Value in, boolean log, int axis) {
        MemorySegment fwd = prims.softmax(name, dnnl_forward_training(), log, in.md(), in.md(), axis, prims.attr(List.of()));
        Value out = produce(name, in.shape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        out.producerReadsDst = true;
        primitive(forwardSteps, log ? "logsoftmax" : "softmax", fwd, Mode.ALWAYS, DNNL_ARG_SRC(), in.data,
                DNNL_ARG_DST(), out.data);
        String node = currentNode;
        backwards.add(new Backward(out, List.of(in), List.of(), () -> {
            currentNode = node;
            MemorySegment bd = prims.softmaxBackward(name, log, in.md(), out.md(), out.md(), axis, fwd, prims.attr(List.of()));
            View dd = gradient(out);
            contribute(in, in.md(), dst -> primitive(backwardSteps, (log ? "logsoftmax" : "softmax") + " backward", bd,
                    Mode.ALWAYS, DNNL_ARG_DST(), out.data, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_DIFF_SRC(), dst));
        }));
        return out;
    }

    private Value batchNorm(String name, Value in, BatchNorm bn, List<Parameter> ps) {
        Parameter gamma = ps.get(0), beta = ps.get(1), runningMean = ps.get(2), runningVar = ps.get(3);
        boolean trains = currentTrains; // false when scale and shift are frozen or the node is in a frozen extractor
        float eps = (float) bn.epsilon();
        int scaleShift = dnnl_use_scale() | dnnl_use_shift();
        int global = dnnl_use_global_stats() | scaleShift;
        Staged scale = staged(gamma), shift = staged(beta), mean = staged(runningMean), var = staged(runningVar);
        MemorySegment md = in.md();
        Value out;
        MemorySegment hint;
        View batchMean = null, batchVar = null;
        long perChannel = in.shape.elementCount() / in.shape.dim(1);
        String refusal = trains ? TrainingModes.batchVarianceRefusal(perChannel) : null;
        if (refusal != null) trainingRefusals.add(currentNode + ": " + refusal);
        if (trains) {
            MemorySegment train = prims.batchNorm(name, dnnl_forward_training(), md, md, eps, scaleShift, prims.attr(List.of()));
            MemorySegment infer = prims.batchNorm(name, dnnl_forward_inference(), md, md, eps, global, prims.attr(List.of()));
            out = produce(name, in.shape, Primitives.queryMd(train, dnnl_query_dst_md()));
            batchMean = newView("batch mean of " + name, scale.plain.md());
            batchVar = newView("batch variance of " + name, scale.plain.md());
            primitive(forwardSteps, "batch_normalization (batch statistics)", train, Mode.TRAINING, DNNL_ARG_SRC(), in.data,
                    DNNL_ARG_SCALE(), scale.plain, DNNL_ARG_SHIFT(), shift.plain, DNNL_ARG_MEAN(), batchMean,
                    DNNL_ARG_VARIANCE(), batchVar, DNNL_ARG_DST(), out.data);
            runningStatistics(bn, in.shape, batchMean, batchVar, runningMean, runningVar);
            primitive(forwardSteps, "batch_normalization (running statistics)", infer, Mode.INFERENCE, DNNL_ARG_SRC(), in.data,
                    DNNL_ARG_MEAN(), mean.plain, DNNL_ARG_VARIANCE(), var.plain, DNNL_ARG_SCALE(), scale.plain,
                    DNNL_ARG_SHIFT(), shift.plain, DNNL_ARG_DST(), out.data);
            hint = train;
        } else {
            // Scale and shift frozen: inference mode in both passes, statistics kept.
            hint = prims.batchNorm(name, dnnl_forward_training(), md, md, eps, global, prims.attr(List.of()));
            out = produce(name, in.shape, Primitives.queryMd(hint, dnnl_query_dst_md()));
            primitive(forwardSteps, "batch_normalization (running statistics, frozen)", hint, Mode.ALWAYS,
                    DNNL_ARG_SRC(), in.data, DNNL_ARG_MEAN(), mean.plain, DNNL_ARG_VARIANCE(), var.plain,
                    DNNL_ARG_SCALE(), scale.plain, DNNL_ARG_SHIFT(), shift.plain, DNNL_ARG_DST(), out.data);
        }
        View m = trains ? batchMean : mean.plain, v = trains ? batchVar : var.plain;
        List<Parameter> trained = ps.stream().filter(Parameter::trained).toList();
        String node = currentNode;
        MemorySegment fwdHint = hint;
        backwards.add(new Backward(out, List.of(in), trained, () -> {
            currentNode = node;
            // Frozen scale and shift: the statistics are constants too (use_global_stats), ∂L/∂x = γ/√(σ² + ε)·∂L/∂y.
            // oneDNN 3.8.1's backward_data with the scale flag fails at execution; backward computes the same ∂L/∂x
            // and, into temporaries, the unused ∂L/∂γ and ∂L/∂β.
            MemorySegment bd = prims.batchNormBackward(name, dnnl_backward(), md, md, md, eps, trains ? scaleShift : global,
                    fwdHint, prims.attr(List.of()));
            View dd = gradientIn(out, Primitives.queryMd(bd, dnnl_query_diff_dst_md()));
            View dScale = temp(scale.plain.md()), dShift = temp(shift.plain.md());
            java.util.function.Consumer<View> write = dst -> primitive(backwardSteps, "batch_normalization backward"
                    + (trains ? "" : " (frozen: running statistics)"), bd, Mode.ALWAYS, DNNL_ARG_SRC(), in.data,
                    DNNL_ARG_MEAN(), m, DNNL_ARG_VARIANCE(), v, DNNL_ARG_DIFF_DST(), dd, DNNL_ARG_SCALE(), scale.plain,
                    DNNL_ARG_DIFF_SRC(), dst, DNNL_ARG_DIFF_SCALE(), dScale, DNNL_ARG_DIFF_SHIFT(), dShift);
            MemorySegment diffSrcMd = Primitives.queryMd(bd, dnnl_query_diff_src_md());
            if (needsGrad(in)) {
                contribute(in, diffSrcMd, write);
            } else {
                write.accept(temp(diffSrcMd)); // oneDNN computes ∂L/∂input anyway
            }
            if (gamma.trained()) scale.gradientFrom(node, dScale);
            if (beta.trained()) shift.gradientFrom(node, dShift);
        }));
        return out;
    }

    /**
     * After a training forward pass, PyTorch's update of the running statistics in the set:
     * {@code running ← (1 − m)·running + m·batch}, the batch variance made unbiased ({@code ·n/(n − 1)}, n ≥ 2 values
     * per channel: training on fewer is refused, as on the other backends).
     */
    private void runningStatistics(BatchNorm bn, Shape in, View batchMean, View batchVar, Parameter runningMean,
                                   Parameter runningVar) {
        long n = in.elementCount() / in.dim(1);
        double momentum = bn.momentum();
        double unbias = (double) n / (n - 1);
        int c = bn.channels();
        forwardStep(currentNode, "update running statistics (momentum " + momentum + ")", Mode.TRAINING, () -> {
            MemorySegment bm = batchMean.buffer().segment, bv = batchVar.buffer().segment;
            MemorySegment rm = runningMean.values(), rv = runningVar.values();
            for (int i = 0; i < c; i++) {
                long off = (long) i * Float.BYTES;
                double mean = bm.get(ValueLayout.JAVA_FLOAT, off);
                double var = bv.get(ValueLayout.JAVA_FLOAT, off) * unbias;
                rm.set(ValueLayout.JAVA_FLOAT, off, (float) ((1 - momentum) * rm.get(ValueLayout.JAVA_FLOAT, off) + momentum * mean));
                rv.set(ValueLayout.JAVA_FLOAT, off, (float) ((1 - momentum) * rv.get(ValueLayout.JAVA_FLOAT, off) + momentum * var));
            }
        });
    }

    private Value binary(int k, GraphSummary.Row r, Binary b, List<Value> ins) {
        Shape outShape = r.outputShape();
        Value a = ins.get(0), c = ins.get(1);
        if (b.op() != Binary.Op.ADD) return javaNode(k, r, ins, List.of(), "no oneDNN backward for " + b.op());
        if (!a.shape.equals(outShape) && c.shape.equals(outShape)) {
            Value t = a;
            a = c;
            c = t;
        }
        if (!a.shape.equals(outShape) || MemoryFormats.dims(a.md()).length != outShape.rank()) {
            return javaNode(k, r, ins, List.of(), "operands oneDNN's binary cannot broadcast");
        }
        int rank = outShape.rank();
        Value c1 = c;
        if (!c.shape.equals(outShape) || MemoryFormats.dims(c.md()).length != rank) {
            Value p = plainOf(c);
            c1 = alias(p, prims.reshape(p.md(), dims(OneDnnPlan.plainShapeOfRank(c.shape, rank))), c.shape);
        }
        // A same-shape operand in the first one's layout (oneDNN's jit binary wants them alike; mixed ones run ref:any).
        View src1 = c1 == c ? read(c, a.md()) : c1.data;
        MemorySegment fwd = prims.binary(r.output(), dnnl_binary_add(), a.md(), src1.md(), prims.any(dims(outShape)),
                prims.attr(List.of()));
        Value out = produce(r.output(), outShape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        primitive(forwardSteps, "binary add", fwd, Mode.ALWAYS, DNNL_ARG_SRC_0(), a.data, DNNL_ARG_SRC_1(), src1,
                DNNL_ARG_DST(), out.data);
        String node = currentNode;
        Value first = a, second = c1;
        boolean broadcast = !c1.shape.equals(outShape);
        backwards.add(new Backward(out, List.of(first, second), List.of(), () -> {
            currentNode = node;
            View g = gradient(out);
            contributeCopy(first, g);
            if (!needsGrad(second)) return;
            if (!broadcast) {
                contributeCopy(second, g);
            } else {
                // The broadcast operand's gradient sums ∂L/∂out over the broadcast axes.
                MemorySegment red = prims.reduction(node, dnnl_reduction_sum(), g.md(), second.md(), prims.attr(List.of()));
                contribute(second, second.md(), dst -> primitive(backwardSteps, "reduction sum", red, Mode.ALWAYS,
                        DNNL_ARG_SRC(), g, DNNL_ARG_DST(), dst));
            }
        }));
        return out;
    }

    private Value concat(String name, int axis, List<Value> ins, Shape outShape) {
        MemorySegment fwd = prims.concat(name, ins.stream().map(Value::md).toList(), axis, prims.attr(List.of()));
        Value out = produce(name, outShape, Primitives.queryMd(fwd, dnnl_query_dst_md()));
        Object[] pairs = new Object[2 * ins.size() + 2];
        for (int i = 0; i < ins.size(); i++) {
            pairs[2 * i] = DNNL_ARG_MULTIPLE_SRC() + i;
            pairs[2 * i + 1] = ins.get(i).data;
        }
        pairs[pairs.length - 2] = DNNL_ARG_DST();
        pairs[pairs.length - 1] = out.data;
        primitive(forwardSteps, "concat", fwd, Mode.ALWAYS, pairs);
        String node = currentNode;
        backwards.add(new Backward(out, ins, List.of(), () -> {
            currentNode = node;
            View g = gradient(out);
            long[] outDims = dims(outShape);
            // Each input's gradient is its slice of ∂L/∂out: a sub-memory view, reordered into the input's gradient.
            View whole = g;
            if (!sliceable(g.md(), ins, axis, outDims)) {
                MemorySegment plain = prims.plain(outDims);
                whole = newView("gradient of " + name + " (plain)", plain);
                reorderStep(backwardSteps, node, "reorder (gradient of " + name + ")", g, whole, false, Mode.ALWAYS);
            }
            long offset = 0;
            for (Value v : ins) {
                long[] d = MemoryFormats.dims(v.md());
                long[] off = new long[outDims.length];
                off[axis] = offset;
                offset += d[axis];
                if (!needsGrad(v)) continue;
                MemorySegment sub = prims.submemory(whole.md(), d, off);
                contributeCopy(v, new View(whole.buffer(), sub));
            }
        }));
        return out;
    }

    /** Whether every input's slice of {@code md} has a sub-memory descriptor. */
    private boolean sliceable(MemorySegment md, List<Value> ins, int axis, long[] outDims) {
        long offset = 0;
        for (Value v : ins) {
            long[] d = MemoryFormats.dims(v.md());
            long[] off = new long[outDims.length];
            off[axis] = offset;
            offset += d[axis];
            if (prims.submemory(md, d, off) == null) return false;
        }
        return true;
    }

    /**
     * A node on its Java training kernel: inputs copied into heap arrays (plain layout) at each forward pass and kept
     * for the backward pass; parameters read from the set at each forward pass.
     */
    private Value javaNode(int k, GraphSummary.Row r, List<Value> ins, List<Parameter> ps, String why) {
        for (Value v : ins) checkArraySize(currentNode + ": input '" + v.name + "' of a Java step", v.shape);
        checkArraySize(currentNode + ": output of a Java step", r.outputShape());
        GradKernel kernel = java.create(r.layer(), r.inputShapes(), r.outputShape());
        String node = currentNode;
        int n = ins.size();
        View[] srcs = new View[n];
        float[][] x = new float[n][];
        for (int i = 0; i < n; i++) {
            Value v = ins.get(i);
            srcs[i] = read(v, prims.plain(dims(v.shape)));
            x[i] = new float[(int) v.shape.elementCount()];
        }
        Parameter[] params = ps.toArray(new Parameter[0]);
        float[][] pv = new float[params.length][];
        float[][] pg = new float[params.length][];
        boolean anyTrained = false;
        for (int j = 0; j < params.length; j++) {
            pv[j] = new float[params[j].size()];
            if (params[j].trained()) {
                pg[j] = new float[params[j].size()];
                anyTrained = true;
            }
        }
        boolean trains = trainingMode[k];
        Value out = produce(r.output(), r.outputShape(), prims.plain(dims(r.outputShape())));
        float[] y = new float[(int) r.outputShape().elementCount()];
        long seedSalt = k;
        forwardSteps.add(new Step(node, "java kernel", "Java (" + why + ")", "", Mode.ALWAYS, MemorySegment.NULL,
                new int[0], new View[0], () -> {
            for (int i = 0; i < n; i++) MemorySegment.copy(srcs[i].buffer().segment, ValueLayout.JAVA_FLOAT, 0, x[i], 0, x[i].length);
            for (int j = 0; j < params.length; j++) MemorySegment.copy(params[j].values(), ValueLayout.JAVA_FLOAT, 0, pv[j], 0, pv[j].length);
            boolean train = training && trains;
            if (train) kernel.reseed(seed * 0x9E3779B97F4A7C15L + seedSalt);
            kernel.forward(x, pv, y, train);
            if (train) {
                for (int j = 0; j < params.length; j++) {
                    if (!params[j].role().trainable()) MemorySegment.copy(pv[j], 0, params[j].values(), ValueLayout.JAVA_FLOAT, 0, pv[j].length);
                }
            }
            MemorySegment.copy(y, 0, out.data.buffer().segment, ValueLayout.JAVA_FLOAT, 0, y.length);
        }));
        List<Parameter> trained = ps.stream().filter(Parameter::trained).toList();
        backwards.add(new Backward(out, ins, trained, () -> {
            currentNode = node;
            View g = gradient(out);
            float[] dy = new float[y.length];
            float[][] dx = new float[n][];
            for (int i = 0; i < n; i++) if (needsGrad(ins.get(i))) dx[i] = new float[x[i].length];
            backwardStep(node, "Java kernel backward (" + r.layer().kind() + ")", () -> {
                MemorySegment.copy(g.buffer().segment, ValueLayout.JAVA_FLOAT, 0, dy, 0, dy.length);
                kernel.backward(x, y, dy, pv, dx, pg);
                for (int j = 0; j < params.length; j++) {
                    if (pg[j] != null) MemorySegment.copy(pg[j], 0, params[j].gradient(), ValueLayout.JAVA_FLOAT, 0, pg[j].length);
                }
            });
            for (int i = 0; i < n; i++) {
                if (dx[i] == null) continue;
                float[] d = dx[i];
                Value v = ins.get(i);
                contribute(v, prims.plain(dims(v.shape)), dst -> backwardStep(node, "copy ∂L/∂" + v.name + " from the Java kernel",
                        () -> MemorySegment.copy(d, 0, dst.buffer().segment, ValueLayout.JAVA_FLOAT, 0, d.length)));
            }
        }));
        return out;
    }

    // ---------------------------------------------------------------- finishing and running

    /** Allocates every buffer, creates the memory objects and the argument arrays. */
    private void finish() {
        var arena = scope.arena();
        for (Buffer b : buffers) {
            b.segment = arena.allocate(Math.max(b.bytes, 64), 64);
        }
        for (Runnable r : initializers) r.run();
        for (List<Step> steps : List.of(forwardSteps, backwardSteps)) {
            for (Step s : steps) {
                if (s.java != null) continue;
                Object[] pairs = new Object[2 * s.argKinds.length];
                for (int i = 0; i < s.argKinds.length; i++) {
                    View v = s.argViews[i];
                    pairs[2 * i] = s.argKinds[i];
                    pairs[2 * i + 1] = memory(v);
                }
                s.args = Dnnl.execArgs(arena, pairs);
                s.nargs = s.argKinds.length;
            }
        }
    }

    private MemorySegment memory(View v) {
        Map<MemorySegment, MemorySegment> byMd = memories.computeIfAbsent(v.buffer(), b -> new HashMap<>());
        for (var e : byMd.entrySet()) if (MemoryFormats.same(e.getKey(), v.md())) return e.getValue();
        if (MemoryFormats.bytes(v.md()) > v.buffer().segment.byteSize()) {
            throw new IllegalStateException("buffer " + v.buffer().what + " of " + v.buffer().segment.byteSize()
                    + " bytes is too small for " + MemoryFormats.describe(v.md()) + " (" + MemoryFormats.bytes(v.md()) + " bytes)");
        }
        MemorySegment m = scope.memory(v.md(), engine, v.buffer().segment);
        byMd.put(v.md(), m);
        return m;
    }

    /** Runs {@code steps} (of the given mode) on {@code stream}. */
    void run(List<Step> steps, MemorySegment stream) {
        omp_set_num_threads(threads);
        boolean pending = false;
        for (Step s : steps) {
            if ((s.mode == Mode.TRAINING && !training) || (s.mode == Mode.INFERENCE && training)) continue;
            if (s.java != null) {
                if (pending) {
                    Dnnl.check("dnnl_stream_wait", dnnl_stream_wait(stream));
                    pending = false;
                }
                s.java.run();
            } else {
                int status = dnnl_primitive_execute(s.primitive, stream, s.nargs, s.args);
                if (status != 0) Dnnl.check("dnnl_primitive_execute", status, s.node + ": " + s.kind);
                pending = true;
            }
        }
        if (pending) Dnnl.check("dnnl_stream_wait", dnnl_stream_wait(stream));
    }

    /** ∂L/∂input {@code i} after a backward pass (plain), or null if not computed. */
    MemorySegment inputGradient(int i) {
        Value in = inputs[i];
        return in.grad == null ? null : in.grad.segment;
    }

    /** The printable plan: the forward steps, then the backward steps. */
    String describe(String header) {
        StringBuilder sb = new StringBuilder(header).append('\n');
        String fmt = "%-4s %-26s %-40s %-34s %s%n";
        for (var pass : List.of(Map.entry("forward", forwardSteps), Map.entry("backward", backwardSteps))) {
            sb.append(pass.getKey()).append(":\n");
            sb.append(String.format(fmt, "#", "node", "step", "implementation", "formats"));
            int i = 1;
            for (Step s : pass.getValue()) {
                String kind = s.kind + (s.mode == Mode.TRAINING ? " [training]" : s.mode == Mode.INFERENCE ? " [inference]" : "");
                sb.append(String.format(fmt, i++, abbreviate(s.node, 26), abbreviate(kind, 40),
                        abbreviate(s.implementation, s.java != null ? 80 : 34), s.formats));
            }
        }
        long bytes = buffers.stream().mapToLong(b -> b.segment == null ? 0 : b.segment.byteSize()).sum();
        sb.append(String.format("%d oneDNN primitives; %,d bytes of buffers (scratchpad %,d); %d thread(s)%n", primitives,
                bytes, scratchpad.bytes, threads));
        return sb.toString();
    }

    private static String abbreviate(String s, int n) {
        return s.length() <= n ? s : s.substring(0, n - 1) + "…";
    }

    /** Declares which tensors only Linear layers read (before compiling): their Flatten can be a view. */
    static Map<String, Boolean> onlyLinearReaders(GraphSummary plan) {
        Map<String, Boolean> only = new HashMap<>();
        for (GraphSummary.Row r : plan.rows()) {
            for (String in : r.inputs()) only.merge(in, r.layer() instanceof Linear, Boolean::logicalAnd);
        }
        for (String o : plan.outputShapes().keySet()) only.put(o, false);
        return only;
    }
}
