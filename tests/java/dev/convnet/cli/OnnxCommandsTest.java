package dev.convnet.cli;

import dev.convnet.onnx.OnnxTensor;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.NodeProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code convnet onnx-test}, {@code inspect} and {@code run}: output and exit status. */
class OnnxCommandsTest {
    @TempDir
    Path dir;

    static String[] run(String... args) {
        return Cli.run(args);
    }

    private static ValueInfoProto value(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))).build();
    }

    /** A tiny classifier: x[1,3,8,8] → GlobalAveragePool → Flatten → Gemm(W[5,3], transB) → Softmax → y[1,5]. */
    private static byte[] classifier() {
        TensorProto.Builder w = TensorProto.newBuilder().setName("W").setDataType(1).addDims(5).addDims(3);
        for (int i = 0; i < 15; i++) w.addFloatData(i % 4 - 1.5f);
        GraphProto g = GraphProto.newBuilder().setName("classifier").addInput(value("x", 1, 3, 8, 8)).addOutput(value("y", 1, 5))
                .addInitializer(w)
                .addNode(NodeProto.newBuilder().setOpType("GlobalAveragePool").setName("gap").addInput("x").addOutput("p"))
                .addNode(NodeProto.newBuilder().setOpType("Flatten").setName("flat").addInput("p").addOutput("f"))
                .addNode(NodeProto.newBuilder().setOpType("Gemm").setName("fc").addInput("f").addInput("W").addOutput("l")
                        .addAttribute(dev.convnet.onnx.proto.OnnxProtos.AttributeProto.newBuilder().setName("transB")
                                .setType(dev.convnet.onnx.proto.OnnxProtos.AttributeProto.AttributeType.INT_VALUE).setI(1)))
                .addNode(NodeProto.newBuilder().setOpType("Softmax").setName("softmax").addInput("l").addOutput("y"))
                .build();
        return ModelProto.newBuilder().setIrVersion(8).addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(13))
                .setGraph(g).build().toByteArray();
    }

    /** A test case folder for the classifier, with the expected output computed here. */
    private Path testCase(String name, boolean tamper) throws IOException {
        Path c = dir.resolve(name);
        Path set = c.resolve("test_data_set_0");
        Files.createDirectories(set);
        Files.write(c.resolve("model.onnx"), classifier());
        float[] x = new float[192];
        for (int i = 0; i < x.length; i++) x[i] = (i % 7) * 0.25f - 0.5f;
        OnnxTensor.ofFloats("x", new long[] {1, 3, 8, 8}, x).write(set.resolve("input_0.pb"));
        double[] mean = new double[3];
        for (int ch = 0; ch < 3; ch++) {
            for (int i = 0; i < 64; i++) mean[ch] += x[ch * 64 + i];
            mean[ch] /= 64;
        }
        double[] logits = new double[5];
        double sum = 0;
        for (int k = 0; k < 5; k++) {
            for (int ch = 0; ch < 3; ch++) logits[k] += mean[ch] * ((k * 3 + ch) % 4 - 1.5);
            sum += Math.exp(logits[k]);
        }
        float[] y = new float[5];
        for (int k = 0; k < 5; k++) y[k] = (float) (Math.exp(logits[k]) / sum);
        if (tamper) y[2] += 0.01f;
        OnnxTensor.ofFloats("y", new long[] {1, 5}, y).write(set.resolve("output_0.pb"));
        return c;
    }

    @Test
    void onnxTestPassFailAndMalformed() throws IOException {
        Path good = testCase("test_good", false);
        String[] r = run("onnx-test", good.toString(), "--backend", "java");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("PASS test_good") && r[1].contains("1 passed, 0 failed, 0 skipped"), r[1]);

        testCase("test_tampered", true);
        r = run("onnx-test", dir.toString(), "--backend", "reference");
        assertEquals("1", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("FAIL test_tampered: output 'y': 1 of 5 elements differ; max abs error"), r[1]);
        assertTrue(r[1].contains("1 passed, 1 failed, 0 skipped"), r[1]);

        Path bad = dir.resolve("bad").resolve("test_broken");
        Files.createDirectories(bad);
        Files.write(bad.resolve("model.onnx"), new byte[] {0x08, 0x07, 0x12, 0x7f, 0x01});
        r = run("onnx-test", bad.toString(), "--backend", "java");
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("FAIL test_broken: malformed model"), r[1]);

        r = run("onnx-test", dir.resolve("nowhere").toString());
        assertEquals("2", r[0]);
        assertFalse(r[2].contains("Exception"), r[2]);
    }

    @Test
    void onnxTestSkipsUnsupportedCases() {
        Path lstm = Path.of("/usr/share/libonnx-testdata/data/node/test_lstm_defaults");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(lstm), "libonnx-testdata is not installed");
        String[] r = run("onnx-test", lstm.toString(), "--backend", "java");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("SKIP test_lstm_defaults: LSTM") && r[1].contains("0 passed, 0 failed, 1 skipped"), r[1]);
    }

    @Test
    void inspectPrintsNodesAndTotals() throws IOException {
        Path model = dir.resolve("m.onnx");
        Files.write(model, classifier());
        String[] r = run("inspect", model.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("GlobalPool2d(average)") && r[1].contains("Linear(3→5, no bias)") && r[1].contains("[1, 5]"), r[1]);
        assertTrue(r[1].contains("parameters: 15") && r[1].contains("FLOPs per run: 237"), r[1]); // pool 192 + Linear 2·3·5 + softmax 3·5
        Path broken = dir.resolve("broken.onnx");
        Files.write(broken, new byte[] {1, 2, 3});
        r = run("inspect", broken.toString());
        assertEquals("2", r[0]);
        assertTrue(r[2].startsWith("convnet: ") && !r[2].contains("\tat "), r[2]);
        r = run("inspect", model.toString(), "--shape", "x=1x4x8x8");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("'fc'") || r[2].contains("Linear"), r[2]);
    }

    @Test
    void runOnATensorAndOnAnImage() throws IOException {
        Path c = testCase("test_run", false);
        Path model = c.resolve("model.onnx");
        Path out = dir.resolve("y.pb");
        String[] r = run("run", model.toString(), "--input", c.resolve("test_data_set_0/input_0.pb").toString(),
                "--output", out.toString(), "--backend", "java");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("top 5:"), r[1]);
        float[] expected = OnnxTensor.read(c.resolve("test_data_set_0/output_0.pb")).floats();
        float[] got = OnnxTensor.read(out).floats();
        for (int i = 0; i < 5; i++) assertEquals(expected[i], got[i], 1e-6f);

        BufferedImage img = new BufferedImage(20, 12, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 12; y++) for (int x = 0; x < 20; x++) img.setRGB(x, y, (x * 12) << 16 | (y * 20) << 8 | 128);
        Path png = dir.resolve("cat.png");
        ImageIO.write(img, "png", png.toFile());
        r = run("run", model.toString(), "--input", png.toString(), "--output", out.toString(), "--backend", "reference");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("[1, 3, 8, 8]") && r[1].contains("top 5:"), r[1]);
        float sum = 0;
        for (float v : OnnxTensor.read(out).floats()) sum += v;
        assertEquals(1f, sum, 1e-5f);

        r = run("run", model.toString(), "--input", dir.resolve("missing.png").toString(), "--output", out.toString());
        assertEquals("2", r[0], r[1] + r[2]);
    }

    @Test
    void runWithoutOutputPrintsTheTopClasses() throws IOException {
        Path c = testCase("test_top", false);
        String[] r = run("run", c.resolve("model.onnx").toString(), "--input", c.resolve("test_data_set_0/input_0.pb").toString(),
                "--backend", "reference");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("top 5:") && !r[1].contains("written to"), r[1]);
        Path missing = dir.resolve("missing.onnx");
        r = run("run", missing.toString(), "--input", c.resolve("test_data_set_0/input_0.pb").toString());
        assertEquals("2", r[0]);
        assertEquals("convnet: no such file: " + missing, r[2].strip());
    }

    @Test
    void benchTimesOneLoadedModelPerBatchSize() throws IOException {
        Path model = dir.resolve("m.onnx");
        Files.write(model, classifier());
        String[] r = run("bench", model.toString(), "--batch", "1,3", "--iters", "4", "--warmup", "1", "--concurrency", "2",
                "--backend", "java", "--profile", "--top", "3");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("p50 ms") && r[1].contains("p99 ms") && r[1].contains("images/s"), r[1]);
        assertTrue(r[1].contains("2 concurrent caller(s) on one loaded model"), r[1]);
        assertTrue(r[1].matches("(?s).*\\n\\s+1\\s+[0-9.]+\\s+8\\s.*") && r[1].matches("(?s).*\\n\\s+3\\s+[0-9.]+\\s+8\\s.*"), r[1]);
        assertTrue(r[1].contains("cache:    2 shape(s) compiled"), r[1]);
        assertTrue(r[1].contains("profile at batch 3") && r[1].contains("Linear") && r[1].contains("by kind (8 runs"), r[1]);
        Path missing = dir.resolve("nowhere.onnx");
        r = run("bench", missing.toString());
        assertEquals("2", r[0]);
        assertEquals("convnet: no such file: " + missing, r[2].strip());
        r = run("bench", model.toString(), "--batch", "0");
        assertEquals("2", r[0]);
        assertTrue(r[2].contains("--batch"), r[2]);
    }

    @Test
    void precisionOptionRunsBf16OnOneDnnAndIsRefusedWhereItCannotBeHad() throws IOException {
        Path model = dir.resolve("p.onnx");
        Files.write(model, classifier());
        String[] r = run("bench", model.toString(), "--iters", "2", "--warmup", "1", "--backend", "java", "--precision", "bf16");
        assertEquals("1", r[0], r[1] + r[2]); // a precision the backend cannot give: a failure, not a usage error
        assertTrue(r[2].contains("FP32 only") && r[2].contains("BF16 needs oneDNN"), r[2]);
        r = run("bench", model.toString(), "--precision", "fp16");
        assertEquals("2", r[0], r[1] + r[2]);
        assertTrue(r[2].contains("--precision fp16: expected fp32 or bf16"), r[2]);
        org.junit.jupiter.api.Assumptions.assumeTrue(dev.convnet.onednn.OneDnn.hasNativeBf16(), "no native bf16 here");
        r = run("bench", model.toString(), "--iters", "2", "--warmup", "1", "--backend", "onednn", "--precision", "bf16");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("p50 ms"), r[1]);
    }
}
