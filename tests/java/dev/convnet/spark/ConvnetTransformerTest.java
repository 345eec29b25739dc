package dev.convnet.spark;

import dev.convnet.data.Images;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxModelSession;
import dev.convnet.shape.Shape;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import javax.imageio.ImageIO;
import org.apache.spark.SparkException;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.Pipeline;
import org.apache.spark.ml.PipelineModel;
import org.apache.spark.ml.PipelineStage;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link ConvnetTransformer} on a {@code local[2]} SparkSession with the real engine: every score equals, bit for bit,
 * what the model gives in process for that row alone; Parquet in and out; Spark ML persistence alone and inside a
 * PipelineModel; a row of the wrong size fails its task naming the row and leaves the executor working; one model load
 * per JVM however many tasks; Spark's image source, binary files and image structs; the schema checks.
 */
class ConvnetTransformerTest {
    private static final int SIZE = 28;
    private static final int ROWS = 203;                 // 3 partitions of 67-68 rows: full batches of 16 and tails
    private static SparkSession spark;
    private static byte[] model;

    @BeforeAll
    static void start() {
        spark = LocalSpark.session();
        model = LocalSpark.lectureModel(1, SIZE, 1);
    }

    private static final StructType SCHEMA = new StructType()
            .add("id", DataTypes.IntegerType, false)
            .add("label", DataTypes.StringType, true)
            .add("pixels", DataTypes.createArrayType(DataTypes.FloatType, false), true);

    /** ROWS rows of random pixels in [0, 1] in 3 partitions. */
    private static List<Row> rows(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        List<Row> rows = new ArrayList<>();
        for (int i = 0; i < ROWS; i++) rows.add(RowFactory.create(i, "item " + i, LocalSpark.random(r, SIZE * SIZE)));
        return rows;
    }

    private static Dataset<Row> frame(List<Row> rows, StructType schema) {
        return spark.createDataFrame(JavaSparkContext.fromSparkContext(spark.sparkContext()).parallelize(rows, 3), schema);
    }

    /** The model run in process on one sample at batch 1. */
    private static float[] inProcess(OnnxModelSession session, float[] x, int... sample) {
        int[] dims = new int[sample.length + 1];
        dims[0] = 1;
        System.arraycopy(sample, 0, dims, 1, sample.length);
        return session.run(x, Shape.of(dims));
    }

    private static OnnxModelSession open(byte[] bytes) {
        return OnnxModelSession.open(OnnxModelReader.read(bytes), SessionOptions.defaults().withThreads(1), 8);
    }

    private static float[] floats(Row row, String column) {
        List<Float> list = row.getList(row.fieldIndex(column));
        float[] f = new float[list.size()];
        for (int i = 0; i < f.length; i++) f[i] = list.get(i);
        return f;
    }

    /** Each scored row against the model in process: scores bitwise, prediction the argmax, top 3 in order. */
    private static void checkAgainstInProcess(List<Row> inputs, List<Row> scored) {
        assertEquals(inputs.size(), scored.size());
        Map<Integer, Row> byId = new HashMap<>();
        for (Row r : scored) byId.put(r.getInt(r.fieldIndex("id")), r);
        try (OnnxModelSession local = open(model)) {
            for (Row in : inputs) {
                Row out = byId.get(in.getInt(0));
                assertEquals(in.getString(1), out.getString(out.fieldIndex("label")), "the input columns pass through");
                float[] expected = inProcess(local, (float[]) in.get(2), 1, SIZE, SIZE);
                float[] actual = floats(out, "scores");
                assertArrayEquals(expected, actual, "row " + in.getInt(0) + ": bit for bit");   // exact: no tolerance
                int best = out.getInt(out.fieldIndex("prediction"));
                assertEquals(RowScorer.argmax(expected, 0, expected.length), best);
                List<Row> top = out.getList(out.fieldIndex("topK"));
                assertEquals(3, top.size());
                assertEquals(best, top.getFirst().getInt(0));
                for (int k = 0; k < 3; k++) assertEquals(expected[top.get(k).getInt(0)], top.get(k).getFloat(1));
                assertTrue(top.get(0).getFloat(1) >= top.get(1).getFloat(1) && top.get(1).getFloat(1) >= top.get(2).getFloat(1));
            }
        }
    }

    private static ConvnetTransformer transformer() {
        return new ConvnetTransformer(model).setInputCol("pixels").setBatchSize(16).setTopK(3);
    }

