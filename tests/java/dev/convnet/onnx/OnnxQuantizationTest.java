package dev.convnet.onnx;

import com.google.protobuf.ByteString;
import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Linear;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import dev.convnet.quant.PerChannelWeights;
import dev.convnet.quant.PostTrainingQuantizer;
import dev.convnet.quant.QuantizedGraph;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;

import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.ints;
import static dev.convnet.onnx.OnnxTestModels.node;
import static dev.convnet.onnx.OnnxTestModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Q/DQ import (QuantizeLinear, DequantizeLinear, QLinearConv, folded int8 initializers, 8-bit inputs and outputs) and
 * export, each checked against ONNX Runtime. ONNX Runtime without graph optimizations computes a Q/DQ model as written
 * (float convolution, then rounding), so convnet must agree within one quantization step of the output (a rounding
 * tie decided by the last bit of a float sum may go either way); with its optimizations it runs int8 kernels.
 */
class OnnxQuantizationTest {
    private static final SessionOptions JAVA = SessionOptions.defaults().withBackend(BackendKind.JAVA).withThreads(1);

    @TempDir
    Path dir;

    // ------------------------------------------------------------------------------------------------ model builders

    private static ValueInfoProto typedInput(String name, OnnxDataType type, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(type.code()).setShape(shape))).build();
    }

    private static TensorProto bytes(String name, OnnxDataType type, long[] dims, int... values) {
        long[] v = new long[values.length];
        for (int i = 0; i < v.length; i++) v[i] = values[i];
        return OnnxTensor.ofBytes(name, type, dims, v).toProto();
    }

    private static TensorProto int32s(String name, long[] dims, int... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (int v : values) b.putInt(v);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(OnnxDataType.INT32.code()).setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) t.addDims(d);
        return t.build();
    }

    private static AttributeProto intAttr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT_VALUE).setI(v).build();
    }

    private static byte[] model(GraphProto.Builder g, int opset) {
        return ModelProto.newBuilder().setIrVersion(7).setProducerName("convnet-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset)).setGraph(g).build().toByteArray();
    }

    private static float[] random(SplittableRandom r, int n, double lo, double hi) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (lo + (hi - lo) * r.nextDouble());
        return v;
    }

    private static int[] randomInts(SplittableRandom r, int n, int lo, int hi) {
        int[] v = new int[n];
        for (int i = 0; i < n; i++) v[i] = r.nextInt(lo, hi + 1);
        return v;
    }

    private static float[] convnet(byte[] model, String input, Shape shape, float[] x, String output) {
        OnnxGraph g = OnnxImporter.importModel(OnnxModelReader.read(model), Map.of(input, shape), Map.of());
        try (Session s = g.compile(JAVA)) {
            return s.run(Map.of(input, x)).get(output);
        }
    }

    private static long[] dims(Shape s) {
        return java.util.Arrays.stream(s.dims()).asLongStream().toArray();
    }

    // ------------------------------------------------------------------------------------------------ import

    /** x → Q(uint8) → DQ → Conv(DQ(int8 W, per channel), float B) → Relu → Q → DQ → y, weights folded at import. */
    private static GraphProto.Builder qdqConv(int[] w, float[] wScales, float[] bias) {
        return GraphProto.newBuilder().setName("qdq_conv")
                .addInput(floatInput("x", 1, 2, 6, 6))
                .addOutput(floatInput("y", 1, 3, 6, 6))
                .addInitializer(rawFloats("x_scale", new long[0], 0.02f))
                .addInitializer(bytes("x_zp", OnnxDataType.UINT8, new long[0], 100))
                .addInitializer(bytes("W_q", OnnxDataType.INT8, new long[] {3, 2, 3, 3}, w))
                .addInitializer(rawFloats("W_scale", new long[] {3}, wScales))
                .addInitializer(bytes("W_zp", OnnxDataType.INT8, new long[] {3}, 0, 0, 0))
                .addInitializer(rawFloats("B", new long[] {3}, bias))
                .addInitializer(rawFloats("y_scale", new long[0], 0.05f))
                .addInitializer(bytes("y_zp", OnnxDataType.UINT8, new long[0], 0))
                .addNode(node("qx", "QuantizeLinear", new String[] {"x", "x_scale", "x_zp"}, "xq"))
                .addNode(node("dqx", "DequantizeLinear", new String[] {"xq", "x_scale", "x_zp"}, "xf"))
                .addNode(node("dqw", "DequantizeLinear", new String[] {"W_q", "W_scale", "W_zp"}, "W").addAttribute(intAttr("axis", 0)))
                .addNode(node("conv", "Conv", new String[] {"xf", "W", "B"}, "c").addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("relu", "Relu", new String[] {"c"}, "r"))
                .addNode(node("qy", "QuantizeLinear", new String[] {"r", "y_scale", "y_zp"}, "yq"))
                .addNode(node("dqy", "DequantizeLinear", new String[] {"yq", "y_scale", "y_zp"}, "y"));
    }

    @Test
    void qdqConvolutionWithFoldedInt8WeightsMatchesOnnxRuntime() throws Exception {
        SplittableRandom r = new SplittableRandom(5);
        int[] w = randomInts(r, 54, -127, 127);
        float[] wScales = {0.004f, 0.01f, 0.0025f};
        byte[] m = model(qdqConv(w, wScales, new float[] {0.1f, -0.2f, 0.05f}), 13);
        OnnxGraph g = OnnxImporter.importModel(OnnxModelReader.read(m), Map.of(), Map.of());
        // the weights' DequantizeLinear is folded: the conv holds (q − 0)·scale_c as float weights
        List<String> kinds = g.graph().nodes().stream().map(n -> n.layer().getClass().getSimpleName()).toList();
        assertEquals(List.of("QuantizeLinear", "DequantizeLinear", "Conv2d", "Activation", "QuantizeLinear", "DequantizeLinear"), kinds);
        float[] folded = ((Conv2d) g.graph().nodes().get(2).layer()).weights();
        for (int i = 0; i < w.length; i++) assertEquals(w[i] * wScales[i / 18], folded[i], 0f);
        float[] x = random(r, 72, -1.5, 3);
        float[] ours = convnet(m, "x", Shape.of(1, 2, 6, 6), x, "y");
        float[] plain = OrtRunner.run(m, Map.of("x", new long[] {1, 2, 6, 6}), Map.of("x", x), Map.of(), false).get("y");
        float[] fused = OrtRunner.run(m, Map.of("x", new long[] {1, 2, 6, 6}), Map.of("x", x), Map.of(), true).get("y");
        double d1 = OrtRunner.maxAbsDiff(ours, plain);
        double d2 = OrtRunner.maxAbsDiff(ours, fused);
        System.out.printf(Locale.ROOT, "Q/DQ conv vs ONNX Runtime: max |diff| %.3g (as written), %.3g (int8 kernels); output step 0.05%n", d1, d2);
        assertTrue(d1 <= 0.05 * 1.0001, "as written: " + d1);
        assertTrue(d2 <= 0.05 * 1.0001, "int8 kernels: " + d2);
    }

    @Test
    void int32BiasDequantizedPerChannelIsFoldedIntoTheConvBias() throws Exception {
        SplittableRandom r = new SplittableRandom(6);
        float[] wScales = {0.004f, 0.01f, 0.0025f};
        GraphProto.Builder g = qdqConv(randomInts(r, 54, -127, 127), wScales, new float[3]);
        // replace the float bias by DequantizeLinear(INT32 B_q, scale x_scale·w_scale_c, axis 0), as ONNX Runtime writes it
        for (int i = 0; i < g.getInitializerCount(); i++) if (g.getInitializer(i).getName().equals("B")) g.removeInitializer(i);
        int[] bq = {1200, -3400, 560};
        float[] bs = {0.02f * wScales[0], 0.02f * wScales[1], 0.02f * wScales[2]};
        g.addInitializer(int32s("B_q", new long[] {3}, bq)).addInitializer(rawFloats("B_scale", new long[] {3}, bs))
                .addNode(0, node("dqb", "DequantizeLinear", new String[] {"B_q", "B_scale"}, "B").addAttribute(intAttr("axis", 0)));
        byte[] m = model(g, 13);
        OnnxGraph imported = OnnxImporter.importModel(OnnxModelReader.read(m), Map.of(), Map.of());
        Conv2d conv = (Conv2d) imported.graph().nodes().stream().filter(n -> n.layer() instanceof Conv2d).findFirst().orElseThrow().layer();
        float[] bias = conv.bias().orElseThrow();
        for (int c = 0; c < 3; c++) assertEquals(bq[c] * bs[c], bias[c], Math.ulp(bias[c]));
        float[] x = random(r, 72, -1.5, 3);
        float[] ours = convnet(m, "x", Shape.of(1, 2, 6, 6), x, "y");
        float[] plain = OrtRunner.run(m, Map.of("x", new long[] {1, 2, 6, 6}), Map.of("x", x), Map.of(), false).get("y");
        assertTrue(OrtRunner.maxAbsDiff(ours, plain) <= 0.05 * 1.0001, "as written: " + OrtRunner.maxAbsDiff(ours, plain));
        // an INT32 DequantizeLinear with several scales before opset 13 (no axis) is refused
        GraphProto.Builder old = GraphProto.newBuilder().setName("old").addInput(floatInput("x", 1, 3)).addOutput(floatInput("y", 1, 3))
                .addInitializer(int32s("q", new long[] {3}, 1, 2, 3)).addInitializer(rawFloats("s", new long[] {3}, 0.1f, 0.2f, 0.3f))
                .addNode(node("dq", "DequantizeLinear", new String[] {"q", "s"}, "b"))
                .addNode(node("add", "Add", new String[] {"x", "b"}, "y"));
        OnnxUnsupportedException e = assertThrows(OnnxUnsupportedException.class,
                () -> OnnxImporter.importModel(OnnxModelReader.read(model(old, 10)), Map.of(), Map.of()));
        assertTrue(e.getMessage().contains("3 values"), e.getMessage());
    }

    @Test
    void eightBitInputsAndOutputsFlowAsFloatsAtOpset10() throws Exception {
        // uint8 x → DequantizeLinear (opset 10: per tensor) → QuantizeLinear int8 → int8 output
        GraphProto.Builder g = GraphProto.newBuilder().setName("requantize")
                .addInput(typedInput("x", OnnxDataType.UINT8, 2, 5))
                .addOutput(typedInput("y", OnnxDataType.INT8, 2, 5))
                .addInitializer(rawFloats("s1", new long[0], 0.1f))
                .addInitializer(bytes("z1", OnnxDataType.UINT8, new long[0], 128))
                .addInitializer(rawFloats("s2", new long[0], 0.07f))
                .addInitializer(bytes("z2", OnnxDataType.INT8, new long[0], -3))
                .addNode(node("dq", "DequantizeLinear", new String[] {"x", "s1", "z1"}, "f"))
                .addNode(node("q", "QuantizeLinear", new String[] {"f", "s2", "z2"}, "y"));
        byte[] m = model(g, 10);
        float[] x = new float[10];
        for (int i = 0; i < 10; i++) x[i] = i * 28; // 0 … 252
        try (OnnxModelSession s = OnnxModelSession.open(OnnxModelReader.read(m), JAVA, 1)) {
            float[] y = s.run(x, Shape.of(2, 5));
            float[] expected = OrtRunner.run(m, Map.of("x", new long[] {2, 5}), Map.of("x", x), Map.of("x", OnnxDataType.UINT8), false).get("y");
            assertArrayEquals(expected, y);
            assertEquals(-128f, y[0]); // round((0 − 128)·0.1 / 0.07) − 3 = −186: saturated
            assertEquals(14f, y[5]);   // round((140 − 128)·0.1 / 0.07) − 3 = 17 − 3
            assertEquals(127f, y[9]);  // round((252 − 128)·0.1 / 0.07) − 3 = 174: saturated
        }
    }

    @Test
    void qlinearConvWithInt32BiasAndPerChannelScalesMatchesOnnxRuntime() throws Exception {
        SplittableRandom r = new SplittableRandom(9);
        int[] w = randomInts(r, 4 * 3 * 3 * 3, -100, 100);
        float xs = 0.03f, ys = 0.08f;
        float[] ws = {0.01f, 0.02f, 0.005f, 0.015f};
        GraphProto.Builder g = GraphProto.newBuilder().setName("qlinearconv")
                .addInput(typedInput("x", OnnxDataType.UINT8, 1, 3, 5, 5))
                .addOutput(typedInput("y", OnnxDataType.UINT8, 1, 4, 3, 3))
                .addInitializer(rawFloats("xs", new long[0], xs))
                .addInitializer(bytes("xz", OnnxDataType.UINT8, new long[0], 120))
                .addInitializer(bytes("w", OnnxDataType.INT8, new long[] {4, 3, 3, 3}, w))
                .addInitializer(rawFloats("ws", new long[] {4}, ws))
                .addInitializer(bytes("wz", OnnxDataType.INT8, new long[] {4}, 0, 0, 0, 0))
                .addInitializer(rawFloats("ys", new long[0], ys))
                .addInitializer(bytes("yz", OnnxDataType.UINT8, new long[0], 128))
                .addInitializer(int32s("b", new long[] {4}, 500, -1200, 0, 3000))
                .addNode(node("qc", "QLinearConv", new String[] {"x", "xs", "xz", "w", "ws", "wz", "ys", "yz", "b"}, "y"));
        byte[] m = model(g, 10);
        float[] x = new float[75];
        int[] xi = randomInts(r, 75, 0, 255);
        for (int i = 0; i < 75; i++) x[i] = xi[i];
        float[] ours = convnet(m, "x", Shape.of(1, 3, 5, 5), x, "y");
        // by hand: y = saturate(round((Σ (x − 120)·w·xs·ws_c + b_c·xs·ws_c) / ys) + 128)
        for (int c = 0; c < 4; c++) {
            for (int p = 0; p < 9; p++) {
                int oy = p / 3, ox = p % 3;
                double acc = 0;
                for (int ci = 0; ci < 3; ci++) for (int ky = 0; ky < 3; ky++) for (int kx = 0; kx < 3; kx++) {
                    acc += (xi[ci * 25 + (oy + ky) * 5 + ox + kx] - 120) * w[((c * 3 + ci) * 3 + ky) * 3 + kx];
                }
                int[] bias = {500, -1200, 0, 3000};
                double real = (acc + bias[c]) * xs * ws[c];
                double q = Math.max(0, Math.min(255, Math.rint(real / ys) + 128));
                assertEquals(q, ours[c * 9 + p], 1.0, "channel " + c + " position " + p); // ±1: float vs exact sums
            }
        }
        float[] ort = OrtRunner.run(m, Map.of("x", new long[] {1, 3, 5, 5}), Map.of("x", x), Map.of("x", OnnxDataType.UINT8), true).get("y");
        assertTrue(OrtRunner.maxAbsDiff(ours, ort) <= 1, "QLinearConv differs from ONNX Runtime by more than 1: " + OrtRunner.maxAbsDiff(ours, ort));
    }

    @Test
    void unsupportedQuantizationIsRefusedWithTheReason() {
        // an int16 zero point
        GraphProto.Builder g16 = GraphProto.newBuilder().setName("int16")
                .addInput(floatInput("x", 4)).addOutput(floatInput("y", 4))
                .addInitializer(rawFloats("s", new long[0], 0.1f))
                .addInitializer(TensorProto.newBuilder().setName("z").setDataType(OnnxDataType.INT16.code()).setRawData(ByteString.copyFrom(new byte[2])))
                .addNode(node("q", "QuantizeLinear", new String[] {"x", "s", "z"}, "q"))
                .addNode(node("dq", "DequantizeLinear", new String[] {"q", "s", "z"}, "y"));
        OnnxUnsupportedException e = assertThrows(OnnxUnsupportedException.class,
                () -> OnnxImporter.importModel(OnnxModelReader.read(model(g16, 13)), Map.of(), Map.of()));
        assertTrue(e.getMessage().contains("INT16"), e.getMessage());
        // per-axis scales before opset 13
        GraphProto.Builder axis = GraphProto.newBuilder().setName("axis10")
                .addInput(floatInput("x", 1, 2)).addOutput(typedInput("y", OnnxDataType.UINT8, 1, 2))
                .addInitializer(rawFloats("s", new long[] {2}, 0.1f, 0.2f))
                .addNode(node("q", "QuantizeLinear", new String[] {"x", "s"}, "y"));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxImporter.importModel(OnnxModelReader.read(model(axis, 10)), Map.of(), Map.of()));
        assertTrue(e.getMessage().contains("2 values"), e.getMessage());
        // arithmetic on 8-bit integers (ONNX computes it in integers)
        GraphProto.Builder add = GraphProto.newBuilder().setName("add")
                .addInput(typedInput("a", OnnxDataType.UINT8, 3)).addInput(typedInput("b", OnnxDataType.UINT8, 3))
                .addOutput(typedInput("y", OnnxDataType.UINT8, 3))
                .addNode(node("add", "Add", new String[] {"a", "b"}, "y"));
        e = assertThrows(OnnxUnsupportedException.class, () -> OnnxImporter.importModel(OnnxModelReader.read(model(add, 13)), Map.of(), Map.of()));
        assertTrue(e.getMessage().contains("UINT8"), e.getMessage());
        // per-axis parameters that do not fit the axis
        GraphProto.Builder misfit = GraphProto.newBuilder().setName("misfit")
                .addInput(floatInput("x", 1, 3, 2)).addOutput(typedInput("y", OnnxDataType.UINT8, 1, 3, 2))
                .addInitializer(rawFloats("s", new long[] {2}, 0.1f, 0.2f))
                .addNode(node("q", "QuantizeLinear", new String[] {"x", "s"}, "y"));
        RuntimeException m = assertThrows(RuntimeException.class, () -> OnnxImporter.importModel(OnnxModelReader.read(model(misfit, 13)), Map.of(), Map.of()));
        assertTrue(m.getMessage().contains("axis 1") && m.getMessage().contains("2 scales"), m.getMessage());
    }

    // ------------------------------------------------------------------------------------------------ export

    private static Graph qdqGraph(SplittableRandom r) {
        QuantParams in = QuantParams.perTensor(0.03f, 90, QuantParams.Type.UINT8);
        float[] w = PerChannelWeights.quantize(random(r, 4 * 2 * 9, -0.6, 0.6), 4);
        Conv2d conv = Conv2d.builder(2, 4, 3).padding(Padding.same()).weights(w).bias(random(r, 4, -0.1, 0.1)).build();
        QuantParams mid = new QuantParams(new float[] {0.02f, 0.04f, 0.03f, 0.05f}, new int[] {-10, 0, 5, -128}, 1, QuantParams.Type.INT8);
        Linear fc = Linear.of(64, 3, PerChannelWeights.quantize(random(r, 192, -0.2, 0.2), 3), null);
        return Graph.builder().input("x")
                .node("xq", QuantizeLinear.of(in), "x").node("xd", DequantizeLinear.of(in), "xq")
                .node("c", conv, "xd").node("r", Activation.relu(), "c")
                .node("rq", QuantizeLinear.of(mid), "r").node("rd", DequantizeLinear.of(mid), "rq")
                .node("f", new Flatten(), "rd").node("y", fc, "f").output("y").build();
    }

    @Test
    void exportedQdqGraphReimportsExactlyAndRunsOnOnnxRuntime() throws Exception {
        SplittableRandom r = new SplittableRandom(13);
        Graph g = qdqGraph(r);
        Shape shape = Shape.of(2, 2, 4, 4);
        Path file = dir.resolve("qdq.onnx");
        OnnxExporter.save(g, shape, file);
        OnnxModel read = OnnxModelReader.read(file);
        long q = read.nodes().stream().filter(n -> n.opType().equals("QuantizeLinear")).count();
        long dq = read.nodes().stream().filter(n -> n.opType().equals("DequantizeLinear")).count();
        assertEquals(2, q);
        assertEquals(2, dq);
        assertTrue(read.nodes().stream().noneMatch(n -> n.opType().equals("Cast")), "every Q is read by a DQ: no Cast needed");
        OnnxGraph back = OnnxImporter.importModel(read, Map.of("x", shape), Map.of());
        assertEquals(List.of("QuantizeLinear", "DequantizeLinear", "Conv2d", "Activation", "QuantizeLinear", "DequantizeLinear"),
                back.graph().nodes().stream().limit(6).map(n -> n.layer().getClass().getSimpleName()).toList());
        assertEquals(((QuantizeLinear) g.nodes().get(4).layer()).params(), ((QuantizeLinear) back.graph().nodes().get(4).layer()).params());
        for (int t = 0; t < 3; t++) {
            float[] x = random(r, 64, -2, 3);
            float[] want;
            try (Session s = g.compile(shape, JAVA)) {
                want = s.run(x);
            }
            try (Session s = back.compile(JAVA)) {
                assertArrayEquals(want, s.run(Map.of("x", x)).get("y"), "re-imported");
            }
            float[] ort = OrtRunner.run(file, Map.of("x", dims(shape)), Map.of("x", x), false).get("y");
            // the last layer is float: a tie flipped in the middle Q/DQ moves y by at most step·max|w_c|·(count of flips)
            double d = OrtRunner.maxAbsDiff(want, ort);
            assertTrue(d < 1e-4 || d <= 0.05 * 0.2 * 2, "ONNX Runtime: " + d);
        }
    }

    @Test
    void integersReadByOtherOperationsAreCastInTheExport() throws Exception {
        // q is read by a Relu (not only by DQs): QuantizeLinear then Cast to FLOAT; the DQs of float values (q, relu)
        // cast to INT8 first; k is read only by a DQ: an INT8 graph input
        QuantParams p = QuantParams.perTensor(0.5f, -4, QuantParams.Type.INT8);
        Graph g = Graph.builder().input("x").input("k")
                .node("q", QuantizeLinear.of(p), "x").node("relu", Activation.relu(), "q")
                .node("dk", DequantizeLinear.of(p), "k").node("dq", DequantizeLinear.of(p), "q")
                .node("dr", DequantizeLinear.of(p), "relu")
                .output("relu", "dk", "dq", "dr").build();
        Shape s = Shape.of(1, 6);
        Path file = dir.resolve("cast.onnx");
        OnnxExporter.save(g, Map.of("x", s, "k", s), file);
        float[] x = {-70, -3.2f, -0.2f, 0.26f, 7.7f, 100};
        float[] k = {-128, -5, -4, 0, 3, 127};
        Map<String, float[]> want;
        try (Session sess = g.compile(Map.of("x", s, "k", s), JAVA)) {
            want = sess.run(Map.of("x", x, "k", k));
        }
        assertArrayEquals(new float[] {0, 0, 0, 0, 11, 127}, want.get("relu")); // q = −128, −10, −4, −3, 11, 127 (saturated)
        Map<String, float[]> ort = OrtRunner.run(java.nio.file.Files.readAllBytes(file), Map.of("x", dims(s), "k", dims(s)),
                Map.of("x", x, "k", k), Map.of("k", OnnxDataType.INT8), false);
        for (String name : List.of("relu", "dk", "dq", "dr")) assertArrayEquals(want.get(name), ort.get(name), name);
        OnnxModel read = OnnxModelReader.read(file);
        assertEquals(3, read.nodes().stream().filter(n -> n.opType().equals("Cast")).count());
        assertEquals(OnnxDataType.INT8, read.runtimeInputs().stream().filter(i -> i.name().equals("k")).findFirst().orElseThrow().elemType());
        // and convnet reads its own export back: the INT8 input and the Casts to and from 8-bit integers
        OnnxGraph back = OnnxImporter.importModel(read, Map.of("x", s, "k", s), Map.of());
        try (Session sess = back.compile(JAVA)) {
            Map<String, float[]> again = sess.run(Map.of("x", x, "k", k));
            for (String name : List.of("relu", "dk", "dq", "dr")) assertArrayEquals(want.get(name), again.get(name), name);
        }
    }

    @Test
    void quantizedNetworkExportsAndOnnxRuntimeAgrees() throws Exception {
        SplittableRandom r = new SplittableRandom(21);
        Conv2d c1 = Conv2d.builder(1, 4, 3).padding(Padding.same()).weights(random(r, 36, -0.5, 0.5)).bias(random(r, 4, -0.1, 0.1)).build();
        Conv2d c2 = Conv2d.builder(4, 4, 3).weights(random(r, 144, -0.3, 0.3)).build();
        Graph g = Network.of(c1, Activation.relu(), c2, Activation.relu(), new Flatten(),
                Linear.of(64, 5, random(r, 320, -0.2, 0.2), random(r, 5, -0.1, 0.1))).toGraph();
        Shape shape = Shape.of(4, 1, 6, 6);
        List<float[]> batches = new ArrayList<>();
        for (int i = 0; i < 4; i++) batches.add(random(r, 144, -1, 1));
        QuantizedGraph q = PostTrainingQuantizer.minMax().quantize(g, shape, batches);
        Path file = dir.resolve("ptq.onnx");
        OnnxExporter.save(q.graph(), shape, file);
        try (Session s = q.graph().compile(shape, JAVA)) {
            for (float[] x : batches) {
                float[] ours = s.run(x);
                float[] plain = OrtRunner.run(file, Map.of("input", dims(shape)), Map.of("input", x), false).values().iterator().next();
                float[] fused = OrtRunner.run(file, Map.of("input", dims(shape)), Map.of("input", x), true).values().iterator().next();
                double range = 0;
                for (float v : ours) range = Math.max(range, Math.abs(v));
                System.out.printf(Locale.ROOT, "PTQ net vs ONNX Runtime: max |diff| %.3g as written, %.3g with int8 kernels (max |y| %.3g)%n",
                        OrtRunner.maxAbsDiff(ours, plain), OrtRunner.maxAbsDiff(ours, fused), range);
                assertTrue(OrtRunner.maxAbsDiff(ours, plain) <= 0.02 * range, "as written");
                assertTrue(OrtRunner.maxAbsDiff(ours, fused) <= 0.05 * range, "int8 kernels");
            }
        }
    }
}
