package dev.convnet.bench;

import dev.convnet.data.FashionMnist;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxModelSession;
import dev.convnet.shape.Shape;
import dev.convnet.spark.ConvnetTransformer;
import dev.convnet.spark.ModelCache;
import dev.convnet.spark.ScoringMetrics;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SaveMode;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.functions;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

/**
 * Issue 12's measurement: a model scores images from a Parquet file in a {@code local[C]} Spark job
 * ({@link ConvnetTransformer}, one oneDNN thread per task, C tasks at once) and, on the same cores and batch size, in
 * process (one {@link OnnxModelSession}, C threads each running its share of the images in batches, one oneDNN thread
 * per run). Both are timed after a warm-up run; the Spark job is read Parquet → score → write Parquet (id, prediction,
 * scores), wall clock on the driver. Prints the cost split of Spark's batches ({@link ScoringMetrics}: decode, convert,
 * run, write), checks that every prediction and score equals the in-process one bit for bit, and ends with
 * {@code summary spark_images_per_s=} and {@code summary spark_vs_local=} (Spark's throughput / in-process). A second
 * job on the images repeated {@code --repeat} times separates a job's fixed cost from its cost per image:
 * {@code summary spark_vs_local_marginal=} is the in-process time per image / Spark's per additional image.
 *
 * <pre>java [Spark's launcher flags] ... dev.convnet.bench.SparkBench --model target/fashion.onnx [--data fashion-mnist]
 *      [--data generated --images 512] [--batch 64] [--cores 2] [--runs 3] [--repeat 5] [--work target/spark]</pre>
 */
public final class SparkBench {
    private SparkBench() {
    }

