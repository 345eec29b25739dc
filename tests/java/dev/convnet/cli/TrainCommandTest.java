package dev.convnet.cli;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import dev.convnet.data.Dataset;
import dev.convnet.data.IdxFiles;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import dev.convnet.train.Initializer;
import dev.convnet.train.Loss;
import dev.convnet.train.Optimizer;
import dev.convnet.train.Parameter;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code convnet train} and {@code convnet eval} on IDX files written here: semantics, saved model, errors. */
class TrainCommandTest {
    @TempDir
    Path dir;

    static String[] run(String... args) {
        PrintStream out = System.out;
        PrintStream err = System.err;
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        ByteArrayOutputStream e = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(o, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(e, true, StandardCharsets.UTF_8));
            code = ConvnetCommand.execute(args);
        } finally {
            System.setOut(out);
            System.setErr(err);
        }
        return new String[] {String.valueOf(code), o.toString(StandardCharsets.UTF_8), e.toString(StandardCharsets.UTF_8)};
    }

    static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.putInt(magic);
        for (int d : dims) b.putInt(d);
        b.put(data);
        return b.array();
    }

    /** n images of 12×12 whose mean brightness says the class (so a network can learn it), and their labels. */
    static void write(Path dir, String prefix, int n, long seed) throws Exception {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] px = new byte[n * 144];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int label = i % 4;
            labels[i] = (byte) label;
            for (int p = 0; p < 144; p++) px[i * 144 + p] = (byte) Math.min(255, label * 60 + r.nextInt(40) + ((p / 12) % 3 == label % 3 ? 30 : 0));
        }
        Files.write(dir.resolve(prefix + "-images-idx3-ubyte"), idx(0x803, new int[] {n, 12, 12}, px));
        Files.write(dir.resolve(prefix + "-labels-idx1-ubyte"), idx(0x801, new int[] {n}, labels));
    }

    private Path data() throws Exception {
        write(dir, "train", 32, 1);
        write(dir, "t10k", 20, 2);
        return dir;
    }

    static double accuracy(String out, String key) {
        Matcher m = Pattern.compile("(?m)^" + key + "=([0-9.]+)$").matcher(out);
        assertTrue(m.find(), "no " + key + " line in:\n" + out);
        return Double.parseDouble(m.group(1));
    }

    @Test
    void oneStepOnBImagesEqualsOneManualSgdStepAndTheSavedModelRunsInOnnxRuntime() throws Exception {
        Path data = data();
        Path saved = dir.resolve("m.onnx");
        String[] r = run("train", "--data", data.toString(), "--blocks", "1", "--channels", "4", "--hidden-layers", "0", "--batch", "32",
                "--epochs", "1", "--no-shuffle", "--lr", "0.1", "--momentum", "0.5", "--weight-decay", "0.01", "--seed", "3",
                "--backend", "java", "--threads", "1", "--save", saved.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        assertTrue(r[1].contains("epoch 1: loss="), r[1]);
        double testAccuracy = accuracy(r[1], "test accuracy");

        // The same step by hand: the lecture pattern with the same seed and initialization, one SGD step on the 32 images.
        Dataset train = IdxFiles.readDirectory(data, true);
        Graph g = LecturePattern.builder(Shape.of(1, 12, 12)).convsPerBlock(1).blocks(1).blockChannels(4).hiddenLayers(0).classes(4)
                .kernelSize(3).seed(3).build().toGraph();
        float[] x = new float[32 * 144];
        int[] y = new int[32];
        train.batches(32, false, 0, 0, false).fill(0, x, y);
        try (ParameterSet p = ParameterSet.of(g);
             TrainingSession s = TrainingSession.compile(g, p, Shape.of(32, 1, 12, 12), TrainingOptions.defaults().withBackend(BackendKind.JAVA).withThreads(1))) {
            p.initialize(Initializer.KAIMING_UNIFORM, Initializer.UNIFORM_FAN_IN, 3);
            float[] scores = s.forward(x, true);
            float[] grad = new float[scores.length];
            Loss.softmaxCrossEntropy().compute(scores, y, 4, grad);
            s.backward(grad);
            Optimizer.sgd(0.1, 0.5, 0.01, false).step(p);
            Graph loaded = OnnxImporter.load(saved, Map.of(OnnxImporter.load(saved).graph().inputNames().getFirst(), Shape.of(1, 1, 12, 12))).graph();
            try (ParameterSet q = ParameterSet.of(loaded)) {
                List<Parameter> mine = p.list();
                List<Parameter> theirs = q.list();
                assertEquals(mine.size(), theirs.size());
                for (int i = 0; i < mine.size(); i++) {
                    assertArrayEquals(mine.get(i).toArray(), theirs.get(i).toArray(), 0f, "saved " + theirs.get(i).name() + " = one SGD step");
                }
            }
        }

        // ONNX Runtime and convnet give the same outputs on the saved model, at two batch sizes (the batch is symbolic).
        String inputName = OnnxImporter.load(saved).graph().inputNames().getFirst();
        try (OrtEnvironment env = OrtEnvironment.getEnvironment(); OrtSession ort = env.createSession(saved.toString(), new OrtSession.SessionOptions())) {
            for (int n : new int[] {1, 3}) {
                float[] in = java.util.Arrays.copyOf(x, n * 144);
                float[] ours;
                Graph gn = OnnxImporter.load(saved, Map.of(inputName, Shape.of(n, 1, 12, 12))).graph();
                try (Session s = gn.compile(Shape.of(n, 1, 12, 12), SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
                    ours = s.run(in);
                }
                try (OnnxTensor t = OnnxTensor.createTensor(env, FloatBuffer.wrap(in), new long[] {n, 1, 12, 12});
                     OrtSession.Result res = ort.run(Map.of(inputName, t))) {
                    float[][] theirs = (float[][]) res.get(0).getValue();
                    for (int i = 0; i < n; i++) for (int k = 0; k < 4; k++) assertEquals(theirs[i][k], ours[i * 4 + k], 1e-5, "batch " + n);
                }
            }
        }

        String[] e = run("eval", saved.toString(), "--data", data.toString(), "--backend", "java");
        assertEquals("0", e[0], e[1] + e[2]);
        assertEquals(testAccuracy, accuracy(e[1], "accuracy"), 1e-9, "eval gives the accuracy train printed");
        assertTrue(e[1].contains("true\\pred"), e[1]);
    }

    @Test
    void classFilterAndBadInputExitWithOneLine() throws Exception {
        Path data = data();
        String[] ok = run("train", "--data", data.toString(), "--classes", "3,1", "--blocks", "1", "--channels", "2", "--hidden-layers", "0",
                "--batch", "8", "--epochs", "1", "--backend", "java");
        assertEquals("0", ok[0], ok[1] + ok[2]);
        assertTrue(ok[1].contains("16 training images") && ok[1].contains("2 classes"), ok[1]);
        String[] bad = run("train", "--data", data.toString(), "--classes", "7", "--epochs", "1", "--backend", "java");
        assertEquals("2", bad[0]);
        assertTrue(bad[2].contains("class 7") && bad[2].lines().count() == 1, bad[2]);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), idx(0x803, new int[] {32}, new byte[32]));
        String[] magic = run("train", "--data", data.toString(), "--epochs", "1", "--backend", "java");
        assertEquals("2", magic[0]);
        assertTrue(magic[2].contains("train-labels-idx1-ubyte") && magic[2].contains("magic"), magic[2]);
        String[] missing = run("eval", dir.resolve("nope.onnx").toString(), "--data", data.toString());
        assertEquals("2", missing[0]);
        assertTrue(missing[2].contains("no such file"), missing[2]);
        assertFalse(Files.exists(dir.resolve("m.onnx")));
    }

    @Test
    void transferRunsEveryStrategyAndNamesBadInput() throws Exception {
        Path data = data();
        Path pre = dir.resolve("pre.onnx");
        String[] r = run("train", "--data", data.toString(), "--classes", "0,1", "--blocks", "1", "--channels", "4", "--hidden-layers", "1",
                "--hidden-units", "8", "--batch", "8", "--epochs", "2", "--backend", "java", "--save", pre.toString());
        assertEquals("0", r[0], r[1] + r[2]);
        for (String strategy : List.of("fixed-softmax", "fixed-svm", "finetune", "finetune-top", "scratch")) {
            String[] t = run("transfer", "--pretrained", pre.toString(), "--data", data.toString(), "--classes", "2,3", "--labels-per-class", "4",
                    "--strategy", strategy, "--epochs", "3", "--batch", "4", "--backend", "java", "--save", dir.resolve(strategy + ".onnx").toString());
            assertEquals("0", t[0], strategy + ": " + t[1] + t[2]);
            assertTrue(t[1].contains("8 training images (2 classes)") && t[1].contains("10 test images"), t[1]);
            double a = accuracy(t[1], "test accuracy");
            assertTrue(a >= 0 && a <= 1);
            assertTrue(Files.exists(dir.resolve(strategy + ".onnx")));
        }
        String[] tooMany = run("transfer", "--pretrained", pre.toString(), "--data", data.toString(), "--classes", "2,3", "--labels-per-class", "9",
                "--strategy", "fixed-softmax", "--backend", "java");
        assertEquals("2", tooMany[0]);
        assertTrue(tooMany[2].contains("k = 9"), tooMany[2]);
        String[] badClass = run("transfer", "--pretrained", pre.toString(), "--data", data.toString(), "--classes", "2,11",
                "--strategy", "fixed-softmax", "--backend", "java");
        assertEquals("2", badClass[0]);
        assertTrue(badClass[2].contains("class 11"), badClass[2]);
        String[] badCut = run("transfer", "--pretrained", pre.toString(), "--cut", "nowhere", "--data", data.toString(), "--classes", "2,3",
                "--strategy", "fixed-softmax", "--backend", "java");
        assertEquals("2", badCut[0]);
        assertTrue(badCut[2].contains("'nowhere'"), badCut[2]);
    }
}
