package dev.convnet.onnx;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
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
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@link OnnxExporter}: graphs of every layer are exported, re-imported with {@link OnnxImporter} and run on the
 * reference backend (bitwise equal to the original graph where the layers come back the same, within 1e-5 of the
 * largest output where ONNX needs other operators), and run by ONNX Runtime at batch 1 and 3 through the symbolic
 * batch (within 1e-4 of the largest output).
 */
class OnnxExporterTest {
    private static final double REIMPORT_TOLERANCE = 1e-5;
    private static final double ORT_TOLERANCE = 1e-4;
    private static final int[] BATCHES = {1, 3};

    private static OrtEnvironment ort;
    private static final List<String> report = new ArrayList<>();
    private static double worstReimport;
    private static double worstOrt;
    private static int bitwise;
    private static int approximate;

    @TempDir
    Path dir;

    @BeforeAll
    static void startOrt() {
        ort = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "convnet-exporter-test");
    }

    @AfterAll
    static void summary() {
        report.forEach(System.out::println);
        System.out.printf(Locale.ROOT, "OnnxExporterTest: %d graphs re-imported bitwise, %d within %.0e (worst %.2e);"
                + " ONNX Runtime at batch 1 and 3: worst error %.2e of the largest output%n",
                bitwise, approximate, REIMPORT_TOLERANCE, worstReimport, worstOrt);
    }

    // ---------------------------------------------------------------------------------------------- the cases

    /**
     * A graph, its input shapes without the batch, whether the re-import is bitwise, whether inputs are positive, and
     * the graph that computes what the export means at every batch size (the graph itself unless it fixes its batch
     * size, as a Reshape to a literal batch of 1 does).
     */
    private record Case(String name, Graph graph, Map<String, Shape> sample, boolean bitwise, boolean positive, Graph meaning) {
        Case(String name, Graph graph, Map<String, Shape> sample, boolean bitwise, boolean positive) {
            this(name, graph, sample, bitwise, positive, graph);
        }

        Case(String name, Graph graph, Shape sample, boolean bitwise) {
            this(name, graph, Map.of(graph.inputNames().getFirst(), sample), bitwise, false);
        }
    }

    private static Graph chain(Layer... layers) {
        return Network.of(layers).toGraph();
    }

    private static Case exact(String name, Shape sample, Layer... layers) {
        return new Case(name, chain(layers), sample, true);
    }

    private static Case approx(String name, Shape sample, Layer... layers) {
        return new Case(name, chain(layers), sample, false);
    }

    private static Case positive(String name, Shape sample, Layer... layers) {
        Graph g = chain(layers);
        return new Case(name, g, Map.of(g.inputNames().getFirst(), sample), true, true);
    }

    private static float[] values(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    private static Conv2d.Builder conv(int in, int out, int kh, int kw, long seed) {
        return Conv2d.builder(in, out, kh, kw).randomWeights(new SplittableRandom(seed));
    }

    private static BatchNorm batchNorm(int c, long seed, double epsilon) {
        float[] var = values(c, seed + 3);
        for (int i = 0; i < c; i++) var[i] = 0.5f + Math.abs(var[i]);
        return BatchNorm.of(values(c, seed), values(c, seed + 1), values(c, seed + 2), var, epsilon);
    }

    /** A binary layer against a constant operand and against a second input. */
    private static List<Case> binaries() {
        List<Case> cases = new ArrayList<>();
        for (Binary.Op op : Binary.Op.values()) {
            boolean pos = op == Binary.Op.POW || op == Binary.Op.DIV;
            Shape slope = op == Binary.Op.PRELU ? Shape.of(3, 1, 1) : Shape.of(1, 3, 1, 5);
            float[] c = values((int) slope.elementCount(), 40 + op.ordinal());
            if (pos) for (int i = 0; i < c.length; i++) c[i] = 0.5f + Math.abs(c[i]);
            Graph withConstant = Graph.builder().input("x").constant("c", slope, c)
                    .node("y", Binary.of(op), "x", "c").output("y").build();
            cases.add(new Case("binary_" + op + "_constant", withConstant, Map.of("x", Shape.of(3, 4, 5)), true, pos));
            Graph twoInputs = Graph.builder().input("a").input("b").node("y", Binary.of(op), "a", "b").output("y").build();
            cases.add(new Case("binary_" + op + "_inputs", twoInputs, Map.of("a", Shape.of(3, 4, 5), "b", Shape.of(3, 1, 5)), true, pos));
        }
        return cases;
    }

    private static List<Case> unaries() {
        List<Case> cases = new ArrayList<>();
        Shape s = Shape.of(2, 3, 4);
        for (Unary.Function f : Unary.Function.values()) {
            Unary u = switch (f) {
                case CLIP -> Unary.clip(-0.5f, 0.25f);
                case HARD_SIGMOID -> Unary.hardSigmoid(0.3f, 0.4f);
                case SELU -> Unary.of(f, 1.6732632f, 1.050701f);
                case THRESHOLDED_RELU -> Unary.of(f, 0.2f, 0f);
                default -> Unary.of(f);
            };
            boolean pos = f == Unary.Function.LOG || f == Unary.Function.SQRT || f == Unary.Function.RECIPROCAL;
            Graph g = chain(u);
            // HardSwish is x·HardSigmoid(x) at opset 13: the same function, other rounding
            cases.add(new Case("unary_" + f, g, Map.of(g.inputNames().getFirst(), s), f != Unary.Function.HARD_SWISH, pos));
        }
        cases.add(exact("unary_clip_min_only", s, Unary.clip(-0.25f, Float.POSITIVE_INFINITY)));
        cases.add(exact("unary_clip_max_only", s, Unary.clip(Float.NEGATIVE_INFINITY, 0.5f)));
        cases.add(exact("unary_relu6", s, Unary.clip(0, 6)));
        return cases;
    }

    private static List<Case> reductions() {
        List<Case> cases = new ArrayList<>();
        Shape s = Shape.of(3, 4, 5);
        for (Reduce.Kind k : Reduce.Kind.values()) {
            boolean pos = k == Reduce.Kind.LOG_SUM;
            Graph keep = chain(Reduce.of(k, new int[] {2, -1}, true));
            cases.add(new Case("reduce_" + k + "_keepdims", keep, Map.of("input", s), true, pos));
            Graph drop = chain(Reduce.of(k, new int[] {1}, false));
            cases.add(new Case("reduce_" + k, drop, Map.of("input", s), true, pos));
        }
        cases.add(exact("reduce_all_axes_to_scalar", s, Reduce.of(Reduce.Kind.MAX, new int[0], false)));
        cases.add(exact("reduce_sum_over_batch", s, Reduce.of(Reduce.Kind.SUM, new int[] {0}, true)));
        return cases;
    }

    private static List<Case> cases() {
        List<Case> c = new ArrayList<>();
        Shape img = Shape.of(4, 9, 8);
        // convolutions: groups, dilations, strides, every padding rule (explicit pads from the geometry)
        c.add(exact("conv2d_groups_dilation_stride_asymmetric", img,
                conv(4, 6, 3, 2, 1).groups(2).dilation(2, 1).stride(2, 1).padding(Padding.explicit2d(1, 0, 2, 1)).withoutBias().build()));
        c.add(exact("conv2d_depthwise_same_stride2", img, conv(4, 4, 3, 3, 2).groups(4).stride(2).padding(Padding.same()).build()));
        c.add(exact("conv2d_full", img, conv(4, 2, 2, 3, 3).padding(Padding.full()).build()));
        c.add(exact("conv2d_same_upper", img, conv(4, 3, 4, 4, 4).stride(2).padding(Padding.sameUpper()).build()));
        c.add(exact("conv2d_same_lower", img, conv(4, 3, 4, 4, 5).stride(3).padding(Padding.sameLower()).build()));
        Shape seq = Shape.of(4, 11);
        c.add(exact("conv1d_stride_dilation_groups", seq, Conv1d.builder(4, 6, 3).stride(2).dilation(2).groups(2)
                .padding(Padding.explicit(1, 2)).randomWeights(new SplittableRandom(6)).build()));
        c.add(exact("conv1d_flipped_kernel_same", seq, Conv1d.builder(4, 2, 4).trueConvolution(true).padding(Padding.same())
                .randomWeights(new SplittableRandom(7)).build()));
        // pooling
        c.add(exact("maxpool_ceil_padded", img, MaxPool2d.builder(3, 3).stride(2).padding(Padding.symmetric(1)).ceilMode(true).build()));
        c.add(exact("maxpool_ceil_unchanged", Shape.of(2, 9, 9), MaxPool2d.builder(3, 3).stride(2).ceilMode(true).build()));
        c.add(exact("maxpool_unreached_end_padding", Shape.of(2, 5, 5), MaxPool2d.builder(2, 2).stride(4)
                .padding(Padding.explicit2d(0, 0, 2, 3)).build()));
        c.add(exact("avgpool_unreached_end_padding", Shape.of(2, 5, 5), AvgPool2d.builder(2, 2).stride(4)
                .padding(Padding.explicit2d(1, 0, 2, 2)).ceilMode(true).build()));
        c.add(exact("maxpool_same_upper", img, MaxPool2d.builder(2, 3).stride(2, 1).padding(Padding.sameUpper()).build()));
        c.add(exact("avgpool_exclude_pad_ceil", img, AvgPool2d.builder(3, 3).stride(2).padding(Padding.symmetric(1))
                .countIncludePad(false).ceilMode(true).build()));
        c.add(exact("avgpool_include_pad", img, AvgPool2d.builder(3, 2).stride(2).padding(Padding.explicit2d(1, 0, 1, 1)).build()));
        c.add(exact("avgpool_include_pad_ceil", Shape.of(2, 7, 7), AvgPool2d.builder(2, 2).stride(2).ceilMode(true).build()));
        c.add(exact("global_average_pool", img, GlobalPool2d.average()));
        c.add(exact("global_max_pool", img, GlobalPool2d.max()));
        // fully connected, matrices
        c.add(exact("linear", Shape.of(12), Linear.random(12, 5, new SplittableRandom(8))));
        c.add(exact("linear_on_rank4_without_bias", Shape.of(2, 3, 2),
                Linear.of(12, 4, values(48, 9), null)));
        Graph matmul = Graph.builder().input("a").input("b").node("y", new MatMul(), "a", "b").output("y").build();
        c.add(new Case("matmul_inputs", matmul, Map.of("a", Shape.of(2, 3, 4), "b", Shape.of(2, 4, 5)), true, false));
        Graph matmulConst = Graph.builder().input("a").constant("w", Shape.of(4, 5), values(20, 10))
                .node("y", new MatMul(), "a", "w").output("y").build();
        c.add(new Case("matmul_constant", matmulConst, Map.of("a", Shape.of(3, 4)), true, false));
        // activations
        c.add(exact("activations", Shape.of(3, 5), Activation.relu(), Activation.leakyRelu(0.1f), Activation.sigmoid(),
                Activation.elu(0.7f), Activation.tanh()));
        c.add(exact("activation_elu_default", Shape.of(3, 5), Activation.elu(1f)));
        c.add(approx("activation_gelu", Shape.of(3, 5), Activation.gelu()));
        // softmax
        c.add(exact("softmax_rank2", Shape.of(7), new Softmax()));
        c.add(exact("softmax_rank4", Shape.of(3, 2, 2), new Softmax()));
        c.add(exact("axis_softmax_2", Shape.of(3, 4, 2), AxisSoftmax.of(AxisSoftmax.Function.SOFTMAX, 2, false)));
        c.add(exact("axis_log_softmax_last", Shape.of(3, 4, 2), AxisSoftmax.logSoftmax(-1)));
        c.add(exact("axis_hardmax_1", Shape.of(3, 4), AxisSoftmax.of(AxisSoftmax.Function.HARDMAX, 1, false)));
        c.add(approx("axis_softmax_coerced_2d", Shape.of(3, 4, 2), AxisSoftmax.of(AxisSoftmax.Function.SOFTMAX, 2, true)));
        c.add(approx("axis_log_softmax_coerced_2d", Shape.of(3, 4, 2), AxisSoftmax.of(AxisSoftmax.Function.LOG_SOFTMAX, 1, true)));
        // batch norm (ε exported as a float32 attribute: exact when ε is a float, as (double) 1e-3f)
        c.add(exact("batchnorm_rank4", img, batchNorm(4, 11, (double) 1e-3f)));
        c.add(exact("batchnorm_rank2", Shape.of(6), batchNorm(6, 12, 0)));
        c.add(approx("batchnorm_double_epsilon", img, batchNorm(4, 13, 1e-5)));
        // shapes
        c.add(exact("flatten", img, new Flatten()));
        // written for batch 1; exported with the batch as 0, so at batch 3 it means Reshape [0, −1]
        c.add(new Case("reshape_literal_batch", chain(Reshape.to(1, -1)), Map.of("input", Shape.of(2, 3, 4)), true, false,
                chain(Reshape.to(0, -1))));
        c.add(exact("reshape_zero_and_inferred", Shape.of(2, 3, 4), Reshape.to(0, 4, -1)));
        c.add(exact("reshape_batch_merged", Shape.of(2, 4, 4), Reshape.to(-1, 8)));
        c.add(exact("reshape_onnx_flatten_axis2", Shape.of(2, 3, 4), Reshape.flatten(2)));
        c.add(exact("reshape_onnx_flatten_axis0", Shape.of(2, 3), Reshape.flatten(0)));
        c.add(exact("squeeze", Shape.of(3, 1, 4, 1), Reshape.squeeze(2, -1)));
        c.add(exact("unsqueeze", Shape.of(3, 4), Reshape.unsqueeze(1, -1)));
        c.add(exact("identity", Shape.of(3, 4), Reshape.identity(), Activation.relu()));
        c.add(exact("transpose", Shape.of(2, 3, 4), Transpose.of(0, 2, 3, 1)));
        c.add(exact("pad_constant", img, Pad.constant(new int[] {0, 1, 2, 0}, new int[] {0, 0, 1, 3}, 0.5f)));
        c.add(exact("pad_reflect", img, Pad.of(new int[] {0, 0, 2, 1}, new int[] {0, 0, 1, 2}, Pad.Mode.REFLECT, 0)));
        c.add(exact("pad_edge", img, Pad.of(new int[] {0, 0, 1, 0}, new int[] {0, 0, 2, 3}, Pad.Mode.EDGE, 0)));
        c.add(exact("pad_negative_crops", img, Pad.constant(new int[] {0, -1, 1, -2}, new int[] {0, 0, -1, 1}, 0)));
        c.add(exact("slice_steps_and_negative_indices", img, Slice.of(new int[] {1, 3}, new long[] {1, -3},
                new long[] {Long.MAX_VALUE, -1}, new long[] {2, 1})));
        c.add(exact("slice_negative_step", img, Slice.of(new int[] {-2}, new long[] {-1}, new long[] {Long.MIN_VALUE}, new long[] {-2})));
        Graph concat = Graph.builder().input("a").input("b")
                .node("y", Concat.of(-1), "a", "b").output("y").build();
        c.add(new Case("concat_last_axis", concat, Map.of("a", Shape.of(2, 3), "b", Shape.of(2, 5)), true, false));
        // graph outputs that are an input and a constant; two nodes of one name (ONNX node names must differ)
        Graph odd = Graph.builder().input("x").constant("k", Shape.of(2), new float[] {1, 2})
                .node("same", Activation.relu(), List.of("x"), "r1")
                .node("same", Activation.tanh(), List.of("r1"), "r2")
                .output("r2", "x", "k").build();
        c.add(new Case("outputs_input_constant_and_repeated_node_name", odd, Map.of("x", Shape.of(2)), true, false));
        c.addAll(binaries());
        c.addAll(unaries());
        c.addAll(reductions());
        return c;
    }

    @TestFactory
    Stream<DynamicTest> everyLayerRoundTrips() {
        return cases().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> roundTrip(c)));
    }

    @Test
    void lecturePatternNetwork() throws Exception {
        Network net = LecturePattern.builder(Shape.of(3, 16, 16)).convsPerBlock(2).blocks(2).blockChannels(4, 8)
                .hiddenLayers(1).hiddenUnits(16).classes(5).kernelSize(3).convPadding(Padding.same()).seed(1).build();
        roundTrip(new Case("lecture_pattern", net.toGraph(), Shape.of(3, 16, 16), true));
    }

    /** conv → BN → ReLU → conv → BN → Add(shortcut) → ReLU, and a strided block with a 1×1 projection. */
    @Test
    void residualGraphWithAddAndBatchNorm() throws Exception {
        double eps = (double) 1e-5f;
        Graph g = Graph.builder().input("x")
                .node("c1", conv(4, 4, 3, 3, 21).padding(Padding.same()).withoutBias().build(), "x")
                .node("bn1", batchNorm(4, 22, eps), "c1")
                .node("r1", Activation.relu(), "bn1")
                .node("c2", conv(4, 4, 3, 3, 23).padding(Padding.same()).withoutBias().build(), "r1")
                .node("bn2", batchNorm(4, 24, eps), "c2")
                .node("sum", Binary.add(), "bn2", "x")
                .node("r2", Activation.relu(), "sum")
                .node("c3", conv(4, 8, 3, 3, 25).stride(2).padding(Padding.symmetric(1)).build(), "r2")
                .node("down", conv(4, 8, 1, 1, 26).stride(2).build(), "r2")
                .node("sum2", Binary.add(), "c3", "down")
                .node("pool", GlobalPool2d.average(), "sum2")
                .node("flat", new Flatten(), "pool")
                .node("fc", Linear.random(8, 3, new SplittableRandom(27)), "flat")
                .output("fc").build();
        roundTrip(new Case("residual", g, Shape.of(4, 8, 8), true));
    }

    /** Inception-style branches joined by Concat, and a second output. */
    @Test
    void concatBranchesAndTwoOutputs() throws Exception {
        Graph g = Graph.builder().input("x")
                .node("a", conv(3, 2, 1, 1, 31).build(), "x")
                .node("b", conv(3, 4, 3, 3, 32).padding(Padding.same()).build(), "x")
                .node("c", MaxPool2d.builder(3, 3).stride(1).padding(Padding.symmetric(1)).build(), "x")
                .node("cat", Concat.of(1), "a", "b", "c")
                .node("relu", Activation.relu(), "cat")
                .node("gap", GlobalPool2d.average(), "relu")
                .node("flat", new Flatten(), "gap")
                .node("logits", Linear.random(9, 4, new SplittableRandom(33)), "flat")
                .node("probs", new Softmax(), "logits")
                .output("probs", "cat").build();
        roundTrip(new Case("concat_branches", g, Shape.of(3, 6, 5), true));
    }

    // ---------------------------------------------------------------------------------------------- the model

    @Test
    void modelDeclaresOpsetIrVersionSymbolicBatchAndParameterNames() {
        Graph g = Graph.builder().input("x").constant("c1.weight", Shape.of(1), new float[] {2})
                .node("c1", conv(2, 3, 3, 3, 41).padding(Padding.same()).build(), "x")
                .node("bn", batchNorm(3, 42, 1e-3), "c1")
                .node("scaled", Binary.mul(), "bn", "c1.weight")
                .node("flat", new Flatten(), "scaled")
                .node("fc", Linear.random(3 * 4 * 4, 2, new SplittableRandom(43)), "flat")
                .output("fc").build();
        ModelProto m = OnnxExporter.toModel(g, Map.of("x", Shape.of(1, 2, 4, 4)), OnnxExporter.Options.defaults().withModelName("tiny"));
        assertEquals(7, m.getIrVersion());
        assertEquals(1, m.getOpsetImportCount());
        assertEquals("", m.getOpsetImport(0).getDomain());
        assertEquals(13, m.getOpsetImport(0).getVersion());
        assertEquals("convnet", m.getProducerName());
        assertEquals("tiny", m.getGraph().getName());
        assertEquals(List.of("N", "2", "4", "4"), dims(m.getGraph().getInput(0)));
        assertEquals(List.of("N", "2"), dims(m.getGraph().getOutput(0)));
        assertEquals(1, m.getGraph().getInput(0).getType().getTensorType().getElemType());
        List<String> initializers = m.getGraph().getInitializerList().stream().map(TensorProto::getName).toList();
        assertEquals(List.of("c1.weight", "c1.weight_1", "c1.bias", "bn.weight", "bn.bias", "bn.running_mean", "bn.running_var",
                "fc.weight", "fc.bias"), initializers);
        assertEquals(List.of("Conv", "BatchNormalization", "Mul", "Flatten", "Gemm"),
                m.getGraph().getNodeList().stream().map(n -> n.getOpType()).toList());
        assertEquals(List.of("x", "c1.weight_1", "c1.bias"), m.getGraph().getNode(0).getInputList());
        assertEquals("c1", m.getGraph().getNode(0).getName());

        ModelProto fixed = OnnxExporter.toModel(g, Map.of("x", Shape.of(2, 2, 4, 4)), OnnxExporter.Options.defaults().withSymbolicBatch(false));
        assertEquals(List.of("2", "2", "4", "4"), dims(fixed.getGraph().getInput(0)));
        assertEquals(List.of("2", "2"), dims(fixed.getGraph().getOutput(0)));
    }

    /** A Reshape whose target holds the batch writes 0 or −1 for it, and the batch-merged output axis is unnamed. */
    @Test
    void reshapeTargetsHoldNoLiteralBatch() {
        Graph g = Graph.builder().input("x").node("flat", Reshape.to(1, 12), "x").node("rows", Reshape.to(-1, 4), "x")
                .output("flat", "rows").build();
        ModelProto m = OnnxExporter.toModel(g, Map.of("x", Shape.of(1, 3, 4)), OnnxExporter.Options.defaults());
        assertEquals(List.of(0L, 12L), int64(m, "flat/shape"));
        assertEquals(List.of(-1L, 4L), int64(m, "rows/shape"));
        assertEquals(List.of("N", "12"), dims(m.getGraph().getOutput(0)));
        assertEquals(List.of("?", "4"), dims(m.getGraph().getOutput(1)));
    }

    // ---------------------------------------------------------------------------------------------- refusals

    @Test
    void depthPoolIsRefusedAndLeavesNoFile() throws IOException {
        Graph g = Graph.builder().input("x").node("conv", conv(4, 4, 1, 1, 51).build(), "x")
                .node("maxout", DepthPool.max(2, 2), "conv").output("maxout").build();
        Path target = dir.resolve("maxout.onnx");
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> OnnxExporter.save(g, Shape.of(1, 4, 3, 3), target));
        assertTrue(e.getMessage().contains("node 'maxout'") && e.getMessage().contains("DepthPool")
                && e.getMessage().contains("no ONNX operator"), e.getMessage());
        assertFalse(Files.exists(target));
        // an existing file is left as it was, and no temporary file stays behind
        Files.writeString(target, "previous model");
        assertThrows(UnsupportedOperationException.class, () -> OnnxExporter.save(g, Shape.of(1, 4, 3, 3), target));
        assertEquals("previous model", Files.readString(target));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList());
        }
    }

    @Test
    void saveReplacesAnExistingFileWhole() throws IOException {
        Path target = dir.resolve("model.onnx");
        Files.writeString(target, "previous model, longer than nothing at all ".repeat(100));
        Graph g = chain(Activation.relu());
        OnnxExporter.save(g, Shape.of(1, 3), target);
        assertArrayEquals(OnnxExporter.toBytes(g, Shape.of(1, 3)), Files.readAllBytes(target));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(target), files.toList());
        }
        IOException missing = assertThrows(IOException.class,
                () -> OnnxExporter.save(g, Shape.of(1, 3), dir.resolve("no-such-folder").resolve("m.onnx")));
        assertTrue(missing.getMessage().contains("no-such-folder"), missing.getMessage());
    }

    /** Squeezing every size-1 axis drops the batch at batch 1 only: not batch-independent, fine for a fixed batch. */
    @Test
    void batchDependentGraphIsRefusedForASymbolicBatch() throws Exception {
        Graph g = chain(Reshape.squeeze(), Activation.relu());
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> OnnxExporter.toBytes(g, Shape.of(1, 1, 4)));
        assertTrue(e.getMessage().contains("node 'layer1'") && e.getMessage().contains("Squeeze")
                && e.getMessage().contains("at batch 1") && e.getMessage().contains("withSymbolicBatch(false)"), e.getMessage());
        Graph concat = Graph.builder().input("x").constant("extra", Shape.of(1, 2), new float[] {1, 2})
                .node("cat", Concat.of(1), "x", "extra").output("cat").build();
        e = assertThrows(UnsupportedOperationException.class, () -> OnnxExporter.toBytes(concat, Shape.of(1, 3)));
        assertTrue(e.getMessage().contains("node 'cat'") && e.getMessage().contains("at batch 2 it does not fit"), e.getMessage());

        Path file = dir.resolve("fixed.onnx");
        OnnxExporter.save(g, Map.of("input", Shape.of(1, 1, 4)), file, OnnxExporter.Options.defaults().withSymbolicBatch(false));
        float[] x = {-1, 2, -3, 4};
        assertArrayEquals(reference(g, Map.of("input", Shape.of(1, 1, 4)), Map.of("input", x)).get("output"),
                ort(file, Map.of("input", Shape.of(1, 1, 4)), Map.of("input", x)).get("output").values());
    }

    @Test
    void preluWhoseSlopeOutgrowsTheInputIsRefused() {
        Graph g = Graph.builder().input("x").constant("slope", Shape.of(2, 3), values(6, 61))
                .node("prelu", Binary.of(Binary.Op.PRELU), "x", "slope").output("prelu").build();
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> OnnxExporter.toBytes(g, Shape.of(1, 1, 3)));
        assertTrue(e.getMessage().contains("node 'prelu'") && e.getMessage().contains("PRelu"), e.getMessage());
    }

    @Test
    void shapeErrorsNameTheNode() {
        Graph g = chain(conv(3, 2, 5, 5, 71).build());
        Exception e = assertThrows(dev.convnet.shape.ShapeException.class, () -> OnnxExporter.toBytes(g, Shape.of(1, 3, 4, 4)));
        assertTrue(e.getMessage().contains("layer 1 ") && e.getMessage().contains("Conv2d"), e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> OnnxExporter.toBytes(g, Map.of("x", Shape.of(1, 3, 8, 8)), OnnxExporter.Options.defaults()));
    }

    // ---------------------------------------------------------------------------------------------- torchvision models

    /** import → export → ONNX Runtime equals ONNX Runtime on the original (made by {@code make models}). */
    @Test
    void torchvisionModelsRoundTrip() throws Exception {
        Path models = Path.of("target/models");
        assumeTrue(Files.exists(models.resolve("resnet18_b1.onnx")), "no target/models/resnet18_b1.onnx (make models)");
        for (String model : List.of("resnet18", "mobilenet_v2")) {
            Path original = models.resolve(model + "_b1.onnx");
            if (!Files.exists(original)) continue;
            OnnxGraph imported = OnnxImporter.load(original);
            Path exported = dir.resolve(model + ".onnx");
            OnnxExporter.save(imported.graph(), imported.inputShapes(), exported);
            for (int batch : new int[] {1, 8}) {
                Path input = models.resolve(model + "_b" + batch + "_input.pb");
                Path batchModel = models.resolve(model + "_b" + batch + ".onnx");
                if (!Files.exists(input) || !Files.exists(batchModel)) continue;
                OnnxTensor x = OnnxTensor.read(input);
                Shape shape = Shape.of(Arrays.stream(x.dims()).mapToInt(Math::toIntExact).toArray());
                String in = imported.inputShapes().keySet().iterator().next();
                Map<String, Output> expected = ort(batchModel, Map.of(in, shape), Map.of(in, x.floats()));
                Map<String, Output> actual = ort(exported, Map.of(in, shape), Map.of(in, x.floats()));
                for (String name : expected.keySet()) {
                    assertArrayEquals(expected.get(name).dims(), actual.get(name).dims(), model + " " + name);
                    double err = relativeError(expected.get(name).values(), actual.get(name).values());
                    worstOrt = Math.max(worstOrt, err);
                    report.add(String.format(Locale.ROOT, "  %-45s ONNX Runtime, exported vs original at batch %d: %.2e",
                            model, batch, err));
                    assertTrue(err <= ORT_TOLERANCE, model + " batch " + batch + ": " + err);
                }
            }
        }
    }

    // ---------------------------------------------------------------------------------------------- the round trip

    /**
     * Exports for batch 1; at batch 1 and 3: the original graph and the re-imported one on the reference backend, and
     * ONNX Runtime on the file.
     */
    private void roundTrip(Case c) throws IOException, OrtException {
        Path file = dir.resolve(c.name() + ".onnx");
        OnnxExporter.save(c.graph(), at(c.sample(), 1), file);
        double reimportErr = 0;
        double[] ortErr = new double[BATCHES.length];
        for (int b = 0; b < BATCHES.length; b++) {
            Map<String, Shape> shapes = at(c.sample(), BATCHES[b]);
            Map<String, float[]> x = inputs(shapes, c.positive(), c.name().hashCode() + b);
            Map<String, float[]> expected = reference(c.meaning(), shapes, x);
            Map<String, Shape> expectedShapes = c.meaning().plan(shapes).outputShapes();
            if (BATCHES[b] == 1 && c.meaning() != c.graph()) {
                Map<String, float[]> itself = reference(c.graph(), shapes, x);
                expected.forEach((k, v) -> assertArrayEquals(v, itself.get(k), c.name() + ": the graph at batch 1"));
            }

            OnnxGraph back = OnnxImporter.load(file, shapes);
            assertEquals(expectedShapes, back.outputShapes(), c.name());
            Map<String, float[]> again = reference(back.graph(), back.inputShapes(), x);
            Map<String, Output> fromOrt = ort(file, shapes, x);
            for (String out : c.graph().outputNames()) {
                String label = c.name() + " batch " + BATCHES[b] + " output " + out;
                if (c.bitwise()) {
                    assertArrayEquals(expected.get(out), again.get(out), label + ": re-imported graph");
                } else {
                    double err = relativeError(expected.get(out), again.get(out));
                    reimportErr = Math.max(reimportErr, err);
                    assertTrue(err <= REIMPORT_TOLERANCE, label + ": re-imported graph differs by " + err);
                }
                Output o = fromOrt.get(out);
                assertArrayEquals(Arrays.stream(expectedShapes.get(out).dims()).asLongStream().toArray(), o.dims(),
                        label + ": ONNX Runtime's output shape");
                double err = relativeError(expected.get(out), o.values());
                ortErr[b] = Math.max(ortErr[b], err);
                assertTrue(err <= ORT_TOLERANCE, label + ": ONNX Runtime differs by " + err + " of the largest output");
            }
        }
        if (c.bitwise()) bitwise++;
        else approximate++;
        worstReimport = Math.max(worstReimport, reimportErr);
        for (double e : ortErr) worstOrt = Math.max(worstOrt, e);
        report.add(String.format(Locale.ROOT, "  %-45s re-import %-9s ONNX Runtime batch 1: %.2e, batch 3: %.2e", c.name(),
                c.bitwise() ? "bitwise" : String.format(Locale.ROOT, "%.2e", reimportErr), ortErr[0], ortErr[1]));
    }

    private static Map<String, Shape> at(Map<String, Shape> sample, int batch) {
        Map<String, Shape> m = new LinkedHashMap<>();
        sample.forEach((k, v) -> m.put(k, v.withBatch(batch)));
        return m;
    }

    private static Map<String, float[]> inputs(Map<String, Shape> shapes, boolean positive, long seed) {
        Map<String, float[]> m = new HashMap<>();
        SplittableRandom r = new SplittableRandom(seed);
        shapes.forEach((k, s) -> {
            float[] v = new float[(int) s.elementCount()];
            for (int i = 0; i < v.length; i++) v[i] = (float) (positive ? r.nextDouble(0.25, 2) : r.nextDouble(-2, 2));
            m.put(k, v);
        });
        return m;
    }

    private static Map<String, float[]> reference(Graph g, Map<String, Shape> shapes, Map<String, float[]> x) {
        Map<String, float[]> in = new HashMap<>();
        for (String name : g.inputNames()) in.put(name, x.get(name));
        try (Session s = g.compile(shapes, SessionOptions.defaults().withBackend(BackendKind.REFERENCE).withThreads(1))) {
            return s.run(in);
        }
    }

    /** An ONNX Runtime output: its shape and values. */
    private record Output(long[] dims, float[] values) {
    }

    private static Map<String, Output> ort(Path file, Map<String, Shape> shapes, Map<String, float[]> x) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            try (OrtSession session = ort.createSession(file.toString(), options)) {
                Map<String, ai.onnxruntime.OnnxTensor> in = new HashMap<>();
                try {
                    for (String name : session.getInputNames()) {
                        long[] dims = Arrays.stream(shapes.get(name).dims()).asLongStream().toArray();
                        in.put(name, ai.onnxruntime.OnnxTensor.createTensor(ort, FloatBuffer.wrap(x.get(name)), dims));
                    }
                    Map<String, Output> out = new LinkedHashMap<>();
                    try (OrtSession.Result r = session.run(in)) {
                        for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
                            ai.onnxruntime.OnnxTensor t = (ai.onnxruntime.OnnxTensor) e.getValue();
                            FloatBuffer b = t.getFloatBuffer();
                            float[] v = new float[b.remaining()];
                            b.get(v);
                            out.put(e.getKey(), new Output(t.getInfo().getShape(), v));
                        }
                    }
                    return out;
                } finally {
                    in.values().forEach(ai.onnxruntime.OnnxTensor::close);
                }
            }
        }
    }

    /** max |a − b| over max |a| (NaN in both at the same place counts as equal). */
    private static double relativeError(float[] expected, float[] actual) {
        assertEquals(expected.length, actual.length, "element count");
        double err = 0;
        double scale = 0;
        for (int i = 0; i < expected.length; i++) {
            if (Float.isNaN(expected[i]) && Float.isNaN(actual[i])) continue;
            if (expected[i] == actual[i]) {
                scale = Math.max(scale, Math.abs(expected[i]));
                continue; // also equal infinities
            }
            err = Math.max(err, Math.abs((double) expected[i] - actual[i]));
            if (Double.isNaN(err)) return Double.POSITIVE_INFINITY;
            scale = Math.max(scale, Math.abs(expected[i]));
        }
        return err == 0 ? 0 : err / Math.max(scale, Float.MIN_NORMAL);
    }

    private static List<String> dims(ValueInfoProto v) {
        List<String> d = new ArrayList<>();
        for (TensorShapeProto.Dimension dim : v.getType().getTensorType().getShape().getDimList()) {
            d.add(dim.hasDimParam() ? dim.getDimParam() : dim.hasDimValue() ? Long.toString(dim.getDimValue()) : "?");
        }
        return d;
    }

    private static List<Long> int64(ModelProto m, String initializer) {
        TensorProto t = m.getGraph().getInitializerList().stream().filter(i -> i.getName().equals(initializer)).findFirst().orElseThrow();
        return Arrays.stream(OnnxTensor.parse(t.toByteArray()).longs()).boxed().toList();
    }
}
