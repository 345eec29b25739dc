package dev.convnet.train;

import dev.convnet.data.Dataset;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Cutting, heads, freezing and featurizing on built and imported graphs (issue 10). */
class TransferLearningTest {
    @TempDir
    Path dir;

    static Graph lecture() {
        return LecturePattern.builder(Shape.of(1, 12, 12)).convsPerBlock(1).blocks(2).blockChannels(4, 6).hiddenLayers(1).hiddenUnits(16)
                .classes(5).seed(2).build().toGraph();
    }

    @Test
    void cutsAtTheClassifiersInputOrANamedNode() {
        Graph g = lecture();
        assertEquals("layer9", TransferLearning.defaultCut(g), "the ReLU before the last Linear");
        Graph b = TransferLearning.backbone(g, "layer7");
        assertEquals(7, b.nodes().size());
        assertEquals(List.of("layer7"), b.outputNames());
        assertEquals(b.nodes(), TransferLearning.backbone(g, "layer7").nodes());
        Graph head = TransferLearning.withHead(b, Shape.of(2, 1, 12, 12), 3, new int[] {8}, 4);
        assertEquals(Shape.of(2, 3), head.plan(Shape.of(2, 1, 12, 12)).outputShapes().get(TransferLearning.SCORES));
        try (ParameterSet p = ParameterSet.of(head); ParameterSet alone = ParameterSet.of(TransferLearning.head(Shape.of(54, 1, 1), 3, new int[] {8}, 4))) {
            assertEquals(List.of("head.fc1.weight", "head.fc1.bias", "head.fc.weight", "head.fc.bias"), alone.names());
            for (Parameter q : alone.list()) assertArrayEquals(q.toArray(), p.get(q.name()).toArray(), 0f, q.name() + ": same seed, same start");
            assertTrue(p.contains("layer1.weight") && p.contains("layer4.bias") && !p.contains("layer8.weight"));
            assertEquals(4, TransferLearning.freezeBackbone(p, b));
            assertTrue(p.list().stream().filter(Parameter::trained).allMatch(x -> x.name().startsWith("head.")));
        }
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> TransferLearning.backbone(g, "conv9"));
        assertTrue(e.getMessage().contains("'conv9'") && e.getMessage().contains("layer1"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> TransferLearning.defaultCut(Network.of(Activation.relu()).toGraph()));
    }

    @Test
    void cutsAnImportedModelNamedAfterItsInitializers() throws Exception {
        Path f = dir.resolve("m.onnx");
        OnnxExporter.save(lecture(), Shape.of(1, 1, 12, 12), f);
        Graph g = OnnxImporter.load(f, Map.of("input", Shape.of(2, 1, 12, 12))).graph();
        String cut = TransferLearning.defaultCut(g);
        Graph b = TransferLearning.backbone(g, cut);
        Graph adapted = TransferLearning.withHead(b, Shape.of(2, 1, 12, 12), 2, new int[0], 1);
        try (ParameterSet p = ParameterSet.of(adapted)) {
            assertTrue(p.contains("layer1.weight"), "initializer names survive the round trip: " + p.names());
            assertEquals(List.of("layer8.weight", "layer8.bias"), TransferLearning.topBlocks(b, 1));
            assertEquals(List.of("layer4.weight", "layer4.bias", "layer8.weight", "layer8.bias"), TransferLearning.topBlocks(b, 2));
            assertThrows(IllegalArgumentException.class, () -> TransferLearning.topBlocks(b, 4));
        }
    }

    @Test
    void topBlocksIncludeTheBatchNormThatFollows() {
        SplittableRandom r = new SplittableRandom(1);
        Graph g = Network.of(Conv2d.builder(1, 2, 3).randomWeights(r).build(), BatchNorm.initial(2), Activation.relu(), new Flatten(),
                Linear.random(2 * 6 * 6, 3, r)).toGraph();
        Graph b = TransferLearning.backbone(g, "layer4");
        assertEquals(List.of("layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias", "layer2.running_mean", "layer2.running_var"),
                TransferLearning.topBlocks(b, 1));
    }