    public static void main(String[] args) throws Exception {
        Path modelFile = Path.of("target/fashion.onnx"), work = Path.of("target/spark");
        String data = "fashion-mnist";
        int batch = 64, cores = 2, runs = 3, generated = 512, repeat = 5;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--model" -> modelFile = Path.of(args[++i]);
                case "--data" -> data = args[++i];
                case "--images" -> generated = Integer.parseInt(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--cores" -> cores = Integer.parseInt(args[++i]);
                case "--runs" -> runs = Integer.parseInt(args[++i]);
                case "--repeat" -> repeat = Integer.parseInt(args[++i]);
                case "--work" -> work = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        byte[] model = Files.readAllBytes(modelFile);
        int[] sample;
        float[] pixels;
        int[] labels;
        if (data.equals("fashion-mnist")) {
            dev.convnet.data.Dataset test = FashionMnist.test();
            sample = test.imageShape().dims();
            pixels = new float[test.size() * test.imageSize()];
            for (int i = 0; i < test.size(); i++) test.copyImage(i, pixels, i * test.imageSize());
            labels = test.labels();
        } else if (data.equals("generated")) {
            try (OnnxModelSession m = OnnxModelSession.open(OnnxModelReader.read(model), SessionOptions.defaults(), 1)) {
                sample = m.inputDims().values().iterator().next().stream().skip(1).mapToInt(d -> (int) d.value()).toArray();
            }
            int size = (int) Shape.of(sample).elementCount();
            SplittableRandom r = new SplittableRandom(12);
            pixels = new float[generated * size];
            for (int i = 0; i < pixels.length; i++) pixels[i] = (float) r.nextGaussian();
            labels = new int[generated];
        } else {
            throw new IllegalArgumentException("--data is fashion-mnist or generated, not " + data);
        }
        int size = (int) Shape.of(sample).elementCount(), n = pixels.length / size;
        System.out.printf(Locale.ROOT, "model:   %s (%d bytes), input %s, %d images (%s)%n", modelFile, model.length,
                Arrays.toString(sample), n, data);
        System.out.printf(Locale.ROOT, "setup:   %d cores: local[%d] with 1 oneDNN thread per task, against %d in-process threads "
                + "with 1 oneDNN thread per run; batch %d; %d timed runs each after a warm-up run%n", cores, cores, cores, batch, runs);

        final int batchSize = batch, slots = cores;
        final int[] shape = sample;
        float[][] local = new float[n][];
        SparkSession spark = SparkSession.builder().master("local[" + cores + "]").appName("convnet-spark-bench")
                .config("spark.ui.enabled", "false").config("spark.driver.host", "localhost")
                .config("spark.driver.bindAddress", "127.0.0.1").getOrCreate();
        spark.sparkContext().setLogLevel("ERROR");
        try (OnnxModelSession session = OnnxModelSession.open(OnnxModelReader.read(model), SessionOptions.defaults().withThreads(1), 16);
             ExecutorService pool = Executors.newFixedThreadPool(cores)) {
            StructType schema = new StructType().add("id", DataTypes.IntegerType, false).add("label", DataTypes.IntegerType, false)
                    .add("pixels", DataTypes.createArrayType(DataTypes.FloatType, false), false);
            List<Row> rows = new ArrayList<>(n);
            for (int i = 0; i < n; i++) rows.add(RowFactory.create(i, labels[i], Arrays.copyOfRange(pixels, i * size, (i + 1) * size)));
            String images = work.resolve("images.parquet").toAbsolutePath().toUri().toString();
            String scored = work.resolve("scored.parquet").toAbsolutePath().toUri().toString();
            spark.createDataFrame(JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, 8 * cores), schema)
                    .coalesce(cores).write().mode(SaveMode.Overwrite).parquet(images);
            rows = null;
            // the same images `repeat` times in one file: the job's fixed costs apart from its cost per image
            String many = work.resolve("images-x" + repeat + ".parquet").toAbsolutePath().toUri().toString();
            Dataset<Row> copies = spark.read().parquet(images);
            for (int k = 1; k < repeat; k++) {
                copies = copies.union(spark.read().parquet(images).withColumn("id", functions.col("id").plus(k * n)));
            }
            copies.coalesce(cores).write().mode(SaveMode.Overwrite).parquet(many);
            int partitions = spark.read().parquet(images).rdd().getNumPartitions();
            System.out.printf(Locale.ROOT, "parquet: %s (%.1f MB in %d partitions)%n", images, bytes(work.resolve("images.parquet")) / 1e6, partitions);

            // in process: C threads, each its contiguous share in batches, on one loaded model
            Runnable inProcess = () -> {
                List<Future<?>> parts = new ArrayList<>();
                for (int c = 0; c < slots; c++) {
                    int from = (int) ((long) n * c / slots), to = (int) ((long) n * (c + 1) / slots);
                    parts.add(pool.submit(() -> {
                        for (int b = from; b < to; b += batchSize) {
                            int m = Math.min(batchSize, to - b);
                            int[] dims = new int[shape.length + 1];
                            dims[0] = m;
                            System.arraycopy(shape, 0, dims, 1, shape.length);
                            float[] y = session.run(Arrays.copyOfRange(pixels, b * size, (b + m) * size), Shape.of(dims));
                            int k = y.length / m;
                            for (int j = 0; j < m; j++) local[b + j] = Arrays.copyOfRange(y, j * k, (j + 1) * k);
                        }
                        return null;
                    }));
                }
                try {
                    for (Future<?> f : parts) f.get();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            };
            ConvnetTransformer scorer = new ConvnetTransformer(model).setInputCol("pixels").setBatchSize(batch).setThreads(1);
            Runnable job = () -> scorer.transform(spark.read().parquet(images)).select("id", "prediction", "scores")
                    .write().mode(SaveMode.Overwrite).parquet(scored);
            String scoredMany = work.resolve("scored-x" + repeat + ".parquet").toAbsolutePath().toUri().toString();
            Runnable bigJob = () -> scorer.transform(spark.read().parquet(many)).select("id", "prediction", "scores")
                    .write().mode(SaveMode.Overwrite).parquet(scoredMany);

            // interleaved, so that both see the same machine (other processes come and go): the best of each
            double localBest = Double.MAX_VALUE, sparkBest = Double.MAX_VALUE, bigBest = Double.MAX_VALUE, cold = 0;
            ScoringMetrics.Split bestSplit = null;
            for (int run = 0; run <= runs; run++) {
                long t0 = System.nanoTime();
                inProcess.run();
                double s = (System.nanoTime() - t0) / 1e9;
                if (run > 0) localBest = Math.min(localBest, s);
                ScoringMetrics.Split before = ScoringMetrics.snapshot();
                t0 = System.nanoTime();
                job.run();
                s = (System.nanoTime() - t0) / 1e9;
                ScoringMetrics.Split split = ScoringMetrics.snapshot().minus(before);
                if (run == 0) cold = s;
                else if (s < sparkBest) {
                    sparkBest = s;
                    bestSplit = split;
                }
                t0 = System.nanoTime();
                bigJob.run();
                if (run > 0) bigBest = Math.min(bigBest, (System.nanoTime() - t0) / 1e9);
            }
            double localRate = n / localBest, sparkRate = n / sparkBest;
            System.out.printf(Locale.ROOT, "local:   best %.3f s = %.0f images/s%n", localBest, localRate);
            System.out.printf(Locale.ROOT, "spark:   first job %.3f s (model load, JIT, code generation); best %.3f s = %.0f images/s%n",
                    cold, sparkBest, sparkRate);
            System.out.printf(Locale.ROOT, "split:   %s%n", bestSplit);
            double tasks = bestSplit.totalNanos() / 1e9;
            System.out.printf(Locale.ROOT, "         in tasks %.3f s over %d slots = %.3f s per slot; the job's other %.3f s: planning, "
                    + "scheduling, task start, Parquet commit%n", tasks, cores, tasks / cores, Math.max(0, sparkBest - tasks / cores));
            double marginal = (repeat - 1.0) * n / (bigBest - sparkBest);
            System.out.printf(Locale.ROOT, "scale:   %d images in %.3f s = %.0f images/s; each image beyond the first %d costs %.1f µs: "
                    + "%.0f images/s, %.3f of in-process; the fixed cost of a job is about %.3f s%n", repeat * n, bigBest,
                    repeat * n / bigBest, n, 1e6 / marginal, marginal, marginal / localRate, Math.max(0, sparkBest - n / marginal));
            ModelCache.Stats stats = ModelCache.stats();
            System.out.printf(Locale.ROOT, "cache:   %d model load(s), %d hit(s) in this JVM%n", stats.loads(), stats.hits());

            int mismatched = 0, correct = 0;
            for (Row r : spark.read().parquet(scored).collectAsList()) {
                int id = r.getInt(0), p = r.getInt(1);
                List<Float> s = r.getList(2);
                float[] expected = local[id];
                boolean same = s.size() == expected.length;
                for (int k = 0; same && k < expected.length; k++) same = Float.floatToRawIntBits(s.get(k)) == Float.floatToRawIntBits(expected[k]);
                int best = 0;
                for (int k = 1; k < expected.length; k++) if (expected[k] > expected[best]) best = k;
                if (!same || p != best) mismatched++;
                if (p == labels[id]) correct++;
            }
            System.out.printf(Locale.ROOT, "check:   %d of %d rows differ from the in-process scores and predictions%s%n", mismatched, n,
                    data.equals("fashion-mnist") ? String.format(Locale.ROOT, " (accuracy %.4f)", (double) correct / n) : "");
            System.out.printf(Locale.ROOT, "summary spark_images_per_s=%.0f%n", sparkRate);
            System.out.printf(Locale.ROOT, "summary spark_vs_local=%.3f%n", sparkRate / localRate);
            System.out.printf(Locale.ROOT, "summary spark_vs_local_marginal=%.3f%n", marginal / localRate);
            if (mismatched > 0) System.exit(1);
        } finally {
            spark.stop();
        }
    }

    private static long bytes(Path dir) throws java.io.IOException {
        try (var s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).sum();
        }
    }
}
