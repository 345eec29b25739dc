package dev.convnet.cli;

import dev.convnet.data.Dataset;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import dev.convnet.train.Evaluation;
import dev.convnet.train.Initializer;
import dev.convnet.train.Loss;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.ProgressListener;
import dev.convnet.train.Trainer;
import dev.convnet.train.TransferLearning;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

/**
 * {@code convnet transfer}: adapts a pretrained ONNX classifier to new classes with one of the lecture's strategies
 * (§3): a fixed feature extractor with a softmax or SVM classifier trained on features computed once, fine-tuning all
 * layers or the top k blocks, or the same architecture from scratch for comparison. Ends with {@code test
 * accuracy=…} on every test image of the chosen classes.
 */
@Command(name = "transfer", description = "Transfer learning from a pretrained ONNX classifier: fixed-softmax, fixed-svm, finetune, finetune-top or scratch.")
final class TransferCommand implements Callable<Integer> {
    @Option(names = "--pretrained", required = true, paramLabel = "P.onnx", description = "The pretrained classifier.")
    Path pretrained;

    @Option(names = "--cut", paramLabel = "NODE", description = "Cut the pretrained graph at this node (default: the input of its last Linear/Gemm).")
    String cut;

    @Mixin
    DataOptions data;

    @Option(names = "--labels-per-class", defaultValue = "all", paramLabel = "K|all",
            description = "Labelled training images per class, drawn with the seed (default ${DEFAULT-VALUE}).")
    String labelsPerClass;

    @Option(names = "--strategy", required = true, paramLabel = "fixed-softmax|fixed-svm|finetune|finetune-top|scratch")
    String strategy;

    @Option(names = "--top-blocks", defaultValue = "1", description = "finetune-top: how many of the last convolution/Linear blocks train (default ${DEFAULT-VALUE}).")
    int topBlocks;

    @Option(names = "--hidden", split = ",", description = "Hidden units of the new head (default: none, one Linear layer).")
    int[] hidden;

