package dev.convnet.spark;

import dev.convnet.net.BackendKind;

import java.io.Serial;
import java.util.Arrays;
import java.util.Iterator;
import java.util.Objects;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.TaskContext;

/**
 * An ONNX model as a plain function for {@code mapPartitions}, for jobs outside ML pipelines: each element is one
 * sample's floats (the model's input shape after the batch axis, row-major), each result the model's output for it,
 * in the same order. Batching, the broadcast and the per-JVM model cache are those of {@link ConvnetTransformer}.
 *
 * <pre>{@code
 * BatchScorer scorer = BatchScorer.create(spark.sparkContext(), Files.readAllBytes(Path.of("fashion.onnx"))).withBatchSize(64);
 * JavaRDD<float[]> scores = samples.mapPartitions(scorer);           // JavaRDD<float[]> of [1, 28, 28] images
 * }</pre>
 *
 * <p>It is both a {@link FlatMapFunction} over a partition's iterator ({@code JavaRDD.mapPartitions}) and a
 * {@link MapPartitionsFunction} ({@code Dataset.mapPartitions}, with an encoder for {@code float[]}). A sample of the
 * wrong size fails its task with a message naming its position in its partition.
 *
 * <p>Immutable and thread-safe; configure it on the driver ({@code with…} methods read the model's declared shapes,
 * which only the driver holds).
 */
public final class BatchScorer implements FlatMapFunction<Iterator<float[]>, float[]>, MapPartitionsFunction<float[], float[]> {
    @Serial
    private static final long serialVersionUID = 1L;

    private final transient ModelInfo info;
    private final transient Broadcast<byte[]> bytes;
    private final PartitionBatches.Plan plan;

    private BatchScorer(ModelInfo info, Broadcast<byte[]> bytes, PartitionBatches.Plan plan) {
        this.info = info;
        this.bytes = bytes;
        this.plan = plan;
    }

    /**
     * A scorer for an ONNX model's bytes, broadcast now: batches of 64, {@code spark.task.cpus} threads per run, the
     * automatic backend, the model's first output.
     *
     * @param inputShape one sample's shape after the batch axis; none for the model's own (which must then be static)
     * @throws dev.convnet.onnx.OnnxFormatException if the bytes are not a model convnet reads
     * @throws IllegalArgumentException             if the model has several inputs, or the shape is missing or does
     *                                              not fit the model
     */
    public static BatchScorer create(SparkContext sc, byte[] onnxModel, int... inputShape) {
        ModelInfo info = ModelInfo.of(onnxModel);
        int[] sample = info.sampleShape(inputShape);
        Broadcast<byte[]> b = JavaSparkContext.fromSparkContext(sc).broadcast(onnxModel.clone());
        int threads = sc.getConf().getInt("spark.task.cpus", 1);
        return new BatchScorer(info, b, new PartitionBatches.Plan(new ModelRef(b, info.sha256(), null, threads),
                info.inputName(), info.output(null), sample, 64));
    }

    /** This scorer with {@code n} samples per model run (the last batch of a partition may be smaller). */
    public BatchScorer withBatchSize(int n) {
        return with(plan.model(), plan.outputName(), n);
    }

    /** This scorer with {@code n} oneDNN threads per run. */
    public BatchScorer withThreads(int n) {
        return with(new ModelRef(bytes(), plan.model().sha256(), plan.model().backend(), n), plan.outputName(), plan.batchSize());
    }

    /** This scorer on the given backend ({@code null}: each executor's automatic choice). */
    public BatchScorer withBackend(BackendKind backend) {
        return with(new ModelRef(bytes(), plan.model().sha256(), backend, plan.model().threads()), plan.outputName(), plan.batchSize());
    }

    /** This scorer returning the named output of the model. */
    public BatchScorer withOutput(String name) {
        return with(plan.model(), driverInfo().output(Objects.requireNonNull(name, "name")), plan.batchSize());
    }

    private BatchScorer with(ModelRef model, String output, int batch) {
        driverInfo();
        return new BatchScorer(info, bytes, new PartitionBatches.Plan(model, plan.inputName(), output, plan.sample(), batch));
    }

    private ModelInfo driverInfo() {
        if (info == null) throw new IllegalStateException("a BatchScorer is configured on the driver, before it is sent to tasks");
        return info;
    }

    private Broadcast<byte[]> bytes() {
        driverInfo();
        return bytes;
    }

    /** Scores one partition's samples, lazily, one batch at a time. */
    @Override
    public Iterator<float[]> call(Iterator<float[]> samples) {
        int size = plan.sampleSize();
        return new PartitionBatches<>(samples, plan, (float[] x, long index, float[] batch, int offset) -> {
            if (x == null) throw new IllegalArgumentException("sample " + index + " of partition " + TaskContext.getPartitionId() + " is null");
            if (x.length != size) {
                throw new IllegalArgumentException("sample " + index + " of partition " + TaskContext.getPartitionId() + " has "
                        + x.length + " floats; the model's input " + Arrays.toString(plan.sample()) + " needs " + size);
            }
            System.arraycopy(x, 0, batch, offset, size);
        }, (float[] x, float[] scores, int offset, int length) -> Arrays.copyOfRange(scores, offset, offset + length));
    }

    @Override
    public String toString() {
        return "BatchScorer[model " + plan.model().sha256().substring(0, 12) + ", input " + Arrays.toString(plan.sample()) + ", batch "
                + plan.batchSize() + ", " + plan.model().threads() + " thread(s) per run]";
    }
}
