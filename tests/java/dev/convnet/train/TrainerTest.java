package dev.convnet.train;

import dev.convnet.data.Dataset;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The trainer end to end on small synthetic data: it learns, resumes exactly, keeps frozen state, and names bad input. */
class TrainerTest {
    @TempDir
    Path dir;

    static Dataset random(int n, int classes, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * 64];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();
        int[] y = new int[n];
        for (int i = 0; i < n; i++) y[i] = r.nextInt(classes);
        return Dataset.of(Shape.of(1, 8, 8), x, y, names(classes));
    }

    static List<String> names(int classes) {
        return java.util.stream.IntStream.range(0, classes).mapToObj(Integer::toString).toList();
    }

    /** conv → BN → ReLU → pool → dropout → FC: every kind of state the trainer must handle. */
    static Graph network(int classes) {
        SplittableRandom r = new SplittableRandom(11);
        return Network.of(
                Conv2d.builder(1, 4, 3).padding(Padding.same()).randomWeights(r).build(),
                BatchNorm.initial(4), Activation.relu(), MaxPool2d.of(2, 2), new Flatten(),
                Dropout.of(0.2), Linear.random(64, classes, r)).toGraph();
    }

    static void assumeBackend(BackendKind b) {
        assumeTrue(b != BackendKind.ONEDNN || dev.convnet.onednn.OneDnn.isAvailable(), "oneDNN is not available");
    }

    @ParameterizedTest
    @EnumSource(BackendKind.class)
    void overfitsOneBatch(BackendKind backend) {
        assumeBackend(backend);
        Dataset data = random(16, 4, 1);
        Graph g = network(4);
        try (ParameterSet p = ParameterSet.of(g);
             Trainer t = Trainer.builder(g, p).optimizer(Optimizer.adam(0.02, 0)).batchSize(16).backend(backend).threads(2).build()) {
            t.fit(data, null, 150);
            Evaluation e = t.evaluate(data);
            assertEquals(1.0, e.accuracy(), "a small network memorizes 16 examples; loss " + e.loss());
            assertTrue(e.loss() < 0.1, "loss " + e.loss());
            assertEquals(150, t.steps());
            assertEquals(16, e.count());
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "ONEDNN"})
    void resumeEqualsAnUninterruptedRun(BackendKind backend) throws Exception {
        assumeBackend(backend);
        Dataset data = random(50, 3, 2); // 50 = 3 full batches of 16 and one of 2
        Graph g = network(3);
        float[][] uninterrupted;
        try (ParameterSet p = ParameterSet.of(g); Trainer t = trainer(g, p, backend)) {
            t.fit(data, data, 3);
            uninterrupted = p.list().stream().map(Parameter::toArray).toArray(float[][]::new);
        }
        Path ckpt = dir.resolve("run.ckpt");
        try (ParameterSet p = ParameterSet.of(g); Trainer t = trainer(g, p, backend)) {
            t.fit(data, data, 1);
            t.saveCheckpoint(ckpt);
        }
        try (ParameterSet p = ParameterSet.of(g); Trainer t = trainer(g, p, backend)) {
            t.resume(ckpt);
            assertEquals(1, t.epochsDone());
            assertEquals(4, t.steps());
            History h = t.fit(data, data, 3);
            assertEquals(3, h.epochs().size());
            float[][] resumed = p.list().stream().map(Parameter::toArray).toArray(float[][]::new);
            for (int i = 0; i < resumed.length; i++) {
                assertArrayEquals(uninterrupted[i], resumed[i], 0f, "parameter " + p.list().get(i).name() + " after resuming");
            }
        }
    }

    private static Trainer trainer(Graph g, ParameterSet p, BackendKind backend) {
        return Trainer.builder(g, p).optimizer(Optimizer.sgd(0.05, 0.9, 1e-4, true)).batchSize(16).seed(5).backend(backend).threads(2)
                .schedule(LearningRateSchedule.cosine(3, 0.001).withWarmup(2)).build();
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "ONEDNN"})
    void frozenParametersAndStatisticsStayByteIdentical(BackendKind backend) {
        assumeBackend(backend);
        Dataset data = random(32, 3, 4);
        Graph g = network(3);
        try (ParameterSet p = ParameterSet.of(g)) {
            p.freezePrefixes("layer1.", "layer2.");
            List<Parameter> frozen = p.list().stream().filter(x -> x.name().startsWith("layer1.") || x.name().startsWith("layer2.")).toList();
            assertEquals(6, frozen.size(), "conv weight, bias; BN γ, β, running mean, running variance");
            float[][] before = frozen.stream().map(Parameter::toArray).toArray(float[][]::new);
            float[] headBefore = p.get("layer7.weight").toArray();
            try (Trainer t = Trainer.builder(g, p).optimizer(Optimizer.sgd(0.1, 0.9, 0.01, false)).batchSize(8).backend(backend).build()) {
                t.fit(data, null, 2);
            }
            for (int i = 0; i < before.length; i++) {
                assertArrayEquals(before[i], frozen.get(i).toArray(), 0f, frozen.get(i).name() + " is frozen");
            }
            assertFalse(java.util.Arrays.equals(headBefore, p.get("layer7.weight").toArray()), "the head trains");
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "ONEDNN"})
    void batchNormRunningStatisticsUpdateInTraining(BackendKind backend) {
        assumeBackend(backend);
        Graph g = network(3);
        try (ParameterSet p = ParameterSet.of(g);
             Trainer t = Trainer.builder(g, p).batchSize(8).backend(backend).build()) {
            float[] mean = p.get("layer2.running_mean").toArray();
            t.fit(random(8, 3, 9), null, 1);
            assertFalse(java.util.Arrays.equals(mean, p.get("layer2.running_mean").toArray()));
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "ONEDNN"})
    void badInputIsAClearError(BackendKind backend) {
        assumeBackend(backend);
        Graph g = network(3);
        try (ParameterSet p = ParameterSet.of(g); Trainer t = Trainer.builder(g, p).batchSize(8).backend(backend).build()) {
            IllegalArgumentException classes = assertThrows(IllegalArgumentException.class, () -> t.fit(random(8, 5, 1), null, 1));
            assertTrue(classes.getMessage().contains("5 classes") && classes.getMessage().contains("3 scores"), classes.getMessage());
            Dataset wrongSize = Dataset.of(Shape.of(1, 10, 10), new float[8 * 100], new int[8], names(3));
            ShapeException size = assertThrows(ShapeException.class, () -> t.fit(wrongSize, null, 1));
            assertTrue(size.getMessage().contains("images of shape [1, 10, 10]") && size.getMessage().contains("D = 64"), size.getMessage());
            float[] nan = new float[8 * 64];
            nan[5] = Float.NaN;
            Dataset poisoned = Dataset.of(Shape.of(1, 8, 8), nan, new int[8], names(3));
            ArithmeticException diverged = assertThrows(ArithmeticException.class, () -> t.fit(poisoned, null, 1));
            assertTrue(diverged.getMessage().contains("epoch 1, step 1"), diverged.getMessage());
        }
    }

    @org.junit.jupiter.api.Test
    void parameterSetSavesLoadsAndRefusesBadFiles() throws Exception {
        Graph g = network(3);
        Path f = dir.resolve("p.bin");
        try (ParameterSet p = ParameterSet.of(g)) {
            p.get("layer1.weight").setFrozen(true);
            p.save(f);
            try (ParameterSet q = ParameterSet.load(f)) {
                assertEquals(p.names(), q.names());
                for (Parameter x : p.list()) assertArrayEquals(x.toArray(), q.get(x.name()).toArray(), 0f);
                assertTrue(q.get("layer1.weight").frozen());
                Graph h = q.applyTo(g);
                assertArrayEquals(p.get("layer7.weight").toArray(), ((Linear) h.nodes().get(6).layer()).weights(), 0f);
            }
            byte[] all = Files.readAllBytes(f);
            Files.write(dir.resolve("cut.bin"), java.util.Arrays.copyOf(all, all.length / 2));
            java.io.IOException e = assertThrows(java.io.IOException.class, () -> ParameterSet.load(dir.resolve("cut.bin")));
            assertTrue(e.getMessage().contains("truncated"), e.getMessage());
            assertThrows(IllegalArgumentException.class, () -> p.freeze(n -> n.startsWith("nonexistent")));
            assertThrows(IllegalArgumentException.class, () -> p.get("nonexistent"));
        }
        try (var files = Files.list(dir)) {
            assertTrue(files.noneMatch(x -> x.getFileName().toString().endsWith(".tmp")), "no temporary file is left");
        }
    }
}
