package dev.convnet.bench;

import dev.convnet.data.Dataset;
import dev.convnet.data.FashionMnist;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.shape.Shape;
import dev.convnet.train.Evaluation;
import dev.convnet.train.History;
import dev.convnet.train.Initializer;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.ProgressListener;
import dev.convnet.train.Trainer;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The training benchmark of issue 9, side by side with PyTorch's run of the same recipe ({@code bench/torch_train.py},
 * whose JSON line is read from {@code --torch FILE}): the lecture-pattern network INPUT → [CONV 3×3 same → RELU →
 * POOL 2×2]×2 (32, 64 channels) → FC 128 → RELU → FC 10 on Fashion-MNIST, batch 64, SGD lr 0.05 momentum 0.9, same
 * initialization scheme, the same number of threads. Prints a JSON line per backend, then {@code summary
 * train_vs_torch=} (PyTorch's mean epoch time / ours, oneDNN) and {@code summary train_accuracy=} (our test accuracy
 * after the last epoch), and with {@code --report DIR} writes {@code DIR/training.json} and appends the rows to
 * {@code DIR/report.md}.
 *
 * <pre>java ... dev.convnet.bench.TrainBench --torch target/bench/torch_train.json [--threads 2] [--epochs 2]
 *      [--backends onednn,java] [--limit N] [--report bench/results]</pre>
 */
public final class TrainBench {
    private TrainBench() {
    }

    record Run(String backend, double[] seconds, double[] accuracy, double[] loss, int images) {
        double meanSeconds() {
            double s = 0;
            for (double x : seconds) s += x;
            return s / seconds.length;
        }

        String json() {
            return String.format(Locale.ROOT, "{\"peer\":\"convnet\",\"backend\":\"%s\",\"train_images\":%d,\"epoch_seconds\":%s,"
                    + "\"test_accuracy\":%s,\"train_loss\":%s}", backend, images, arr(seconds), arr(accuracy), arr(loss));
        }
    }

    static String arr(double[] v) {
        List<String> s = new ArrayList<>();
        for (double x : v) s.add(String.format(Locale.ROOT, "%.6f", x));
        return "[" + String.join(",", s) + "]";
    }

