package dev.convnet.onnx;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Linear;
import dev.convnet.layer.Reshape;
import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.ints;
import static dev.convnet.onnx.OnnxTestModels.node;
import static dev.convnet.onnx.OnnxTestModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The importer on small models built with the protobuf builders, run on the Java and reference backends. */
class OnnxImporterTest {
    private static OnnxModel read(GraphProto.Builder g, long opset) {
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("convnet-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(g).build();
        return OnnxModelReader.read(m.toByteArray());
    }

    private static TensorProto longs(String name, long[] dims, long... values) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(7);
        for (long d : dims) t.addDims(d);
        for (long v : values) t.addInt64Data(v);
        return t.build();
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT_VALUE).setI(v).build();
    }

    private static AttributeProto floatAttr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT_VALUE).setF(v).build();
    }

    private static float[] random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(-3, 4);
        return v;
    }

    private static Map<String, float[]> run(OnnxGraph g, BackendKind kind, Map<String, float[]> in) {
        try (Session s = g.compile(SessionOptions.defaults().withBackend(kind).withThreads(2))) {
            return s.run(in);
        }
    }

    @Test
    void residualAdd() {
        float[] w = random(2 * 2 * 9, 1);
        GraphProto.Builder g = GraphProto.newBuilder().setName("residual")
                .addInput(floatInput("x", 1, 2, 4, 4)).addOutput(floatInput("y", 1, 2, 4, 4))
                .addInitializer(rawFloats("W", new long[] {2, 2, 3, 3}, w))
                .addNode(node("conv", "Conv", new String[] {"x", "W"}, "c").addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("relu", "Relu", new String[] {"c"}, "r"))
                .addNode(node("add", "Add", new String[] {"r", "x"}, "y"));
        OnnxGraph og = OnnxImporter.importModel(read(g, 13), Map.of(), Map.of());
        assertEquals(Map.of("x", Shape.of(1, 2, 4, 4)), og.inputShapes());
        float[] x = random(32, 2);
        Conv2d conv = Conv2d.builder(2, 2, 3).padding(Padding.symmetric(1)).weights(w).build();
        float[] branch;
        try (Session s = Network.of(conv, Activation.relu()).compile(Shape.of(1, 2, 4, 4), BackendKind.REFERENCE)) {
            branch = s.run(x);
        }
        for (int i = 0; i < branch.length; i++) branch[i] += x[i];
        for (BackendKind kind : new BackendKind[] {BackendKind.JAVA, BackendKind.REFERENCE}) {
            assertArrayEquals(branch, run(og, kind, Map.of("x", x)).get("y"), kind.toString());
        }
        GraphSummary plan = og.plan();
        assertEquals(3, plan.rows().size());
        assertEquals("conv", plan.rows().getFirst().name());
    }

    @Test
    void concatOfTwoBranches() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("inception")
                .addInput(floatInput("x", 1, 2, 3, 3)).addOutput(floatInput("y", 1, 4, 3, 3))
                .addInitializer(rawFloats("A", new long[] {1, 2, 1, 1}, 1, 1))
                .addInitializer(rawFloats("B", new long[] {3, 2, 1, 1}, 1, 0, 0, 1, 2, -1))
                .addNode(node("a", "Conv", new String[] {"x", "A"}, "ya"))
                .addNode(node("b", "Conv", new String[] {"x", "B"}, "yb"))
                .addNode(node("cat", "Concat", new String[] {"ya", "yb"}, "y").addAttribute(intAttr("axis", 1)));
        OnnxGraph og = OnnxImporter.importModel(read(g, 13), Map.of(), Map.of());
        float[] x = random(18, 3);
        float[] y = run(og, BackendKind.JAVA, Map.of("x", x)).get("y");
        for (int p = 0; p < 9; p++) {
            float c0 = x[p], c1 = x[9 + p];
            assertEquals(c0 + c1, y[p]);
            assertEquals(c0, y[9 + p]);
            assertEquals(c1, y[18 + p]);
            assertEquals(2 * c0 - c1, y[27 + p]);
        }
        assertEquals(Shape.of(1, 4, 3, 3), og.outputShapes().get("y"));
    }

    @Test
    void gemmWithTransposedConstantBBecomesLinear() {
        float[] b = random(12, 4); // [4, 3] with transB = 1
        GraphProto.Builder g = GraphProto.newBuilder().setName("fc")
                .addInput(floatInput("x", 2, 3)).addOutput(floatInput("y", 2, 4))
                .addInitializer(rawFloats("B", new long[] {4, 3}, b))
                .addInitializer(rawFloats("C", new long[] {4}, 1, 2, 3, 4))
                .addNode(node("gemm", "Gemm", new String[] {"x", "B", "C"}, "y").addAttribute(intAttr("transB", 1))
                        .addAttribute(floatAttr("alpha", 2f)).addAttribute(floatAttr("beta", 0.5f)));
        OnnxGraph og = OnnxImporter.importModel(read(g, 11), Map.of(), Map.of());
        assertInstanceOf(Linear.class, og.plan().rows().getFirst().layer());
        float[] x = random(6, 5);
        float[] y = run(og, BackendKind.REFERENCE, Map.of("x", x)).get("y");
        for (int n = 0; n < 2; n++) {
            for (int k = 0; k < 4; k++) {
                double e = 0.5 * (k + 1);
                for (int d = 0; d < 3; d++) e += 2.0 * x[n * 3 + d] * b[k * 3 + d];
                assertEquals((float) e, y[n * 4 + k]);
            }
        }
        // B at run time: MatMul, scale and bias as separate nodes, same numbers
        GraphProto.Builder dyn = GraphProto.newBuilder().setName("gemm")
                .addInput(floatInput("x", 2, 3)).addInput(floatInput("B", 4, 3)).addOutput(floatInput("y", 2, 4))
                .addInitializer(rawFloats("C", new long[] {4}, 1, 2, 3, 4))
                .addNode(node("gemm", "Gemm", new String[] {"x", "B", "C"}, "y").addAttribute(intAttr("transB", 1))
                        .addAttribute(floatAttr("alpha", 2f)).addAttribute(floatAttr("beta", 0.5f)));
        OnnxGraph og2 = OnnxImporter.importModel(read(dyn, 11), Map.of(), Map.of());
        assertArrayEquals(y, run(og2, BackendKind.JAVA, Map.of("x", x, "B", b)).get("y"));
    }

    @Test
    void shapeSubgraphIsFoldedIntoOneReshape() {
        // torchvision's flatten: Shape → Gather(0) → Unsqueeze → Concat(-1) → Reshape, then Flatten(axis 2) on the side
        GraphProto.Builder g = GraphProto.newBuilder().setName("flatten")
                .addInput(floatInput("x", 1, 2, 3, 4)).addOutput(floatInput("y", 1, 24)).addOutput(floatInput("z", 2, 12))
                .addInitializer(longs("zero", new long[0], 0))
                .addInitializer(longs("axes0", new long[] {1}, 0))
                .addInitializer(longs("minus1", new long[] {1}, -1))
                .addNode(node("shape", "Shape", new String[] {"x"}, "s"))
                .addNode(node("gather", "Gather", new String[] {"s", "zero"}, "n").addAttribute(intAttr("axis", 0)))
                .addNode(node("unsq", "Unsqueeze", new String[] {"n", "axes0"}, "n1"))
                .addNode(node("cat", "Concat", new String[] {"n1", "minus1"}, "target").addAttribute(intAttr("axis", 0)))
                .addNode(node("reshape", "Reshape", new String[] {"x", "target"}, "y"))
                .addNode(node("flat", "Flatten", new String[] {"x"}, "f").addAttribute(intAttr("axis", 2)))
                .addNode(node("id", "Identity", new String[] {"f"}, "z"));
        OnnxGraph og = OnnxImporter.importModel(read(g, 13), Map.of(), Map.of());
        GraphSummary plan = og.plan();
        assertEquals(2, plan.rows().size(), plan.table());
        assertInstanceOf(Reshape.class, plan.rows().getFirst().layer());
        assertEquals(Shape.of(1, 24), og.outputShapes().get("y"));
        assertEquals(Shape.of(2, 12), og.outputShapes().get("z"));
        float[] x = random(24, 6);
        Map<String, float[]> out = run(og, BackendKind.JAVA, Map.of("x", x));
        assertArrayEquals(x, out.get("y"));
        assertArrayEquals(x, out.get("z"));
    }

    @Test
    void dynamicBatchAndInitializersListedAsInputs() {
        GraphProto.Builder g = OnnxTestModels.convGraph();
        g.setInput(0, floatInput("x", 1, 1, 4, 4).toBuilder().setType(floatInput("x", 1, 1, 4, 4).getType().toBuilder()
                .setTensorType(floatInput("x", 1, 1, 4, 4).getType().getTensorType().toBuilder()
                        .setShape(floatInput("x", 1, 1, 4, 4).getType().getTensorType().getShape().toBuilder()
                                .setDim(0, dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto.Dimension.newBuilder().setDimParam("N"))))));
        g.addInput(floatInput("W", 1, 1, 3, 3)); // IR < 4 style: the initializer is also listed as an input
        OnnxModel m = read(g, 9);
        OnnxGraph og = OnnxImporter.importModel(m, Map.of(), Map.of());
        assertEquals(Map.of("x", Shape.of(1, 1, 4, 4)), og.inputShapes());
        OnnxGraph batch3 = OnnxImporter.importModel(m, Map.of("x", Shape.of(3, 1, 4, 4)), Map.of());
        assertEquals(Shape.of(3, 1, 4, 4), batch3.outputShapes().get("y"));
    }

    @Test
    void unsupportedOperatorsAndTypesAreNamed() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("lstm")
                .addInput(floatInput("x", 1, 4)).addOutput(floatInput("y", 1, 4))
                .addNode(node("my_rnn", "LSTM", new String[] {"x"}, "y"));
        OnnxUnsupportedException e = assertThrows(OnnxUnsupportedException.class,
                () -> OnnxImporter.importModel(read(g, 14), Map.of(), Map.of()));
        assertTrue(e.getMessage().startsWith("LSTM at opset 14 is not supported (node 'my_rnn')"), e.getMessage());
        GraphProto.Builder dynamicWeights = GraphProto.newBuilder().setName("conv")
                .addInput(floatInput("x", 1, 1, 4, 4)).addInput(floatInput("w", 1, 1, 3, 3)).addOutput(floatInput("y", 1, 1, 2, 2))
                .addNode(node("c", "Conv", new String[] {"x", "w"}, "y"));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxImporter.importModel(read(dynamicWeights, 13), Map.of(), Map.of()));
        assertTrue(e.getMessage().contains("Conv weights computed at run time"), e.getMessage());
        GraphProto.Builder badShapes = GraphProto.newBuilder().setName("add")
                .addInput(floatInput("a", 2, 3)).addInput(floatInput("b", 2, 4)).addOutput(floatInput("y", 2, 3))
                .addNode(node("sum", "Add", new String[] {"a", "b"}, "y"));
        dev.convnet.shape.ShapeException se = assertThrows(dev.convnet.shape.ShapeException.class,
                () -> OnnxImporter.importModel(read(badShapes, 13), Map.of(), Map.of()));
        assertTrue(se.getMessage().contains("'sum'") && se.getMessage().contains("3 vs 4"), se.getMessage());
    }

    @Test
    void clipAndPadParametersFromInputsAndAttributes() {
        // opset 11+: Clip's bounds are inputs; before, attributes
        GraphProto.Builder g11 = GraphProto.newBuilder().setName("relu6")
                .addInput(floatInput("x", 1, 4)).addOutput(floatInput("y", 1, 6))
                .addInitializer(rawFloats("lo", new long[0], 0f)).addInitializer(rawFloats("hi", new long[0], 6f))
                .addInitializer(longs("pads", new long[] {4}, 0, 1, 0, 1))
                .addNode(node("clip", "Clip", new String[] {"x", "lo", "hi"}, "c"))
                .addNode(node("pad", "Pad", new String[] {"c", "pads"}, "y"));
        float[] y = run(OnnxImporter.importModel(read(g11, 13), Map.of(), Map.of()), BackendKind.JAVA,
                Map.of("x", new float[] {-1, 3, 7, 6})).get("y");
        assertArrayEquals(new float[] {0, 0, 3, 6, 6, 0}, y);
        GraphProto.Builder g6 = GraphProto.newBuilder().setName("relu6")
                .addInput(floatInput("x", 1, 4)).addOutput(floatInput("y", 1, 4))
                .addNode(node("clip", "Clip", new String[] {"x"}, "y").addAttribute(floatAttr("min", 0)).addAttribute(floatAttr("max", 6)));
        assertArrayEquals(new float[] {0, 3, 6, 6}, run(OnnxImporter.importModel(read(g6, 6), Map.of(), Map.of()),
                BackendKind.REFERENCE, Map.of("x", new float[] {-1, 3, 7, 6})).get("y"));
    }
}