    static Dataset data(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] x = new float[n * 144];
        int[] y = new int[n];
        for (int i = 0; i < n; i++) {
            y[i] = i % 3;
            for (int p = 0; p < 144; p++) x[i * 144 + p] = (float) (r.nextDouble() + 0.3 * y[i]);
        }
        return Dataset.of(Shape.of(1, 12, 12), x, y, List.of("a", "b", "c"));
    }

    @Test
    void featurizedTrainingEqualsTrainingWithTheFrozenLayersInTheLoop() throws Exception {
        Dataset train = data(40, 1); // 40 = two batches of 16 and one of 8
        Graph b = TransferLearning.backbone(lecture(), "layer7");
        Graph adapted = TransferLearning.withHead(b, Shape.of(16, 1, 12, 12), 3, new int[0], 9);
        SessionOptions ref = SessionOptions.defaults().withBackend(BackendKind.REFERENCE);
        Dataset features = TransferLearning.featurize(b, train, ref, 16, null);
        Dataset spilled = TransferLearning.featurize(b, train, ref, 16, dir.resolve("features.f32"));
        assertEquals(Shape.of(54, 1, 1), features.imageShape());
        for (int i = 0; i < train.size(); i++) {
            assertArrayEquals(features.image(i), spilled.image(i), 0f);
            assertEquals(train.label(i), features.label(i));
        }
        float[][] inLoop;
        float[][] featurized;
        try (ParameterSet p = ParameterSet.of(adapted)) {
            TransferLearning.freezeBackbone(p, b);
            float[][] before = p.list().stream().filter(x -> !x.name().startsWith("head.")).map(Parameter::toArray).toArray(float[][]::new);
            try (Trainer t = Trainer.builder(adapted, p).optimizer(Optimizer.sgd(0.1, 0.9, 1e-3, false)).batchSize(16).seed(3)
                    .backend(BackendKind.REFERENCE).build()) {
                t.fit(train, null, 3);
            }
            float[][] after = p.list().stream().filter(x -> !x.name().startsWith("head.")).map(Parameter::toArray).toArray(float[][]::new);
            for (int i = 0; i < before.length; i++) assertArrayEquals(before[i], after[i], 0f, "the backbone is frozen");
            inLoop = p.list().stream().filter(x -> x.name().startsWith("head.")).map(Parameter::toArray).toArray(float[][]::new);
        }
        try (ParameterSet h = ParameterSet.of(TransferLearning.head(features.imageShape(), 3, new int[0], 9));
             Trainer t = Trainer.builder(TransferLearning.head(features.imageShape(), 3, new int[0], 9), h)
                     .optimizer(Optimizer.sgd(0.1, 0.9, 1e-3, false)).batchSize(16).seed(3).backend(BackendKind.REFERENCE).build()) {
            t.fit(spilled, null, 3);
            featurized = h.list().stream().map(Parameter::toArray).toArray(float[][]::new);
        }
        assertEquals(inLoop.length, featurized.length);
        for (int i = 0; i < inLoop.length; i++) {
            for (int e = 0; e < inLoop[i].length; e++) {
                assertEquals(inLoop[i][e], featurized[i][e], 1e-5 + 1e-5 * Math.abs(inLoop[i][e]), "head parameter " + i + "[" + e + "]");
            }
        }
        try (ParameterSet initial = ParameterSet.of(TransferLearning.head(features.imageShape(), 3, new int[0], 9))) {
            assertFalse(java.util.Arrays.equals(inLoop[0], initial.get("head.fc.weight").toArray()), "the head trained");
        }
    }

    @Test
    void nothingToTrainIsAnError() {
        Graph g = lecture();
        try (ParameterSet p = ParameterSet.of(g); Trainer t = Trainer.builder(g, p).backend(BackendKind.REFERENCE).build()) {
            p.freeze(n -> true);
            IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                    () -> t.fit(Dataset.of(Shape.of(1, 12, 12), new float[144], new int[1], List.of("a", "b", "c", "d", "e")), null, 1));
            assertTrue(e.getMessage().contains("nothing to train"), e.getMessage());
        }
    }
}
