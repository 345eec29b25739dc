package dev.convnet.bench;

import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.ExecutionMode;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;
import dev.convnet.onnx.OnnxTensor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The ONNX Runtime peer: runs the models written by {@code bench/export_models.py} in ONNX Runtime (Java API, CPU
 * execution provider) and prints one JSON line per (model, batch), in the format of {@code bench/torch_peer.py}:
 *
 * <pre>{"peer":"ort","model":"resnet18","batch":1,"threads":2,"median_ns":..,"min_ns":..,"max_abs_err_vs_ref":..,
 *  "max_abs_ref":..,"iters":10,"warmup":3,"ort":"1.29.0","opt_level":"ALL_OPT"}</pre>
 *
 * <p>For each {@code M_bB.onnx} in {@code --models-dir} (M in resnet18, mobilenet_v2, squeezenet1_1; B in
 * {@code --batches}) it opens an {@link OrtSession} (intra-op threads T, inter-op threads 1, graph optimization
 * level ALL_OPT, sequential execution), reads the input {@code M_bB_input.pb} and PyTorch's output
 * {@code M_bB_output.pb} with {@link OnnxTensor#read(Path)}, runs once and compares (max abs error), then runs
 * {@code --warmup} untimed and {@code --iters} timed inferences ({@link System#nanoTime()} around each
 * {@code session.run}). Input and output live in direct buffers made once (the output is passed to ORT as a
 * pinned output), so the timed loop is {@code session.run} and closing its {@code Result}.
 *
 * <p>Run (after {@code make build} and {@code mvn -q -B test-compile}, which writes target/test-classpath.txt):
 *
 * <pre>
 * $JAVA -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) dev.convnet.bench.OrtPeer \
 *     --models-dir target/models --threads 2 --iters 10 --warmup 3 [--only resnet18] [--batches 1,8]
 * </pre>
 *
 * Exits with status 1 if a model's max abs error exceeds {@code --tolerance} (default 1e-3), after printing its line.
 */
public final class OrtPeer {
    private static final List<String> MODELS = List.of("resnet18", "mobilenet_v2", "squeezenet1_1");

    private OrtPeer() {}

    public static void main(String[] args) throws Exception {
        Path modelsDir = Path.of("target/models");
        int threads = Runtime.getRuntime().availableProcessors();
        int iters = 10;
        int warmup = 3;
        double tolerance = 1e-3;
        List<String> models = MODELS;
        List<Integer> batches = List.of(1, 8);
        for (int i = 0; i < args.length; i++) {
            String a = args[i];
            switch (a) {
                case "--models-dir" -> modelsDir = Path.of(value(args, ++i, a));
                case "--threads" -> threads = Integer.parseInt(value(args, ++i, a));
                case "--iters" -> iters = Integer.parseInt(value(args, ++i, a));
                case "--warmup" -> warmup = Integer.parseInt(value(args, ++i, a));
                case "--tolerance" -> tolerance = Double.parseDouble(value(args, ++i, a));
                case "--only" -> models = split(value(args, ++i, a));
                case "--batches" -> batches = split(value(args, ++i, a)).stream().map(Integer::valueOf).toList();
                case "-h", "--help" -> {
                    System.out.println("usage: OrtPeer [--models-dir DIR] [--threads T] [--iters N] [--warmup W]"
                            + " [--only m1,m2] [--batches 1,8] [--tolerance 1e-3]");
                    return;
                }
                default -> throw new IllegalArgumentException("unknown argument " + a);
            }
        }
        if (iters < 1 || warmup < 0 || threads < 1) throw new IllegalArgumentException("need iters >= 1, warmup >= 0, threads >= 1");

        boolean ok = true;
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "convnet-ort-peer");
        for (String model : models) {
            for (int batch : batches) {
                String stem = model + "_b" + batch;
                Path onnx = modelsDir.resolve(stem + ".onnx");
                if (!Files.exists(onnx)) {
                    System.err.println("skip " + stem + ": no " + onnx + " (run bench/export_models.py)");
                    continue;
                }
                ok &= runOne(env, model, batch, onnx, modelsDir.resolve(stem + "_input.pb"),
                        modelsDir.resolve(stem + "_output.pb"), threads, iters, warmup, tolerance);
            }
        }
        if (!ok) System.exit(1);
    }

    private static boolean runOne(OrtEnvironment env, String model, int batch, Path onnx, Path inputPb, Path outputPb,
            int threads, int iters, int warmup, double tolerance) throws OrtException, IOException {
        OnnxTensor input = OnnxTensor.read(inputPb);
        OnnxTensor ref = OnnxTensor.read(outputPb);
        float[] refValues = ref.floats();
        try (SessionOptions opts = new SessionOptions()) {
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            opts.setOptimizationLevel(OptLevel.ALL_OPT);
            opts.setExecutionMode(ExecutionMode.SEQUENTIAL);
            try (OrtSession session = env.createSession(onnx.toString(), opts);
                 ai.onnxruntime.OnnxTensor in = ai.onnxruntime.OnnxTensor.createTensor(env, direct(input.floats()), input.dims());
                 ai.onnxruntime.OnnxTensor out = ai.onnxruntime.OnnxTensor.createTensor(env, direct(new float[refValues.length]), ref.dims())) {
                String inName = session.getInputNames().iterator().next();
                String outName = session.getOutputNames().iterator().next();
                Map<String, ai.onnxruntime.OnnxTensor> inputs = Map.of(inName, in);
                Map<String, ai.onnxruntime.OnnxTensor> outputs = Map.of(outName, out);

                session.run(inputs, outputs).close();
                FloatBuffer result = out.getFloatBuffer();
                if (result.remaining() != refValues.length) {
                    throw new IllegalStateException(model + ": output has " + result.remaining() + " values, reference " + refValues.length);
                }
                double err = 0, maxRef = 0;
                for (int i = 0; i < refValues.length; i++) {
                    err = Math.max(err, Math.abs((double) result.get(i) - refValues[i]));
                    maxRef = Math.max(maxRef, Math.abs(refValues[i]));
                }
                if (Double.isNaN(err)) err = Double.POSITIVE_INFINITY;
                // ONNX Runtime's own output, so that convnet's can be compared with it directly.
                float[] ortValues = new float[refValues.length];
                result.get(0, ortValues);
                OnnxTensor.ofFloats("output", ref.dims(), ortValues).write(outputPb.resolveSibling(model + "_b" + batch + "_ort_output.pb"));

                for (int i = 0; i < warmup; i++) session.run(inputs, outputs).close();
                long[] times = new long[iters];
                for (int i = 0; i < iters; i++) {
                    long t0 = System.nanoTime();
                    session.run(inputs, outputs).close();
                    times[i] = System.nanoTime() - t0;
                }
                Arrays.sort(times);
                long median = iters % 2 == 1 ? times[iters / 2] : (times[iters / 2 - 1] + times[iters / 2]) / 2;
                System.out.println(String.format(Locale.ROOT,
                        "{\"peer\":\"ort\",\"model\":\"%s\",\"batch\":%d,\"threads\":%d,\"median_ns\":%d,\"min_ns\":%d,"
                                + "\"max_abs_err_vs_ref\":%s,\"max_abs_ref\":%s,\"iters\":%d,\"warmup\":%d,\"ort\":\"%s\",\"opt_level\":\"ALL_OPT\"}",
                        model, batch, threads, median, times[0], json(err), json(maxRef), iters, warmup, env.getVersion()));
                System.out.flush();
                if (!(err <= tolerance)) {
                    System.err.println(model + " batch " + batch + ": max abs error " + err + " exceeds " + tolerance);
                    return false;
                }
                return true;
            }
        }
    }

    /** {@code values} in a direct buffer in native order, as ONNX Runtime's tensors want them. */
    static FloatBuffer direct(float[] values) {
        FloatBuffer b = ByteBuffer.allocateDirect(values.length * Float.BYTES).order(ByteOrder.nativeOrder()).asFloatBuffer();
        b.put(values).flip();
        return b;
    }

    private static String json(double v) {
        return Double.isFinite(v) ? Double.toString(v) : "null";
    }

    private static String value(String[] args, int i, String flag) {
        if (i >= args.length) throw new IllegalArgumentException(flag + " needs a value");
        return args[i];
    }

    private static List<String> split(String csv) {
        List<String> out = new ArrayList<>();
        for (String s : csv.split(",")) if (!s.isBlank()) out.add(s.strip());
        return out;
    }
}
