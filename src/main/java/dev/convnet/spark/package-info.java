/**
 * Batch inference on Apache Spark: an ONNX model scores a DataFrame's rows on every executor.
 *
 * <ul>
 *   <li>{@link dev.convnet.spark.ConvnetTransformer}: a Spark ML {@code Transformer} (and pipeline stage, saved and
 *       loaded with Spark ML persistence, the model's bytes inside) that appends scores, the predicted class and the
 *       top k to each row; inputs are float arrays, Spark's image structs or encoded images.</li>
 *   <li>{@link dev.convnet.spark.BatchScorer}: the same scoring as a plain function for {@code mapPartitions} over
 *       float arrays, for jobs outside ML pipelines.</li>
 *   <li>{@link dev.convnet.spark.ModelCache}: the models loaded in one executor JVM, one per SHA-256 of the bytes,
 *       shared by its tasks; {@link dev.convnet.spark.ScoringMetrics}: where the tasks' time went (decode, convert,
 *       run, write).</li>
 * </ul>
 *
 * <p>Spark (4.x, Scala 2.13) is a {@code provided}, optional dependency of convnet: the cluster supplies it, and
 * programs that do not use this package never need it. The model's bytes are broadcast once; each executor opens the
 * model once and runs it on mini-batches of each partition's rows; a row that does not fit the model fails its task
 * with a message naming the row, before anything native runs. The DataFrame path reads Spark's internal rows (classic
 * SparkSession, batch Datasets), so that input columns pass through without being converted.
 *
 * <p>Thread-safety: {@code ModelCache} and {@code ScoringMetrics} are thread-safe; {@code BatchScorer} is immutable;
 * {@code ConvnetTransformer} follows Spark's transformers (set parameters from one thread, then transform from any).
 */
package dev.convnet.spark;
