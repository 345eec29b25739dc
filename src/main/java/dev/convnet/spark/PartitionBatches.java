package dev.convnet.spark;

import dev.convnet.internal.exec.LeaseCache;
import dev.convnet.onnx.OnnxModelSession;
import dev.convnet.shape.Shape;

import java.io.Serial;
import java.io.Serializable;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import org.apache.spark.TaskContext;
import org.apache.spark.util.TaskCompletionListener;

/**
 * One partition scored in mini-batches: reads up to {@code batchSize} items from upstream, writes each into its slot of
 * one batch of floats, runs the model once on the batch, and hands out one result per item, lazily, so a partition
 * never holds more than one batch. The last batch of a partition, if short, is padded with zeros to the next power of
 * two (at most {@code batchSize}): a model compiles at most log2(batchSize) + 2 shapes however the rows fall into
 * partitions, and each image's scores do not depend on what else is in its batch.
 *
 * <p>The model is taken from this JVM's {@link ModelCache} when the first batch runs and given back when the partition
 * ends, or when its task ends otherwise (failed or killed). Not thread-safe: one per partition, as Spark's iterators.
 *
 * @param <I> an input item (a row, or one sample's floats)
 * @param <O> a result
 */
final class PartitionBatches<I, O> implements Iterator<O> {
    /**
     * Writes one item's input into its slot.
     *
     * @param <I> the item
     */
    interface Input<I> {
        /**
         * @param index  the item's position in its partition, from 0, for messages
         * @param batch  the batch of floats
         * @param offset where the item's {@code sampleSize} floats go
         * @throws IllegalArgumentException naming the item, if it does not fit the model's input
         */
        void write(I item, long index, float[] batch, int offset);
    }

    /**
     * Makes one result from an item and its scores.
     *
     * @param <I> the item
     * @param <O> the result
     */
    interface Output<I, O> {
        /** @param scores the batch's output; the item's are {@code length} floats from {@code offset} */
        O make(I item, float[] scores, int offset, int length);
    }

    /**
     * Which model runs and how (serialized into every task).
     *
     * @param model      the broadcast model
     * @param inputName  its input
     * @param outputName the output read
     * @param sample     one item's input shape, after the batch axis
     * @param batchSize  items per run (≥ 1)
     */
    record Plan(ModelRef model, String inputName, String outputName, int[] sample, int batchSize) implements Serializable {
        @Serial
        private static final long serialVersionUID = 1L;

        Plan {
            if (batchSize < 1) throw new IllegalArgumentException("batch size = " + batchSize + " must be ≥ 1");
            sample = sample.clone();
            Shape.of(sample);                   // checks the sizes
        }

        int sampleSize() {
            return Math.toIntExact(Shape.of(sample).elementCount());
        }

        Shape batchShape(int n) {
            int[] dims = new int[sample.length + 1];
            dims[0] = n;
            System.arraycopy(sample, 0, dims, 1, sample.length);
            return Shape.of(dims);
        }
    }

    private final Iterator<I> upstream;
    private final Plan plan;
    private final Input<I> input;
    private final Output<I, O> output;
    private final int sampleSize;
    private final List<I> items;
    private float[] full;
    private LeaseCache.Lease<OnnxModelSession> lease;
    private boolean released;

    private float[] scores;
    private int count;
    private int next;
    private int scoreLength;
    private long index;

    private long rows, batches, padded, decode, convert, run, write;
    /** When the last result was handed out, or -1 (the time until the next call is downstream's). */
    private long handedOutAt = -1;

    PartitionBatches(Iterator<I> upstream, Plan plan, Input<I> input, Output<I, O> output) {
        this.upstream = upstream;
        this.plan = plan;
        this.input = input;
        this.output = output;
        this.sampleSize = plan.sampleSize();
        this.items = new ArrayList<>(plan.batchSize());
        TaskContext task = TaskContext.get();
        if (task != null) task.addTaskCompletionListener((TaskCompletionListener) ctx -> release());
    }

    @Override
    public boolean hasNext() {
        if (handedOutAt >= 0) {
            write += System.nanoTime() - handedOutAt;
            handedOutAt = -1;
        }
        if (next < count) return true;
        return nextBatch();
    }

    @Override
    public O next() {
        if (!hasNext()) throw new NoSuchElementException();
        long t = System.nanoTime();
        O o = output.make(items.get(next), scores, next * scoreLength, scoreLength);
        next++;
        handedOutAt = System.nanoTime();
        write += handedOutAt - t;
        return o;
    }

    /** Reads, converts and runs the next batch; false (and the model given back) at the end of the partition. */
    private boolean nextBatch() {
        items.clear();
        count = next = 0;
        long t0 = System.nanoTime();
        while (items.size() < plan.batchSize() && upstream.hasNext()) items.add(upstream.next());
        long t1 = System.nanoTime();
        decode += t1 - t0;
        int n = items.size();
        if (n == 0) {
            release();
            return false;
        }
        int runAt = Math.min(plan.batchSize(), n == 1 ? 1 : Integer.highestOneBit(n - 1) << 1);   // n, or the power of two above
        float[] batch;
        if (runAt == plan.batchSize()) {
            if (full == null) full = new float[Math.multiplyExact(runAt, sampleSize)];
            batch = full;
            Arrays.fill(batch, n * sampleSize, batch.length, 0f);
        } else {
            batch = new float[Math.multiplyExact(runAt, sampleSize)];
        }
        for (int i = 0; i < n; i++) input.write(items.get(i), index++, batch, i * sampleSize);
        long t2 = System.nanoTime();
        convert += t2 - t1;
        if (lease == null) lease = plan.model().acquire();
        Map<String, float[]> out = lease.value().run(Map.of(plan.inputName(), batch), Map.of(plan.inputName(), plan.batchShape(runAt)));
        scores = out.get(plan.outputName());
        scoreLength = scores.length / runAt;
        run += System.nanoTime() - t2;
        rows += n;
        batches++;
        padded += runAt - n;
        count = n;
        return true;
    }

    /** Gives the model back and adds this partition's times to {@link ScoringMetrics}; once. */
    private void release() {
        if (released) return;
        released = true;
        try {
            if (lease != null) lease.close();
        } finally {
            ScoringMetrics.add(rows, batches, padded, decode, convert, run, write);
        }
    }
}
