package dev.convnet.spark;

import org.apache.spark.api.java.function.FlatMapFunction;
import org.apache.spark.rdd.RDD;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.types.StructType;

import java.util.Iterator;

/**
 * The one place that uses Spark's internal API (classic, not Spark Connect): a Dataset's rows as Spark holds them,
 * and a DataFrame made from such rows. The public path, {@code Dataset.mapPartitions} with a row encoder, turns every
 * value of every column into a Java object and back (an {@code array<float>} of 784 pixels into 784 boxed
 * {@code Float}s): measured on Fashion-MNIST it costs more than the model. Internal rows pass the input columns through
 * untouched and let the scorer read arrays straight from Spark's memory. Checked against Spark 4.2.
 */
final class SparkInternals {
    private SparkInternals() {
    }

    /**
     * {@code dataset} with {@code f} applied to each partition of its internal rows, as a DataFrame of {@code schema}.
     *
     * @throws UnsupportedOperationException for a streaming Dataset, or one of Spark Connect
     */
    static Dataset<Row> mapPartitions(Dataset<?> dataset, FlatMapFunction<Iterator<InternalRow>, InternalRow> f, StructType schema) {
        if (dataset.isStreaming()) {
            throw new UnsupportedOperationException("a streaming Dataset cannot be scored directly; score each micro-batch "
                    + "(writeStream().foreachBatch(...), where transform works on the batch's Dataset)");
        }
        if (!(dataset instanceof org.apache.spark.sql.classic.Dataset<?> classic)) {
            throw new UnsupportedOperationException("convnet scores Datasets of a classic SparkSession, not "
                    + dataset.getClass().getName() + " (Spark Connect)");
        }
        RDD<InternalRow> in = classic.queryExecution().toRdd();
        RDD<InternalRow> out = in.toJavaRDD().mapPartitions(f).rdd();
        return classic.sparkSession().internalCreateDataFrame(out, schema, false);
    }
}
