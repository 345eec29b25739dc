package dev.convnet.cli;

import dev.convnet.layer.DequantizeLinear;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.Graph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxModelReader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code convnet quantize}: a model trained by {@code convnet train} on IDX files written here, quantized and evaluated. */
class QuantizeCommandTest {
    @TempDir
    Path dir;

    @Test
    void quantizesATrainedModelToQdqOnnxAndKeepsItsAccuracy() throws Exception {
        TrainCommandTest.write(dir, "train", 64, 1);
        TrainCommandTest.write(dir, "t10k", 40, 2);
        Path fp32 = dir.resolve("m.onnx");
        String[] t = Cli.run("train", "--data", dir.toString(), "--blocks", "1", "--channels", "4", "--hidden-layers", "1",
                "--batch", "16", "--epochs", "6", "--lr", "0.05", "--seed", "3", "--backend", "java", "--threads", "1", "--save", fp32.toString());
        assertEquals("0", t[0], t[1] + t[2]);
        Path q = dir.resolve("m_qdq.onnx");
        String[] r = Cli.run("quantize", fp32.toString(), "--data", dir.toString(), "--output", q.toString(), "--calibration", "32",
                "--batch", "8", "--backend", "java", "--evaluate");
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("calibrated 3 activations on 32 images (min/max, UINT8 activations)"), r[1]);
        Matcher m = Pattern.compile("test accuracy: float ([0-9.]+), quantized ([0-9.]+)").matcher(r[1]);
        assertTrue(m.find(), r[1]);
        double f = Double.parseDouble(m.group(1)), qa = Double.parseDouble(m.group(2));
        assertTrue(f > 0.5, "the float model did not learn: " + r[1]);
        assertEquals(f, qa, 0.051, r[1]); // 40 test images: at most two may change
        Graph g = OnnxImporter.load(q).graph();
        // the 3 calibrated activations, and the max pooling after the convolution quantized again with its input's
        // parameters
        assertEquals(4, g.nodes().stream().filter(n -> n.layer() instanceof QuantizeLinear).count());
        assertEquals(4, g.nodes().stream().filter(n -> n.layer() instanceof DequantizeLinear).count());
        assertTrue(OnnxModelReader.read(q).nodes().stream().anyMatch(n -> n.opType().equals("QuantizeLinear")));
        try (var files = Files.list(dir)) {
            assertFalse(files.anyMatch(p -> p.getFileName().toString().contains(".tmp")), "a temporary file was left");
        }
    }

    @Test
    void badOptionsAreRefusedWithTheRule() throws Exception {
        TrainCommandTest.write(dir, "train", 16, 1);
        TrainCommandTest.write(dir, "t10k", 8, 2);
        String[] r = Cli.run("quantize", dir.resolve("absent.onnx").toString(), "--data", dir.toString(), "--output", dir.resolve("o.onnx").toString());
        assertFalse(r[0].equals("0"));
        assertTrue((r[1] + r[2]).contains("absent.onnx"), r[1] + r[2]);
        Path model = dir.resolve("m.onnx");
        Files.write(model, new byte[0]);
        r = Cli.run("quantize", model.toString(), "--data", dir.toString(), "--output", dir.resolve("o.onnx").toString(), "--method", "kl");
        assertFalse(r[0].equals("0"));
        assertTrue((r[1] + r[2]).contains("expected minmax or percentile"), r[1] + r[2]);
    }
}
