package dev.convnet.spark;

import java.io.Serial;
import java.util.Arrays;
import java.util.Iterator;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * The transformer's work on one partition: each row comes out with its columns and, appended, the scores (the model
 * output's values for that row, {@code array<float>}), the predicted class (the index of the largest score, the first
 * on ties, {@code int}) and the top k ({@code array<struct<index:int, score:float>>}, best first), as configured.
 *
 * <p>Immutable and thread-safe; serialized into every task.
 */
final class RowScorer implements MapPartitionsFunction<Row, Row>, PartitionBatches.Output<Row, Row> {
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
    public Iterator<Row> call(Iterator<Row> rows) {
        return new PartitionBatches<>(rows, plan, input, this);
    }

    @Override
    public Row make(Row in, float[] s, int offset, int length) {
        int n = in.size();
        Object[] values = new Object[n + (scores ? 1 : 0) + (prediction ? 1 : 0) + (topK > 0 ? 1 : 0)];
        for (int i = 0; i < n; i++) values[i] = in.get(i);
        if (scores) values[n++] = Arrays.copyOfRange(s, offset, offset + length);
        if (prediction) values[n++] = argmax(s, offset, length);
        if (topK > 0) values[n] = topK(s, offset, length, topK);
        return RowFactory.create(values);
    }

    /** The index of the largest of {@code length} scores from {@code offset}, the first on ties (NaN never wins). */
    static int argmax(float[] s, int offset, int length) {
        int best = 0;
        for (int i = 1; i < length; i++) if (s[offset + i] > s[offset + best]) best = i;
        return best;
    }

    /** The {@code k} best (index, score) pairs, best first, lower index first on ties. */
    static Row[] topK(float[] s, int offset, int length, int k) {
        int m = Math.min(k, length);
        boolean[] taken = new boolean[length];
        Row[] out = new Row[m];
        for (int j = 0; j < m; j++) {
            int best = -1;
            for (int i = 0; i < length; i++) {
                if (!taken[i] && (best < 0 || s[offset + i] > s[offset + best])) best = i;
            }
            taken[best] = true;
            out[j] = RowFactory.create(best, s[offset + best]);
        }
        return out;
    }
}
