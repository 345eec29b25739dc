package dev.convnet.spark;

import java.io.Serial;
import java.util.Arrays;
import java.util.Iterator;
import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.expressions.GenericInternalRow;
import org.apache.spark.sql.catalyst.expressions.JoinedRow;
import org.apache.spark.sql.catalyst.expressions.UnsafeArrayData;
import org.apache.spark.sql.catalyst.util.GenericArrayData;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The transformer's work on one partition of Spark's internal rows: each row comes out with its columns and, appended,
 * the scores (the model output's values for that row, {@code array<float>}), the predicted class (the index of the
 * largest score, the first on ties, {@code int}) and the top k ({@code array<struct<index:int, score:float>>}, best
 * first), as configured. The input row is not re-encoded: the output joins it with the new values.
 *
 * <p>Immutable and thread-safe; serialized into every task.
 */
final class RowScorer implements FlatMapFunction<Iterator<InternalRow>, InternalRow>, PartitionBatches.Output<InternalRow, InternalRow> {
    @Serial
    private static final long serialVersionUID = 1L;

    /** One element of the top-k column. */
    static final StructType TOP_K_ELEMENT = new StructType()
            .add("index", DataTypes.IntegerType, false)
            .add("score", DataTypes.FloatType, false);

    private final PartitionBatches.Plan plan;
    private final RowInput input;
    private final boolean scores;
    private final boolean prediction;
    private final int topK;

    RowScorer(PartitionBatches.Plan plan, RowInput input, boolean scores, boolean prediction, int topK) {
        this.plan = plan;
        this.input = input;
        this.scores = scores;
        this.prediction = prediction;
        this.topK = topK;
    }

    @Override
    public Iterator<InternalRow> call(Iterator<InternalRow> rows) {
        // Spark reuses the row object it hands out; a batch holds its rows until they are scored, so each is copied
        Iterator<InternalRow> copies = new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public InternalRow next() {
                return rows.next().copy();
            }
        };
        return new PartitionBatches<>(copies, plan, input, this);
    }

    @Override
    public InternalRow make(InternalRow in, float[] s, int offset, int length) {
        Object[] values = new Object[(scores ? 1 : 0) + (prediction ? 1 : 0) + (topK > 0 ? 1 : 0)];
        int n = 0;
        if (scores) values[n++] = UnsafeArrayData.fromPrimitiveArray(Arrays.copyOfRange(s, offset, offset + length));
        if (prediction) values[n++] = argmax(s, offset, length);
        if (topK > 0) values[n] = new GenericArrayData(topK(s, offset, length, topK));
        return new JoinedRow(in, new GenericInternalRow(values));
    }

    /** The index of the largest of {@code length} scores from {@code offset}, the first on ties (NaN never wins). */
    static int argmax(float[] s, int offset, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) if (s[offset + i] > s[offset + best]) best = i;
        return best;
    }

    /** The {@code k} best (index, score) pairs as internal rows, best first, lower index first on ties. */
    static Object[] topK(float[] s, int offset, int length, int k) {
        int m = Math.min(k, length);
        boolean[] taken = new boolean[length];
        Object[] out = new Object[m];
        for (int j = 0; j < m; j++) {
            int best = -1;
            for (int i = 0; i < length; i++) {
                if (!taken[i] && (best < 0 || s[offset + i] > s[offset + best])) best = i;
            }
            taken[best] = true;
            out[j] = new GenericInternalRow(new Object[] {best, s[offset + best]});
        }
        return out;
    }
}