    static double[] numbers(String json, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":\\s*\\[([^\\]]*)\\]").matcher(json);
        if (!m.find()) throw new IllegalArgumentException("no \"" + key + "\" in " + json);
        String[] parts = m.group(1).split(",");
        double[] v = new double[parts.length];
        for (int i = 0; i < parts.length; i++) v[i] = Double.parseDouble(parts[i].trim());
        return v;
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        int threads = Integer.parseInt(a.getOrDefault("threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
        int epochs = Integer.parseInt(a.getOrDefault("epochs", "2"));
        int limit = Integer.parseInt(a.getOrDefault("limit", "0"));
        List<String> backends = List.of(a.getOrDefault("backends", "onednn").split(","));
        Dataset train = FashionMnist.train();
        if (limit > 0) train = train.subset(java.util.stream.IntStream.range(0, limit).toArray());
        Dataset test = FashionMnist.test();
        List<Run> runs = new ArrayList<>();
        for (String b : backends) {
            BackendKind kind = BackendKind.valueOf(b.toUpperCase(Locale.ROOT));
            Graph g = LecturePattern.builder(Shape.of(1, 28, 28)).convsPerBlock(1).blocks(2).blockChannels(32, 64).hiddenLayers(1)
                    .hiddenUnits(128).classes(10).kernelSize(3).seed(1).build().toGraph();
            try (ParameterSet p = ParameterSet.of(g)) {
                p.initialize(Initializer.KAIMING_UNIFORM, Initializer.UNIFORM_FAN_IN, 1);
                double[] seconds = new double[epochs];
                double[] acc = new double[epochs];
                double[] loss = new double[epochs];
                try (Trainer t = Trainer.builder(g, p).optimizer(Optimizer.sgd(0.05, 0.9, 0, false)).batchSize(64).seed(1)
                        .backend(kind).threads(threads).listener(new ProgressListener(System.err, false, 0)).build()) {
                    for (int e = 1; e <= epochs; e++) {
                        History h = t.fit(train, null, e);
                        Evaluation ev = t.evaluate(test);
                        seconds[e - 1] = h.last().seconds();
                        acc[e - 1] = ev.accuracy();
                        loss[e - 1] = h.last().trainLoss();
                    }
                }
                Run r = new Run(b, seconds, acc, loss, train.size());
                runs.add(r);
                System.out.println(r.json());
            }
        }
        String torch = a.containsKey("torch") && Files.exists(Path.of(a.get("torch"))) ? Files.readString(Path.of(a.get("torch"))).trim() : null;
        Run ours = runs.getFirst();
        Map<String, String> summary = new LinkedHashMap<>();
        double torchSeconds = Double.NaN;
        double[] torchAcc = null;
        if (torch != null && !torch.isEmpty()) {
            double[] ts = numbers(torch, "epoch_seconds");
            torchAcc = numbers(torch, "test_accuracy");
            double s = 0;
            for (double x : ts) s += x;
            torchSeconds = s / ts.length;
            summary.put("train_vs_torch", String.format(Locale.ROOT, "%.3f", torchSeconds / ours.meanSeconds()));
        } else {
            System.err.println("TrainBench: no PyTorch result (--torch FILE); train_vs_torch is not computed");
        }
        summary.put("train_accuracy", String.format(Locale.ROOT, "%.4f", ours.accuracy()[ours.accuracy().length - 1]));
        StringBuilder md = new StringBuilder("\n## Training (issue 9)\n\n");
        md.append(String.format(Locale.ROOT, "Fashion-MNIST, %d training images, lecture-pattern network (conv 32, conv 64, FC 128, FC 10), "
                + "batch 64, SGD lr 0.05 momentum 0.9, %d threads, %d epochs.%n%n", ours.images(), threads, epochs));
        md.append("| peer | seconds per epoch | images/s | test accuracy per epoch |\n|---|---|---|---|\n");
        for (Run r : runs) {
            md.append(String.format(Locale.ROOT, "| convnet (%s) | %.2f | %.0f | %s |%n", r.backend(), r.meanSeconds(), r.images() / r.meanSeconds(),
                    arr(r.accuracy())));
        }
        if (torchAcc != null) {
            md.append(String.format(Locale.ROOT, "| PyTorch 1.13 | %.2f | %.0f | %s |%n", torchSeconds, ours.images() / torchSeconds, arr(torchAcc)));
            System.out.printf(Locale.ROOT, "PyTorch: %.2f s per epoch, test accuracy %s; convnet (%s): %.2f s per epoch, test accuracy %s%n",
                    torchSeconds, arr(torchAcc), ours.backend(), ours.meanSeconds(), arr(ours.accuracy()));
        }
        for (var e : summary.entrySet()) md.append("\n    summary ").append(e.getKey()).append('=').append(e.getValue());
        md.append('\n');
        if (a.containsKey("report")) {
            Path dir = Path.of(a.get("report"));
            Files.createDirectories(dir);
            StringBuilder js = new StringBuilder("{\"runs\": [");
            js.append(String.join(", ", runs.stream().map(Run::json).toList())).append("], \"torch\": ").append(torch == null ? "null" : torch)
                    .append(", \"summary\": {").append(String.join(", ", summary.entrySet().stream()
                            .map(e -> "\"" + e.getKey() + "\": \"" + e.getValue() + "\"").toList())).append("}}\n");
            Files.writeString(dir.resolve("training.json"), js.toString());
            Path report = dir.resolve("report.md");
            Files.writeString(report, (Files.exists(report) ? Files.readString(report) : "") + md);
        } else {
            System.out.print(md);
        }
        for (var e : summary.entrySet()) System.out.println("summary " + e.getKey() + "=" + e.getValue());
    }
}
