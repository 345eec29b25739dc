package dev.convnet.quant;

import dev.convnet.data.Batch;
import dev.convnet.data.Dataset;
import dev.convnet.data.FashionMnist;
import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.train.Initializer;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.Trainer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.util.Locale;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A small Conv→BN→ReLU→Pool network trained briefly on Fashion-MNIST, quantized after calibration on 512 training
 * images: its test accuracy must stay within 0.01 of the float network's (measured on the 10,000 test images).
 */
class FashionMnistQuantizationTest {
    private static final SessionOptions JAVA = SessionOptions.defaults().withBackend(BackendKind.JAVA);

    static double accuracy(Graph g, Dataset data) {
        int correct = 0;
        String in = g.inputNames().getFirst();
        String out = g.outputNames().getFirst();
        Map<dev.convnet.shape.Shape, Session> sessions = new java.util.HashMap<>();
        try {
            for (Batch b : data.batches(250, false, 0, 0, false)) {
                Session s = sessions.computeIfAbsent(b.shape(), shape -> g.compile(Map.of(in, shape), JAVA));
                float[] y = s.run(Map.of(in, b.images())).get(out);
                int classes = y.length / b.size();
                for (int i = 0; i < b.size(); i++) {
                    int best = 0;
                    for (int c = 1; c < classes; c++) if (y[i * classes + c] > y[i * classes + best]) best = c;
                    if (best == b.labels()[i]) correct++;
                }
            }
        } finally {
            sessions.values().forEach(Session::close);
        }
        return (double) correct / data.size();
    }

    @Test
    void quantizedAccuracyStaysWithinOnePointOfFloat() throws Exception {
        assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR), "Fashion-MNIST is not installed (dataset-fashion-mnist)");
        Dataset train = FashionMnist.train().samplePerClass(1200, 1);
        Dataset test = FashionMnist.test();
        java.util.Random r = new java.util.Random(3);
        Network net = Network.of(
                Conv2d.builder(1, 8, 3).padding(Padding.same()).randomWeights(r).build(), BatchNorm.initial(8), Activation.relu(), MaxPool2d.of(2, 2),
                Conv2d.builder(8, 16, 3).padding(Padding.same()).randomWeights(r).build(), BatchNorm.initial(16), Activation.relu(), MaxPool2d.of(2, 2),
                new Flatten(), Linear.of(16 * 7 * 7, 10, new float[16 * 7 * 7 * 10], new float[10]));
        Graph graph = net.toGraph();
        long t0 = System.nanoTime();
        try (ParameterSet params = ParameterSet.of(graph)) {
            params.initialize(Initializer.KAIMING_UNIFORM, Initializer.UNIFORM_FAN_IN, 3);
            try (Trainer t = Trainer.builder(graph, params).optimizer(Optimizer.adam(2e-3, 0)).batchSize(64).seed(4)
                    .backend(BackendKind.JAVA).build()) {
                t.fit(train, null, 2);
            }
            graph = params.applyTo(graph);
        }
        long t1 = System.nanoTime();
        Dataset calibration = train.samplePerClass(51, 5);
        QuantizedGraph q = PostTrainingQuantizer.minMax().quantize(graph, calibration, 128);
        QuantizedGraph p = PostTrainingQuantizer.percentile(99.99).quantize(graph, calibration, 128);
        double fp32 = accuracy(graph, test);
        double folded = accuracy(q.folded(), test);
        double minMax = accuracy(q.graph(), test);
        double percentile = accuracy(p.graph(), test);
        System.out.printf(Locale.ROOT, "Fashion-MNIST (12,000 training images, 2 epochs, %.1f s; the 10,000 test images): float %.4f,"
                        + " BN folded %.4f, Q/DQ min/max %.4f, Q/DQ percentile 99.99 %.4f%n",
                (t1 - t0) / 1e9, fp32, folded, minMax, percentile);
        assertTrue(fp32 > 0.75, "the float network did not learn: " + fp32);
        assertEquals(fp32, folded, 0.002);
        assertEquals(fp32, minMax, 0.01);
        assertEquals(fp32, percentile, 0.01);
    }
}
