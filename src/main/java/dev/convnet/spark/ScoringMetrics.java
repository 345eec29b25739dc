package dev.convnet.spark;

import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;

/**
 * Where the time of this JVM's scoring tasks went, summed over the tasks (a Spark executor; in local mode every task
 * of the application): for each mini-batch, reading its rows from the partition's iterator ({@code decode}: whatever
 * Spark does upstream, such as reading Parquet and turning its values into rows), turning them into the model's
 * floats ({@code convert}: arrays unboxed, images decoded, resized and normalized), running the model ({@code run}),
 * and handing the scored rows on ({@code write}: building each output row and whatever Spark does downstream with it
 * before asking for the next, such as encoding and writing Parquet).
 *
 * <p>Thread-safe; the counts only grow. Take two snapshots and {@link Split#minus} them to measure one job.
 */
public final class ScoringMetrics {
    private static final LongAdder ROWS = new LongAdder();
    private static final LongAdder BATCHES = new LongAdder();
    private static final LongAdder PADDED = new LongAdder();
    private static final LongAdder DECODE = new LongAdder();
    private static final LongAdder CONVERT = new LongAdder();
    private static final LongAdder RUN = new LongAdder();
    private static final LongAdder WRITE = new LongAdder();

    private ScoringMetrics() {
    }

    /**
     * Times summed over tasks, in nanoseconds.
     *
     * @param rows        rows scored
     * @param batches     model runs
     * @param paddedRows  rows of zeros added to partitions' last batches (run, then dropped)
     * @param decodeNanos reading rows from upstream
     * @param convertNanos rows to the model's input
     * @param runNanos    the model
     * @param writeNanos  output rows, and downstream
     */
    public record Split(long rows, long batches, long paddedRows, long decodeNanos, long convertNanos, long runNanos, long writeNanos) {
        /** The work done since {@code earlier}. */
        public Split minus(Split earlier) {
            return new Split(rows - earlier.rows, batches - earlier.batches, paddedRows - earlier.paddedRows,
                    decodeNanos - earlier.decodeNanos, convertNanos - earlier.convertNanos, runNanos - earlier.runNanos,
                    writeNanos - earlier.writeNanos);
        }

        /** The four parts together. */
        public long totalNanos() {
            return decodeNanos + convertNanos + runNanos + writeNanos;
        }

        /** Per part: its share of the total and microseconds per row, e.g. {@code decode 12.0% (8.1 µs/row)}. */
        @Override
        public String toString() {
            double total = Math.max(1, totalNanos());
            double perRow = Math.max(1, rows) * 1e3;
            return String.format(Locale.ROOT,
                    "%d rows in %d batches (%d padding rows): decode %.1f%% (%.1f µs/row), convert %.1f%% (%.1f µs/row), "
                            + "run %.1f%% (%.1f µs/row), write %.1f%% (%.1f µs/row)",
                    rows, batches, paddedRows, 100 * decodeNanos / total, decodeNanos / perRow, 100 * convertNanos / total,
                    convertNanos / perRow, 100 * runNanos / total, runNanos / perRow, 100 * writeNanos / total, writeNanos / perRow);
        }
    }

    /** The sums so far. */
    public static Split snapshot() {
        return new Split(ROWS.sum(), BATCHES.sum(), PADDED.sum(), DECODE.sum(), CONVERT.sum(), RUN.sum(), WRITE.sum());
    }

    static void add(long rows, long batches, long padded, long decode, long convert, long run, long write) {
        ROWS.add(rows);
        BATCHES.add(batches);
        PADDED.add(padded);
        DECODE.add(decode);
        CONVERT.add(convert);
        RUN.add(run);
        WRITE.add(write);
    }
}
