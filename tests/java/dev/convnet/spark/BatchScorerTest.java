package dev.convnet.spark;

import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxModelSession;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Encoder;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link BatchScorer} as a plain {@code mapPartitions} function on an RDD and a Dataset of float arrays: results in
 * order, bit for bit the model's in process; a sample of the wrong size names its place.
 */
class BatchScorerTest {
    @Test
    void rddAndDatasetOfSamples() {
        SparkSession spark = LocalSpark.session();
        JavaSparkContext sc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        byte[] model = LocalSpark.lectureModel(1, 16, 5);
        SplittableRandom r = new SplittableRandom(3);
        List<float[]> samples = new ArrayList<>();
        for (int i = 0; i < 150; i++) samples.add(LocalSpark.random(r, 16 * 16));
        BatchScorer scorer = BatchScorer.create(spark.sparkContext(), model).withBatchSize(8).withThreads(1);

        List<float[]> fromRdd = sc.parallelize(samples, 4).mapPartitions(scorer).collect();
        Encoder<float[]> floats = Encoders.kryo(float[].class);
        List<float[]> fromDataset = spark.createDataset(samples, floats).repartition(1).mapPartitions(scorer, floats).collectAsList();
        try (OnnxModelSession local = OnnxModelSession.open(OnnxModelReader.read(model), SessionOptions.defaults().withThreads(1), 8)) {
            assertEquals(samples.size(), fromRdd.size());
            for (int i = 0; i < samples.size(); i++) {
                float[] expected = local.run(samples.get(i), Shape.of(1, 1, 16, 16));
                assertArrayEquals(expected, fromRdd.get(i), "sample " + i);
                assertArrayEquals(expected, fromDataset.get(i), "sample " + i);
            }
        }

        samples.set(40, new float[10]);                       // partition 1 holds samples 37-74: its fourth
        SparkException e = assertThrows(SparkException.class, () -> sc.parallelize(samples, 4).mapPartitions(scorer).collect());
        assertTrue(e.getMessage().contains("sample 3 of partition 1 has 10 floats; the model's input [1, 16, 16] needs 256"), e.getMessage());

        assertEquals("the model has no output 'logits'; its outputs are [output]",
                assertThrows(IllegalArgumentException.class, () -> scorer.withOutput("logits")).getMessage());
        assertEquals("input shape [2, 16, 16] does not fit the model's input 'input' [N, 1, 16, 16]: axis 1 must be 1",
                assertThrows(IllegalArgumentException.class, () -> BatchScorer.create(spark.sparkContext(), model, 2, 16, 16)).getMessage());
    }
}
