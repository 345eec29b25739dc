package dev.convnet.train;

import dev.convnet.data.Augmentation;
import dev.convnet.data.Batches;
import dev.convnet.data.Dataset;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Trains a classifier graph (one input {@code [N, C, H, W]}, one output of class scores {@code [N, K]}) on a
 * {@link Dataset}: per batch forward, loss, backward, update, and listeners for everything else.
 *
 * <pre>{@code
 * try (ParameterSet p = ParameterSet.of(net);
 *      Trainer t = Trainer.builder(net.toGraph(), p).optimizer(Optimizer.sgd(0.05, 0.9, 0, false)).batchSize(64)
 *              .listener(new ProgressListener()).build()) {
 *     History h = t.fit(train, test, 2);
 *     Evaluation e = t.evaluate(test);
 * }
 * }</pre>
 *
 * <p>Reproducible and resumable: the batch order of epoch e depends only on (seed, e), augmentation on (seed, e,
 * batch), dropout masks on (seed, step); a checkpoint ({@link #saveCheckpoint}) holds the parameters, the optimizer
 * state, the epoch, the step and the history, so {@link #resume} followed by {@link #fit} continues exactly as an
 * uninterrupted run would. Training sessions are compiled once per batch size (the last partial batch of an epoch has
 * its own) and reused.
 *
 * <p>Thread-safety: not thread-safe: one thread calls {@code fit} and {@code evaluate}.
 */
public final class Trainer implements AutoCloseable {
    private static final int MAGIC = 0x434E434B; // "CNCK"
    private static final int VERSION = 1;

    private final Graph graph;
    private final ParameterSet parameters;
    private final Loss loss;
    private final Optimizer optimizer;
    private final double baseLearningRate;
    private final LearningRateSchedule schedule;
    private final int batchSize;
    private final boolean shuffle;
    private final boolean dropLast;
    private final long seed;
    private final Augmentation augmentation;
    private final TrainingOptions options;
    private final List<TrainingListener> listeners;
    private final Map<Shape, TrainingSession> sessions = new HashMap<>();
    private final Map<Integer, float[]> imageBuffers = new HashMap<>(); // by length
    private final Map<Integer, int[]> labelBuffers = new HashMap<>();
    private History history = new History();
    private int epochsDone;
    private long step;
    private boolean stopRequested;
    private boolean closed;

    private Trainer(Builder b) {
        this.graph = b.graph;
        this.parameters = b.parameters;
        this.loss = b.loss;
        this.optimizer = b.optimizer;
        this.baseLearningRate = b.optimizer.learningRate();
        this.schedule = b.schedule;
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.dropLast = b.dropLast;
        this.seed = b.seed;
        this.augmentation = b.augmentation;
        this.options = b.options.withSeed(b.seed);
        this.listeners = List.copyOf(b.listeners);
        if (graph.inputNames().size() != 1 || graph.outputNames().size() != 1) {
            throw new IllegalArgumentException("a trainer needs a graph with one input and one output, got inputs " + graph.inputNames()
                    + " and outputs " + graph.outputNames());
        }
    }

    /** A builder for training {@code graph} with the values and frozen flags of {@code parameters}. */
    public static Builder builder(Graph graph, ParameterSet parameters) {
        return new Builder(Objects.requireNonNull(graph, "graph"), Objects.requireNonNull(parameters, "parameters"));
    }

    /** A builder for a network's chain graph. */
    public static Builder builder(Network network, ParameterSet parameters) {
        return builder(network.toGraph(), parameters);
    }

    /** The parameters being trained. */
    public ParameterSet parameters() {
        return parameters;
    }

    /** The optimizer. */
    public Optimizer optimizer() {
        return optimizer;
    }

    /** The epochs completed so far (by {@link #fit} or restored by {@link #resume}). */
    public int epochsDone() {
        return epochsDone;
    }

    /** The training steps taken so far. */
    public long steps() {
        return step;
    }

    /** The history so far. */
    public History history() {
        return history;
    }

    /** Asks {@link #fit} to stop after the current epoch (for listeners such as early stopping). */
    public void requestStop() {
        stopRequested = true;
    }

    /** The backend the training sessions run on (compiling one if none is yet). */
    public BackendKind backend() {
        return sessions.isEmpty() ? dev.convnet.net.Backends.resolve(options.backend()) : sessions.values().iterator().next().backend();
    }

    /** The training plan for the full batch size. */
    public String plan(Shape imageShape) {
        return session(batchSize, imageShape).plan();
    }

    private TrainingSession session(int n, Shape imageShape) {
        checkOpen();
        int[] dims = new int[imageShape.rank() + 1];
        dims[0] = n;
        System.arraycopy(imageShape.dims(), 0, dims, 1, imageShape.rank());
        TrainingSession s = sessions.get(Shape.of(dims));
        if (s == null) {
            try {
                s = TrainingSession.compile(graph, parameters, Map.of(graph.inputNames().getFirst(), Shape.of(dims)), options);
            } catch (ShapeException e) {
                ShapeException wrapped = new ShapeException("images of shape " + imageShape + " (a batch " + Shape.of(dims)
                        + ") do not fit the network: " + e.getMessage());
                wrapped.initCause(e);
                throw wrapped;
            }
            sessions.put(Shape.of(dims), s);
        }
        return s;
    }

    private int classesOf(TrainingSession s, Dataset data) {
        Shape out = s.outputShape();
        if (out.rank() != 2) {
            throw new ShapeException("a classifier's output must be [N, K] class scores, the graph gives " + out);
        }
        int k = out.dim(1);
        if (data.classes() > k) {
            throw new IllegalArgumentException("the data has " + data.classes() + " classes, the network's output has only " + k
                    + " scores (a label ≥ " + k + " would be outside the class range)");
        }
        return k;
    }

    /**
     * Trains until {@code epochs} epochs are done in total (continuing from {@link #epochsDone()}), evaluating on
     * {@code validation} (may be null) after each.
     *
     * @return the history of every epoch done (also those before a resume)
     * @throws IllegalArgumentException if the data's image shape differs from what the graph takes, or it has more
     *                                  classes than the graph's outputs
     * @throws ArithmeticException naming the epoch and step if the loss or a gradient becomes NaN or infinite
     */
    public History fit(Dataset train, Dataset validation, int epochs) {
        Objects.requireNonNull(train, "train");
        if (train.size() == 0) throw new IllegalArgumentException("the training set is empty");
        if (parameters.trainedElementCount() == 0) {
            throw new IllegalArgumentException("nothing to train: every parameter of the graph is frozen (or it has none)");
        }
        stopRequested = false;
        int first = epochsDone + 1;
        for (TrainingListener l : listeners) l.onFitStart(this, first, epochs);
        Shape image = train.imageShape();
        for (int epoch = first; epoch <= epochs && !stopRequested; epoch++) {
            Batches batches = train.batches(batchSize, shuffle, seed, epoch - 1, dropLast).augmented(augmentation);
            int count = batches.count();
            for (TrainingListener l : listeners) l.onEpochStart(this, epoch, count);
            double lossSum = 0;
            long correct = 0;
            long seen = 0;
            long start = System.nanoTime();
            for (int b = 0; b < count; b++) {
                int n = batches.size(b);
                float[] images = imageBuffers.computeIfAbsent(n * train.imageSize(), float[]::new);
                int[] labels = labelBuffers.computeIfAbsent(n, k -> new int[k]);
                batches.fill(b, images, labels);
                TrainingSession s = session(n, image);
                int k = classesOf(s, train);
                optimizer.setLearningRate(schedule.rate(baseLearningRate, step, count));
                s.reseed(seed * 0x9E3779B97F4A7C15L + step);
                float[] scores = s.forward(images, true);
                float[] gradient = new float[scores.length];
                double value;
                try {
                    value = loss.compute(scores, labels, k, gradient);
                    s.backward(gradient);
                    optimizer.step(parameters);
                } catch (ArithmeticException e) {
                    ArithmeticException wrapped = new ArithmeticException("epoch " + epoch + ", step " + (step + 1) + " (batch " + (b + 1)
                            + " of " + count + "): " + e.getMessage());
                    wrapped.initCause(e);
                    throw wrapped;
                }
                step++;
                lossSum += value * n;
                correct += correct(scores, labels, k);
                seen += n;
                for (TrainingListener l : listeners) l.onBatchEnd(this, epoch, b + 1, count, value, lossSum / seen, (double) correct / seen);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            Evaluation v = validation == null ? null : evaluate(validation);
            EpochResult r = new EpochResult(epoch, lossSum / seen, (double) correct / seen, v == null ? Double.NaN : v.loss(),
                    v == null ? Double.NaN : v.accuracy(), seen / seconds, seconds, optimizer.learningRate());
            history.add(r);
            epochsDone = epoch;
            for (TrainingListener l : listeners) l.onEpochEnd(this, r);
        }
        for (TrainingListener l : listeners) l.onFitEnd(this, history);
        return history;
    }

    private static long correct(float[] scores, int[] labels, int k) {
        long c = 0;
        for (int i = 0; i < labels.length; i++) if (argmax(scores, i * k, k) == labels[i]) c++;
        return c;
    }

    private static int argmax(float[] s, int off, int k) {
        int best = 0;
        for (int j = 1; j < k; j++) if (s[off + j] > s[off + best]) best = j;
        return best;
    }

    /**
     * The loss, accuracy and confusion matrix on {@code data}, in inference mode (batch norm with running statistics,
     * no dropout), in batches of the training batch size.
     */
    public Evaluation evaluate(Dataset data) {
        Objects.requireNonNull(data, "data");
        if (data.size() == 0) throw new IllegalArgumentException("the evaluation set is empty");
        Batches batches = data.batches(batchSize, false, 0, 0, false);
        int[][] confusion = null;
        double lossSum = 0;
        long correct = 0;
        for (int b = 0; b < batches.count(); b++) {
            int n = batches.size(b);
            float[] images = imageBuffers.computeIfAbsent(n * data.imageSize(), float[]::new);
            int[] labels = labelBuffers.computeIfAbsent(n, k -> new int[k]);
            batches.fill(b, images, labels);
            TrainingSession s = session(n, data.imageShape());
            int k = classesOf(s, data);
            if (confusion == null) confusion = new int[k][k];
            float[] scores = s.forward(images, false);
            lossSum += loss.compute(scores, labels, k, null) * n;
            for (int i = 0; i < n; i++) {
                int p = argmax(scores, i * k, k);
                confusion[labels[i]][p]++;
                if (p == labels[i]) correct++;
            }
        }
        return new Evaluation(lossSum / data.size(), (double) correct / data.size(), confusion);
    }

    /**
     * Writes a checkpoint: parameters (values and frozen flags), optimizer state, epochs done, steps, seed and history
     * (temporary name, then renamed).
     */
    public void saveCheckpoint(Path file) throws IOException {
        checkOpen();
        AtomicFiles.write(file, stream -> {
            DataOutputStream out = new DataOutputStream(stream);
            out.writeInt(MAGIC);
            out.writeInt(VERSION);
            out.writeInt(epochsDone);
            out.writeLong(step);
            out.writeLong(seed);
            out.writeInt(history.epochs().size());
            for (EpochResult r : history.epochs()) {
                out.writeInt(r.epoch());
                for (double d : new double[] {r.trainLoss(), r.trainAccuracy(), r.validationLoss(), r.validationAccuracy(),
                        r.imagesPerSecond(), r.seconds(), r.learningRate()}) out.writeDouble(d);
            }
            optimizer.writeState(out);
            out.flush();
            parameters.write(out);
        });
    }

    /**
     * Restores a checkpoint written by {@link #saveCheckpoint}: parameter values, optimizer state, epochs done, steps and
     * history; the next {@link #fit} continues from there.
     *
     * @throws IOException naming the file if it is not a checkpoint, is truncated, or was written with another seed
     * @throws IllegalArgumentException naming the parameter if the checkpoint lacks one of this trainer's or a shape
     *                                  differs
     */
    public void resume(Path file) throws IOException {
        checkOpen();
        try (InputStream stream = new java.io.BufferedInputStream(Files.newInputStream(file))) {
            DataInputStream in = new DataInputStream(stream);
            int magic = in.readInt();
            if (magic != MAGIC) throw new IOException(file + ": not a convnet checkpoint");
            int version = in.readInt();
            if (version != VERSION) throw new IOException(file + ": checkpoint version " + version + ", this library reads " + VERSION);
            int epochs = in.readInt();
            long steps = in.readLong();
            long savedSeed = in.readLong();
            if (savedSeed != seed) {
                throw new IOException(file + ": the checkpoint was written with seed " + savedSeed + ", this trainer uses " + seed
                        + "; resuming would not continue the same run");
            }
            int n = in.readInt();
            if (n < 0 || n > 1_000_000) throw new IOException(file + ": implausible history length " + n);
            History h = new History();
            for (int i = 0; i < n; i++) {
                int e = in.readInt();
                double[] d = new double[7];
                for (int j = 0; j < d.length; j++) d[j] = in.readDouble();
                h.add(new EpochResult(e, d[0], d[1], d[2], d[3], d[4], d[5], d[6]));
            }
            optimizer.readState(in, file.toString());
            try (ParameterSet saved = ParameterSet.read(in, file.toString())) {
                for (Parameter p : parameters.list()) {
                    if (!saved.contains(p.name())) throw new IllegalArgumentException(file + " has no parameter '" + p.name() + "'");
                }
                parameters.copyValuesFrom(saved);
            }
            epochsDone = epochs;
            step = steps;
            history = h;
        } catch (java.io.EOFException e) {
            throw new IOException(file + ": truncated checkpoint", e);
        }
    }

    private void checkOpen() {
        if (closed) throw new IllegalStateException("trainer is closed");
    }

    /** Closes the training sessions (not the parameter set, which is the caller's). Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        for (TrainingSession s : sessions.values()) s.close();
        sessions.clear();
    }

    /**
     * The settings of a {@link Trainer}. Defaults: softmax cross-entropy, SGD with learning rate 0.01, constant
     * schedule, batch 64, shuffling on, last partial batch kept, seed 0, no augmentation, automatic backend, every
     * core, no listeners.
     *
     * <p>Thread-safety: not thread-safe.
     */
    public static final class Builder {
        private final Graph graph;
        private final ParameterSet parameters;
        private Loss loss = Loss.softmaxCrossEntropy();
        private Optimizer optimizer = Optimizer.sgd(0.01);
        private LearningRateSchedule schedule = LearningRateSchedule.constant();
        private int batchSize = 64;
        private boolean shuffle = true;
        private boolean dropLast;
        private long seed;
        private Augmentation augmentation = Augmentation.none();
        private TrainingOptions options = TrainingOptions.defaults();
        private final List<TrainingListener> listeners = new ArrayList<>();

        private Builder(Graph graph, ParameterSet parameters) {
            this.graph = graph;
            this.parameters = parameters;
        }

        /** The loss. */
        public Builder loss(Loss loss) {
            this.loss = Objects.requireNonNull(loss, "loss");
            return this;
        }

        /** The optimizer; its learning rate is the base rate of the schedule. */
        public Builder optimizer(Optimizer optimizer) {
            this.optimizer = Objects.requireNonNull(optimizer, "optimizer");
            return this;
        }

        /** The learning-rate schedule. */
        public Builder schedule(LearningRateSchedule schedule) {
            this.schedule = Objects.requireNonNull(schedule, "schedule");
            return this;
        }

        /** Examples per step (≥ 1). */
        public Builder batchSize(int batchSize) {
            if (batchSize < 1) throw new IllegalArgumentException("batch size " + batchSize + " must be ≥ 1");
            this.batchSize = batchSize;
            return this;
        }

        /** Whether each epoch visits the examples in a seeded random order (default) or in order. */
        public Builder shuffle(boolean shuffle) {
            this.shuffle = shuffle;
            return this;
        }

        /** Whether the last partial batch of an epoch is left out (default: kept). */
        public Builder dropLast(boolean dropLast) {
            this.dropLast = dropLast;
            return this;
        }

        /** The seed of shuffling, augmentation and dropout. */
        public Builder seed(long seed) {
            this.seed = seed;
            return this;
        }

        /** Augmentation of training batches. */
        public Builder augmentation(Augmentation augmentation) {
            this.augmentation = Objects.requireNonNull(augmentation, "augmentation");
            return this;
        }

        /** The backend ({@code null}: automatic). */
        public Builder backend(BackendKind backend) {
            this.options = options.withBackend(backend);
            return this;
        }

        /** Worker threads. */
        public Builder threads(int threads) {
            this.options = options.withThreads(threads);
            return this;
        }

        /** Adds a listener (called in the order added). */
        public Builder listener(TrainingListener listener) {
            listeners.add(Objects.requireNonNull(listener, "listener"));
            return this;
        }

        /** The trainer. */
        public Trainer build() {
            return new Trainer(this);
        }
    }
}
