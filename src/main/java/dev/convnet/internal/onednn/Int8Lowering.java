package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.internal.onednn.OneDnnPlan.Act;
import dev.convnet.internal.onednn.OneDnnPlan.Constant;
import dev.convnet.internal.onednn.OneDnnPlan.PlanNode;
import dev.convnet.internal.onednn.OneDnnPlan.Slot;
import dev.convnet.internal.onednn.OneDnnPlan.Step;
import dev.convnet.internal.onednn.Primitives.Eltwise;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.PoolKind;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.layer.Reshape;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Runs the quantized parts of a graph in Q/DQ form in 8-bit integers on oneDNN.
 *
 * <p>In Q/DQ form a {@link QuantizeLinear} output holds integers (as floats) and every reader dequantizes it first.
 * Here such a tensor lives in oneDNN memory as {@code u8}/{@code s8} holding the same integers ("an int8 tensor"), and
 * the patterns below become one int8 primitive each, reading int8 tensors directly (the dequantize is the primitive's
 * source scale and zero point) and writing one (the quantize is its destination scale and zero point):
 * <ul>
 *   <li>{@code DQ → Conv2d [→ BatchNorm] [→ eltwise…] [→ Add(DQ(r)) [→ eltwise…]] → Q}: an int8 convolution; s8
 *       weights with one scale per output channel, the batch norm folded into those scales and the f32 bias, the
 *       eltwise operations as post-ops, the residual {@code r} as a sum post-op with r's scale and zero point
 *       (the convolution writes into r's buffer). Without the final Q (and without the Add) the destination is f32.</li>
 *   <li>{@code DQ [→ Flatten] → Linear [→ eltwise…] [→ Q]}: an int8 inner product (a source zero point is
 *       subtracted exactly through the bias, Σ w_q being an integer).</li>
 *   <li>{@code DQ → MaxPool2d / AvgPool2d / GlobalPool2d → Q} with the same parameters: pooling on the int8 tensor
 *       (average pooling that counts padding only with zero point 0).</li>
 *   <li>{@code DQ(a) + DQ(b) [→ eltwise…] → Q}: binary add with source scales; zero points and the destination scale
 *       are linear post-ops.</li>
 *   <li>{@code DQ → ReLU → Q} with the Q's zero point at its type's minimum (ONNX Runtime's style after an Add): a
 *       requantizing reorder, whose saturation is the ReLU.</li>
 *   <li>A remaining Q whose readers all dequantize: a reorder f32 → u8/s8 with destination scale and zero point; a
 *       remaining DQ of an int8 tensor: a reorder u8/s8 → f32 with source scale and zero point, then the FP32 path.</li>
 * </ul>
 * Everything else keeps the FP32 path (Java kernels for Q and DQ: fake quantization, as the reference computes it).
 *
 * <p><b>Weights.</b> The Q/DQ form stores Conv2d and Linear weights as floats equal to dequantized int8 values made
 * by the project's rule: per output channel symmetric INT8, {@code scale_c = max|w_c| / 127} (1 for a channel of
 * zeros), {@code w_q = round_half_even(w / scale_c)}. The int8 weights are recovered by applying the rule again: exact
 * (the same w_q) for weights made by it; other weights are re-quantized, each moved by at most
 * {@code scale_c / 2 = max|w_c| / 254}.
 *
 * <p><b>Accuracy.</b> oneDNN accumulates in int32 (exact) and scales in f32 with another operation order than the
 * reference's float convolution, so a value at a rounding tie can land on the neighbouring integer: quantized
 * outputs differ from the reference by at most one step.
 *
 * <p>Used by one thread while a plan compiles; not thread-safe.
 */
final class Int8Lowering {
    /** What a fused pattern computes; {@link #layer} is the Conv2d, Linear, pooling layer or Binary add. */
    record Chain(Layer layer, BatchNorm bn, List<Eltwise> pre, QuantParams src, QuantParams other, List<Eltwise> post,
                 QuantParams out) {}

    private final OneDnnPlan plan;
    /** The rewritten node list: each pattern is one node at the position of its last node. */
    private final List<PlanNode> nodes = new ArrayList<>();
    /** The pattern behind a node of {@link #nodes}, by index. */
    private final Map<Integer, Chain> chains = new HashMap<>();
    /** Outputs of QuantizeLinear nodes (and patterns) that are kept as u8/s8 tensors: every reader dequantizes. */
    private final Set<String> int8Tensors = new HashSet<>();

    /** Finds the patterns in {@code graph} (topologically ordered); {@code outputs} are what the caller reads. */
    Int8Lowering(OneDnnPlan plan, List<PlanNode> graph, List<String> outputs) {
        this.plan = plan;
        Map<String, Integer> producer = new HashMap<>();
        Map<String, List<Integer>> readers = new HashMap<>();
        for (int i = 0; i < graph.size(); i++) {
            producer.put(graph.get(i).output(), i);
            for (String in : graph.get(i).inputs()) readers.computeIfAbsent(in, k -> new ArrayList<>()).add(i);
        }
        Set<String> callerReads = new HashSet<>(outputs);
        for (PlanNode n : graph) {
            if (!(n.layer() instanceof QuantizeLinear)) continue;
            boolean allDequantize = true;
            for (int r : readers.getOrDefault(n.output(), List.of())) {
                allDequantize &= graph.get(r).layer() instanceof DequantizeLinear;
            }
            if (allDequantize) int8Tensors.add(n.output());
        }
        Matcher m = new Matcher(graph, producer, readers, callerReads);
        boolean[] absorbed = new boolean[graph.size()];
        Map<Integer, Chain> at = new HashMap<>(); // by the index of the pattern's last node
        Map<Integer, List<String>> inputsAt = new HashMap<>();
        Map<Integer, String> nameAt = new HashMap<>();
        for (int i = 0; i < graph.size(); i++) {
            if (absorbed[i]) continue;
            Matcher.Match match = m.match(i);
            if (match == null || match.nodes.stream().anyMatch(k -> absorbed[k])) continue;
            int last = match.nodes.stream().mapToInt(Integer::intValue).max().orElseThrow();
            for (int k : match.nodes) absorbed[k] = true;
            absorbed[last] = false;
            at.put(last, match.chain);
            inputsAt.put(last, match.inputs);
            StringBuilder name = new StringBuilder();
            for (int k : match.nodes.stream().sorted().toList()) {
                if (!name.isEmpty()) name.append(" + ");
                name.append(graph.get(k).name());
            }
            nameAt.put(last, name.toString());
        }
        // Drop the dequantize nodes whose every reader became part of a pattern.
        Set<String> stillRead = new HashSet<>(callerReads);
        for (int i = 0; i < graph.size(); i++) {
            if (absorbed[i]) continue;
            stillRead.addAll(at.containsKey(i) ? inputsAt.get(i) : graph.get(i).inputs());
        }
        for (int i = 0; i < graph.size(); i++) {
            PlanNode n = graph.get(i);
            if (absorbed[i] || (n.layer() instanceof DequantizeLinear && !stillRead.contains(n.output()))) continue;
            Chain c = at.get(i);
            if (c == null) {
                nodes.add(n);
            } else {
                chains.put(nodes.size(), c);
                nodes.add(new PlanNode(nameAt.get(i), c.layer(), inputsAt.get(i), n.output()));
            }
        }
    }

    /** The graph the plan compiles: patterns replaced by one node each, orphaned dequantize nodes removed. */
    List<PlanNode> nodes() {
        return nodes;
    }

    /** Finds the pattern (if any) that ends a chain of sole readers starting at a node. */
    private final class Matcher {
        record Match(List<Integer> nodes, List<String> inputs, Chain chain) {}

        final List<PlanNode> graph;
        final Map<String, Integer> producer;
        final Map<String, List<Integer>> readers;
        final Set<String> callerReads;

        Matcher(List<PlanNode> graph, Map<String, Integer> producer, Map<String, List<Integer>> readers, Set<String> callerReads) {
            this.graph = graph;
            this.producer = producer;
            this.readers = readers;
            this.callerReads = callerReads;
        }

        /** The only node reading {@code tensor}, or -1 (none, several, or the caller reads it too). */
        int sole(String tensor) {
            List<Integer> r = readers.getOrDefault(tensor, List.of());
            return r.size() == 1 && !callerReads.contains(tensor) ? r.get(0) : -1;
        }

        /** The DQ node producing {@code tensor} if it is per-tensor and reads an int8 tensor of its type, else -1. */
        int dequantizeOfInt8(String tensor) {
            Integer p = producer.get(tensor);
            if (p == null || !(graph.get(p).layer() instanceof DequantizeLinear dq) || !dq.params().perTensor()) return -1;
            String q = graph.get(p).inputs().get(0);
            Integer qp = producer.get(q);
            if (!int8Tensors.contains(q) || !(graph.get(qp).layer() instanceof QuantizeLinear ql)
                    || ql.params().type() != dq.params().type()) {
                return -1;
            }
            return p;
        }

        QuantParams params(int node) {
            Layer l = graph.get(node).layer();
            return l instanceof DequantizeLinear d ? d.params() : ((QuantizeLinear) l).params();
        }

        /** A per-tensor Q reading {@code tensor} alone whose output stays int8, or -1. */
        int quantizeAfter(String tensor) {
            int c = sole(tensor);
            if (c < 0 || !(graph.get(c).layer() instanceof QuantizeLinear q) || !q.params().perTensor()
                    || !int8Tensors.contains(graph.get(c).output())) {
                return -1;
            }
            return c;
        }

        Match match(int i) {
            PlanNode n = graph.get(i);
            Layer layer = n.layer();
            if (n.inputs().isEmpty()) return null;
            if (layer instanceof Conv2d) return convolution(i);
            if (layer instanceof Linear) return innerProduct(i);
            if (layer instanceof MaxPool2d || layer instanceof AvgPool2d || layer instanceof GlobalPool2d) return pooling(i);
            if (layer instanceof Binary b && b.op() == Binary.Op.ADD && n.inputs().size() == 2) return add(i);
            if (layer instanceof Activation a && a.function() == Activation.Function.RELU) return relu(i);
            return null;
        }

        /**
         * {@code DQ → ReLU → Q} where the Q's zero point is its type's minimum (u8 with zero point 0): the Q saturates
         * at real 0, so the ReLU is implied and the pattern is a requantizing reorder.
         */
        private Match relu(int i) {
            PlanNode n = graph.get(i);
            int d = dequantizeOfInt8(n.inputs().get(0));
            if (d < 0) return null;
            int q = quantizeAfter(n.output());
            if (q < 0 || params(q).zeroPoint(0) != params(q).type().min()) return null;
            return new Match(List.of(i, q), List.of(graph.get(d).inputs().get(0)),
                    new Chain(n.layer(), null, List.of(), params(d), null, List.of(), params(q)));
        }

        private Match convolution(int i) {
            PlanNode n = graph.get(i);
            int d = dequantizeOfInt8(n.inputs().get(0));
            if (d < 0) return null;
            List<Integer> taken = new ArrayList<>(List.of(i));
            String out = n.output();
            BatchNorm bn = null;
            List<Eltwise> pre = new ArrayList<>();
            int c = sole(out);
            if (c >= 0 && graph.get(c).layer() instanceof BatchNorm b) {
                bn = b;
                taken.add(c);
                out = graph.get(c).output();
            }
            out = eltwises(out, pre, taken);
            // Without a residual Add: stop at the Q, or at the last eltwise with an f32 destination.
            int q = quantizeAfter(out);
            String src = graph.get(d).inputs().get(0);
            if (q >= 0) {
                taken.add(q);
                return new Match(taken, List.of(src), new Chain(n.layer(), bn, pre, params(d), null, List.of(),
                        params(q)));
            }
            int a = sole(out);
            if (a >= 0 && graph.get(a).layer() instanceof Binary b && b.op() == Binary.Op.ADD && graph.get(a).inputs().size() == 2) {
                List<String> ins = graph.get(a).inputs();
                String other = ins.get(0).equals(out) ? ins.get(1) : ins.get(0);
                int d2 = other.equals(out) ? -1 : dequantizeOfInt8(other);
                if (d2 >= 0) {
                    List<Integer> withAdd = new ArrayList<>(taken);
                    withAdd.add(a);
                    List<Eltwise> post = new ArrayList<>();
                    String end = eltwises(graph.get(a).output(), post, withAdd);
                    int q2 = quantizeAfter(end);
                    if (q2 >= 0) {
                        withAdd.add(q2);
                        return new Match(withAdd, List.of(src, graph.get(d2).inputs().get(0)), new Chain(n.layer(), bn,
                                pre, params(d), params(d2), post, params(q2)));
                    }
                }
            }
            return new Match(taken, List.of(src), new Chain(n.layer(), bn, pre, params(d), null, List.of(), null));
        }

        private Match innerProduct(int i) {
            PlanNode n = graph.get(i);
            List<Integer> taken = new ArrayList<>(List.of(i));
            String in = n.inputs().get(0);
            Integer f = producer.get(in);
            if (f != null && sole(in) == i && (graph.get(f).layer() instanceof Flatten
                    || (graph.get(f).layer() instanceof Reshape r && r.mode() == Reshape.Mode.FLATTEN))) {
                taken.add(f);
                in = graph.get(f).inputs().get(0);
            }
            int d = dequantizeOfInt8(in);
            if (d < 0) return null;
            if (taken.size() == 2 && graph.get(taken.get(1)).layer() instanceof Reshape r && r.values()[0] != 1) return null;
            List<Eltwise> pre = new ArrayList<>();
            String out = eltwises(n.output(), pre, taken);
            int q = quantizeAfter(out);
            if (q >= 0) taken.add(q);
            return new Match(taken, List.of(graph.get(d).inputs().get(0)), new Chain(n.layer(), null, pre, params(d),
                    null, List.of(), q >= 0 ? params(q) : null));
        }

        private Match pooling(int i) {
            PlanNode n = graph.get(i);
            int d = dequantizeOfInt8(n.inputs().get(0));
            if (d < 0) return null;
            int q = quantizeAfter(n.output());
            if (q < 0 || !params(q).equals(params(d))) return null;
            // oneDNN pads the integers with 0 where the reference pads the real values with 0 (the integer zp).
            if (n.layer() instanceof AvgPool2d p && p.countIncludePad() && params(d).zeroPoint(0) != 0
                    && (p.ceilMode() || (p.padding().mode() != Padding.Mode.VALID && !p.padding().equals(Padding.symmetric(0))))) {
                return null;
            }
            return new Match(List.of(i, q), List.of(graph.get(d).inputs().get(0)),
                    new Chain(n.layer(), null, List.of(), params(d), null, List.of(), params(q)));
        }

        private Match add(int i) {
            PlanNode n = graph.get(i);
            int d0 = dequantizeOfInt8(n.inputs().get(0)), d1 = dequantizeOfInt8(n.inputs().get(1));
            if (d0 < 0 || d1 < 0) return null;
            List<Integer> taken = new ArrayList<>(List.of(i));
            List<Eltwise> post = new ArrayList<>();
            String out = eltwises(n.output(), post, taken);
            int q = quantizeAfter(out);
            if (q < 0) return null;
            taken.add(q);
            return new Match(taken, List.of(graph.get(d0).inputs().get(0), graph.get(d1).inputs().get(0)),
                    new Chain(n.layer(), null, List.of(), params(d0), params(d1), post, params(q)));
        }

        /** Follows sole readers that are eltwise operations from {@code out}; returns the last output. */
        private String eltwises(String out, List<Eltwise> into, List<Integer> taken) {
            while (true) {
                int c = sole(out);
                Eltwise e = c < 0 ? null : OneDnnPlan.eltwiseOf(graph.get(c).layer());
                if (e == null) return out;
                into.add(e);
                taken.add(c);
                out = graph.get(c).output();
            }
        }
    }

    // ---- compiling ----

    /**
     * Compiles node {@code index} of {@link #nodes()} if it is a pattern, a Q kept as an int8 tensor, or a DQ of an
     * int8 tensor; null to let the plan compile it the FP32 way.
     */
    Act compile(int index, PlanNode node) {
        Chain c = chains.get(index);
        if (c != null) {
            return switch (c.layer()) {
                case Conv2d conv -> convolution(node, c, conv);
                case Linear l -> innerProduct(node, c, l);
                case Binary b -> add(node, c);
                case Activation a -> requantize(node, c);
                default -> pooling(node, c);
            };
        }
        if (node.layer() instanceof QuantizeLinear q && int8Tensors.contains(node.output())) return quantize(node, q.params());
        if (node.layer() instanceof DequantizeLinear d) return dequantize(node, d.params());
        return null;
    }

    private static int dataType(QuantParams p) {
        return p.type() == QuantParams.Type.INT8 ? dnnl_s8() : dnnl_u8();
    }

    /** A memory descriptor of data type {@code dt} with format tag {@code tag} (or {@code dnnl_format_tag_any()}). */
    private MemorySegment md(long[] dims, int dt, int tag) {
        return plan.scope.memoryDesc(dims, tag, dt);
    }

    /** The dense row-major tag for a rank, NHWC ({@code acdb}) for rank 4 when {@code nhwc}. */
    private static int tag(int rank, boolean nhwc) {
        return switch (rank) {
            case 1 -> dnnl_a();
            case 2 -> dnnl_ab();
            case 3 -> dnnl_abc();
            case 4 -> nhwc ? dnnl_acdb() : dnnl_abcd();
            case 5 -> dnnl_abcde();
            default -> throw new IllegalArgumentException("int8 tensors of rank " + rank + " are not supported (1 to 5)");
        };
    }

    /** The int8 tensor {@code name} as {@code dt}: the act itself, or (after a Java quantize) its floats converted. */
    private Act int8(String name, int dt) {
        Act a = plan.act(name);
        int has = MemoryFormats.dataType(a.md());
        if (has == dt) return a;
        if (has != dnnl_f32()) {
            throw new IllegalStateException("tensor '" + name + "' holds data type " + has + " where " + dt + " was matched");
        }
        // Integers carried as floats (a Q that ran on the Java kernel): an exact conversion, no scale.
        long[] dims = MemoryFormats.dims(a.md());
        return plan.reorder("to " + (dt == dnnl_s8() ? "s8" : "u8"), a, md(dims, dt, tag(dims.length, true)), plan.acquire());
    }

    // Attributes: scratchpad in user mode, scales and zero points as masks, post-ops.

    /** One post-op: an eltwise, or a sum with scale, zero point and data type. */
    private record PostOp(Eltwise eltwise, float sumScale, int sumZeroPoint, int sumDataType) {
        static PostOp of(Eltwise e) {
            return new PostOp(e, 0, 0, 0);
        }

        static PostOp linear(float alpha, float beta) {
            return of(new Eltwise(dnnl_eltwise_linear(), alpha, beta, "linear(" + alpha + ", " + beta + ")"));
        }
    }

    private MemorySegment attr(List<PostOp> postOps, int[] scaleArgs, int[] scaleMasks, int[] zeroPointArgs) {
        MemorySegment slot = plan.scope.slot();
        Dnnl.check("dnnl_primitive_attr_create", dnnl_primitive_attr_create(slot));
        MemorySegment attr = plan.scope.own(slot, "dnnl_primitive_attr_destroy", h -> dnnl_primitive_attr_destroy(h));
        Dnnl.check("dnnl_primitive_attr_set_scratchpad_mode",
                dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user()));
        for (int k = 0; k < scaleArgs.length; k++) QuantAttrs.setScalesMask(attr, scaleArgs[k], scaleMasks[k]);
        for (int arg : zeroPointArgs) QuantAttrs.setZeroPointsMask(attr, arg, 0);
        if (!postOps.isEmpty()) {
            MemorySegment ps = plan.scope.slot();
            Dnnl.check("dnnl_post_ops_create", dnnl_post_ops_create(ps));
            MemorySegment po = plan.scope.own(ps, "dnnl_post_ops_destroy", h -> dnnl_post_ops_destroy(h));
            for (PostOp p : postOps) {
                if (p.eltwise() == null) {
                    Dnnl.check("dnnl_post_ops_append_sum",
                            dnnl_post_ops_append_sum(po, p.sumScale(), p.sumZeroPoint(), p.sumDataType()));
                } else {
                    Eltwise e = p.eltwise();
                    Dnnl.check("dnnl_post_ops_append_eltwise", dnnl_post_ops_append_eltwise(po, e.alg(), e.alpha(), e.beta()));
                }
            }
            Dnnl.check("dnnl_primitive_attr_set_post_ops", dnnl_primitive_attr_set_post_ops(attr, po));
        }
        return attr;
    }

    /** f32 values (scales, bias) as a constant operand. */
    private Constant floats(int arg, float[] v) {
        MemorySegment mdv = md(new long[] {v.length}, dnnl_f32(), dnnl_a());
        MemorySegment buf = plan.scope.arena().allocate(Math.max(4L * v.length, 64), 64);
        MemorySegment.copy(v, 0, buf, ValueLayout.JAVA_FLOAT, 0, v.length);
        return new Constant(arg, plan.scope.memory(mdv, plan.engine, buf));
    }

    /** One s32 zero point as a constant operand. */
    private Constant zeroPoint(int arg, int zp) {
        MemorySegment mdv = md(new long[] {1}, dnnl_s32(), dnnl_a());
        MemorySegment buf = plan.scope.arena().allocate(64, 64);
        buf.set(ValueLayout.JAVA_INT, 0, zp);
        return new Constant(arg, plan.scope.memory(mdv, plan.engine, buf));
    }

    /**
     * s8 weights (row-major, dims {@code dims}) laid out once in the layout {@code md} the primitive chose, shared with
     * the model's other plans through the plan's weight cache when it has one.
     */
    private Constant weights(byte[] w, long[] dims, MemorySegment md) {
        MemorySegment user = md(dims, dnnl_s8(), tag(dims.length, false));
        float[] key = new float[w.length]; // the cache identifies constants by float values: the integers
        for (int i = 0; i < w.length; i++) key[i] = w[i];
        MemorySegment buf = plan.constantBuffer(key, md, target -> {
            try (NativeScope tmp = new NativeScope()) {
                MemorySegment src = tmp.arena().allocate(Math.max(w.length, 1));
                MemorySegment.copy(w, 0, src, ValueLayout.JAVA_BYTE, 0, w.length);
                MemorySegment pd = new Primitives(tmp, plan.engine).reorder("int8 weights", user, md, MemorySegment.NULL);
                Dnnl.executeAndWait(tmp.primitive(pd), tmp.stream(plan.engine), Dnnl.execArgs(tmp.arena(),
                        DNNL_ARG_FROM(), tmp.memory(user, plan.engine, src), DNNL_ARG_TO(), tmp.memory(md, plan.engine, target)),
                        "int8 weights reorder");
            }
        });
        return new Constant(DNNL_ARG_WEIGHTS(), plan.scope.memory(md, plan.engine, buf));
    }

    /** Int8 weights by the shared rule, per output channel of {@code rows} values: {scales as float[], w_q as byte[]}. */
    static Object[] quantizeWeights(float[] w, int channels) {
        int per = w.length / channels;
        float[] scales = new float[channels];
        byte[] q = new byte[w.length];
        for (int c = 0; c < channels; c++) {
            float max = 0;
            for (int k = 0; k < per; k++) max = Math.max(max, Math.abs(w[c * per + k]));
            float s = max == 0 ? 1f : max / 127f;
            scales[c] = s;
            for (int k = 0; k < per; k++) {
                float v = (float) Math.rint(w[c * per + k] / s);
                q[c * per + k] = (byte) Math.max(-127, Math.min(127, v));
            }
        }
        return new Object[] {scales, q};
    }

    private static String names(List<Eltwise> e) {
        return String.join(", ", e.stream().map(Eltwise::name).toList());
    }

    private static int mask(QuantParams p) {
        return p.perTensor() ? 0 : 1 << p.axis();
    }

    /** A reorder f32 → u8/s8 with the Q's scale and zero point (null where the input is not f32). */
    private Act quantize(PlanNode node, QuantParams p) {
        return scalingReorder(node, p, true);
    }

    /** A reorder u8/s8 → f32 with the DQ's scale and zero point (null unless the input is an int8 tensor). */
    private Act dequantize(PlanNode node, QuantParams p) {
        return scalingReorder(node, p, false);
    }

    /**
     * A reorder that quantizes (f32 → u8/s8, the scales and zero point on its destination) or dequantizes (u8/s8 →
     * f32, on its source); null where the input's data type does not fit, or per-channel zero points are not all 0.
     */
    private Act scalingReorder(PlanNode node, QuantParams p, boolean quantize) {
        Act in = plan.act(node.inputs().get(0));
        int dt = MemoryFormats.dataType(in.md());
        boolean fits = quantize ? dt == dnnl_f32() : dt == dnnl_s8() || dt == dnnl_u8();
        if (!fits || (!p.perTensor() && anyNonZero(p.zeroPoints()))) return null;
        long[] dims = MemoryFormats.dims(in.md());
        if (quantize && dims.length > 5) return null;
        MemorySegment dst = quantize ? md(dims, dataType(p), tag(dims.length, true)) : md(dims, dnnl_f32(), tag(dims.length, false));
        int arg = quantize ? DNNL_ARG_DST() : DNNL_ARG_SRC();
        boolean zp = p.zeroPoint(0) != 0;
        MemorySegment attr = attr(List.of(), new int[] {arg}, new int[] {mask(p)}, zp ? new int[] {arg} : new int[0]);
        MemorySegment pd = tryReorder(in.md(), dst, attr);
        if (pd == null) return null;
        List<Constant> cs = new ArrayList<>();
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | arg, p.scales()));
        if (zp) cs.add(zeroPoint(QuantAttrs.ARG_ATTR_ZERO_POINTS | arg, p.zeroPoint(0)));
        return plan.addStep(node.name(), "reorder", pd, List.of(in), null, dst, plan.acquire(), in.shape(), cs,
                quantize ? "quantize" : "dequantize");
    }

    private MemorySegment tryReorder(MemorySegment src, MemorySegment dst, MemorySegment attr) {
        MemorySegment slot = plan.scope.slot();
        int status = dnnl_reorder_primitive_desc_create(slot, src, plan.engine, dst, plan.engine, attr);
        if (status == dnnl_unimplemented()) return null;
        Dnnl.check("dnnl_reorder_primitive_desc_create", status, "int8 reorder");
        return plan.scope.primitiveDesc(slot);
    }

    private static boolean anyNonZero(int[] v) {
        for (int x : v) if (x != 0) return true;
        return false;
    }

    private Act convolution(PlanNode node, Chain ch, Conv2d conv) {
        String name = node.name();
        int srcDt = dataType(ch.src());
        Act cur = int8(node.inputs().get(0), srcDt);
        Shape in = cur.shape();
        Shape outShape = conv.outputShape(in);
        Geometry2d g = conv.geometry(in);
        ConvAxis h = g.height(), w = g.width();
        int oc = conv.outChannels(), groups = conv.groups();
        long[] kernel = {conv.kernelHeight(), conv.kernelWidth()};
        long[] wDims = Primitives.convolutionWeightDims(groups, oc, conv.inChannels(), kernel);
        Object[] qw = quantizeWeights(conv.weights(), oc);
        float[] wScales = (float[]) qw[0];
        byte[] wq = (byte[]) qw[1];
        float[] bias = conv.bias().orElse(new float[oc]).clone();
        if (ch.bn() != null) {
            // y = a·conv + b per channel: a goes into the weight scale (its sign into the int8 weights), b into the bias.
            double[] a = ch.bn().scale(), b = ch.bn().shift();
            int per = wq.length / oc;
            for (int c = 0; c < oc; c++) {
                if (a[c] < 0) for (int k = 0; k < per; k++) wq[c * per + k] = (byte) -wq[c * per + k];
                wScales[c] = (float) (wScales[c] * Math.abs(a[c]));
                bias[c] = (float) (a[c] * bias[c] + b[c]);
            }
        }
        int dstDt = ch.out() == null ? dnnl_f32() : dataType(ch.out());
        Act sumInto = null;
        if (ch.other() != null) {
            sumInto = int8(node.inputs().get(1), dataType(ch.other()));
            boolean own = sumInto.slot().kind == Slot.BUFFER && sumInto.slot().refs == 1 && sumInto.uses == 1;
            if (!own) sumInto = plan.reorder("copy for the residual sum", sumInto, sumInto.md(), plan.acquire());
        }
        List<PostOp> post = new ArrayList<>();
        for (Eltwise e : ch.pre()) post.add(PostOp.of(e));
        if (sumInto != null) {
            post.add(new PostOp(null, ch.other().scale(0), ch.other().zeroPoint(0), dataType(ch.other())));
            for (Eltwise e : ch.post()) post.add(PostOp.of(e));
        }
        int src = DNNL_ARG_SRC(), wei = DNNL_ARG_WEIGHTS(), dst = DNNL_ARG_DST();
        boolean srcZp = ch.src().zeroPoint(0) != 0, dstZp = ch.out() != null && ch.out().zeroPoint(0) != 0;
        List<Integer> zps = new ArrayList<>();
        if (srcZp) zps.add(src);
        if (dstZp) zps.add(dst);
        int[] scaleArgs = ch.out() == null ? new int[] {src, wei} : new int[] {src, wei, dst};
        int[] masks = ch.out() == null ? new int[] {0, groups == 1 ? 1 : 3} : new int[] {0, groups == 1 ? 1 : 3, 0};
        MemorySegment attr = attr(post, scaleArgs, masks, zps.stream().mapToInt(Integer::intValue).toArray());
        MemorySegment srcAny = md(OneDnnPlan.longs(in), srcDt, dnnl_format_tag_any());
        MemorySegment wAny = md(wDims, dnnl_s8(), dnnl_format_tag_any());
        MemorySegment bMd = md(new long[] {oc}, dnnl_f32(), dnnl_a());
        MemorySegment dstAny;
        if (sumInto != null) {
            // The destination is the residual's buffer, in its layout; with another 8-bit type the convolution writes
            // its own type over the same bytes (the sum post-op reads them with the residual's type), which needs a
            // plain NHWC layout to describe both.
            dstAny = sumInto.md();
            if (MemoryFormats.dataType(dstAny) != dstDt) {
                long[] dims = MemoryFormats.dims(dstAny);
                MemorySegment nhwc = md(dims, MemoryFormats.dataType(dstAny), tag(dims.length, true));
                if (!MemoryFormats.same(nhwc, dstAny)) sumInto = plan.reorder("residual as NHWC", sumInto, nhwc, plan.acquire());
                dstAny = md(dims, dstDt, tag(dims.length, true));
            }
        } else {
            dstAny = md(OneDnnPlan.longs(outShape), dstDt, dnnl_format_tag_any());
        }
        long[] strides = {h.stride(), w.stride()}, dil = {h.dilation() - 1, w.dilation() - 1};
        long[] padL = {h.padBefore(), w.padBefore()}, padR = {h.padAfter(), w.padAfter()};
        MemorySegment pd = plan.prims().convolution(name, srcAny, wAny, bMd, dstAny, strides, dil, padL, padR, attr,
                conv.inChannels() / groups == 1, kernel);
        if (pd != null) pd = Int8ConvWorkaround.avoid(plan.prims(), pd, name, conv.inChannels(), groups, padL, padR);
        if (pd == null) {
            throw new IllegalStateException(name + ": oneDNN 3.8.1 offers no usable int8 convolution for this geometry");
        }
        Act s = plan.into("input of " + name, cur, Primitives.queryMd(pd, dnnl_query_src_md()));
        List<Constant> cs = new ArrayList<>();
        cs.add(weights(wq, wDims, Primitives.queryMd(pd, dnnl_query_weights_md())));
        cs.add(floats(DNNL_ARG_BIAS(), bias));
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | src, ch.src().scales()));
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | wei, wScales));
        if (ch.out() != null) cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | dst, ch.out().scales()));
        if (srcZp) cs.add(zeroPoint(QuantAttrs.ARG_ATTR_ZERO_POINTS | src, ch.src().zeroPoint(0)));
        if (dstZp) cs.add(zeroPoint(QuantAttrs.ARG_ATTR_ZERO_POINTS | dst, ch.out().zeroPoint(0)));
        String fused = fusedDescription(ch);
        if (sumInto == null) {
            return plan.addStep(name, "convolution", pd, List.of(s), null, Primitives.queryMd(pd, dnnl_query_dst_md()),
                    plan.acquire(), outShape, cs, fused);
        }
        Act out = plan.addStep(name, "convolution", pd, List.of(s), null, dstAny, sumInto.slot(), outShape, cs, fused);
        plan.steps.get(out.producer()).readsDst = true;
        plan.done(sumInto);
        return out;
    }

    private static String fusedDescription(Chain ch) {
        List<String> parts = new ArrayList<>();
        if (ch.bn() != null) parts.add("batch norm (in the weight scales)");
        if (!ch.pre().isEmpty()) parts.add(names(ch.pre()));
        if (ch.other() != null) parts.add("sum(" + ch.other() + ")");
        if (!ch.post().isEmpty()) parts.add(names(ch.post()));
        parts.add(ch.out() == null ? "f32 output" : "quantize(" + ch.out() + ")");
        return String.join(", ", parts);
    }

    private Act innerProduct(PlanNode node, Chain ch, Linear l) {
        String name = node.name();
        int srcDt = dataType(ch.src());
        Act cur = int8(node.inputs().get(0), srcDt);
        long[] srcDims = MemoryFormats.dims(cur.md());
        long[] wDims = srcDims.clone();
        wDims[0] = l.outFeatures();
        int oc = l.outFeatures();
        Shape outShape = Shape.of(Math.toIntExact(srcDims[0]), oc);
        long features = 1;
        for (int k = 1; k < srcDims.length; k++) features *= srcDims[k];
        if (features != l.inFeatures()) {
            throw new IllegalStateException(name + ": " + features + " input features for " + l);
        }
        Object[] qw = quantizeWeights(l.weights(), oc);
        float[] wScales = (float[]) qw[0];
        byte[] wq = (byte[]) qw[1];
        float[] bias = l.bias().orElse(new float[oc]).clone();
        int zpSrc = ch.src().zeroPoint(0);
        if (zpSrc != 0) {
            // Σ (x − zp)·w = Σ x·w − zp·Σ w: the source zero point, exactly, in the bias.
            int per = wq.length / oc;
            for (int c = 0; c < oc; c++) {
                long sum = 0;
                for (int k = 0; k < per; k++) sum += wq[c * per + k];
                bias[c] = (float) (bias[c] - (double) ch.src().scale(0) * wScales[c] * zpSrc * sum);
            }
        }
        List<PostOp> post = new ArrayList<>();
        for (Eltwise e : ch.pre()) post.add(PostOp.of(e));
        int src = DNNL_ARG_SRC(), wei = DNNL_ARG_WEIGHTS(), dst = DNNL_ARG_DST();
        int dstDt = ch.out() == null ? dnnl_f32() : dataType(ch.out());
        if (ch.out() != null && ch.out().zeroPoint(0) != 0) {
            // The destination zero point before the destination scale divides: + zp·scale.
            post.add(PostOp.linear(1f, ch.out().zeroPoint(0) * ch.out().scale(0)));
        }
        int[] scaleArgs = ch.out() == null ? new int[] {src, wei} : new int[] {src, wei, dst};
        int[] masks = ch.out() == null ? new int[] {0, 1} : new int[] {0, 1, 0};
        MemorySegment attr = attr(post, scaleArgs, masks, new int[0]);
        MemorySegment pd = plan.prims().innerProduct(name, md(srcDims, srcDt, dnnl_format_tag_any()),
                md(wDims, dnnl_s8(), dnnl_format_tag_any()), md(new long[] {oc}, dnnl_f32(), dnnl_a()),
                md(OneDnnPlan.longs(outShape), dstDt, dnnl_format_tag_any()), attr);
        Act s = plan.into("input of " + name, cur, Primitives.queryMd(pd, dnnl_query_src_md()));
        List<Constant> cs = new ArrayList<>();
        cs.add(weights(wq, wDims, Primitives.queryMd(pd, dnnl_query_weights_md())));
        cs.add(floats(DNNL_ARG_BIAS(), bias));
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | src, ch.src().scales()));
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | wei, wScales));
        if (ch.out() != null) cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | dst, ch.out().scales()));
        return plan.addStep(name, "inner_product", pd, List.of(s), null, Primitives.queryMd(pd, dnnl_query_dst_md()),
                plan.acquire(), outShape, cs, fusedDescription(ch));
    }

    private Act pooling(PlanNode node, Chain ch) {
        String name = node.name();
        Act cur = int8(node.inputs().get(0), dataType(ch.src()));
        Shape in = cur.shape();
        Layer layer = ch.layer();
        Shape outShape = layer.outputShape(in);
        int dt = dataType(ch.out());
        long[] strides, kernel, padL, padR;
        int alg;
        if (layer instanceof GlobalPool2d p) {
            alg = p.poolKind() == PoolKind.MAX ? dnnl_pooling_max() : dnnl_pooling_avg_exclude_padding();
            strides = new long[] {1, 1};
            kernel = new long[] {in.dim(2), in.dim(3)};
            padL = new long[] {0, 0};
            padR = new long[] {0, 0};
        } else {
            Geometry2d g = layer instanceof MaxPool2d m ? m.geometry(in) : ((AvgPool2d) layer).geometry(in);
            if (layer instanceof AvgPool2d a && a.countIncludePad() && a.ceilMode() && OneDnnPlan.ceilOverrun(g)) {
                throw new IllegalStateException(name + ": ceil-mode average pooling counting padding has no int8 lowering");
            }
            alg = layer instanceof MaxPool2d ? dnnl_pooling_max()
                    : ((AvgPool2d) layer).countIncludePad() ? dnnl_pooling_avg_include_padding() : dnnl_pooling_avg_exclude_padding();
            ConvAxis h = g.height(), w = g.width();
            strides = new long[] {h.stride(), w.stride()};
            kernel = new long[] {h.kernel(), w.kernel()};
            padL = new long[] {h.padBefore(), w.padBefore()};
            padR = OneDnnPlan.poolingPadR(g);
        }
        MemorySegment pd = plan.prims().pooling(name, alg, cur.md(), md(OneDnnPlan.longs(outShape), dt, dnnl_format_tag_any()),
                strides, kernel, new long[] {0, 0}, padL, padR, attr(List.of(), new int[0], new int[0], new int[0]));
        return plan.addStep(name, "pooling", pd, List.of(cur), null, Primitives.queryMd(pd, dnnl_query_dst_md()),
                plan.acquire(), outShape, List.of(), "on " + (dt == dnnl_s8() ? "s8" : "u8"));
    }

    /** {@code Q(relu(DQ(x)))} with the Q saturating at real 0: one reorder from the source's to the output's parameters. */
    private Act requantize(PlanNode node, Chain ch) {
        Act in = int8(node.inputs().get(0), dataType(ch.src()));
        long[] dims = MemoryFormats.dims(in.md());
        MemorySegment dstMd = md(dims, dataType(ch.out()), tag(dims.length, true));
        int src = DNNL_ARG_SRC(), dst = DNNL_ARG_DST();
        boolean srcZp = ch.src().zeroPoint(0) != 0, dstZp = ch.out().zeroPoint(0) != 0;
        List<Integer> zps = new ArrayList<>();
        if (srcZp) zps.add(src);
        if (dstZp) zps.add(dst);
        MemorySegment attr = attr(List.of(), new int[] {src, dst}, new int[] {0, 0},
                zps.stream().mapToInt(Integer::intValue).toArray());
        MemorySegment pd = tryReorder(in.md(), dstMd, attr);
        if (pd == null) throw new IllegalStateException(node.name() + ": oneDNN has no requantizing reorder here");
        List<Constant> cs = new ArrayList<>();
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | src, ch.src().scales()));
        cs.add(floats(QuantAttrs.ARG_ATTR_SCALES | dst, ch.out().scales()));
        if (srcZp) cs.add(zeroPoint(QuantAttrs.ARG_ATTR_ZERO_POINTS | src, ch.src().zeroPoint(0)));
        if (dstZp) cs.add(zeroPoint(QuantAttrs.ARG_ATTR_ZERO_POINTS | dst, ch.out().zeroPoint(0)));
        return plan.addStep(node.name(), "reorder", pd, List.of(in), null, dstMd, plan.acquire(), in.shape(), cs,
                "relu as the saturation of " + ch.out());
    }

    private Act add(PlanNode node, Chain ch) {
        String name = node.name();
        Act a = int8(node.inputs().get(0), dataType(ch.src()));
        Act b = int8(node.inputs().get(1), dataType(ch.other()));
        if (!a.shape().equals(b.shape())) {
            throw new IllegalStateException(name + ": int8 add of " + a.shape() + " and " + b.shape() + " (no broadcasting)");
        }
        // binary: s0·a + s1·b; then − (s0·zp0 + s1·zp1), the eltwise operations, ·(1/s_out) + zp_out.
        float s0 = ch.src().scale(0), s1 = ch.other().scale(0), so = ch.out().scale(0);
        float offset = -(s0 * ch.src().zeroPoint(0) + s1 * ch.other().zeroPoint(0));
        List<PostOp> post = new ArrayList<>();
        if (ch.post().isEmpty()) {
            post.add(PostOp.linear(1f / so, offset / so + ch.out().zeroPoint(0)));
        } else {
            if (offset != 0) post.add(PostOp.linear(1f, offset));
            for (Eltwise e : ch.post()) post.add(PostOp.of(e));
            post.add(PostOp.linear(1f / so, ch.out().zeroPoint(0)));
        }
        MemorySegment attr = attr(post, new int[] {DNNL_ARG_SRC_0(), DNNL_ARG_SRC_1()}, new int[] {0, 0}, new int[0]);
        MemorySegment dst = md(MemoryFormats.dims(a.md()), dataType(ch.out()), dnnl_format_tag_any());
        MemorySegment pd = plan.prims().binary(name, dnnl_binary_add(), a.md(), b.md(), dst, attr);
        List<Constant> cs = List.of(floats(QuantAttrs.ARG_ATTR_SCALES | DNNL_ARG_SRC_0(), new float[] {s0}),
                floats(QuantAttrs.ARG_ATTR_SCALES | DNNL_ARG_SRC_1(), new float[] {s1}));
        return plan.addStep(name, "binary", pd, List.of(a, b), new int[] {DNNL_ARG_SRC_0(), DNNL_ARG_SRC_1()},
                Primitives.queryMd(pd, dnnl_query_dst_md()), plan.acquire(), a.shape(), cs, fusedDescription(ch));
    }
}
