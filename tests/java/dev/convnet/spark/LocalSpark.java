package dev.convnet.spark;

import dev.convnet.shape.Padding;
import dev.convnet.net.LecturePattern;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.shape.Shape;

import java.util.SplittableRandom;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Assumptions;

/**
 * The Spark tests' one {@code local[2]} session (started on first use, stopped by Spark's shutdown hook), and their
 * models. Spark needs the flags its launcher adds ({@code --add-opens}, set by the pom's {@code spark} Surefire
 * execution); in a JVM without them (a single test picked with {@code -Dtest} runs in the other executions too) the
 * Spark tests are skipped.
 */
final class LocalSpark {
    private static SparkSession session;

    private LocalSpark() {
    }

    static synchronized SparkSession session() {
        Assumptions.assumeTrue(Object.class.getModule().isOpen("sun.nio.ch", LocalSpark.class.getModule()),
                "Spark needs its launcher's --add-opens flags: run by the pom's 'spark' test execution");
        if (session == null) {
            session = SparkSession.builder().master("local[2]").appName("convnet-tests")
                    .config("spark.ui.enabled", "false")
                    .config("spark.driver.host", "localhost")
                    .config("spark.driver.bindAddress", "127.0.0.1")
                    .config("spark.sql.shuffle.partitions", "2")
                    .getOrCreate();
        }
        return session;
    }

    /** The lecture's pattern for [channels, size, size] inputs and 10 classes, with seeded weights, as ONNX bytes. */
    static byte[] lectureModel(int channels, int size, long seed) {
        return OnnxExporter.toBytes(LecturePattern.builder(Shape.of(channels, size, size)).convsPerBlock(1).blocks(2)
                .blockChannels(8, 16).hiddenLayers(1).hiddenUnits(32).classes(10).kernelSize(3).convPadding(Padding.same())
                .seed(seed).build().toGraph(), Shape.of(1, channels, size, size));
    }

    static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble();
        return v;
    }
}
