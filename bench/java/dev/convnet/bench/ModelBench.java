package dev.convnet.bench;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxTensor;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * convnet on the exported models ({@code bench/export_models.py}), timed exactly as {@link OrtPeer} times ONNX
 * Runtime: the model imported and compiled once, {@code --warmup} untimed and {@code --iters} timed runs with
 * {@link System#nanoTime()} around each, from and into native buffers made once. Its output is checked against
 * PyTorch's saved output before the time counts; one JSON line per model, batch and backend:
 *
 * <pre>
 *   ModelBench --models-dir target/models --threads 2 --iters 20 --warmup 5 [--backends onednn,java] [--batches 1,8]
 * </pre>
 *
 * Exits with status 1 if an output is further than {@code --tolerance} (default 1e-3) from PyTorch's.
 */
public final class ModelBench {
    private ModelBench() {}

    public static void main(String[] args) throws Exception {
        Path dir = Path.of("target/models");
        int threads = Runtime.getRuntime().availableProcessors();
        int iters = 20;
        int warmup = 5;
        double tolerance = 1e-3;
        List<String> backends = List.of("onednn");
        List<String> batches = List.of("1", "8");
        List<String> models = List.of("resnet18", "mobilenet_v2", "squeezenet1_1");
        for (int i = 0; i < args.length - 1; i++) {
            switch (args[i]) {
                case "--models-dir" -> dir = Path.of(args[i + 1]);
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                case "--iters" -> iters = Integer.parseInt(args[i + 1]);
                case "--warmup" -> warmup = Integer.parseInt(args[i + 1]);
                case "--tolerance" -> tolerance = Double.parseDouble(args[i + 1]);
                case "--backends" -> backends = List.of(args[i + 1].split(","));
                case "--batches" -> batches = List.of(args[i + 1].split(","));
                case "--only" -> models = List.of(args[i + 1].split(","));
                default -> { }
            }
        }
        boolean ok = true;
        for (String model : models) {
            for (String b : batches) {
                Path onnx = dir.resolve(model + "_b" + b + ".onnx");
                if (!Files.isRegularFile(onnx)) continue;
                OnnxTensor input = OnnxTensor.read(dir.resolve(model + "_b" + b + "_input.pb"));
                float[] expected = OnnxTensor.read(dir.resolve(model + "_b" + b + "_output.pb")).floats();
                Path ortPb = dir.resolve(model + "_b" + b + "_ort_output.pb"); // written by OrtPeer, if it ran first
                float[] ort = Files.isRegularFile(ortPb) ? OnnxTensor.read(ortPb).floats() : null;
                OnnxGraph g = OnnxImporter.load(onnx);
                for (String backend : backends) {
                    BackendKind kind = BackendKind.valueOf(backend.toUpperCase(Locale.ROOT));
                    // The Java backend is ~10x slower: fewer runs keep `make bench` short.
                    int n = kind == BackendKind.ONEDNN ? iters : Math.max(3, iters / 5);
                    try (Session s = g.compile(SessionOptions.defaults().withBackend(kind).withThreads(threads));
                         Arena arena = Arena.ofConfined()) {
                        MemorySegment x = arena.allocate((long) input.floats().length * Float.BYTES, 64);
                        MemorySegment.copy(input.floats(), 0, x, ValueLayout.JAVA_FLOAT, 0, input.floats().length);
                        MemorySegment y = arena.allocate(s.outputShape().elementCount() * Float.BYTES, 64); // 64-byte aligned, as oneDNN allocates its own
                        s.run(x, y);
                        float[] out = y.toArray(ValueLayout.JAVA_FLOAT);
                        double err = 0;
                        double maxRef = 0;
                        double errOrt = 0;
                        for (int i = 0; i < out.length; i++) {
                            err = Math.max(err, Math.abs(out[i] - expected[i]));
                            maxRef = Math.max(maxRef, Math.abs(expected[i]));
                            if (ort != null) errOrt = Math.max(errOrt, Math.abs(out[i] - ort[i]));
                        }
                        for (int i = 0; i < warmup; i++) s.run(x, y);
                        long[] t = new long[n];
                        for (int i = 0; i < n; i++) {
                            long t0 = System.nanoTime();
                            s.run(x, y);
                            t[i] = System.nanoTime() - t0;
                        }
                        Arrays.sort(t);
                        String peer = kind == BackendKind.ONEDNN ? "convnet" : "convnet-" + backend;
                        System.out.printf(Locale.ROOT,
                                "{\"peer\":\"%s\",\"model\":\"%s\",\"batch\":%s,\"threads\":%d,\"median_ns\":%d,\"min_ns\":%d,"
                                        + "\"max_abs_err_vs_ref\":%.3g,\"max_abs_ref\":%.4g,\"max_rel_err_vs_ort\":%s,\"iters\":%d}%n",
                                peer, model, b, threads, t[n / 2], t[0], err, maxRef,
                                ort == null ? "null" : String.format(Locale.ROOT, "%.3g", errOrt / maxRef), n);
                        if (!(err <= tolerance)) {
                            System.err.printf("%s %s batch %s: max abs error %.3g vs PyTorch exceeds %.1g%n", backend, model, b,
                                    err, tolerance);
                            ok = false;
                        }
                    }
                }
            }
        }
        if (!ok) System.exit(1);
    }
}