    @Test
    void scoresEqualTheModelInProcessBitForBit() {
        List<Row> inputs = rows(7);
        Dataset<Row> scored = transformer().transform(frame(inputs, SCHEMA));
        assertEquals(List.of("id", "label", "pixels", "scores", "prediction", "topK"), Arrays.asList(scored.schema().fieldNames()));
        checkAgainstInProcess(inputs, scored.collectAsList());
    }

    @Test
    void parquetInParquetOutAndPersistence(@TempDir Path dir) throws IOException {
        List<Row> inputs = rows(8);
        String in = dir.resolve("in.parquet").toUri().toString(), out = dir.resolve("out.parquet").toUri().toString();
        frame(inputs, SCHEMA).write().parquet(in);
        ConvnetTransformer t = transformer();
        t.transform(spark.read().parquet(in)).write().parquet(out);
        checkAgainstInProcess(inputs, spark.read().parquet(out).collectAsList());

        // the transformer saved and loaded: same uid, parameters and model; and as a stage of a saved PipelineModel
        String saved = dir.resolve("transformer").toUri().toString();
        t.write().overwrite().save(saved);
        ConvnetTransformer loaded = ConvnetTransformer.load(saved);
        assertEquals(t.uid(), loaded.uid());
        assertEquals(t.modelSha256(), loaded.modelSha256());
        assertEquals("pixels", loaded.getInputCol());
        assertEquals(16, loaded.getBatchSize());
        assertEquals(3, loaded.getTopK());
        checkAgainstInProcess(inputs, loaded.transform(spark.read().parquet(in)).collectAsList());

        PipelineModel pipeline = new Pipeline().setStages(new PipelineStage[] {t}).fit(spark.read().parquet(in));
        String pipelinePath = dir.resolve("pipeline").toUri().toString();
        pipeline.write().save(pipelinePath);
        checkAgainstInProcess(inputs, PipelineModel.load(pipelinePath).transform(spark.read().parquet(in)).collectAsList());
    }

    @Test
    void aRowOfTheWrongSizeFailsItsTaskNamingTheRow() {
        List<Row> inputs = new ArrayList<>(rows(9));
        inputs.set(57, RowFactory.create(57, "short", new float[SIZE * SIZE - 1]));
        Dataset<Row> scored = transformer().transform(frame(inputs, SCHEMA));
        SparkException e = assertThrows(SparkException.class, scored::collectAsList);
        String message = String.valueOf(e.getMessage());
        assertTrue(message.contains("(id=57, label=short): column 'pixels' has 783 values; the model's input [1, 28, 28] needs 784"),
                message);
        assertTrue(message.matches("(?s).*row \\d+ of partition 0 .*"), message);

        inputs.set(57, RowFactory.create(57, "null", null));
        e = assertThrows(SparkException.class, () -> transformer().transform(frame(inputs, SCHEMA)).collectAsList());
        assertTrue(String.valueOf(e.getMessage()).contains("(id=57, label=null): column 'pixels' is null"), e.getMessage());

        // the executor lives on: the next job on the same session scores every row
        inputs.set(57, rows(9).get(57));
        checkAgainstInProcess(inputs, transformer().transform(frame(inputs, SCHEMA)).collectAsList());
    }

    @Test
    void oneModelLoadPerJvmHowEverManyTasks() {
        byte[] fresh = LocalSpark.lectureModel(1, SIZE, 42);      // a model no other test loads
        ConvnetTransformer t = new ConvnetTransformer(fresh).setInputCol("pixels").setBatchSize(16);
        Dataset<Row> data = frame(rows(10), SCHEMA).repartition(6);
        ModelCache.Stats before = ModelCache.stats();
        assertEquals(ROWS, t.transform(data).count());
        ModelCache.Stats first = ModelCache.stats();
        assertEquals(1, first.loads() - before.loads(), "six tasks, one load");
        assertEquals(5, first.hits() - before.hits(), "the other five tasks found it loaded");
        assertEquals(ROWS, t.transform(data).count());
        ModelCache.Stats second = ModelCache.stats();
        assertEquals(first.loads(), second.loads(), "a second job loads nothing");
        assertEquals(6, second.hits() - first.hits());
    }

