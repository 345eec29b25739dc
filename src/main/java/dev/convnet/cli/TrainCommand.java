package dev.convnet.cli;

import dev.convnet.data.Augmentation;
import dev.convnet.data.Dataset;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.shape.Shape;
import dev.convnet.train.Checkpoints;
import dev.convnet.train.Evaluation;
import dev.convnet.train.HistoryFiles;
import dev.convnet.train.Initializer;
import dev.convnet.train.LearningRateSchedule;
import dev.convnet.train.Loss;
import dev.convnet.train.Optimizer;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.ProgressListener;
import dev.convnet.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code convnet train}: trains the lecture's layer pattern (or an ONNX model's graph, its weights as the starting
 * point) on Fashion-MNIST or IDX files, prints a line per epoch and {@code test accuracy=…}, and saves the result as
 * ONNX. The loss is the mean softmax cross-entropy over the batch and SGD updates exactly as {@code torch.optim.SGD}.
 */
@Command(name = "train", description = "Train the lecture's layer pattern or an ONNX model on Fashion-MNIST or IDX files; save as ONNX.")
final class TrainCommand implements Callable<Integer> {
    @Option(names = "--model", paramLabel = "FILE.onnx", description = "Start from this model (its weights; its BatchNorm nodes train).")
    Path model;

    @Mixin
    DataOptions data;

    @Option(names = "--convs-per-block", defaultValue = "1", description = "N: [CONV → RELU] per block (default ${DEFAULT-VALUE}).")
    int convsPerBlock;

    @Option(names = "--blocks", defaultValue = "2", description = "M: blocks, each ending with 2×2 max pooling (default ${DEFAULT-VALUE}).")
    int blocks;

    @Option(names = "--channels", split = ",", defaultValue = "32,64", description = "Output channels per block (default ${DEFAULT-VALUE}).")
    int[] channels;

    @Option(names = "--hidden-layers", defaultValue = "1", description = "K: hidden [FC → RELU] layers (default ${DEFAULT-VALUE}).")
    int hiddenLayers;

    @Option(names = "--hidden-units", split = ",", description = "Units per hidden FC layer (default 128 each).")
    int[] hiddenUnits;

    @Option(names = "--num-classes", description = "Outputs of the last FC layer (default: the number of classes in the data).")
    Integer numClasses;

    @Option(names = "--kernel-size", defaultValue = "3", description = "Square kernel of every convolution, same padding (default ${DEFAULT-VALUE}).")
    int kernelSize;

    @Option(names = "--optimizer", defaultValue = "sgd", description = "sgd, adam or adamw (default ${DEFAULT-VALUE}).")
    String optimizer;

    @Option(names = "--lr", defaultValue = "0.05", description = "Learning rate (default ${DEFAULT-VALUE}).")
    double lr;

    @Option(names = "--momentum", defaultValue = "0.9", description = "SGD momentum (default ${DEFAULT-VALUE}).")
    double momentum;

    @Option(names = "--nesterov", description = "Nesterov momentum (SGD).")
    boolean nesterov;

    @Option(names = "--weight-decay", defaultValue = "0", description = "Weight decay (L2 for sgd/adam, decoupled for adamw; default ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--loss", defaultValue = "cross-entropy", description = "cross-entropy, hinge or mse (default ${DEFAULT-VALUE}).")
    String loss;

    @Option(names = "--label-smoothing", defaultValue = "0", description = "Label smoothing of the cross-entropy (default ${DEFAULT-VALUE}).")
    double labelSmoothing;

    @Option(names = "--schedule", defaultValue = "constant", description = "constant, cosine or step (×0.1 every 10 epochs) (default ${DEFAULT-VALUE}).")
    String schedule;

    @Option(names = "--warmup", defaultValue = "0", description = "Linear warm-up steps (default ${DEFAULT-VALUE}).")
    long warmup;

    @Option(names = "--clip", defaultValue = "0", description = "Clip gradients to this global norm (0: off).")
    double clip;

    @Option(names = "--augment", description = "Augment training batches: random crop with 2 pixels of padding and horizontal flips.")
    boolean augment;

    @Option(names = "--batch", defaultValue = "64", description = "Batch size (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--epochs", defaultValue = "2", description = "Epochs (default ${DEFAULT-VALUE}).")
    int epochs;

    @Option(names = "--seed", defaultValue = "1", description = "Seed of initialization, shuffling, augmentation and dropout (default ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--no-shuffle", description = "Visit the training examples in order.")
    boolean noShuffle;

    @Option(names = "--drop-last", description = "Leave out the last partial batch of each epoch.")
    boolean dropLast;

    @Option(names = "--threads", description = "Worker threads (default: every core).")
    Integer threads;

    @Mixin
    BackendOption backend;

    @Option(names = "--save", paramLabel = "OUT.onnx", description = "Save the trained network as ONNX (opset 13, symbolic batch).")
    Path save;

    @Option(names = "--history", paramLabel = "FILE.csv", description = "Write the per-epoch history as CSV.")
    Path history;

    @Option(names = "--chart", paramLabel = "FILE.png", description = "Draw the loss and accuracy curves into a PNG.")
    Path chart;

    @Option(names = "--checkpoint", paramLabel = "FILE", description = "Save a checkpoint after every epoch.")
    Path checkpoint;