    @Option(names = "--epochs", defaultValue = "10", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--lr", defaultValue = "0.01", description = "Learning rate of the head (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--backbone-lr-factor", defaultValue = "0.1", description = "finetune/finetune-top: the backbone's learning rate as a fraction of --lr (default ${DEFAULT-VALUE}).")
    double backboneFactor;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--weight-decay", defaultValue = "0.0005", description = "Weight decay (the SVM's regularizer; default ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of the label draw, initialization and shuffling (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--threads", description = "Worker threads (default: every core).")
    Integer threads;

    @Option(names = "--spill", paramLabel = "FILE", description = "fixed-*: keep the features in this file (mapped) instead of memory.")
    Path spill;

    @Mixin
    BackendOption backend;

    @Option(names = "--save", paramLabel = "OUT.onnx", description = "Save the adapted network (backbone and head) as ONNX.")
    Path save;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        if (!java.nio.file.Files.isRegularFile(pretrained)) {
            throw new java.nio.file.NoSuchFileException(pretrained.toString(), null, "no such file");
        }
        String s = strategy.toLowerCase(Locale.ROOT);
        if (!List.of("fixed-softmax", "fixed-svm", "finetune", "finetune-top", "scratch").contains(s)) {
            throw new IllegalArgumentException("--strategy " + strategy + ": expected fixed-softmax, fixed-svm, finetune, finetune-top or scratch");
        }
        Dataset train = data.load(true);
        Dataset test = data.load(false);
        if (!labelsPerClass.equals("all")) {
            int k;
            try {
                k = Integer.parseInt(labelsPerClass);
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--labels-per-class " + labelsPerClass + ": expected a number or 'all'");
            }
            train = train.samplePerClass(k, seed);
        }
        Shape image = train.imageShape();
        String input = TrainCommand.onlyInput(pretrained);
        Graph full = OnnxImporter.load(pretrained, Map.of(input, TrainCommand.batchShape(batch, image))).graph();
        String cutAt = cut != null ? cut : TransferLearning.defaultCut(full);
        Graph backbone = TransferLearning.backbone(full, cutAt);
        int classes = train.classes();
        int[] h = hidden == null ? new int[0] : hidden;
        BackendKind kind = backend.resolve().kind();
        long start = System.nanoTime();
        Evaluation result;
        Graph adapted = TransferLearning.withHead(backbone, TrainCommand.batchShape(batch, image), classes, h, seed);
        try (ParameterSet params = ParameterSet.of(adapted)) {
            out.printf(Locale.ROOT, "transfer: %s cut at '%s', %s, %d training images (%d classes), %d test images, %s backend%n",
                    pretrained.getFileName(), cutAt, s, train.size(), classes, test.size(), kind.name().toLowerCase(Locale.ROOT));
            if (s.startsWith("fixed-")) {
                result = fixed(s.equals("fixed-svm"), backbone, params, train, test, image, h, kind, out);
            } else {
                Optimizer opt = Optimizer.sgd(lr, momentum, weightDecay, false);
                Set<String> backboneNames = new HashSet<>();
                for (Graph.Node n : backbone.nodes()) backboneNames.addAll(n.parameterNames());
                switch (s) {
                    case "finetune" -> opt.group("backbone", backboneNames::contains, backboneFactor);
                    case "finetune-top" -> {
                        TransferLearning.freezeBackbone(params, backbone);
                        List<String> top = TransferLearning.topBlocks(backbone, topBlocks);
                        params.unfreeze(top::contains);
                        opt.group("top blocks", top::contains, backboneFactor);
                    }
                    case "scratch" -> params.initialize(Initializer.KAIMING_UNIFORM, Initializer.UNIFORM_FAN_IN, seed);
                    default -> throw new IllegalStateException(s);
                }
                result = train(adapted, params, opt, Loss.softmaxCrossEntropy(), train, test, kind, out);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            out.printf(Locale.ROOT, "time=%.2fs%n", seconds);
            out.printf(Locale.ROOT, "test accuracy=%.4f%n", result.accuracy());
            if (save != null) {
                OnnxExporter.save(params.applyTo(adapted), TrainCommand.batchShape(1, image), save);
                out.println("saved " + save);
            }
        }
        out.flush();
        return 0;
    }

    /** The backbone frozen: features once, then the head alone (softmax regression or a linear SVM) on them. */
    private Evaluation fixed(boolean svm, Graph backbone, ParameterSet params, Dataset train, Dataset test, Shape image, int[] h,
                             BackendKind kind, PrintWriter out) throws IOException {
        SessionOptions options = SessionOptions.defaults().withBackend(kind);
        if (threads != null) options = options.withThreads(threads);
        Graph values = params.applyTo(backbone);
        long t0 = System.nanoTime();
        Dataset trainFeatures = TransferLearning.featurize(values, train, options, batch, spill);
        Dataset testFeatures = TransferLearning.featurize(values, test, options, batch, null);
        out.printf(Locale.ROOT, "features %s computed once in %.2fs%n", trainFeatures.imageShape(), (System.nanoTime() - t0) / 1e9);
        Graph head = TransferLearning.head(trainFeatures.imageShape(), train.classes(), h, seed);
        try (ParameterSet headParams = ParameterSet.of(head)) {
            for (var p : headParams.list()) p.set(params.get(p.name()).toArray()); // the same head, the same start
            Evaluation e = train(head, headParams, Optimizer.sgd(lr, momentum, weightDecay, false),
                    svm ? Loss.multiclassHinge() : Loss.softmaxCrossEntropy(), trainFeatures, testFeatures, kind, out);
            params.copyValuesFrom(headParams);
            return e;
        }
    }

    private Evaluation train(Graph g, ParameterSet p, Optimizer opt, Loss loss, Dataset train, Dataset test, BackendKind kind,
                             PrintWriter out) {
        Trainer.Builder b = Trainer.builder(g, p).optimizer(opt).loss(loss).batchSize(batch).seed(seed).backend(kind)
                .listener(new ProgressListener(new java.io.PrintStream(new TrainCommand.WriterOutputStream(out), true), false, 0));
        if (threads != null) b.threads(threads);
        try (Trainer t = b.build()) {
            t.fit(train, null, epochs);
            return t.evaluate(test);
        }
    }
}
