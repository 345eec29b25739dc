package dev.convnet.bench;

import dev.convnet.cli.ConvnetCommand;
import dev.convnet.data.Dataset;
import dev.convnet.data.FashionMnist;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.shape.Shape;
import dev.convnet.train.EpochResult;
import dev.convnet.train.History;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.Trainer;
import dev.convnet.train.TransferLearning;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

import java.awt.Color;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 10's experiment: the lecture's transfer-learning strategies (§3) on Fashion-MNIST, convnet and PyTorch 1.13
 * side by side with one recipe.
 * <ol>
 *   <li>Pretrains the lecture network on classes 0–4 ({@code convnet train}, every training image of those classes,
 *       2 epochs; cached in {@code <work>/pretrained.onnx}).</li>
 *   <li>For every K (labelled training images per class of classes 5–9) and seed, draws the training images exactly as
 *       {@code convnet transfer} does ({@code filterClasses(5..9).samplePerClass(K, seed)}) and runs the five strategies
 *       in-process through {@link ConvnetCommand#execute(PrintWriter, PrintWriter, String...)}; each prints the test
 *       accuracy on the 5,000 test images of classes 5–9.</li>
 *   <li>Measures featurized training of the head against the frozen layers in the loop on every training image of
 *       classes 5–9 (the speed claim of deliverable 4).</li>
 *   <li>Writes {@code <work>/plan.json} (recipe, cells and the Fashion-MNIST indices of every cell's training images,
 *       {@link Dataset#sourceIndices()}) and runs {@code bench/torch_transfer.py} on it.</li>
 *   <li>Writes {@code transfer.md}, {@code transfer.json} and {@code transfer.png} into {@code --out} and prints the
 *       {@code summary NAME=VALUE} lines.</li>
 * </ol>
 *
 * <pre>java ... dev.convnet.bench.TransferExperiment [--quick] [--out DIR] [--work target/transfer] [--backend onednn|java]
 *      [--threads N] [--python /usr/bin/python3] [--ks 10,100] [--seeds 1,2,3] [--speed-epochs 3]</pre>
 */
public final class TransferExperiment {
    private TransferExperiment() {
    }

    static final List<String> STRATEGIES = List.of("fixed-softmax", "fixed-svm", "finetune", "finetune-top", "scratch");
    static final int[] NEW_CLASSES = {5, 6, 7, 8, 9};
    static final int[] OLD_CLASSES = {0, 1, 2, 3, 4};
    /** Where "all" sits on the K axis: Fashion-MNIST has 6,000 training images per class. */
    static final int ALL = 6000;
    /** The default cut of the lecture network (the input of its last Linear), compared with the recipe's. */
    static final String ABLATION_CUT = "layer9";

    /**
     * The one recipe, the same in both frameworks. Epochs: {@code max(minEpochs, ceil(minSteps / batches per epoch))}, so
     * every K gets at least {@code minSteps} SGD steps.
     */
    record Recipe(String cut, int batch, double momentum, double weightDecay, double backboneFactor, int topBlocks,
                  Map<String, Double> lr, int minEpochs, int minSteps) {
        static final Recipe DEFAULT = new Recipe("layer7", 64, 0.9, 5e-4, 0.1, 1,
                Map.of("fixed-softmax", 0.02, "fixed-svm", 0.002, "finetune", 0.02, "finetune-top", 0.02, "scratch", 0.02), 5, 300);

        int epochs(int trainingImages) {
            int batches = (trainingImages + batch - 1) / batch;
            return Math.max(minEpochs, (minSteps + batches - 1) / batches);
        }

        String json() {
            StringBuilder lrs = new StringBuilder();
            for (String s : STRATEGIES) lrs.append(lrs.isEmpty() ? "" : ",").append(String.format(Locale.ROOT, "\"%s\":%s", s, lr.get(s)));
            return String.format(Locale.ROOT, "{\"cut\":\"%s\",\"batch\":%d,\"momentum\":%s,\"weight_decay\":%s,\"backbone_lr_factor\":%s,"
                    + "\"top_blocks\":%d,\"lr\":{%s},\"min_epochs\":%d,\"min_steps\":%d}", cut, batch, momentum, weightDecay, backboneFactor,
                    topBlocks, lrs, minEpochs, minSteps);
        }
    }

    /** K images per class ({@code 0}: all) and a seed, with the Fashion-MNIST indices of the training images drawn. */
    record Cell(int k, long seed, int[] trainIndices, int epochs) {
        String kName() {
            return k == 0 ? "all" : Integer.toString(k);
        }

        int kAxis() {
            return k == 0 ? ALL : k;
        }
    }

    /** One run's outcome: test accuracy, wall seconds (features, training, evaluation) and training images per second. */
    record Run(String peer, String strategy, Cell cell, double accuracy, double seconds, double imagesPerSecond) {
        String json() {
            return String.format(Locale.ROOT, "{\"peer\":\"%s\",\"strategy\":\"%s\",\"k\":\"%s\",\"seed\":%d,\"epochs\":%d,\"train_images\":%d,"
                    + "\"accuracy\":%.4f,\"seconds\":%.2f,\"images_per_s\":%.1f}", peer, strategy, cell.kName(), cell.seed(), cell.epochs(),
                    cell.trainIndices().length, accuracy, seconds, imagesPerSecond);
        }
    }

    /** The featurized-versus-in-the-loop measurement. */
    record Speed(int images, int epochs, double[] loopSeconds, double featurizeSeconds, double[] headSeconds, double maxHeadDifference,
                 double loopAccuracy, double featurizedAccuracy) {
        /** Mean seconds per epoch after the first (which compiles and warms up). */
        static double steady(double[] s) {
            return s.length == 1 ? s[0] : Arrays.stream(s, 1, s.length).average().orElseThrow();
        }

        double speedup() {
            return steady(loopSeconds) / steady(headSeconds);
        }

        String json() {
            return String.format(Locale.ROOT, "{\"train_images\":%d,\"epochs\":%d,\"loop_epoch_seconds\":%s,\"featurize_seconds\":%.3f,"
                    + "\"head_epoch_seconds\":%s,\"speedup\":%.1f,\"max_head_difference\":%.3g,\"loop_accuracy\":%.4f,\"featurized_accuracy\":%.4f}",
                    images, epochs, TrainBench.arr(loopSeconds), featurizeSeconds, TrainBench.arr(headSeconds), speedup(), maxHeadDifference,
                    loopAccuracy, featurizedAccuracy);
        }
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i < args.length; i++) {
            String key = args[i].replaceFirst("^--", "");
            if (key.equals("quick")) a.put(key, "true");
            else a.put(key, args[++i]);
        }
        boolean quick = a.containsKey("quick");
        Path work = Path.of(a.getOrDefault("work", "target/transfer"));
        Path out = Path.of(a.getOrDefault("out", quick ? work.toString() : "bench/results"));
        String backend = a.containsKey("backend") ? a.get("backend")
                : Backends.resolve(null).name().toLowerCase(Locale.ROOT);      // the library's own choice: oneDNN if it loads
        int threads = Integer.parseInt(a.getOrDefault("threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
        String python = a.getOrDefault("python", "/usr/bin/python3");
        List<String> ks = List.of(a.getOrDefault("ks", quick ? "10,100" : "10,50,100,1000,all").split(","));
        long[] seeds = Arrays.stream(a.getOrDefault("seeds", quick ? "1" : "1,2,3").split(",")).mapToLong(Long::parseLong).toArray();
        int speedEpochs = Integer.parseInt(a.getOrDefault("speed-epochs", quick ? "2" : "3"));
        Recipe recipe = Recipe.DEFAULT;
        Files.createDirectories(work.resolve("logs"));
        Files.createDirectories(out);
        long wallStart = System.nanoTime();

        Path pretrained = work.resolve("pretrained.onnx");
        Pretraining pre = pretrain(pretrained, work.resolve("logs/pretrain.log"), backend, threads);

        Dataset pool = FashionMnist.train().filterClasses(NEW_CLASSES);
        List<Cell> cells = new ArrayList<>();
        for (String k : ks) {
            for (long seed : seeds) {
                Dataset d = k.equals("all") ? pool : pool.samplePerClass(Integer.parseInt(k), seed);
                cells.add(new Cell(k.equals("all") ? 0 : Integer.parseInt(k), seed, d.sourceIndices(), recipe.epochs(d.size())));
            }
        }

        List<Run> runs = new ArrayList<>();
        for (Cell cell : cells) {
            for (String strategy : STRATEGIES) {
                Run r = ours(strategy, recipe.cut(), cell, recipe, pretrained, backend, threads, work.resolve("logs"));
                System.out.printf(Locale.ROOT, "convnet %s k=%s seed=%d: accuracy=%.4f time=%.1fs%n", strategy, cell.kName(), cell.seed(),
                        r.accuracy(), r.seconds());
                runs.add(r);
            }
        }

        // The cut, justified: the fixed extractor at the default cut (the 128-unit hidden layer, trained for classes 0-4).
        for (Cell cell : cells) {
            Run r = ours("fixed-softmax", ABLATION_CUT, cell, recipe, pretrained, backend, threads, work.resolve("logs"));
            System.out.printf(Locale.ROOT, "convnet fixed-softmax cut at %s k=%s seed=%d: accuracy=%.4f%n", ABLATION_CUT, cell.kName(),
                    cell.seed(), r.accuracy());
            runs.add(r);
        }

        Speed speed = speed(pretrained, recipe, pool, FashionMnist.test().filterClasses(NEW_CLASSES), BackendKind.valueOf(backend.toUpperCase(Locale.ROOT)),
                threads, speedEpochs);
        System.out.printf(Locale.ROOT, "featurized head: %.3f s per epoch (features once: %.1f s); frozen layers in the loop: %.2f s per epoch; "
                + "speed-up %.1f×; head weights after %d epochs differ by at most %.2g%n", Speed.steady(speed.headSeconds()),
                speed.featurizeSeconds(), Speed.steady(speed.loopSeconds()), speed.speedup(), speed.epochs(), speed.maxHeadDifference());

        Path plan = work.resolve("plan.json");
        writePlan(plan, pretrained, recipe, cells, threads);
        Path torchOut = work.resolve("torch.jsonl");
        Files.deleteIfExists(torchOut);
        ProcessBuilder torch = new ProcessBuilder(python, "bench/torch_transfer.py", "--plan", plan.toString(), "--out", torchOut.toString())
                .inheritIO();
        // PyTorch's OpenMP threads spin while they wait; on a shared machine whose cores are busy that made its training
        // up to 10× slower (192 s instead of 19 s for the K = 10 cell), so they sleep unless the caller chose otherwise
        // (make transfer sets OMP_WAIT_POLICY=PASSIVE for both frameworks: oneDNN's OpenMP threads are the same kind).
        torch.environment().putIfAbsent("OMP_WAIT_POLICY", "PASSIVE");
        String waitPolicy = torch.environment().get("OMP_WAIT_POLICY");
        String ownPolicy = System.getenv().getOrDefault("OMP_WAIT_POLICY", "unset");
        Process p = torch.start();
        if (p.waitFor() != 0) throw new IllegalStateException("bench/torch_transfer.py failed with status " + p.exitValue());
        Map<String, Cell> byKey = new LinkedHashMap<>();
        for (Cell c : cells) byKey.put(c.kName() + "/" + c.seed(), c);
        String torchVersion = "";
        for (String line : Files.readAllLines(torchOut)) {
            if (line.isBlank()) continue;
            Map<String, String> m = SideBySide.json(line);
            torchVersion = m.get("torch");
            runs.add(new Run("torch", m.get("strategy"), byKey.get(m.get("k") + "/" + m.get("seed")), Double.parseDouble(m.get("accuracy")),
                    Double.parseDouble(m.get("seconds")), Double.parseDouble(m.get("images_per_s"))));
        }
        double minutes = (System.nanoTime() - wallStart) / 60e9;
        report(out, quick, runs, ks, seeds, recipe, pre, speed, backend, "OMP_WAIT_POLICY=" + ownPolicy, threads, torchVersion + ", OMP_WAIT_POLICY=" + waitPolicy, minutes);
    }

    record Pretraining(double accuracy, double imagesPerSecond, boolean cached) {
    }

    private static final Pattern EPOCH = Pattern.compile("(?m)^epoch \\d+: .* images/s=(\\d+) ");
    private static final Pattern ACCURACY = Pattern.compile("(?m)^test accuracy=([0-9.]+)$");
    private static final Pattern TIME = Pattern.compile("(?m)^time=([0-9.]+)s$");

    /** Runs a convnet command in-process, keeps its output in {@code log}, and returns that output. */
    static String convnet(Path log, String... args) throws IOException {
        StringWriter text = new StringWriter();
        int status;
        try (PrintWriter w = new PrintWriter(text)) {
            status = ConvnetCommand.execute(w, w, args);
        }
        Files.writeString(log, "convnet " + String.join(" ", args) + "\n" + text);
        if (status != 0) throw new IllegalStateException("convnet " + String.join(" ", args) + " exited with " + status + ":\n" + text);
        return text.toString();
    }

    static double number(Pattern p, String text) {
        Matcher m = p.matcher(text);
        if (!m.find()) throw new IllegalStateException("no " + p + " in:\n" + text);
        return Double.parseDouble(m.group(1));
    }

    /** Training images per second over every epoch line: E / Σ 1/(images/s of epoch e). */
    static double imagesPerSecond(String text) {
        Matcher m = EPOCH.matcher(text);
        int epochs = 0;
        double inverse = 0;
        while (m.find()) {
            epochs++;
            inverse += 1 / Math.max(1, Double.parseDouble(m.group(1)));
        }
        return epochs == 0 ? Double.NaN : epochs / inverse;
    }

    static Pretraining pretrain(Path model, Path log, String backend, int threads) throws IOException {
        boolean cached = Files.exists(model) && Files.exists(log)          // pretrained on this backend (the log says how fast)
                && Files.readAllLines(log).getFirst().contains(" --backend " + backend + " ");
        if (!cached) {
            System.out.println("pretraining the lecture network on Fashion-MNIST classes 0-4 (" + model + ")");
            convnet(log, "train", "--data", "fashion-mnist", "--classes", join(OLD_CLASSES), "--epochs", "2", "--seed", "1",
                    "--backend", backend, "--threads", Integer.toString(threads), "--save", model.toString());
        }
        String text = Files.readString(log);
        Pretraining p = new Pretraining(number(ACCURACY, text), imagesPerSecond(text), cached);
        System.out.printf(Locale.ROOT, "pretrained%s: test accuracy %.4f on classes 0-4, %.0f training images/s%n", cached ? " (cached)" : "",
                p.accuracy(), p.imagesPerSecond());
        return p;
    }

    static String join(int[] v) {
        return String.join(",", Arrays.stream(v).mapToObj(Integer::toString).toList());
    }

    /** One convnet run; the peer is "convnet", or "convnet@CUT" when {@code cut} is not the recipe's. */
    static Run ours(String strategy, String cut, Cell cell, Recipe r, Path pretrained, String backend, int threads, Path logs) throws IOException {
        String peer = cut.equals(r.cut()) ? "convnet" : "convnet@" + cut;
        Path log = logs.resolve(peer.replace('@', '_') + "_" + strategy + "_k" + cell.kName() + "_s" + cell.seed() + ".log");
        String text = convnet(log, "transfer", "--pretrained", pretrained.toString(), "--cut", cut, "--data", "fashion-mnist",
                "--classes", join(NEW_CLASSES), "--labels-per-class", cell.kName(), "--strategy", strategy,
                "--epochs", Integer.toString(cell.epochs()), "--lr", Double.toString(r.lr().get(strategy)),
                "--batch", Integer.toString(r.batch()), "--momentum", Double.toString(r.momentum()),
                "--weight-decay", Double.toString(r.weightDecay()), "--backbone-lr-factor", Double.toString(r.backboneFactor()),
                "--top-blocks", Integer.toString(r.topBlocks()), "--seed", Long.toString(cell.seed()), "--backend", backend,
                "--threads", Integer.toString(threads));
        if (!text.contains(cell.trainIndices().length + " training images")) {
            throw new IllegalStateException("convnet transfer trained on another number of images than the plan's "
                    + cell.trainIndices().length + ":\n" + text);
        }
        return new Run(peer, strategy, cell, number(ACCURACY, text), number(TIME, text), imagesPerSecond(text));
    }

    /**
     * The head trained for {@code epochs} epochs on {@code train} twice, from the same initial values and batch order:
     * with the frozen backbone run in the loop, and on features computed once.
     */
    static Speed speed(Path pretrained, Recipe r, Dataset train, Dataset test, BackendKind kind, int threads, int epochs) throws IOException {
        String input = OnnxModelReader.read(pretrained).runtimeInputs().getFirst().name();
        Shape batch = Shape.of(r.batch(), 1, 28, 28);
        Graph backbone = TransferLearning.backbone(OnnxImporter.load(pretrained, Map.of(input, batch)).graph(), r.cut());
        Graph adapted = TransferLearning.withHead(backbone, batch, train.classes(), new int[0], 1);
        Optimizer sgd = Optimizer.sgd(r.lr().get("fixed-softmax"), r.momentum(), r.weightDecay(), false);
        double[] loop;
        float[] loopWeights;
        double loopAccuracy;
        try (ParameterSet p = ParameterSet.of(adapted)) {
            TransferLearning.freezeBackbone(p, backbone);
            try (Trainer t = Trainer.builder(adapted, p).optimizer(sgd).batchSize(r.batch()).seed(1).backend(kind).threads(threads).build()) {
                loop = seconds(t.fit(train, null, epochs));
                loopAccuracy = t.evaluate(test).accuracy();
            }
            loopWeights = p.get("head.fc.weight").toArray();
        }
        SessionOptions options = SessionOptions.defaults().withBackend(kind).withThreads(threads);
        try (ParameterSet p = ParameterSet.of(adapted)) {
            Graph frozen = p.applyTo(backbone);
            long t0 = System.nanoTime();
            Dataset features = TransferLearning.featurize(frozen, train, options, r.batch(), null);
            double featurize = (System.nanoTime() - t0) / 1e9;
            Dataset testFeatures = TransferLearning.featurize(frozen, test, options, r.batch(), null);
            Graph head = TransferLearning.head(features.imageShape(), train.classes(), new int[0], 1);
            try (ParameterSet hp = ParameterSet.of(head);
                 Trainer t = Trainer.builder(head, hp).optimizer(Optimizer.sgd(r.lr().get("fixed-softmax"), r.momentum(), r.weightDecay(), false))
                         .batchSize(r.batch()).seed(1).backend(kind).threads(threads).build()) {
                double[] headSeconds = seconds(t.fit(features, null, epochs));
                double featurizedAccuracy = t.evaluate(testFeatures).accuracy();
                float[] w = hp.get("head.fc.weight").toArray();
                double diff = 0;
                for (int i = 0; i < w.length; i++) diff = Math.max(diff, Math.abs(w[i] - loopWeights[i]));
                return new Speed(train.size(), epochs, loop, featurize, headSeconds, diff, loopAccuracy, featurizedAccuracy);
            }
        }
    }

    static double[] seconds(History h) {
        return h.epochs().stream().mapToDouble(EpochResult::seconds).toArray();
    }

    static void writePlan(Path plan, Path pretrained, Recipe r, List<Cell> cells, int threads) throws IOException {
        StringBuilder s = new StringBuilder("{\"data\": \"").append(FashionMnist.DEFAULT_DIR).append("\",\n \"pretrained\": \"")
                .append(pretrained).append("\",\n \"cut\": \"").append(r.cut()).append("\",\n \"classes\": [").append(join(NEW_CLASSES))
                .append("],\n \"threads\": ").append(threads).append(",\n \"strategies\": [")
                .append(String.join(",", STRATEGIES.stream().map(x -> "\"" + x + "\"").toList())).append("],\n \"recipe\": ")
                .append(r.json()).append(",\n \"cells\": [\n");
        for (int i = 0; i < cells.size(); i++) {
            Cell c = cells.get(i);
            s.append(String.format(Locale.ROOT, "  {\"k\": %s, \"seed\": %d, \"epochs\": %d, \"train_indices\": [%s]}%s%n",
                    c.k() == 0 ? "\"all\"" : Integer.toString(c.k()), c.seed(), c.epochs(), join(c.trainIndices()), i + 1 < cells.size() ? "," : ""));
        }
        Files.writeString(plan, s.append(" ]\n}\n").toString());
    }

    /** Mean and sample standard deviation (NaN for one value). */
    record Stat(double mean, double sd, double seconds, int n) {
        static Stat of(List<Run> runs) {
            double m = runs.stream().mapToDouble(Run::accuracy).average().orElse(Double.NaN);
            double ss = runs.stream().mapToDouble(x -> (x.accuracy() - m) * (x.accuracy() - m)).sum();
            return new Stat(m, runs.size() > 1 ? Math.sqrt(ss / (runs.size() - 1)) : Double.NaN,
                    runs.stream().mapToDouble(Run::seconds).average().orElse(Double.NaN), runs.size());
        }

        String accuracy() {
            return Double.isNaN(sd) ? String.format(Locale.ROOT, "%.4f", mean) : String.format(Locale.ROOT, "%.4f ± %.4f", mean, sd);
        }
    }

    static Stat stat(List<Run> runs, String peer, String strategy, String k) {
        return Stat.of(runs.stream().filter(r -> r.peer().equals(peer) && r.strategy().equals(strategy) && r.cell().kName().equals(k)).toList());
    }

    static void report(Path out, boolean quick, List<Run> runs, List<String> ks, long[] seeds, Recipe r, Pretraining pre, Speed speed,
                       String backend, String backendNote, int threads, String torchVersion, double minutes) throws IOException {
        Map<String, String> summary = new LinkedHashMap<>();
        double gap = 0;
        for (String s : STRATEGIES) {
            for (String k : List.of("10", "100")) {
                if (!ks.contains(k)) continue;
                Stat ours = stat(runs, "convnet", s, k);
                Stat torch = stat(runs, "torch", s, k);
                summary.put("transfer_" + s.replace('-', '_') + "_k" + k, String.format(Locale.ROOT, "%.4f", ours.mean()));
                gap = Math.max(gap, Math.abs(ours.mean() - torch.mean()));
            }
        }
        summary.put("transfer_vs_torch_gap", String.format(Locale.ROOT, "%.4f", gap));
        summary.put("transfer_featurized_speedup", String.format(Locale.ROOT, "%.1f", speed.speedup()));

        StringBuilder md = new StringBuilder("# Transfer learning (issue 10)\n\n");
        md.append(String.format(Locale.ROOT, "%s; CPU %s; %d threads; convnet on its %s backend (%s), PyTorch %s; %s run (%s, seeds %s), %.0f minutes in all.%n%n",
                ZonedDateTime.now(), cpuModel(), threads, backend, backendNote, torchVersion, quick ? "quick" : "full", "K = " + String.join(", ", ks),
                String.join(", ", Arrays.stream(seeds).mapToObj(Long::toString).toList()), minutes));
        md.append(String.format(Locale.ROOT, "Pretrained: the lecture network (conv 3×3 32 → pool → conv 3×3 64 → pool → FC 128 → FC 5) on Fashion-MNIST "
                + "classes 0–4 (T-shirt, trouser, pullover, dress, coat; 30,000 images, 2 epochs, SGD lr 0.05 momentum 0.9): test accuracy %.4f "
                + "on their 5,000 test images, %.0f training images/s%s. Transfer to classes 5–9 (sandal, shirt, sneaker, bag, ankle boot), "
                + "test accuracy on their 5,000 test images.%n%n", pre.accuracy(), pre.imagesPerSecond(),
                pre.cached() ? " (cached: pretrained by an earlier run on this backend)" : ""));
        md.append(String.format(Locale.ROOT, "Recipe (both frameworks): cut at `%s` (the flattened conv features, 3,136 values); new head one Linear "
                + "3136→5, Kaiming-uniform weights, U(±1/√fan_in) biases; SGD momentum %s, weight decay %s, batch %d; lr %s; finetune and "
                + "finetune-top train the backbone (all of it, or its last %d block) at %s × lr; epochs = max(%d, ⌈%d / batches per epoch⌉). "
                + "The same training images per (K, seed) in both (`plan.json`); each framework shuffles with its own seeded generator and "
                + "draws its own head. The learning rates were tuned lightly, once, and serve both frameworks: PyTorch runs at K = 10 and 100 "
                + "scored on 5,000 held-out training images of classes 5–9 (not the test set), lr from 0.0005 to 0.1; within 0.01 of the "
                + "best everywhere except fixed-svm at K = 10 (which prefers smaller steps still).%n%n", r.cut(), r.momentum(), r.weightDecay(), r.batch(),
                String.join(", ", STRATEGIES.stream().map(s -> s + " " + r.lr().get(s)).toList()), r.topBlocks(), r.backboneFactor(),
                r.minEpochs(), r.minSteps()));
        md.append("| strategy | K per class | epochs | convnet accuracy | convnet s | PyTorch accuracy | PyTorch s | |convnet − PyTorch| |\n");
        md.append("|---|---|---|---|---|---|---|---|\n");
        for (String s : STRATEGIES) {
            for (String k : ks) {
                Stat ours = stat(runs, "convnet", s, k);
                Stat torch = stat(runs, "torch", s, k);
                int epochs = runs.stream().filter(x -> x.cell().kName().equals(k)).findFirst().orElseThrow().cell().epochs();
                md.append(String.format(Locale.ROOT, "| %s | %s | %d | %s | %.1f | %s | %.1f | %.4f |%n", s, k, epochs, ours.accuracy(), ours.seconds(),
                        torch.accuracy(), torch.seconds(), Math.abs(ours.mean() - torch.mean())));
            }
        }
        md.append("\nTime: wall seconds of one run from the pretrained model in memory to the test accuracy (features, training, "
                + "evaluation), mean over seeds.\n\n");
        md.append("Who wins (convnet's means; a strategy is listed as losing when it is at least 0.01 below the best):\n\n"
                + "| K per class | best | losing |\n|---|---|---|\n");
        for (String k : ks) {
            Map<String, Double> mean = new LinkedHashMap<>();
            for (String s : STRATEGIES) mean.put(s, stat(runs, "convnet", s, k).mean());
            String best = mean.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
            List<String> losing = mean.entrySet().stream().filter(e -> e.getValue() <= mean.get(best) - 0.01)
                    .map(e -> String.format(Locale.ROOT, "%s (−%.3f)", e.getKey(), mean.get(best) - e.getValue())).toList();
            md.append(String.format(Locale.ROOT, "| %s | %s (%.4f) | %s |%n", k, best, mean.get(best), losing.isEmpty() ? "none" : String.join(", ", losing)));
        }
        md.append('\n');
        md.append(String.format(Locale.ROOT, "The cut: fixed-softmax (convnet) at `%s`, the flattened conv features, against `%s`, the default cut "
                + "(the 128 ReLU units before the old classifier):%n%n| K per class | at %s | at %s |%n|---|---|---|%n", r.cut(), ABLATION_CUT,
                r.cut(), ABLATION_CUT));
        for (String k : ks) {
            md.append(String.format(Locale.ROOT, "| %s | %s | %s |%n", k, stat(runs, "convnet", "fixed-softmax", k).accuracy(),
                    stat(runs, "convnet@" + ABLATION_CUT, "fixed-softmax", k).accuracy()));
        }
        md.append('\n');
        md.append(String.format(Locale.ROOT, "Featurized training (deliverable 4), %d training images, the head trained %d epochs from the same start and "
                + "batch order: with the frozen layers in the loop %.2f s per epoch; on features computed once (%.1f s, one inference pass) "
                + "%.3f s per epoch: **%.1f× faster per epoch** (epochs after the first; test accuracy %.4f and %.4f, head weights differ by "
                + "at most %.2g). Computing the features costs about one epoch with the frozen layers in the loop, so it pays from the "
                + "second epoch on: for the recipe's %d epochs on these images, %.1f s in the loop against %.1f s featurized (%.1f×).%n%n",
                speed.images(), speed.epochs(), Speed.steady(speed.loopSeconds()), speed.featurizeSeconds(),
                Speed.steady(speed.headSeconds()), speed.speedup(), speed.loopAccuracy(), speed.featurizedAccuracy(), speed.maxHeadDifference(),
                r.epochs(speed.images()), r.epochs(speed.images()) * Speed.steady(speed.loopSeconds()),
                speed.featurizeSeconds() + r.epochs(speed.images()) * Speed.steady(speed.headSeconds()),
                r.epochs(speed.images()) * Speed.steady(speed.loopSeconds())
                        / (speed.featurizeSeconds() + r.epochs(speed.images()) * Speed.steady(speed.headSeconds()))));
        md.append("Training throughput (images/s, mean over that K's runs):\n\n| run | convnet | PyTorch |\n|---|---|---|\n");
        md.append(String.format(Locale.ROOT, "| pretraining (the training benchmark's network, %s backend) | %.0f | |%n", backend, pre.imagesPerSecond()));
        String bigK = ks.getLast();
        for (String s : List.of("finetune", "finetune-top", "scratch")) {
            md.append(String.format(Locale.ROOT, "| %s, K = %s | %.0f | %.0f |%n", s, bigK, meanRate(runs, "convnet", s, bigK),
                    meanRate(runs, "torch", s, bigK)));
        }
        md.append('\n');
        for (var e : summary.entrySet()) md.append("    summary ").append(e.getKey()).append('=').append(e.getValue()).append('\n');
        Files.writeString(out.resolve("transfer.md"), md);

        StringBuilder js = new StringBuilder("{\n  \"date\": \"").append(ZonedDateTime.now()).append("\",\n  \"quick\": ").append(quick)
                .append(",\n  \"backend\": \"").append(backend).append("\",\n  \"threads\": ").append(threads)
                .append(",\n  \"torch\": \"").append(torchVersion).append("\",\n  \"recipe\": ").append(r.json())
                .append(String.format(Locale.ROOT, ",%n  \"pretrained\": {\"accuracy\":%.4f,\"images_per_s\":%.1f}", pre.accuracy(), pre.imagesPerSecond()))
                .append(",\n  \"speed\": ").append(speed.json()).append(",\n  \"runs\": [\n    ")
                .append(String.join(",\n    ", runs.stream().map(Run::json).toList())).append("\n  ],\n  \"summary\": {")
                .append(String.join(", ", summary.entrySet().stream().map(e -> "\"" + e.getKey() + "\": " + e.getValue()).toList()))
                .append("}\n}\n");
        Files.writeString(out.resolve("transfer.json"), js);
        chart(out.resolve("transfer.png"), runs, ks);
        System.out.print(md);
        for (var e : summary.entrySet()) System.out.println("summary " + e.getKey() + "=" + e.getValue());
    }

    static double meanRate(List<Run> runs, String peer, String strategy, String k) {
        return runs.stream().filter(r -> r.peer().equals(peer) && r.strategy().equals(strategy) && r.cell().kName().equals(k))
                .mapToDouble(Run::imagesPerSecond).average().orElse(Double.NaN);
    }

    static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("unknown");
        } catch (IOException e) {
            return "unknown";
        }
    }

    /** Accuracy against K (log axis) per strategy, error bars one standard deviation; convnet solid, PyTorch dashed. */
    static void chart(Path file, List<Run> runs, List<String> ks) throws IOException {
        XYChart c = new XYChartBuilder().width(900).height(600).title("Transfer to Fashion-MNIST classes 5-9: test accuracy")
                .xAxisTitle("labelled training images per class (all = 6000)").yAxisTitle("test accuracy (5,000 images)").build();
        Styler st = c.getStyler();
        st.setChartBackgroundColor(Color.WHITE);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setLegendPosition(Styler.LegendPosition.InsideSE);
        c.getStyler().setErrorBarsColorSeriesColor(true);
        Color[] colors = {new Color(31, 119, 180), new Color(255, 127, 14), new Color(44, 160, 44), new Color(214, 39, 40), new Color(148, 103, 189)};
        double[] x = ks.stream().mapToDouble(k -> k.equals("all") ? ALL : Double.parseDouble(k)).toArray();
        for (int i = 0; i < STRATEGIES.size(); i++) {
            String s = STRATEGIES.get(i);
            for (String peer : List.of("convnet", "torch")) {
                double[] y = new double[x.length];
                double[] e = new double[x.length];
                for (int j = 0; j < x.length; j++) {
                    Stat t = stat(runs, peer, s, ks.get(j));
                    y[j] = t.mean();
                    e[j] = Double.isNaN(t.sd()) ? 0 : t.sd();
                }
                XYSeries series = c.addSeries(s + (peer.equals("convnet") ? " (convnet)" : " (PyTorch)"), x, y, e);
                series.setLineColor(colors[i]);
                series.setMarkerColor(colors[i]);
                if (peer.equals("convnet")) {
                    series.setMarker(SeriesMarkers.CIRCLE);
                    series.setLineStyle(SeriesLines.SOLID);
                } else {
                    series.setMarker(SeriesMarkers.DIAMOND);
                    series.setLineStyle(SeriesLines.DASH_DASH);
                }
            }
        }
        BitmapEncoder.saveBitmap(c, file.toString(), BitmapEncoder.BitmapFormat.PNG);
    }
}
