package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.internal.kernels.NodeKernel;
import dev.convnet.internal.onednn.Primitives.Eltwise;
import dev.convnet.layer.Activation;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Unary;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Binary;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.layer.Softmax;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A sequential network compiled into oneDNN primitives for one input shape.
 *
 * <p>Compiling creates every primitive descriptor and primitive once, with {@code format_tag_any} so oneDNN
 * chooses the layouts (blocked ones such as {@code aBcd16b}, i.e. nChw16c); each layer's source is the
 * previous layer's destination, so reorders happen only where a primitive wants another layout, and at the
 * network's input and output. Weights are reordered into the chosen layouts once, here. Convolution and inner
 * product absorb a following batch normalization (folded into the weights) and eltwise activations
 * (post-ops) unless fusion is off. Layers oneDNN has no primitive for (pooling across depth) run the Java
 * kernel, on plain layouts, and the plan says so. With fusion on, the quantized parts of a graph in Q/DQ form run
 * in 8-bit integers ({@link Int8Lowering}).
 *
 * <p>Activations live in buffers planned by liveness ({@link #buffers}): a buffer is reused as soon as the
 * last reader of the tensor in it has run, so a chain needs two (ping-pong), plus the caller's input and output.
 * Scratchpads are in oneDNN's user mode, sized here ({@link #scratchpadBytes}) and allocated per context, so
 * concurrent runs never share one.
 *
 * <p>Built by one thread; immutable afterwards and safe to share between the threads that run it.
 */
final class OneDnnPlan {
    /** Where activations live: the caller's input or output, or one of the plan's buffers. */
    static final class Slot {
        static final int USER_IN = 0, USER_OUT = 1, BUFFER = 2;
        final int kind;
        final int index;
        long bytes;
        int refs;

        Slot(int kind, int index) {
            this.kind = kind;
            this.index = index;
        }

        @Override
        public String toString() {
            return (kind == USER_IN ? "input " : kind == USER_OUT ? "output " : "buffer ") + index;
        }
    }

    /**
     * A tensor during compilation: its layout, where it lives, which step writes it (-1: the caller), and how many
     * readers are still to come (its slot is freed when none are left).
     */
    static final class Act {
        final MemorySegment md;
        final Slot slot;
        final Shape shape;
        final int producer;
        int uses;

        Act(MemorySegment md, Slot slot, Shape shape, int producer, int uses) {
            this.md = md;
            this.slot = slot;
            this.shape = shape;
            this.producer = producer;
            this.uses = uses;
            slot.refs++;
        }

        MemorySegment md() { return md; }
        Slot slot() { return slot; }
        Shape shape() { return shape; }
        int producer() { return producer; }
    }

    /** A constant operand of a primitive: weights, bias, batch-norm statistics. */
    record Constant(int arg, MemorySegment memory) {}

    /** One execution step: a oneDNN primitive, or a Java kernel on plain layouts. */
    static final class Step {
        final String layer;
        final String primitive;
        final String implementation;
        final String formats;
        final String fused;
        final MemorySegment handle; // the primitive; NULL for a Java step
        final MemorySegment srcMd, dstMd, scratchMd;
        final Slot srcSlot;
        Slot dstSlot;
        /** Every source with its execution argument: {SRC, FROM} for one input, SRC_0/SRC_1 or MULTIPLE_SRC + i. */
        Slot[] srcSlots;
        MemorySegment[] srcMds;
        int[] srcArgs;
        final List<Constant> constants;
        final NodeKernel javaKernel;
        final long srcElements, dstElements;
        /** For a Java step: the element count of each source, in {@link #srcSlots} order. */
        long[] srcCounts;
        /** The primitive adds into what its destination already holds (sum post-op): never redirect its output. */
        boolean readsDst;

        Step(String layer, String primitive, String implementation, String formats, String fused, MemorySegment handle,
             MemorySegment srcMd, MemorySegment dstMd, MemorySegment scratchMd, Slot srcSlot, Slot dstSlot,
             List<Constant> constants, NodeKernel javaKernel, long srcElements, long dstElements) {
            this.layer = layer;
            this.primitive = primitive;
            this.implementation = implementation;
            this.formats = formats;
            this.fused = fused;
            this.handle = handle;
            this.srcMd = srcMd;
            this.dstMd = dstMd;
            this.scratchMd = scratchMd;
            this.srcSlot = srcSlot;
            this.dstSlot = dstSlot;
            this.srcSlots = new Slot[] {srcSlot};
            this.srcMds = new MemorySegment[] {srcMd};
            this.srcArgs = new int[] {primitive.equals("reorder") ? DNNL_ARG_FROM() : DNNL_ARG_SRC()};
            this.constants = constants;
            this.javaKernel = javaKernel;
            this.srcCounts = new long[] {srcElements};
            this.srcElements = srcElements;
            this.dstElements = dstElements;
        }

        boolean isJava() {
            return javaKernel != null;
        }
    }

    final NativeScope scope;
    final MemorySegment engine;
    final List<Step> steps = new ArrayList<>();
    /** The activation buffers each execution context allocates, with their sizes. */
    final List<Slot> buffers = new ArrayList<>();
    private final java.util.ArrayDeque<Slot> free = new java.util.ArrayDeque<>();
    /** The caller's inputs and outputs, by name, in order. */
    final List<String> inputNames;
    final List<String> outputNames;
    final List<Shape> inputShapes = new ArrayList<>();
    final List<Shape> outputShapes = new ArrayList<>();
    final List<MemorySegment> inputMds = new ArrayList<>();
    final List<MemorySegment> outputMds = new ArrayList<>();
    long scratchpadBytes;
    final int threads;
    final boolean fusion;
    final boolean channelsLast;
    /** Activations between the edges in bf16 (the primitives' choice of layout, weights converted once). */
    final boolean bf16;
    /** The data type of the activations the primitives produce: f32, or bf16. */
    private final int dataType;

    private final Primitives prims;
    /** The int8 lowering of Q/DQ patterns (null with fusion off). */
    private final Int8Lowering int8;
    private final JavaNodes javaKernels;
    /** Where constants live when they are shared with other plans, or null for the plan's own arena. */
    private final WeightCache weights;
    /** The caller's list of the buffers taken from {@link #weights}: it gives them back when the plan is freed. */
    private final List<MemorySegment> shared;

    /** Makes the Java kernel for a node oneDNN has no primitive for. */
    @FunctionalInterface
    interface JavaNodes {
        NodeKernel create(Layer layer, List<Shape> inputs, Shape output);
    }

    /** One node to compile: {@code output = layer(inputs…)}, named for the plan. */
    record PlanNode(String name, Layer layer, List<String> inputs, String output) {}

    /** A named constant operand (for example an ONNX initializer used by an element-wise operation). */
    record ConstantTensor(Shape shape, float[] values) {}

    private final Map<String, Act> acts = new HashMap<>();
    private final Map<String, Integer> uses = new HashMap<>();
    private final Map<String, List<Integer>> consumers = new HashMap<>();
    private final Map<String, ConstantTensor> constants;
    private List<PlanNode> nodes;

    /**
     * A concatenation along the channels that was not computed: its parts stay activations of their own, and the
     * layers that read it work part by part where the arithmetic allows (a convolution as one partial convolution per
     * part, each adding into the last with a sum post-op; pooling and element-wise functions per part). It is
     * materialized (a concat primitive) only for a reader that needs the whole.
     */
    private static final class Parts {
        final String name;
        final Concat concat;
        final Shape shape;
        final List<Act> parts;
        /** Reads of the concatenation still to come; each reads every part once. */
        int readsLeft;

        Parts(String name, Concat concat, Shape shape, List<Act> parts, int readsLeft) {
            this.name = name;
            this.concat = concat;
            this.shape = shape;
            this.parts = parts;
            this.readsLeft = readsLeft;
        }
    }

    /** The concatenations not computed (yet), by tensor name. */
    private final Map<String, Parts> unconcatenated = new HashMap<>();

    /**
     * Compiles a graph of nodes (in topological order) from the named inputs to the named outputs. The caller owns
     * {@code scope} and closes it on failure.
     *
     * @param weights where to keep constants shared with other plans, or null to keep them in {@code scope}
     * @param shared  receives every buffer taken from {@code weights} (also when compiling fails): the caller gives
     *                them back ({@link WeightCache#release}) when it frees the plan
     */
    OneDnnPlan(NativeScope scope, List<PlanNode> nodes, LinkedHashMap<String, Shape> inputs,
               Map<String, ConstantTensor> constants, List<String> outputs, int threads, boolean fusion,
               boolean channelsLast, JavaNodes javaKernels, WeightCache weights, List<MemorySegment> shared,
               boolean bf16) {
        this.bf16 = bf16;
        this.dataType = bf16 ? dnnl_bf16() : dnnl_f32();
        this.int8 = fusion ? new Int8Lowering(this, nodes, outputs) : null;
        if (int8 != null) nodes = int8.nodes(); // Q/DQ patterns become single int8 nodes
        this.weights = weights;
        this.shared = shared;
        this.channelsLast = channelsLast;
        this.scope = scope;
        this.threads = threads;
        this.fusion = fusion;
        this.javaKernels = javaKernels;
        this.constants = constants;
        this.nodes = nodes;
        this.engine = scope.cpuEngine();
        this.prims = new Primitives(scope, engine);
        this.inputNames = List.copyOf(inputs.keySet());
        this.outputNames = List.copyOf(outputs);
        for (int i = 0; i < nodes.size(); i++) {
            for (String in : nodes.get(i).inputs()) {
                uses.merge(in, 1, Integer::sum);
                consumers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
            }
        }
        for (String o : outputs) uses.merge(o, 1, Integer::sum); // the caller reads them
        int k = 0;
        for (var e : inputs.entrySet()) {
            MemorySegment md = userMd(e.getValue());
            inputShapes.add(e.getValue());
            inputMds.add(md);
            acts.put(e.getKey(), new Act(md, new Slot(Slot.USER_IN, k++), e.getValue(), -1,
                    Math.max(uses.getOrDefault(e.getKey(), 0), 1)));
        }
        boolean[] absorbed = new boolean[nodes.size()];
        for (int i = 0; i < nodes.size(); i++) {
            if (absorbed[i]) continue;
            PlanNode node = nodes.get(i);
            Act lowered = int8 == null ? null : int8.compile(i, node);
            if (lowered != null) {
                publish(node.output(), lowered);
                continue;
            }
            Layer layer = node.layer();
            String name = node.name();
            String out = node.output();
            // Fusion: fold a BatchNorm that alone reads a Conv2d's output into it, then absorb the element-wise
            // operations that alone read the result as post-ops.
            List<Eltwise> post = new ArrayList<>();
            residual = null;
            depthwise = null;
            if (fusion && (layer instanceof Conv2d || layer instanceof Conv1d || layer instanceof Linear)) {
                while (true) {
                    int c = soleConsumer(out);
                    if (c < 0) break;
                    Layer next = nodes.get(c).layer();
                    Eltwise e = eltwiseOf(next);
                    // No residual sum after a fused depthwise: the sum would land in the fused primitive's fresh
                    // destination (or, unfused, in the depthwise step's) instead of the other operand's buffer.
                    Act other = residual == null && depthwise == null && !(layer instanceof Linear)
                            ? residualOperand(nodes.get(c), out) : null;
                    if (next instanceof BatchNorm bn && layer instanceof Conv2d conv && post.isEmpty()) {
                        layer = bn.foldInto(conv);
                    } else if (next instanceof BatchNorm bn && depthwise != null && post.getLast().isDepthwise()) {
                        depthwise = bn.foldInto(depthwise);
                    } else if (depthwise == null && layer instanceof Conv2d pw && fusableDepthwise(pw, next, shapeOf(node.inputs().get(0)))
                            && post.stream().noneMatch(p -> p == Eltwise.SUM)) {
                        // 1×1 convolution then 3×3 depthwise (MobileNet): one primitive, tile by tile.
                        depthwise = (Conv2d) next;
                        post.add(Eltwise.depthwise(depthwise.strideHeight(), dataType));
                    } else if (e != null) {
                        post.add(e);
                    } else if (other != null) {
                        // y = conv(x) + other: the convolution accumulates into other's buffer (sum post-op).
                        residual = other;
                        post.add(Eltwise.SUM);
                    } else {
                        break;
                    }
                    name += " + " + next;
                    absorbed[c] = true;
                    out = nodes.get(c).output();
                }
            }
            int c = soleConsumer(out);
            boolean nextIsLinear = c >= 0 && nodes.get(c).layer() instanceof Linear;
            List<String> ins = node.inputs();
            List<Shape> inShapes = ins.stream().map(this::shapeOf).toList();
            Shape outShape = layer.outputShape(inShapes);
            if (depthwise != null) outShape = depthwise.outputShape(outShape);
            boolean anyConstant = ins.stream().anyMatch(constants::containsKey);
            Act result;
            Parts split = ins.size() == 1 ? unconcatenated.get(ins.get(0)) : null;
            if (layer instanceof Concat cc && fusion && splittable(cc, ins, outShape)) {
                leaveUnconcatenated(out, name, cc, outShape, ins.stream().map(this::act).toList());
                continue;
            }
            if (split != null && layer instanceof Conv2d conv && conv.groups() == 1 && !post.contains(Eltwise.SUM)) {
                result = partialConvolutions(name, conv, ins.get(0), split, post, outShape);
            } else if (split != null && post.isEmpty() && partwise(layer)) {
                List<Act> parts = new ArrayList<>();
                for (int part = 0; part < split.parts.size(); part++) {
                    parts.add(compileLayer(name + " [part " + (part + 1) + " of " + split.name + "]", layer, List.of(),
                            split.parts.get(part), false));
                }
                readOnce(ins.get(0), split);
                leaveUnconcatenated(out, name, Concat.of(1), outShape, parts);
                continue;
            } else if (layer instanceof Binary b) {
                result = binary(name, b, ins, outShape);
            } else if (layer instanceof Concat cc && !anyConstant) {
                result = concat(name, cc, ins, outShape);
            } else if (ins.size() == 1 && !anyConstant) {
                result = compileLayer(name, layer, post, act(ins.get(0)), nextIsLinear);
            } else {
                result = javaNode(name, layer, ins, outShape, "Java (no oneDNN primitive for " + layer.kind() + " here)");
            }
            publish(out, result);
        }
        k = 0;
        for (String o : outputs) {
            Slot user = new Slot(Slot.USER_OUT, k++);
            Act cur;
            if (constants.containsKey(o)) {
                // A constant output: copied into the caller's output at every run by a Java step.
                cur = javaNode("output " + o, Reshape.identity(), List.of(o), constants.get(o).shape(), "Java (copy of a constant)");
            } else {
                cur = act(o);
            }
            MemorySegment md = userMd(cur.shape());
            outputShapes.add(cur.shape());
            outputMds.add(md);
            if (cur.producer() >= 0 && cur.slot().kind == Slot.BUFFER && cur.slot().refs == 1 && cur.uses == 1
                    && !steps.get(cur.producer()).readsDst
                    && MemoryFormats.same(cur.md(), md) && !readAfter(cur.slot(), cur.producer())) {
                steps.get(cur.producer()).dstSlot = user; // the producer writes straight into the caller's output
                if (!usedByAnyStep(cur.slot())) cur.slot().bytes = 0; // that buffer is no longer needed
            } else {
                reorder("output " + o, cur, md, user);
            }
        }
    }

    /** Makes {@code result} the tensor {@code out}, with one use per reader still to come (freed now if none). */
    private void publish(String out, Act result) {
        result.uses = uses.getOrDefault(out, 0);
        acts.put(out, result);
        if (result.uses == 0) {
            result.uses = 1;
            done(result);
        }
    }

    private Shape shapeOf(String tensor) {
        ConstantTensor c = constants.get(tensor);
        if (c != null) return c.shape();
        Parts p = unconcatenated.get(tensor);
        return p != null ? p.shape : act(tensor).shape();
    }

    /**
     * True if a concatenation can stay unconcatenated: 4-D, along the channels, of at least two activations none of
     * which is itself unconcatenated.
     */
    private boolean splittable(Concat c, List<String> ins, Shape out) {
        if (out.rank() != 4 || c.axis(4) != 1 || ins.size() < 2) return false;
        for (String in : ins) {
            if (constants.containsKey(in) || unconcatenated.containsKey(in) || act(in).shape().rank() != 4) return false;
        }
        return true;
    }

    /** Layers whose output channels depend on the same input channels only, each part computed on its own. */
    private static boolean partwise(Layer layer) {
        return layer instanceof MaxPool2d || layer instanceof AvgPool2d || layer instanceof GlobalPool2d
                || layer instanceof Activation || layer instanceof Dropout || (layer instanceof Unary && eltwiseOf(layer) != null);
    }

    /**
     * Makes {@code out} the channel concatenation of {@code parts} without computing it: each later read of {@code out}
     * reads every part once (a part is counted as read once already by what produced {@code parts}); with no reader the
     * parts are done now.
     */
    private void leaveUnconcatenated(String out, String name, Concat concat, Shape shape, List<Act> parts) {
        int reads = uses.getOrDefault(out, 0);
        if (reads == 0) {
            parts.forEach(this::done);
            return;
        }
        for (Act p : parts) p.uses += reads - 1;
        unconcatenated.put(out, new Parts(name, concat, shape, parts, reads));
    }

    /** One read of the unconcatenated {@code tensor} has been compiled (each of its parts was read once). */
    private void readOnce(String tensor, Parts p) {
        if (--p.readsLeft == 0) unconcatenated.remove(tensor);
    }

    /**
     * {@code conv} over an unconcatenated input: one convolution per part with that part's slice of the input-channel
     * weights, each after the first adding into the previous one's output (sum post-op); the bias goes with the first,
     * the fused operations with the last. The same sum as one convolution over the concatenation, in another order.
     */
    private Act partialConvolutions(String name, Conv2d conv, String tensor, Parts split, List<Eltwise> post, Shape outShape) {
        Geometry2d g = conv.geometry(split.shape);
        ConvAxis h = g.height(), w = g.width();
        int oc = conv.outChannels(), ic = conv.inChannels(), khw = conv.kernelHeight() * conv.kernelWidth();
        float[] weights = conv.weights();
        Act acc = null;
        int offset = 0;
        for (int k = 0; k < split.parts.size(); k++) {
            Act part = split.parts.get(k);
            int c = part.shape().dim(1);
            float[] wk = new float[oc * c * khw];
            for (int o = 0; o < oc; o++) System.arraycopy(weights, (o * ic + offset) * khw, wk, o * c * khw, c * khw);
            boolean first = k == 0, last = k == split.parts.size() - 1;
            float[] bias = first ? conv.bias().orElse(null) : null;
            List<Eltwise> ops = new ArrayList<>();
            if (!first) ops.add(Eltwise.SUM);
            if (last) ops.addAll(post);
            Conv2d.Builder b = Conv2d.builder(c, oc, conv.kernelHeight(), conv.kernelWidth())
                    .stride(conv.strideHeight(), conv.strideWidth()).dilation(conv.dilationHeight(), conv.dilationWidth())
                    .padding(conv.padding()).weights(wk);
            Conv2d partial = (bias == null ? b.withoutBias() : b.bias(bias)).build();
            residual = acc; // accumulate into the partial sum so far
            acc = convolution(name + " [input channels " + offset + "–" + (offset + c - 1) + " of " + split.name + "]",
                    partial, part, outShape, 1, oc, c, new long[] {conv.kernelHeight(), conv.kernelWidth()}, wk, bias,
                    new long[] {h.stride(), w.stride()}, new long[] {h.dilation() - 1, w.dilation() - 1},
                    new long[] {h.padBefore(), w.padBefore()}, new long[] {h.padAfter(), w.padAfter()}, ops, ops);
            offset += c;
        }
        readOnce(tensor, split);
        return acc;
    }

    /**
     * Computes an unconcatenated tensor for a reader that needs the whole: a concat primitive over its parts, read
     * now once; the reads still to come read the result.
     */
    private Act materialize(String tensor, Parts p) {
        unconcatenated.remove(tensor);
        for (Act a : p.parts) a.uses -= p.readsLeft - 1; // give back the reads granted for part-by-part readers
        Act whole = concatOf(p.name, p.concat, p.parts, p.shape);
        whole.uses = p.readsLeft;
        acts.put(tensor, whole);
        return whole;
    }

    /** The other operand of a residual Add fused into the convolution being compiled, or null. */
    private Act residual;
    /** The 3×3 depthwise convolution fused into the 1×1 convolution being compiled (batch norm folded), or null. */
    private Conv2d depthwise;

    /**
     * True if {@code next} can run as a depthwise post-op of the pointwise convolution {@code pw}: {@code pw} is 1×1,
     * stride 1, no padding, no groups; {@code next} is a 3×3 depthwise convolution (groups = channels, one filter per
     * channel), padding 1 on every side, stride 1 or 2, no dilation.
     */
    private static boolean fusableDepthwise(Conv2d pw, Layer next, Shape in) {
        if (!(next instanceof Conv2d dw) || in.rank() != 4) return false;
        Geometry2d g = pw.geometry(in);
        int c = pw.outChannels();
        if (pw.groups() != 1 || dw.groups() != c || dw.inChannels() != c || dw.outChannels() != c) return false;
        Geometry2d d = dw.geometry(pw.outputShape(in));
        for (ConvAxis a : new ConvAxis[] {g.height(), g.width()}) {
            if (a.kernel() != 1 || a.stride() != 1 || a.dilation() != 1 || a.padBefore() != 0 || a.padAfter() != 0) return false;
        }
        int stride = d.height().stride();
        for (ConvAxis a : new ConvAxis[] {d.height(), d.width()}) {
            if (a.kernel() != 3 || a.stride() != stride || (stride != 1 && stride != 2) || a.dilation() != 1
                    || a.padBefore() != 1 || a.padAfter() != 1) return false;
        }
        return true;
    }

    /**
     * For {@code add = Add(out, other)} (either order): {@code other} if the convolution producing {@code out} can
     * accumulate into its buffer: an activation of the same shape in a buffer of its own, read by nothing after
     * this Add; else null.
     */
    private Act residualOperand(PlanNode add, String out) {
        if (!(add.layer() instanceof Binary b) || b.op() != Binary.Op.ADD || add.inputs().size() != 2) return null;
        String o = add.inputs().get(0).equals(out) ? add.inputs().get(1) : add.inputs().get(0);
        if (o.equals(out) || constants.containsKey(o) || !acts.containsKey(o)) return null;
        Act a = acts.get(o);
        Shape outShape = add.layer().outputShape(List.of(a.shape(), a.shape()));
        boolean ok = a.slot().kind == Slot.BUFFER && a.slot().refs == 1 && a.uses == 1 && a.shape().equals(outShape)
                && MemoryFormats.dims(a.md()).length == a.shape().rank();
        return ok ? a : null;
    }

    /** The index of the only node that reads {@code tensor}, or -1 if none or several do (or the caller does). */
    private int soleConsumer(String tensor) {
        List<Integer> cs = consumers.getOrDefault(tensor, List.of());
        return cs.size() == 1 && uses.getOrDefault(tensor, 0) == 1 ? cs.get(0) : -1;
    }

    Primitives prims() {
        return prims;
    }

    Act act(String tensor) {
        Parts p = unconcatenated.get(tensor);
        if (p != null) return materialize(tensor, p);
        Act a = acts.get(tensor);
        if (a == null) throw new IllegalStateException("tensor '" + tensor + "' is read before it is computed");
        return a;
    }

    private boolean usedByAnyStep(Slot slot) {
        for (Step st : steps) {
            if (st.dstSlot == slot) return true;
            for (Slot s : st.srcSlots) if (s == slot) return true;
        }
        return false;
    }

    /** True if a step after {@code step} reads {@code slot}. */
    private boolean readAfter(Slot slot, int step) {
        for (int i = step + 1; i < steps.size(); i++) {
            for (Slot s : steps.get(i).srcSlots) if (s == slot) return true;
        }
        return false;
    }

    /** A buffer for a new tensor: a free one if any (its size grows to fit), else a new one. */
    Slot acquire() {
        Slot s = free.poll();
        if (s == null) {
            s = new Slot(Slot.BUFFER, buffers.size());
            buffers.add(s);
        }
        return s;
    }

    /** One reader of {@code act} has been compiled; when it was the last, the buffer can be reused. */
    void done(Act act) {
        if (--act.uses > 0) return;
        if (--act.slot.refs == 0 && act.slot.kind == Slot.BUFFER) free.push(act.slot);
    }

    /** A descriptor in the plan's activation data type whose layout the primitive chooses. */
    private MemorySegment any(long... dims) {
        return prims.anyOf(dataType, dims);
    }

    /**
     * A descriptor in {@code src}'s data type whose layout the primitive chooses: for primitives that keep their
     * source's type (pooling, binary), which oneDNN does not implement from f32 to bf16 (an FP32 graph input, or a
     * Java step's output, pooled in a bf16 plan).
     */
    private MemorySegment anyLike(Act src, long... dims) {
        return prims.anyOf(MemoryFormats.dataType(src.md()), dims);
    }

    static long[] longs(Shape s) {
        long[] d = new long[s.rank()];
        for (int i = 0; i < d.length; i++) d[i] = s.dim(i);
        return d;
    }

    /** The layout of the caller's tensors: dense NCHW, or NHWC for 4-D ones when channels-last was asked for. */
    private MemorySegment userMd(Shape s) {
        return channelsLast && s.rank() == 4 ? scope.memoryDesc(longs(s), dnnl_acdb()) : prims.plain(longs(s));
    }

    /**
     * Records {@code step}, which reads {@code srcs} (each read counted once) and writes a new tensor into {@code dst}:
     * sizes the slots and the scratchpad, and frees the sources' buffers whose last reader this was.
     */
    Act record(Step step, List<Act> srcs, MemorySegment dstMd, Slot dst, Shape dstShape) {
        step.srcSlots = srcs.stream().map(Act::slot).toArray(Slot[]::new);
        step.srcMds = srcs.stream().map(Act::md).toArray(MemorySegment[]::new);
        steps.add(step);
        for (Act a : srcs) a.slot.bytes = Math.max(a.slot.bytes, MemoryFormats.bytes(a.md()));
        dst.bytes = Math.max(dst.bytes, MemoryFormats.bytes(dstMd));
        if (step.scratchMd != null) scratchpadBytes = Math.max(scratchpadBytes, MemoryFormats.bytes(step.scratchMd));
        Act out = new Act(dstMd, dst, dstShape, steps.size() - 1, 1);
        for (Act a : srcs) done(a);
        return out;
    }

    /** The scratchpad a primitive descriptor asks for, or null if none. */
    static MemorySegment scratchpadOf(MemorySegment pd) {
        MemorySegment scratch = Primitives.queryMd(pd, dnnl_query_scratchpad_md());
        return scratch.equals(MemorySegment.NULL) || MemoryFormats.bytes(scratch) == 0 ? null : scratch;
    }

    /** {@code src + src → dst} in oneDNN's layout notation, for the plan. */
    private static String formats(List<Act> srcs, MemorySegment dstMd) {
        return String.join(" + ", srcs.stream().map(a -> MemoryFormats.describe(a.md())).toList()) + " → "
                + MemoryFormats.describe(dstMd);
    }

    /** Adds a reorder of {@code from} into layout {@code md} in {@code slot}. */
    Act reorder(String why, Act from, MemorySegment md, Slot slot) {
        MemorySegment pd = prims.reorder(why, from.md(), md, prims.attr(List.of()));
        return addPrimitive("reorder (" + why + ")", "reorder", pd, from, md, slot, from.shape(), List.of(), "");
    }

    /** Brings {@code cur} into layout {@code md}, adding a reorder only if the layouts differ. */
    Act into(String why, Act cur, MemorySegment md) {
        return MemoryFormats.same(cur.md(), md) ? cur : reorder(why, cur, md, acquire());
    }

    private Act addPrimitive(String layer, String kind, MemorySegment pd, Act src, MemorySegment dstMd, Slot dstSlot,
                             Shape dstShape, List<Constant> constants, String fused) {
        return addStep(layer, kind, pd, List.of(src), null, dstMd, dstSlot, dstShape, constants, fused);
    }

    /**
     * Adds a primitive with several sources (binary, concat, sum): {@code args[i]} is the execution argument of
     * {@code srcs.get(i)}. Each source counts as read once.
     */
    private Act addMultiInput(String layer, String kind, MemorySegment pd, List<Act> srcs, int[] args,
                              MemorySegment dstMd, Shape dstShape, List<Constant> constants, String fused) {
        return addStep(layer, kind, pd, srcs, args, dstMd, acquire(), dstShape, constants, fused);
    }

    /**
     * Adds primitive {@code pd} as a step reading {@code srcs} (execution arguments {@code args}, or null for
     * {@code SRC}, {@code FROM} for a reorder) and writing {@code dstMd} into {@code dst}; the plan shows the layouts of
     * its sources, destination and weights.
     */
    Act addStep(String layer, String kind, MemorySegment pd, List<Act> srcs, int[] args, MemorySegment dstMd, Slot dst,
                Shape dstShape, List<Constant> constants, String fused) {
        String formats = formats(srcs, dstMd);
        for (Constant c : constants) {
            if (c.arg() == DNNL_ARG_WEIGHTS()) {
                formats += ", weights " + MemoryFormats.describe(dnnl_memory_get_memory_desc_md(c.memory()));
            }
        }
        Act first = srcs.get(0);
        Step step = new Step(layer, kind, prims.implementation(pd), formats, fused, scope.primitive(pd), first.md(), dstMd,
                scratchpadOf(pd), first.slot(), dst, constants, null, first.shape().elementCount(), dstShape.elementCount());
        if (args != null) step.srcArgs = args.clone();
        return record(step, srcs, dstMd, dst, dstShape);
    }

    private static MemorySegment dnnl_memory_get_memory_desc_md(MemorySegment memory) {
        try (var a = java.lang.foreign.Arena.ofConfined()) {
            MemorySegment slot = a.allocate(ValueLayout.ADDRESS);
            Dnnl.check("dnnl_memory_get_memory_desc", dnnl_memory_get_memory_desc(memory, slot));
            return slot.get(ValueLayout.ADDRESS, 0);
        }
    }

    /**
     * A constant operand in the layout {@code md}: {@code data} (row-major, {@code userMd}) laid out once, in a buffer of
     * the plan's own or, with a {@link WeightCache}, one shared with the other plans of the same model that read the same
     * values in the same layout.
     */
    private Constant constant(int arg, float[] data, MemorySegment userMd, MemorySegment md) {
        MemorySegment buf;
        if (weights != null) {
            buf = weights.acquire(data, md, target -> layOut(data, userMd, md, target));
            shared.add(buf);
        } else {
            buf = scope.arena().allocate(Math.max(MemoryFormats.bytes(md), 64), 64);
            layOut(data, userMd, md, buf);
        }
        return new Constant(arg, scope.memory(md, engine, buf));
    }

    /**
     * A buffer for a constant of layout {@code md} identified by {@code values}, shared through the {@link WeightCache}
     * when the plan has one ({@code fill} writes it once), else the plan's own, filled here.
     */
    MemorySegment constantBuffer(float[] values, MemorySegment md, java.util.function.Consumer<MemorySegment> fill) {
        if (weights != null) {
            MemorySegment buf = weights.acquire(values, md, fill);
            shared.add(buf);
            return buf;
        }
        MemorySegment buf = scope.arena().allocate(Math.max(MemoryFormats.bytes(md), 64), 64);
        fill.accept(buf);
        return buf;
    }

    /** Writes {@code data} (row-major, {@code userMd}) into {@code target} in the layout {@code md}: a copy or a reorder. */
    private void layOut(float[] data, MemorySegment userMd, MemorySegment md, MemorySegment target) {
        if (MemoryFormats.same(userMd, md)) {
            MemorySegment.copy(data, 0, target, ValueLayout.JAVA_FLOAT, 0, data.length);
            return;
        }
        try (NativeScope tmp = new NativeScope()) {
            MemorySegment user = tmp.arena().allocateFrom(ValueLayout.JAVA_FLOAT, data);
            MemorySegment userMem = tmp.memory(userMd, engine, user);
            MemorySegment mem = tmp.memory(md, engine, target);
            MemorySegment pd = new Primitives(tmp, engine).reorder("weights", userMd, md, MemorySegment.NULL);
            Dnnl.executeAndWait(tmp.primitive(pd), tmp.stream(engine),
                    Dnnl.execArgs(tmp.arena(), DNNL_ARG_FROM(), userMem, DNNL_ARG_TO(), mem), "weights reorder");
        }
    }

    private static float[] floats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) f[i] = (float) d[i];
        return f;
    }

    private static Eltwise eltwise(Activation a) {
        return switch (a.function()) {
            case RELU -> new Eltwise(dnnl_eltwise_relu(), 0f, 0f, "relu");
            case LEAKY_RELU -> new Eltwise(dnnl_eltwise_relu(), a.alpha(), 0f, "leaky_relu(" + a.alpha() + ")");
            case SIGMOID -> new Eltwise(dnnl_eltwise_logistic(), 0f, 0f, "logistic");
            case TANH -> new Eltwise(dnnl_eltwise_tanh(), 0f, 0f, "tanh");
            case ELU -> new Eltwise(dnnl_eltwise_elu(), a.alpha(), 0f, "elu(" + a.alpha() + ")");
            case GELU -> new Eltwise(dnnl_eltwise_gelu_erf(), 0f, 0f, "gelu_erf");
        };
    }

    /** The oneDNN eltwise for an activation or a unary operation, or null if oneDNN has none. */
    static Eltwise eltwiseOf(Layer layer) {
        if (layer instanceof Activation a) return eltwise(a);
        if (!(layer instanceof Unary u)) return null;
        return switch (u.function()) {
            case CLIP -> new Eltwise(dnnl_eltwise_clip_v2(), u.alpha(), u.beta(), "clip(" + u.alpha() + ", " + u.beta() + ")");
            case HARD_SIGMOID -> new Eltwise(dnnl_eltwise_hardsigmoid(), u.alpha(), u.beta(), "hardsigmoid");
            case HARD_SWISH -> new Eltwise(dnnl_eltwise_hardswish(), 1f / 6, 0.5f, "hardswish");
            case ABS -> new Eltwise(dnnl_eltwise_abs(), 0f, 0f, "abs");
            case EXP -> new Eltwise(dnnl_eltwise_exp(), 0f, 0f, "exp");
            case SQRT -> new Eltwise(dnnl_eltwise_sqrt(), 0f, 0f, "sqrt");
            case NEG -> new Eltwise(dnnl_eltwise_linear(), -1f, 0f, "neg");
            default -> null;
        };
    }

    private static String fusedNames(List<Eltwise> post) {
        return String.join(", ", post.stream().map(Eltwise::name).toList());
    }

    private Act compileLayer(String name, Layer layer, List<Eltwise> post, Act cur, boolean nextIsLinear) {
        Shape in = cur.shape();
        Shape outShape = layer.outputShape(in);
        List<Eltwise> postOps = post;
        return switch (layer) {
            case Conv2d c -> {
                Geometry2d g = c.geometry(in);
                ConvAxis h = g.height(), w = g.width();
                yield convolution(name, c, cur, outShape, c.groups(), c.outChannels(), c.inChannels(),
                        new long[] {c.kernelHeight(), c.kernelWidth()}, c.weights(), c.bias().orElse(null),
                        new long[] {h.stride(), w.stride()}, new long[] {h.dilation() - 1, w.dilation() - 1},
                        new long[] {h.padBefore(), w.padBefore()}, new long[] {h.padAfter(), w.padAfter()}, postOps, post);
            }
            case Conv1d c -> {
                ConvAxis x = c.geometry(in);
                float[] wts = c.weights();
                if (c.trueConvolution()) wts = flipLastAxis(wts, c.kernelSize());
                yield convolution(name, c, cur, outShape, c.groups(), c.outChannels(), c.inChannels(),
                        new long[] {c.kernelSize()}, wts, c.bias().orElse(null), new long[] {x.stride()},
                        new long[] {x.dilation() - 1}, new long[] {x.padBefore()}, new long[] {x.padAfter()}, postOps, post);
            }
            case MaxPool2d p -> pooling(name, cur, outShape, dnnl_pooling_max(), p.geometry(in));
            case AvgPool2d p -> {
                Geometry2d g = p.geometry(in);
                if (p.countIncludePad() && p.ceilMode() && ceilOverrun(g)) {
                    // oneDNN would count the ceil-mode overrun as padding too; the lecture's reference does not.
                    yield javaStep(name, layer, cur, outShape,
                            "Java (oneDNN would count the ceil-mode overrun as padding)");
                }
                yield pooling(name, cur, outShape,
                        p.countIncludePad() ? dnnl_pooling_avg_include_padding() : dnnl_pooling_avg_exclude_padding(), g);
            }
            case GlobalPool2d p -> {
                int alg = p.poolKind() == PoolKind.MAX ? dnnl_pooling_max() : dnnl_pooling_avg_exclude_padding();
                MemorySegment dst = anyLike(cur, longs(outShape));
                long[] k = {in.dim(2), in.dim(3)};
                MemorySegment pd = prims.pooling(name, alg, cur.md(), dst, new long[] {1, 1}, k, new long[] {0, 0},
                        new long[] {0, 0}, new long[] {0, 0}, prims.attr(List.of()));
                yield addPrimitive(name, "pooling", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()),
                        acquire(), outShape, List.of(), "");
            }
            case Activation a -> eltwiseStep(name, eltwise(a), cur);
            case Softmax s -> {
                MemorySegment pd = prims.softmax(name, false, cur.md(), cur.md(), 1, prims.attr(List.of()));
                yield addPrimitive(name, "softmax", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()),
                        acquire(), outShape, List.of(), "");
            }
            case BatchNorm bn -> {
                MemorySegment pd = prims.batchNorm(name, cur.md(), cur.md(), (float) bn.epsilon(), prims.attr(List.of()));
                MemorySegment cmd = prims.plain(bn.channels());
                // Scale and shift carry γ and β; mean and variance are the stored statistics.
                List<Constant> cs = List.of(
                        constant(DNNL_ARG_MEAN(), bn.mean(), cmd, cmd),
                        constant(DNNL_ARG_VARIANCE(), bn.variance(), cmd, cmd),
                        constant(DNNL_ARG_SCALE(), bn.gamma(), cmd, cmd),
                        constant(DNNL_ARG_SHIFT(), bn.beta(), cmd, cmd));
                yield addPrimitive(name, "batch_normalization", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()),
                        acquire(), outShape, cs, "");
            }
            case Linear l -> innerProduct(name, l, cur, outShape, postOps, post);
            case Flatten f -> {
                if (nextIsLinear && in.rank() > 2) {
                    // The inner product reads the 4-D activation in whatever layout it has: no copy, no reorder.
                    yield alias(cur, cur.md(), outShape);
                }
                Act plain = into("flatten", cur, prims.plain(longs(in)));
                yield alias(plain, prims.reshape(plain.md(), longs(outShape)), outShape);
            }
            case Dropout d -> alias(cur, cur.md(), outShape); // identity in inference
            case DepthPool d -> javaStep(name, layer, cur, outShape, "Java (oneDNN has no pooling across channels)");
            case Unary u -> {
                Eltwise e = eltwiseOf(u);
                yield e != null ? eltwiseStep(name, e, cur)
                        : javaStep(name, layer, cur, outShape, "Java (no oneDNN eltwise for " + u.function() + ")");
            }
            case Reshape r -> {
                if (nextIsLinear && r.mode() == Reshape.Mode.FLATTEN && outShape.dim(0) == in.dim(0) && in.rank() > 2) {
                    yield alias(cur, cur.md(), outShape); // as for Flatten: the inner product reads the 4-D tensor
                }
                Act plain = into("reshape", cur, prims.plain(longs(in)));
                yield alias(plain, prims.reshape(plain.md(), longs(outShape)), outShape);
            }
            case AxisSoftmax a when a.function() != AxisSoftmax.Function.HARDMAX
                    && (!a.coerce2d() || a.axis(in.rank()) == in.rank() - 1) -> {
                boolean log = a.function() == AxisSoftmax.Function.LOG_SOFTMAX;
                MemorySegment pd = prims.softmax(name, log, cur.md(), cur.md(), a.axis(in.rank()), prims.attr(List.of()));
                yield addPrimitive(name, "softmax", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()),
                        acquire(), outShape, List.of(), "");
            }
            // Transpose, Pad, Slice, Reduce, the other AxisSoftmax forms: data movement or rare; the Java kernel.
            default -> javaStep(name, layer, cur, outShape, "Java (no oneDNN primitive for " + layer.kind() + ")");
        };
    }

    /** The same memory seen with another descriptor (a reshape): shares the slot, consumes {@code of}. */
    private Act alias(Act of, MemorySegment md, Shape shape) {
        Act a = new Act(md, of.slot(), shape, of.producer(), 1);
        done(of);
        return a;
    }

    /** True if ceil mode makes a window reach past the explicit end padding on some axis. */
    static boolean ceilOverrun(Geometry2d g) {
        for (ConvAxis a : new ConvAxis[] {g.height(), g.width()}) {
            long needed = (long) (a.output() - 1) * a.stride() + a.effectiveKernel() - a.input() - a.padBefore();
            if (needed > a.padAfter()) return true;
        }
        return false;
    }

    private static float[] flipLastAxis(float[] w, int k) {
        float[] f = new float[w.length];
        for (int base = 0; base < w.length; base += k) {
            for (int i = 0; i < k; i++) f[base + i] = w[base + k - 1 - i];
        }
        return f;
    }

    /** The convolution on the Java kernel, then its fused operations as oneDNN primitives (binary add for a sum). */
    private Act javaConvolution(String name, Layer conv, Act cur, Shape outShape, List<Eltwise> post, Act sumInto) {
        Act a = javaStep(name, conv, cur, outShape,
                "Java (no correct oneDNN 3.8.1 implementation for this geometry, see Primitives.convolution)");
        for (Eltwise e : post) {
            if (e == Eltwise.SUM) {
                MemorySegment pd = prims.binary(name + " + residual", dnnl_binary_add(), a.md(), sumInto.md(),
                        any(longs(outShape)), prims.attr(List.of()));
                a = addMultiInput(name + " + residual", "binary", pd, List.of(a, sumInto),
                        new int[] {DNNL_ARG_SRC_0(), DNNL_ARG_SRC_1()}, Primitives.queryMd(pd, dnnl_query_dst_md()),
                        outShape, List.of(), "");
            } else {
                a = eltwiseStep(name + " " + e.name(), e, a);
            }
        }
        return a;
    }

    private Act eltwiseStep(String name, Eltwise op, Act cur) {
        MemorySegment pd = prims.eltwise(name, op, cur.md(), cur.md(), prims.attr(List.of()));
        return addPrimitive(name, "eltwise", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()),
                acquire(), cur.shape(), List.of(), "");
    }

    private Act convolution(String name, Layer layer, Act cur, Shape outShape, int groups, int oc, int ic, long[] kernel,
                            float[] weights, float[] bias, long[] strides, long[] dil, long[] padL, long[] padR,
                            List<Eltwise> postOps, List<Eltwise> post) {
        long[] wDims = Primitives.convolutionWeightDims(groups, oc, ic, kernel);
        MemorySegment srcAny = any(longs(cur.shape()));
        MemorySegment wAny = any(wDims);
        MemorySegment bMd = bias == null ? MemorySegment.NULL : prims.plain(oc);
        Act sumInto = residual;
        residual = null;
        // With a fused residual Add the destination is the other operand's buffer, in its layout.
        MemorySegment dstAny = sumInto != null ? sumInto.md() : any(longs(outShape));
        Conv2d dw = depthwise;
        depthwise = null;
        MemorySegment pd;
        if (dw != null) {
            try {
                pd = prims.convolution(name, srcAny, wAny, bMd, dstAny, strides, dil, padL, padR, prims.attr(postOps),
                        false, kernel);
            } catch (dev.convnet.onednn.OneDnnException e) {
                pd = null; // no implementation fuses this pair here
            }
            if (pd == null || prims.implementation(pd).startsWith("ref")) {
                // Unfused: the 1×1 with the operations before the depthwise, then the depthwise with the rest.
                int at = post.indexOf(post.stream().filter(Eltwise::isDepthwise).findFirst().orElseThrow());
                Act a = convolution(name, layer, cur, outShape, groups, oc, ic, kernel, weights, bias, strides, dil, padL,
                        padR, post.subList(0, at), post.subList(0, at));
                return compileDepthwise(name, dw, a, dw.outputShape(outShape), post.subList(at + 1, post.size()));
            }
        } else {
            pd = prims.convolution(name, srcAny, wAny, bMd, dstAny, strides, dil, padL, padR, prims.attr(postOps),
                    ic / groups == 1, kernel);
            if (pd == null) return javaConvolution(name, layer, cur, outShape, post, sumInto);
        }
        Act src = into("input of " + name, cur, Primitives.queryMd(pd, dnnl_query_src_md()));
        List<Constant> cs = new ArrayList<>();
        cs.add(constant(DNNL_ARG_WEIGHTS(), weights, prims.plain(wDims), Primitives.queryMd(pd, dnnl_query_weights_md())));
        if (bias != null) cs.add(constant(DNNL_ARG_BIAS(), bias, bMd, bMd));
        if (dw != null) {
            int dwArg = DNNL_ARG_ATTR_POST_OP_DW();
            cs.add(constant(dwArg | DNNL_ARG_WEIGHTS(), dw.weights(),
                    prims.plain(Primitives.convolutionWeightDims(oc, oc, oc, new long[] {3, 3})),
                    Primitives.argMd(pd, dwArg | DNNL_ARG_WEIGHTS())));
            MemorySegment dwBiasMd = prims.plain(oc);
            cs.add(constant(dwArg | DNNL_ARG_BIAS(), dw.bias().orElse(new float[oc]), dwBiasMd,
                    Primitives.argMd(pd, dwArg | DNNL_ARG_BIAS())));
            // The primitive is described with the 1×1's output; its destination is the depthwise's.
            return addPrimitive(name, "convolution", pd, src, Primitives.queryMd(pd, dnnl_query_dst_md()), acquire(),
                    dw.outputShape(outShape), cs, fusedNames(post));
        }
        if (sumInto == null) {
            return addPrimitive(name, "convolution", pd, src, Primitives.queryMd(pd, dnnl_query_dst_md()), acquire(),
                    outShape, cs, fusedNames(post));
        }
        // The destination is the residual's buffer: the step reads it (sum) and overwrites it.
        Act out = addPrimitive(name, "convolution", pd, src, sumInto.md(), sumInto.slot(), outShape, cs, fusedNames(post));
        steps.get(out.producer()).readsDst = true;
        done(sumInto);
        return out;
    }

    /** A depthwise convolution that could not be fused, as its own step, with the operations that followed it. */
    private Act compileDepthwise(String name, Conv2d dw, Act cur, Shape outShape, List<Eltwise> post) {
        ConvAxis h = dw.geometry(cur.shape()).height(), w = dw.geometry(cur.shape()).width();
        int c = dw.outChannels();
        return convolution(name + " (depthwise step)", dw, cur, outShape, c, c, c, new long[] {3, 3}, dw.weights(),
                dw.bias().orElse(null), new long[] {h.stride(), w.stride()}, new long[] {0, 0},
                new long[] {h.padBefore(), w.padBefore()}, new long[] {h.padAfter(), w.padAfter()}, List.copyOf(post),
                List.copyOf(post));
    }

    private Act innerProduct(String name, Linear l, Act cur, Shape outShape, List<Eltwise> postOps, List<Eltwise> post) {
        // The activation's own dimensions: after a Flatten that was folded away they are still [N, C, H, W],
        // and the inner product then reads the 4-D tensor in its layout, with [O, C, H, W] weights.
        long[] srcDims = MemoryFormats.dims(cur.md());
        long[] wDims = srcDims.clone();
        wDims[0] = l.outFeatures();
        MemorySegment srcAny = any(srcDims);
        MemorySegment wAny = any(wDims);
        float[] bias = l.bias().orElse(null);
        MemorySegment bMd = bias == null ? MemorySegment.NULL : prims.plain(l.outFeatures());
        MemorySegment dstAny = any(longs(outShape));
        MemorySegment pd = prims.innerProduct(name, srcAny, wAny, bMd, dstAny, prims.attr(postOps));
        Act src = into("input of " + name, cur, Primitives.queryMd(pd, dnnl_query_src_md()));
        List<Constant> cs = new ArrayList<>();
        cs.add(constant(DNNL_ARG_WEIGHTS(), l.weights(), prims.plain(wDims), Primitives.queryMd(pd, dnnl_query_weights_md())));
        if (bias != null) cs.add(constant(DNNL_ARG_BIAS(), bias, bMd, bMd));
        return addPrimitive(name, "inner_product", pd, src, Primitives.queryMd(pd, dnnl_query_dst_md()), acquire(),
                outShape, cs, fusedNames(post));
    }

    /**
     * The right/bottom padding oneDNN wants for a pooling window: the one that makes Eq. 6 give exactly the output size
     * (ceil mode included), at least 0, as {height, width}.
     */
    static long[] poolingPadR(Geometry2d g) {
        ConvAxis h = g.height(), w = g.width();
        long prH = (long) (h.output() - 1) * h.stride() + h.effectiveKernel() - h.input() - h.padBefore();
        long prW = (long) (w.output() - 1) * w.stride() + w.effectiveKernel() - w.input() - w.padBefore();
        return new long[] {Math.max(prH, 0), Math.max(prW, 0)};
    }

    private Act pooling(String name, Act cur, Shape outShape, int alg, Geometry2d g) {
        ConvAxis h = g.height(), w = g.width();
        MemorySegment dst = anyLike(cur, longs(outShape));
        MemorySegment pd = prims.pooling(name, alg, cur.md(), dst, new long[] {h.stride(), w.stride()},
                new long[] {h.kernel(), w.kernel()}, new long[] {h.dilation() - 1, w.dilation() - 1},
                new long[] {h.padBefore(), w.padBefore()}, poolingPadR(g), prims.attr(List.of()));
        return addPrimitive(name, "pooling", pd, cur, Primitives.queryMd(pd, dnnl_query_dst_md()), acquire(),
                outShape, List.of(), "");
    }

    private Act javaStep(String name, Layer layer, Act cur, Shape outShape, String why) {
        return javaNode(name, layer, java.util.Collections.singletonList(cur), new float[1][], List.of(cur.shape()),
                outShape, why);
    }

    /** A graph node on the Java kernel: each input is an activation or a constant. */
    private Act javaNode(String name, Layer layer, List<String> inputs, Shape outShape, String why) {
        List<Act> activations = new ArrayList<>();
        float[][] bound = new float[inputs.size()][];
        for (int i = 0; i < inputs.size(); i++) {
            ConstantTensor c = constants.get(inputs.get(i));
            activations.add(c == null ? act(inputs.get(i)) : null);
            if (c != null) bound[i] = c.values();
        }
        return javaNode(name, layer, activations, bound, inputs.stream().map(this::shapeOf).toList(), outShape, why);
    }

    /**
     * A node run by the Java kernel: input {@code i} is the activation {@code activations.get(i)}, brought into a plain
     * layout and copied into an array around the call, or, where that is null, the constant {@code bound[i]}.
     */
    private Act javaNode(String name, Layer layer, List<Act> activations, float[][] bound, List<Shape> shapes,
                         Shape outShape, String why) {
        NodeKernel kernel = javaKernels.create(layer, shapes, outShape);
        List<Act> srcs = new ArrayList<>();
        int[] position = new int[activations.size()]; // index into srcs, or -1 for a constant
        for (int i = 0; i < activations.size(); i++) {
            Act a = activations.get(i);
            if (a == null) {
                position[i] = -1;
            } else {
                srcs.add(into("input of " + name, a, prims.plain(longs(a.shape()))));
                position[i] = srcs.size() - 1;
            }
        }
        NodeKernel withConstants = srcs.size() == activations.size() ? kernel : (x, y) -> {
            float[][] all = new float[position.length][];
            for (int i = 0; i < all.length; i++) all[i] = position[i] < 0 ? bound[i] : x[position[i]];
            kernel.forward(all, y);
        };
        MemorySegment dstMd = prims.plain(longs(outShape));
        Slot dst = acquire();
        Act first = srcs.isEmpty() ? null : srcs.get(0);
        Step step = new Step(name, "java kernel", why, formats(srcs, dstMd), "", MemorySegment.NULL,
                first == null ? dstMd : first.md(), dstMd, null, first == null ? dst : first.slot(), dst, List.of(),
                withConstants, first == null ? 0 : first.shape().elementCount(), outShape.elementCount());
        step.srcCounts = srcs.stream().mapToLong(a -> a.shape().elementCount()).toArray();
        step.srcArgs = new int[srcs.size()];
        return record(step, srcs, dstMd, dst, outShape);
    }

    /**
     * An element-wise binary operation on oneDNN when the first operand has the output's shape (swapping the
     * operands of commutative operations to get there) and the second broadcasts into it; the Java kernel otherwise.
     */
    private Act binary(String name, Binary b, List<String> inputs, Shape outShape) {
        String x = inputs.get(0), y = inputs.get(1);
        boolean commutative = switch (b.op()) {
            case ADD, MUL, MAX, MIN -> true;
            default -> false;
        };
        if (!shapeOf(x).equals(outShape) || constants.containsKey(x)) {
            if (commutative && shapeOf(y).equals(outShape) && !constants.containsKey(y)) {
                String t = x;
                x = y;
                y = t;
            } else {
                return javaNode(name, b, inputs, outShape, "Java (operands oneDNN's binary cannot broadcast)");
            }
        }
        Integer alg = switch (b.op()) {
            case ADD -> dnnl_binary_add();
            case SUB -> dnnl_binary_sub();
            case MUL -> dnnl_binary_mul();
            case DIV -> dnnl_binary_div();
            case MAX -> dnnl_binary_max();
            case MIN -> dnnl_binary_min();
            default -> null;
        };
        if (alg == null) return javaNode(name, b, inputs, outShape, "Java (no oneDNN binary for " + b.op() + ")");
        Act a = act(x);
        int rank = outShape.rank();
        MemorySegment dstAny = anyLike(a, longs(outShape));
        ConstantTensor c = constants.get(y);
        if (c != null) {
            MemorySegment md1 = prims.plain(longs(plainShapeOfRank(c.shape(), rank)));
            MemorySegment pd = prims.binary(name, alg, a.md(), md1, dstAny, prims.attr(List.of()));
            Constant src1 = constant(DNNL_ARG_SRC_1(), c.values(), md1, md1);
            return addMultiInput(name, "binary", pd, List.of(a), new int[] {DNNL_ARG_SRC_0()},
                    Primitives.queryMd(pd, dnnl_query_dst_md()), outShape, List.of(src1), "");
        }
        Act b1 = act(y);
        MemorySegment md1 = b1.md();
        if (b1.shape().rank() != rank || !b1.shape().equals(outShape)) {
            b1 = into("operand of " + name, b1, prims.plain(longs(b1.shape())));
            if (b1.shape().rank() != rank) {
                b1 = alias(b1, prims.reshape(b1.md(), longs(plainShapeOfRank(b1.shape(), rank))), b1.shape());
                b1.uses = 1;
            }
            md1 = b1.md();
        }
        MemorySegment pd = prims.binary(name, alg, a.md(), md1, dstAny, prims.attr(List.of()));
        return addMultiInput(name, "binary", pd, List.of(a, b1), new int[] {DNNL_ARG_SRC_0(), DNNL_ARG_SRC_1()},
                Primitives.queryMd(pd, dnnl_query_dst_md()), outShape, List.of(), "");
    }

    /** {@code s} with as many leading 1s as make it {@code rank} dimensions (ONNX broadcasting aligns on the right). */
    static Shape plainShapeOfRank(Shape s, int rank) {
        int[] d = new int[rank];
        java.util.Arrays.fill(d, 1);
        for (int i = 0; i < s.rank(); i++) d[rank - s.rank() + i] = s.dim(i);
        return Shape.of(d);
    }

    /** Concatenation along an axis, each source read in its own layout; the destination layout is oneDNN's choice. */
    private Act concat(String name, Concat c, List<String> inputs, Shape outShape) {
        return concatOf(name, c, inputs.stream().map(this::act).toList(), outShape);
    }

    private Act concatOf(String name, Concat c, List<Act> srcs, Shape outShape) {
        int axis = c.axis(outShape.rank());
        MemorySegment pd = prims.concat(name, srcs.stream().map(Act::md).toList(), axis, prims.attr(List.of()));
        int[] args = new int[srcs.size()];
        for (int i = 0; i < args.length; i++) args[i] = DNNL_ARG_MULTIPLE_SRC() + i;
        return addMultiInput(name, "concat", pd, srcs, args, Primitives.queryMd(pd, dnnl_query_dst_md()), outShape,
                List.of(), "");
    }

    /** The printable plan: one line per step. */
    String describe(String header) {
        StringBuilder sb = new StringBuilder(header).append('\n');
        String fmt = "%-3s %-20s %-36s %-44s %s%n";
        sb.append(String.format(fmt, "#", "primitive", "implementation", "formats (src → dst, weights)", "layer [fused post-ops]"));
        int i = 1;
        for (Step s : steps) {
            sb.append(String.format(fmt, i++, s.primitive, s.implementation, s.formats,
                    s.layer + (s.fused.isEmpty() ? "" : " [post-ops: " + s.fused + "]")));
        }
        sb.append(String.format("buffers per context: %s bytes of activations, %,d bytes scratchpad; %d oneDNN thread(s) per run%n",
                String.join(" + ", buffers.stream().map(b -> String.format("%,d", b.bytes)).toList()), scratchpadBytes, threads));
        return sb.toString();
    }
}