    @Test
    void imagesFromSparksImageSourceBinaryFilesAndStructs(@TempDir Path dir) throws IOException {
        int channels = 3, side = 12;
        byte[] rgbModel = LocalSpark.lectureModel(channels, side, 3);
        SplittableRandom r = new SplittableRandom(11);
        Path images = Files.createDirectories(dir.resolve("images"));
        Map<String, float[]> expected = new HashMap<>();
        double[] mean = {0.485, 0.456, 0.406}, std = {0.229, 0.224, 0.225};
        try (OnnxModelSession local = open(rgbModel)) {
            for (int i = 0; i < 9; i++) {
                int h = 9 + i, w = 17 - i;                                     // resized to 12×12, up and down
                BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
                for (int y = 0; y < h; y++) for (int x = 0; x < w; x++) img.setRGB(x, y, r.nextInt(1 << 24));
                Path file = images.resolve("img" + i + ".png");
                ImageIO.write(img, "png", file.toFile());
                float[] x = Images.resize(Images.planar(img, channels), channels, h, w, side, side);
                int plane = side * side;
                for (int c = 0; c < channels; c++) {
                    for (int p = 0; p < plane; p++) x[c * plane + p] = (x[c * plane + p] - (float) mean[c]) / (float) std[c];
                }
                expected.put(file.getFileName().toString(), inProcess(local, x, channels, side, side));
            }
        }
        ConvnetTransformer t = new ConvnetTransformer(rgbModel).setBatchSize(4).setNormalization(mean, std);

        // Spark's image data source: B, G, R bytes in a struct
        Dataset<Row> structs = spark.read().format("image").load(images.toString());
        List<Row> scored = t.copy(new org.apache.spark.ml.param.ParamMap()).setInputCol("image").transform(structs).collectAsList();
        assertEquals(9, scored.size());
        for (Row row : scored) {
            String origin = row.getStruct(row.fieldIndex("image")).getString(0);
            assertArrayEquals(expected.get(Path.of(java.net.URI.create(origin)).getFileName().toString()), floats(row, "scores"), origin);
        }

        // the binaryFile source: encoded PNG bytes, decoded on the executor
        Dataset<Row> files = spark.read().format("binaryFile").load(images.toString());
        for (Row row : t.setInputCol("content").transform(files).collectAsList()) {
            String path = row.getString(row.fieldIndex("path"));
            assertArrayEquals(expected.get(Path.of(java.net.URI.create(path)).getFileName().toString()), floats(row, "scores"), path);
        }

        // an image struct whose mode is not 8-bit is named
        StructType imageSchema = structs.schema();
        Row bad = RowFactory.create(RowFactory.create("file:/x.png", 2, 2, 3, 21, new byte[2 * 2 * 3 * 4]));
        Dataset<Row> badFrame = spark.createDataFrame(List.of(bad), imageSchema);
        SparkException e = assertThrows(SparkException.class, () -> t.setInputCol("image").transform(badFrame).collectAsList());
        assertTrue(e.getMessage().contains("(image.origin=file:/x.png): column 'image' is an image of OpenCV type 21"), e.getMessage());
    }

    @Test
    void schemaErrorsAreTheDriversBeforeAnyJob() {
        Dataset<Row> data = frame(rows(12).subList(0, 4), SCHEMA);
        IllegalArgumentException clash = assertThrows(IllegalArgumentException.class,
                () -> transformer().setPredictionCol("label").transform(data));
        assertEquals("output column 'label' already exists in the input (columns [id, label, pixels]); choose another name for it",
                clash.getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> transformer().setTopKCol("scores").transform(data))
                .getMessage().startsWith("output column 'scores' is named twice"));
        assertEquals("input column 'pixel' does not exist; the columns are [id, label, pixels]",
                assertThrows(IllegalArgumentException.class, () -> transformer().setInputCol("pixel").transform(data)).getMessage());
        assertTrue(assertThrows(IllegalArgumentException.class, () -> transformer().setInputCol("label").transform(data))
                .getMessage().startsWith("input column 'label' is string; expected array<float>, array<double>, an image struct"));
        assertEquals("mean and std have 3 values; the model's input [1, 28, 28] has 1 channel(s): give 1 or 1",
                assertThrows(IllegalArgumentException.class, () -> transformer()
                        .setNormalization(new double[] {0, 0, 0}, new double[] {1, 1, 1}).transform(data)).getMessage());
        assertEquals("input shape [1, 27, 28] does not fit the model's input 'input' [N, 1, 28, 28]: axis 2 must be 28",
                assertThrows(IllegalArgumentException.class, () -> transformer().setInputShape(1, 27, 28).transform(data)).getMessage());
        assertEquals("no output: scoresCol and predictionCol are empty and topK is 0", assertThrows(IllegalArgumentException.class,
                () -> transformer().setTopK(0).setScoresCol("").setPredictionCol("").transform(data)).getMessage());
        assertThrows(IllegalArgumentException.class, () -> transformer().setBatchSize(0));
    }
}