    @Option(names = "--resume", paramLabel = "FILE", description = "Resume from a checkpoint (same options and seed).")
    Path resume;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        Dataset train = data.load(true);
        Dataset test = data.load(false);
        Shape image = train.imageShape();
        Graph graph;
        if (model != null) {
            if (!java.nio.file.Files.isRegularFile(model)) throw new java.nio.file.NoSuchFileException(model.toString(), null, "no such file");
            graph = OnnxImporter.load(model, Map.of(onlyInput(model), batchShape(batch, image))).graph();
        } else {
            int classes = numClasses != null ? numClasses : train.classes();
            Network net = LecturePattern.builder(image).convsPerBlock(convsPerBlock).blocks(blocks).blockChannels(channels)
                    .hiddenLayers(hiddenLayers).hiddenUnits(hiddenUnits != null ? hiddenUnits : java.util.stream.IntStream.range(0, Math.max(0, hiddenLayers)).map(i -> 128).toArray()).classes(classes).kernelSize(kernelSize).seed(seed).build();
            graph = net.toGraph();
        }
        Backends.Choice choice = backend.resolve();
        try (ParameterSet params = ParameterSet.of(graph)) {
            if (model == null) params.initialize(Initializer.KAIMING_UNIFORM, Initializer.UNIFORM_FAN_IN, seed);
            Optimizer opt = switch (optimizer.toLowerCase(Locale.ROOT)) {
                case "sgd" -> Optimizer.sgd(lr, momentum, weightDecay, nesterov);
                case "adam" -> Optimizer.adam(lr, weightDecay);
                case "adamw" -> Optimizer.adamW(lr, weightDecay);
                default -> throw new IllegalArgumentException("--optimizer " + optimizer + ": expected sgd, adam or adamw");
            };
            if (clip > 0) opt.clipGradientNorm(clip);
            LearningRateSchedule sched = switch (schedule.toLowerCase(Locale.ROOT)) {
                case "constant" -> LearningRateSchedule.constant();
                case "cosine" -> LearningRateSchedule.cosine(epochs, 0);
                case "step" -> LearningRateSchedule.step(10, 0.1);
                default -> throw new IllegalArgumentException("--schedule " + schedule + ": expected constant, cosine or step");
            };
            Loss l = switch (loss.toLowerCase(Locale.ROOT)) {
                case "cross-entropy" -> Loss.softmaxCrossEntropy(labelSmoothing);
                case "hinge" -> Loss.multiclassHinge();
                case "mse" -> Loss.meanSquaredError();
                default -> throw new IllegalArgumentException("--loss " + loss + ": expected cross-entropy, hinge or mse");
            };
            Trainer.Builder b = Trainer.builder(graph, params).optimizer(opt).schedule(warmup > 0 ? sched.withWarmup(warmup) : sched)
                    .loss(l).batchSize(batch).shuffle(!noShuffle).dropLast(dropLast).seed(seed).backend(choice.kind())
                    .augmentation(augment ? Augmentation.randomCrop(2).thenHorizontalFlip() : Augmentation.none())
                    .listener(new ProgressListener(new java.io.PrintStream(new WriterOutputStream(out), true),
                            System.console() != null && System.console().isTerminal(), 4));
            if (threads != null) b.threads(threads);
            if (history != null || chart != null) b.listener(new HistoryFiles(history, chart, "convnet train"));
            if (checkpoint != null) b.listener(new Checkpoints(checkpoint));
            try (Trainer trainer = b.build()) {
                if (resume != null) {
                    trainer.resume(resume);
                    out.println("resumed from " + resume + " after epoch " + trainer.epochsDone() + " (step " + trainer.steps() + ")");
                }
                out.printf(Locale.ROOT, "training %s on %s: %d training images, %d test images, %d classes, batch %d, %s, %s%n",
                        model != null ? model.getFileName() : "the lecture pattern", trainer.backend().name().toLowerCase(Locale.ROOT),
                        train.size(), test.size(), train.classes(), batch, opt, l);
                out.flush();
                trainer.fit(train, null, epochs);
                Evaluation e = trainer.evaluate(test);
                out.printf(Locale.ROOT, "test loss=%.4f%n", e.loss());
                out.printf(Locale.ROOT, "test accuracy=%.4f%n", e.accuracy());
            }
            if (save != null) {
                OnnxExporter.save(params.applyTo(graph), batchShape(1, image), save);
                out.println("saved " + save);
            }
        }
        out.flush();
        return 0;
    }

    static Shape batchShape(int n, Shape image) {
        int[] dims = new int[image.rank() + 1];
        dims[0] = n;
        System.arraycopy(image.dims(), 0, dims, 1, image.rank());
        return Shape.of(dims);
    }

    static String onlyInput(Path model) throws IOException {
        var m = dev.convnet.onnx.OnnxModelReader.read(model);
        if (m.runtimeInputs().size() != 1) {
            throw new IllegalArgumentException(model + " has " + m.runtimeInputs().size() + " inputs; a classifier takes one");
        }
        return m.runtimeInputs().getFirst().name();
    }

    /** Lets the progress listener print through picocli's writer (so tests capture it). */
    static final class WriterOutputStream extends java.io.OutputStream {
        private final PrintWriter w;

        WriterOutputStream(PrintWriter w) {
            this.w = w;
        }

        @Override
        public void write(int b) {
            w.write(b);
        }

        @Override
        public void write(byte[] b, int off, int len) {
            w.write(new String(b, off, len, java.nio.charset.StandardCharsets.UTF_8));
        }

        @Override
        public void flush() {
            w.flush();
        }
    }
}
