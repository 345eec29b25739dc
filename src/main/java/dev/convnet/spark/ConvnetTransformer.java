package dev.convnet.spark;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;

import java.io.IOException;
import java.io.Serial;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.apache.spark.SparkContext;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.broadcast.Broadcast;
import org.apache.spark.ml.Transformer;
import org.apache.spark.ml.param.DoubleArrayParam;
import org.apache.spark.ml.param.IntArrayParam;
import org.apache.spark.ml.param.IntParam;
import org.apache.spark.ml.param.Param;
import org.apache.spark.ml.param.ParamMap;
import org.apache.spark.ml.param.ParamValidators;
import org.apache.spark.ml.util.Identifiable;
import org.apache.spark.ml.util.MLReader;
import org.apache.spark.ml.util.MLWritable;
import org.apache.spark.ml.util.MLWriter;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * An ONNX model as a Spark ML {@link Transformer}: scores a DataFrame's rows in mini-batches on every executor and
 * appends the results as columns.
 *
 * <pre>{@code
 * ConvnetTransformer scorer = ConvnetTransformer.fromFile(Path.of("fashion.onnx"))
 *         .setInputCol("pixels").setBatchSize(64).setTopK(3);
 * Dataset<Row> scored = scorer.transform(spark.read().parquet("images.parquet"));   // + scores, prediction, topK
 * scorer.write().overwrite().save("models/fashion");                                // the model's bytes inside
 * ConvnetTransformer again = ConvnetTransformer.load("models/fashion");
 * }</pre>
 *
 * <p><b>Inputs.</b> The column {@code inputCol} holds one sample per row: {@code array<float>} or {@code array<double>}
 * with the model's input shape (after the batch axis) in row-major order; an image struct from Spark's image data
 * source; or {@code binary} encoded images (the {@code binaryFile} source's {@code content}). Images are scaled to [0, 1],
 * converted to the model's channels and resized (bilinear) to its height and width; {@code mean} and {@code std}, when
 * set, normalize every kind per channel. The input shape is the model's own unless {@code inputShape} sets the
 * dynamic sizes.
 *
 * <p><b>Outputs</b>, appended in this order, each left out when its name is empty: {@code scoresCol}
 * ({@code array<float>}, the values the model outputs for the row; {@code outputName} chooses the output, by default
 * the first), {@code predictionCol} ({@code int}, the index of the largest score) and, when {@code topK > 0},
 * {@code topKCol} ({@code array<struct<index:int, score:float>>}, best first). An output name that is already a column,
 * or used twice, is an error.
 *
 * <p><b>How it runs.</b> The model's bytes are broadcast once per SparkContext; each executor JVM loads and compiles the
 * model once ({@link ModelCache}, keyed by the bytes' SHA-256, shared by that JVM's tasks and jobs, closed when the JVM
 * ends). Each partition's rows are grouped into batches of {@code batchSize} and run as one call
 * ({@link ScoringMetrics} says where the time goes). Each run uses {@code threads} oneDNN threads (default:
 * {@code spark.task.cpus}), so executor cores × threads per task never exceeds a node's cores. A row that does not fit
 * the model fails its task with a message that names the row; nothing native runs on it.
 *
 * <p>Saved and loaded with Spark ML persistence ({@link #write()}, {@link #read()}, {@link #load(String)}, and as a stage
 * of a saved {@code PipelineModel}): the parameters in Spark's metadata format, the model's bytes in
 * {@code data/} (Parquet).
 *
 * <p>Thread-safety: as Spark's transformers, set the parameters from one thread; {@code transform} may then be called
 * from any thread.
 */
public final class ConvnetTransformer extends Transformer implements MLWritable {
    @Serial
    private static final long serialVersionUID = 1L;

    private final String uid;
    private final byte[] model;
    private final String sha256;
    private transient ModelInfo info;
    private transient Broadcast<byte[]> broadcast;
    private transient SparkContext broadcastContext;

    private final Param<String> inputCol;
    private final Param<String> scoresCol;
    private final Param<String> predictionCol;
    private final IntParam topK;
    private final Param<String> topKCol;
    private final IntParam batchSize;
    private final IntParam threads;
    private final Param<String> backend;
    private final IntArrayParam inputShape;
    private final DoubleArrayParam mean;
    private final DoubleArrayParam std;
    private final Param<String> outputName;

    /**
     * A transformer for an ONNX model's bytes (read now, to check that convnet can run it and has one input).
     *
     * @throws dev.convnet.onnx.OnnxFormatException if the bytes are not a model convnet reads
     * @throws IllegalArgumentException             if the model has several inputs
     */
    public ConvnetTransformer(byte[] onnxModel) {
        this(Identifiable.randomUID("convnet"), onnxModel);
    }

    /** As {@link #ConvnetTransformer(byte[])} with the given uid (for loading). */
    public ConvnetTransformer(String uid, byte[] onnxModel) {
        this(uid, onnxModel.clone(), null);
    }

    /** A transformer sharing {@code model} (never changed) and, if not null, what was read from it. */
    private ConvnetTransformer(String uid, byte[] model, ModelInfo info) {
        this.uid = Objects.requireNonNull(uid, "uid");
        this.model = model;
        this.info = info != null ? info : ModelInfo.of(model);
        this.sha256 = this.info.sha256();
        inputCol = new Param<>(uid, "inputCol", "the column of inputs: array<float>, array<double>, image struct or binary (encoded image)");
        scoresCol = new Param<>(uid, "scoresCol", "the output column of scores, array<float> (empty: none)");
        predictionCol = new Param<>(uid, "predictionCol", "the output column of the predicted class index, int (empty: none)");
        topK = new IntParam(uid, "topK", "how many best classes topKCol lists (0: no column)", ParamValidators.gtEq(0));
        topKCol = new Param<>(uid, "topKCol", "the output column of the top k (index, score) pairs, best first");
        batchSize = new IntParam(uid, "batchSize", "rows per model run", ParamValidators.gtEq(1));
        threads = new IntParam(uid, "threads", "oneDNN threads per run (0: spark.task.cpus)", ParamValidators.gtEq(0));
        backend = new Param<>(uid, "backend", "onednn, java or reference (empty: the executor's automatic choice)",
                ParamValidators.inArray(new String[] {"", "onednn", "java", "reference"}));
        inputShape = new IntArrayParam(this, "inputShape", "one row's input shape after the batch axis (empty: the model's)");
        mean = new DoubleArrayParam(this, "mean", "per-channel mean subtracted from the input (images after scaling to [0, 1]); empty: none");
        std = new DoubleArrayParam(this, "std", "per-channel standard deviation the input is divided by; empty: none");
        outputName = new Param<>(uid, "outputName", "the model output to score with (empty: the first)");
        setDefault(inputCol, "input");
        setDefault(scoresCol, "scores");
        setDefault(predictionCol, "prediction");
        setDefault(topK, 0);
        setDefault(topKCol, "topK");
        setDefault(batchSize, 64);
        setDefault(threads, 0);
        setDefault(backend, "");
        setDefault(inputShape, new int[0]);
        setDefault(mean, new double[0]);
        setDefault(std, new double[0]);
        setDefault(outputName, "");
    }

    /**
     * A transformer for the model in an {@code .onnx} file.
     *
     * @throws IOException if the file cannot be read
     */
    public static ConvnetTransformer fromFile(Path onnxFile) throws IOException {
        return new ConvnetTransformer(Files.readAllBytes(onnxFile));
    }

    @Override
    public String uid() {
        return uid;
    }

    /** A copy of the model's bytes. */
    public byte[] modelBytes() {
        return model.clone();
    }

    /** The SHA-256 of the model's bytes (hex): the key executors cache the loaded model by. */
    public String modelSha256() {
        return sha256;
    }

    // ---- parameters (Spark finds them by these methods: public, no arguments, returning a Param) ----

    /** The input column. */
    public Param<String> inputCol() { return inputCol; }
    /** The scores column (empty: none). */
    public Param<String> scoresCol() { return scoresCol; }
    /** The predicted class column (empty: none). */
    public Param<String> predictionCol() { return predictionCol; }
    /** How many best classes the top-k column lists (0: no column). */
    public IntParam topK() { return topK; }
    /** The top-k column. */
    public Param<String> topKCol() { return topKCol; }
    /** Rows per model run. */
    public IntParam batchSize() { return batchSize; }
    /** oneDNN threads per run (0: {@code spark.task.cpus}). */
    public IntParam threads() { return threads; }
    /** The backend: onednn, java, reference, or empty for the automatic choice. */
    public Param<String> backend() { return backend; }
    /** One row's input shape after the batch axis (empty: the model's). */
    public IntArrayParam inputShape() { return inputShape; }
    /** Per-channel means (empty: no normalization). */
    public DoubleArrayParam mean() { return mean; }
    /** Per-channel standard deviations. */
    public DoubleArrayParam std() { return std; }
    /** The model output scored (empty: the first). */
    public Param<String> outputName() { return outputName; }

    public String getInputCol() { return getOrDefault(inputCol); }
    public String getScoresCol() { return getOrDefault(scoresCol); }
    public String getPredictionCol() { return getOrDefault(predictionCol); }
    public int getTopK() { return (Integer) getOrDefault(topK); }
    public String getTopKCol() { return getOrDefault(topKCol); }
    public int getBatchSize() { return (Integer) getOrDefault(batchSize); }
    public int getThreads() { return (Integer) getOrDefault(threads); }
    public String getBackend() { return getOrDefault(backend); }
    public int[] getInputShape() { return getOrDefault(inputShape); }
    public double[] getMean() { return getOrDefault(mean); }
    public double[] getStd() { return getOrDefault(std); }
    public String getOutputName() { return getOrDefault(outputName); }

    public ConvnetTransformer setInputCol(String v) { set(inputCol, v); return this; }
    public ConvnetTransformer setScoresCol(String v) { set(scoresCol, v); return this; }
    public ConvnetTransformer setPredictionCol(String v) { set(predictionCol, v); return this; }
    public ConvnetTransformer setTopK(int k) { set(topK, k); return this; }
    public ConvnetTransformer setTopKCol(String v) { set(topKCol, v); return this; }
    public ConvnetTransformer setBatchSize(int n) { set(batchSize, n); return this; }
    public ConvnetTransformer setThreads(int n) { set(threads, n); return this; }
    public ConvnetTransformer setBackend(String v) { set(backend, v); return this; }
    public ConvnetTransformer setInputShape(int... dims) { set(inputShape, dims); return this; }
    /** Per-channel mean and standard deviation (as many of each: 1 for every channel, or one per channel). */
    public ConvnetTransformer setNormalization(double[] means, double[] stds) { set(mean, means); set(std, stds); return this; }
    public ConvnetTransformer setOutputName(String v) { set(outputName, v); return this; }

    // ---- transforming ----

    /**
     * The input schema with the output columns appended; checks the input column, the shapes and the output names.
     *
     * @throws IllegalArgumentException if the input column is missing or of an unsupported type, an output name is
     *                                  already a column or used twice, nothing would be output, or the shapes or
     *                                  normalization do not fit the model
     */
    @Override
    public StructType transformSchema(StructType schema) {
        input(schema);                           // the column, its type, shape and normalization
        modelInfo().output(getOutputName());
        List<StructField> added = new ArrayList<>();
        if (!getScoresCol().isEmpty()) added.add(DataTypes.createStructField(getScoresCol(), DataTypes.createArrayType(DataTypes.FloatType, false), false));
        if (!getPredictionCol().isEmpty()) added.add(DataTypes.createStructField(getPredictionCol(), DataTypes.IntegerType, false));
        if (getTopK() > 0) {
            if (getTopKCol().isEmpty()) throw new IllegalArgumentException("topK = " + getTopK() + " needs a topKCol name");
            added.add(DataTypes.createStructField(getTopKCol(), DataTypes.createArrayType(RowScorer.TOP_K_ELEMENT, false), false));
        }
        if (added.isEmpty()) throw new IllegalArgumentException("no output: scoresCol and predictionCol are empty and topK is 0");
        List<String> names = new ArrayList<>(Arrays.asList(schema.fieldNames()));
        StructType out = schema;
        for (StructField f : added) {
            if (names.contains(f.name())) {
                boolean existing = Arrays.asList(schema.fieldNames()).contains(f.name());
                throw new IllegalArgumentException("output column '" + f.name() + "' " + (existing
                        ? "already exists in the input (columns " + Arrays.toString(schema.fieldNames()) + ")"
                        : "is named twice") + "; choose another name for it");
            }
            names.add(f.name());
            out = out.add(f);
        }
        return out;
    }

    /** Scores every row (lazily, as any transformation): the input's columns with the outputs appended. */
    @Override
    public Dataset<Row> transform(Dataset<?> dataset) {
        StructType outSchema = transformSchema(dataset.schema());
        SparkContext sc = dataset.sparkSession().sparkContext();
        RowScorer scorer = new RowScorer(plan(sc), input(dataset.schema()), !getScoresCol().isEmpty(),
                !getPredictionCol().isEmpty(), getTopK());
        return SparkInternals.mapPartitions(dataset, scorer, outSchema);
    }

    private RowInput input(StructType schema) {
        return new RowInput(schema, getInputCol(), modelInfo().sampleShape(getInputShape()), getMean(), getStd());
    }

    private PartitionBatches.Plan plan(SparkContext sc) {
        ModelInfo mi = modelInfo();
        int n = getThreads() > 0 ? getThreads() : sc.getConf().getInt("spark.task.cpus", 1);
        BackendKind kind = getBackend().isEmpty() ? null : Backends.parse(getBackend(), "backend");
        return new PartitionBatches.Plan(new ModelRef(broadcast(sc), sha256, kind, n), mi.inputName(),
                mi.output(getOutputName()), mi.sampleShape(getInputShape()), getBatchSize());
    }

    /** The model's bytes broadcast to the executors, once per SparkContext. */
    private synchronized Broadcast<byte[]> broadcast(SparkContext sc) {
        if (broadcast == null || broadcastContext != sc || sc.isStopped()) {
            broadcast = JavaSparkContext.fromSparkContext(sc).broadcast(model);
            broadcastContext = sc;
        }
        return broadcast;
    }

    private synchronized ModelInfo modelInfo() {
        if (info == null) info = ModelInfo.of(model);
        return info;
    }

    @Override
    public ConvnetTransformer copy(ParamMap extra) {
        ConvnetTransformer that = new ConvnetTransformer(uid, model, modelInfo());
        return (ConvnetTransformer) copyValues(that, extra);
    }

    // ---- persistence ----

    /** Writes the parameters (Spark's metadata format, so a saved PipelineModel holds it too) and the model's bytes. */
    @Override
    public MLWriter write() {
        return new Writer(this);
    }

    /** Reads what {@link #write()} saved. */
    public static MLReader<ConvnetTransformer> read() {
        return new Reader();
    }

    /** {@code read().load(path)}. */
    public static ConvnetTransformer load(String path) {
        return read().load(path);
    }

    private static final StructType METADATA = new StructType().add("value", DataTypes.StringType, false);
    private static final StructType DATA = new StructType()
            .add("sha256", DataTypes.StringType, false)
            .add("onnx", DataTypes.BinaryType, false);

    private String metadataJson(String sparkVersion) {
        ObjectMapper json = new ObjectMapper();
        ObjectNode root = json.createObjectNode();
        root.put("class", getClass().getName());
        root.put("timestamp", System.currentTimeMillis());
        root.put("sparkVersion", sparkVersion);
        root.put("uid", uid);
        ObjectNode set = root.putObject("paramMap");
        ObjectNode defaults = root.putObject("defaultParamMap");
        try {
            for (Param<?> p : params()) {
                @SuppressWarnings("unchecked") Param<Object> param = (Param<Object>) p;
                if (isSet(param)) set.set(param.name(), json.readTree(param.jsonEncode(getOrDefault(param))));
                if (hasDefault(param)) defaults.set(param.name(), json.readTree(param.jsonEncode(getDefault(param).get())));
            }
            return json.writeValueAsString(root);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private void setParams(JsonNode paramMap) {
        for (Iterator<Map.Entry<String, JsonNode>> it = paramMap.fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            @SuppressWarnings("unchecked") Param<Object> param = (Param<Object>) getParam(e.getKey());
            set(param, param.jsonDecode(e.getValue().toString()));
        }
    }

    private static final class Writer extends MLWriter {
        private final ConvnetTransformer instance;

        Writer(ConvnetTransformer instance) {
            this.instance = instance;
        }

        @Override
        public void saveImpl(String path) {
            SparkSession spark = sparkSession();
            spark.createDataFrame(List.of(RowFactory.create(instance.metadataJson(spark.version()))), METADATA)
                    .coalesce(1).write().text(path + "/metadata");
            spark.createDataFrame(List.of(RowFactory.create(instance.sha256, instance.model)), DATA)
                    .coalesce(1).write().parquet(path + "/data");
        }
    }

    private static final class Reader extends MLReader<ConvnetTransformer> {
        @Override
        public ConvnetTransformer load(String path) {
            SparkSession spark = sparkSession();
            JsonNode meta;
            try {
                meta = new ObjectMapper().readTree(spark.read().text(path + "/metadata").first().getString(0));
            } catch (IOException e) {
                throw new UncheckedIOException(path + "/metadata: not JSON", e);
            }
            String cls = meta.path("class").asText();
            if (!cls.equals(ConvnetTransformer.class.getName())) {
                throw new IllegalArgumentException(path + " holds a " + cls + ", not a " + ConvnetTransformer.class.getName());
            }
            Row data = spark.read().parquet(path + "/data").first();
            byte[] bytes = (byte[]) data.get(data.fieldIndex("onnx"));
            String saved = data.getString(data.fieldIndex("sha256"));
            if (!Sha256.hex(bytes).equals(saved)) {
                throw new IllegalStateException(path + "/data: the model's bytes have SHA-256 " + Sha256.hex(bytes)
                        + ", the file says " + saved + ": damaged");
            }
            ConvnetTransformer t = new ConvnetTransformer(meta.path("uid").asText(), bytes);
            t.setParams(meta.path("paramMap"));
            return t;
        }
    }
}
