package dev.convnet.cli;

import dev.convnet.data.Batches;
import dev.convnet.data.Dataset;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import dev.convnet.train.Evaluation;
import dev.convnet.train.Loss;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/** {@code convnet eval MODEL --data …}: accuracy and confusion matrix of an ONNX classifier on the test split. */
@Command(name = "eval", description = "Accuracy and confusion matrix of an ONNX classifier on Fashion-MNIST or IDX files (the test split).")
final class EvalCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "The .onnx classifier (input [N, C, H, W], output [N, K]).")
    Path model;

    @Mixin
    DataOptions data;

    @Option(names = "--batch", defaultValue = "100", description = "Images per run (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--train-split", description = "Evaluate on the training split instead of the test split.")
    boolean trainSplit;

    @Mixin
    BackendOption backend;

    @Mixin
    PrecisionOption precision;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!java.nio.file.Files.isRegularFile(model)) throw new java.nio.file.NoSuchFileException(model.toString(), null, "no such file");
        if (batch < 1) throw new IllegalArgumentException("--batch " + batch + " must be ≥ 1");
        PrintWriter out = spec.commandLine().getOut();
        Dataset d = data.load(trainSplit);
        String input = TrainCommand.onlyInput(model);
        SessionOptions options = SessionOptions.defaults().withBackend(backend.resolve().kind());
        options = precision.applyTo(options);
        Map<Integer, Session> sessions = new HashMap<>();
        try {
            Batches batches = d.batches(batch, false, 0, 0, false);
            int[][] confusion = null;
            double lossSum = 0;
            long correct = 0;
            for (int b = 0; b < batches.count(); b++) {
                int n = batches.size(b);
                float[] x = new float[n * d.imageSize()];
                int[] y = new int[n];
                batches.fill(b, x, y);
                Session s = sessions.get(n);
                if (s == null) {
                    Graph g = OnnxImporter.load(model, Map.of(input, TrainCommand.batchShape(n, d.imageShape()))).graph();
                    s = g.compile(TrainCommand.batchShape(n, d.imageShape()), options);
                    sessions.put(n, s);
                }
                Shape outShape = s.outputShape();
                if (outShape.rank() != 2) throw new IllegalArgumentException(model + ": output " + outShape + " is not [N, K] class scores");
                int k = outShape.dim(1);
                if (d.classes() > k) {
                    throw new IllegalArgumentException(model + " scores " + k + " classes, the data has " + d.classes());
                }
                if (confusion == null) confusion = new int[k][k];
                float[] scores = s.run(x);
                lossSum += Loss.softmaxCrossEntropy().compute(scores, y, k, null) * n;
                for (int i = 0; i < n; i++) {
                    int best = 0;
                    for (int j = 1; j < k; j++) if (scores[i * k + j] > scores[i * k + best]) best = j;
                    confusion[y[i]][best]++;
                    if (best == y[i]) correct++;
                }
            }
            Evaluation e = new Evaluation(lossSum / d.size(), (double) correct / d.size(), confusion);
            out.printf(Locale.ROOT, "%s on %d %s images (%s backend)%n", model.getFileName(), d.size(), trainSplit ? "training" : "test",
                    sessions.values().iterator().next().backend().name().toLowerCase(Locale.ROOT));
            out.print(e.confusionTable(d.classNames()));
            out.printf(Locale.ROOT, "loss=%.4f%n", e.loss());
            out.printf(Locale.ROOT, "accuracy=%.4f%n", e.accuracy());
        } finally {
            sessions.values().forEach(Session::close);
        }
        out.flush();
        return 0;
    }
}
