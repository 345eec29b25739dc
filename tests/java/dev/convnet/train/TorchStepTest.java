package dev.convnet.train;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Three SGD, Nesterov-SGD, Adam and AdamW steps of a small ConvNet exported by PyTorch, from the same weights and
 * batch, give PyTorch's losses and updated weights. The fixtures are made at test time by Debian's PyTorch
 * ({@code tests/python/torch_steps.py}); without it the test is skipped with a message.
 */
class TorchStepTest {
    static final Path DIR = Path.of("target", "fixtures", "torch_steps");
    static final String PYTHON = System.getenv().getOrDefault("TORCH_PYTHON", "/usr/bin/python3");

    @BeforeAll
    static void makeFixtures() throws Exception {
        if (Files.exists(DIR.resolve("names.txt"))) return;
        boolean torch = Files.isExecutable(Path.of(PYTHON))
                && new ProcessBuilder(PYTHON, "-c", "import torch").redirectErrorStream(true).start().waitFor() == 0;
        assumeTrue(torch, "PyTorch is not installed for " + PYTHON + " (Debian's python3-torch): the PyTorch step comparison is skipped");
        Process p = new ProcessBuilder(PYTHON, "tests/python/torch_steps.py", DIR.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), "torch_steps.py failed:\n" + out);
    }

    static Stream<Arguments> cases() {
        List<Arguments> a = new ArrayList<>();
        for (String opt : List.of("sgd", "sgd_nesterov", "adam", "adamw")) {
            for (BackendKind b : List.of(BackendKind.REFERENCE, BackendKind.JAVA, BackendKind.ONEDNN)) a.add(Arguments.of(opt, b));
        }
        return a.stream();
    }

    static Optimizer optimizer(String key) {
        return switch (key) {
            case "sgd" -> Optimizer.sgd(0.1, 0.9, 1e-3, false);
            case "sgd_nesterov" -> Optimizer.sgd(0.05, 0.8, 0, true);
            case "adam" -> Optimizer.adam(0.01, 1e-3);
            case "adamw" -> Optimizer.adamW(0.01, 0.05);
            default -> throw new IllegalArgumentException(key);
        };
    }

    static float[] floats(Path f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        float[] v = new float[b.remaining() / 4];
        b.asFloatBuffer().get(v);
        return v;
    }

    static int[] ints(Path f) throws IOException {
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(f)).order(ByteOrder.LITTLE_ENDIAN);
        int[] v = new int[b.remaining() / 4];
        b.asIntBuffer().get(v);
        return v;
    }

    @ParameterizedTest(name = "{0} on {1}")
    @MethodSource("cases")
    void stepsEqualPyTorch(String key, BackendKind backend) throws Exception {
        assumeTrue(backend != BackendKind.ONEDNN || dev.convnet.onednn.OneDnn.isAvailable(), "oneDNN is not available");
        List<String> lines = Files.readAllLines(DIR.resolve("names.txt"));
        Graph g = OnnxImporter.load(DIR.resolve("model.onnx"), Map.of("input", Shape.of(4, 1, 8, 8))).graph();
        float[] x = floats(DIR.resolve("input.f32"));
        int[] y = ints(DIR.resolve("labels.i32"));
        try (ParameterSet p = ParameterSet.of(g);
             TrainingSession s = TrainingSession.compile(g, p, Shape.of(4, 1, 8, 8),
                     TrainingOptions.defaults().withBackend(backend).withThreads(2))) {
            for (String line : lines) assertTrue(p.contains(line.split(" ")[0]), "parameter " + line + " is named after the initializer");
            Optimizer opt = optimizer(key);
            for (int k = 1; k <= 3; k++) {
                float[] scores = s.forward(x, true);
                float[] grad = new float[scores.length];
                double loss = Loss.softmaxCrossEntropy().compute(scores, y, 5, grad);
                double torchLoss = Double.parseDouble(Files.readString(DIR.resolve(key + "_loss" + k)).trim());
                assertEquals(torchLoss, loss, 2e-5 * Math.max(1, Math.abs(torchLoss)), key + " loss before step " + k);
                s.backward(grad);
                opt.step(p);
                float[] expected = floats(DIR.resolve(key + "_step" + k + ".f32"));
                int off = 0;
                double worst = 0;
                String worstAt = "";
                for (String line : lines) {
                    String name = line.split(" ")[0];
                    float[] got = p.get(name).toArray();
                    for (int i = 0; i < got.length; i++) {
                        double err = Math.abs(got[i] - expected[off + i]) / (1e-5 + 1e-4 * Math.abs(expected[off + i]));
                        if (err > worst) {
                            worst = err;
                            worstAt = name + "[" + i + "] = " + got[i] + ", PyTorch " + expected[off + i];
                        }
                    }
                    off += got.length;
                }
                assertEquals(expected.length, off);
                assertTrue(worst <= 1, key + " on " + backend + " after step " + k + ": " + worstAt + " (|Δ| ≤ 1e-5 + 1e-4·|w| required)");
            }
        }
    }
}
