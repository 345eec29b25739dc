package dev.convnet.bench;

import dev.convnet.data.Batches;
import dev.convnet.data.Dataset;
import dev.convnet.data.FashionMnist;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Precision;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxTensor;
import dev.convnet.quant.PostTrainingQuantizer;
import dev.convnet.shape.Shape;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;

/**
 * FP32 against bf16 and int8 inference on oneDNN, accuracy and speed in one run (int8: the FP32 graph quantized by
 * {@link PostTrainingQuantizer} with min/max calibration, run in Q/DQ form, which oneDNN lowers to int8 primitives):
 * <ul>
 *   <li>accuracy on real labels: the Fashion-MNIST network {@code convnet train} saved, on the 10,000 test images, in
 *       each precision, with the top-1 agreement with FP32;</li>
 *   <li>ResNet-18 and MobileNetV2 (the exported models, batch 8): time per run in each precision (the sessions
 *       alternate, median of {@code --iters}), and the top-5 overlap with FP32 on the exported inputs.</li>
 * </ul>
 * Prints {@code summary bf16_vs_fp32=} and {@code summary int8_vs_fp32=} (ResNet-18 batch 8, FP32 time / bf16 or
 * int8 time), {@code summary bf16_top1_agreement=} and {@code summary int8_accuracy_drop=} (Fashion-MNIST: FP32
 * accuracy − int8 accuracy), writes {@code precision.json} and {@code precision.md} into {@code --out}
 * and, with {@code --report DIR}, appends the section to {@code DIR/report.md}.
 *
 * <p>Usage: {@code PrecisionBench --model FILE.onnx [--models-dir target/models] [--threads N] [--iters N] [--out DIR]
 * [--report DIR]}.
 */
public final class PrecisionBench {
    private PrecisionBench() {}

    /** One way of computing a graph: its name and how to make a session for an input shape. */
    record Variant(String name, Function<Shape, Session> compile) {}

    public static void main(String[] args) throws Exception {
        Map<String, String> a = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) a.put(args[i].replaceFirst("^--", ""), args[i + 1]);
        Path model = Path.of(a.getOrDefault("model", "target/bench/fashion-mnist.onnx"));
        Path modelsDir = Path.of(a.getOrDefault("models-dir", "target/models"));
        int threads = Integer.parseInt(a.getOrDefault("threads", Integer.toString(Runtime.getRuntime().availableProcessors())));
        int iters = Integer.parseInt(a.getOrDefault("iters", "10"));
        Path out = Path.of(a.getOrDefault("out", "target/bench"));
        SessionOptions fp32 = SessionOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(threads);

        Map<String, String> summary = new LinkedHashMap<>();
        StringBuilder md = new StringBuilder("\n## Precision: FP32, bf16 and int8 on oneDNN (issue 13)\n\n");
        List<String> json = new ArrayList<>();

        // Accuracy on real labels.
        Dataset test = FashionMnist.test();
        String input = OnnxImporter.load(model).graph().inputNames().getFirst();
        Function<Shape, Graph> fashion = s -> {
            try {
                return OnnxImporter.load(model, Map.of(input, s)).graph();
            } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
        // int8: post-training static quantization (min/max) calibrated on the first 2,000 training images.
        Dataset calibration = FashionMnist.train().subset(java.util.stream.IntStream.range(0, 2000).toArray());
        Shape calibrationShape = batchShape(100, test.imageShape());
        Graph int8 = PostTrainingQuantizer.minMax().quantize(fashion.apply(calibrationShape), calibration, 100).graph();
        List<Variant> variants = List.of(
                new Variant("fp32", s -> fashion.apply(s).compile(s, fp32)),
                new Variant("bf16", s -> fashion.apply(s).compile(s, fp32.withPrecision(Precision.BF16))),
                new Variant("int8", s -> int8.compile(s, fp32)));
        Map<String, int[]> predictions = new LinkedHashMap<>();
        for (Variant v : variants) predictions.put(v.name(), predict(v, test));
        int[] ref = predictions.get("fp32");
        md.append(String.format(Locale.ROOT, "Fashion-MNIST test set (%d images), network saved by `convnet train` (%s):%n%n",
                test.size(), model.getFileName()));
        md.append("| precision | test accuracy | top-1 agreement with FP32 |\n|---|---|---|\n");
        for (var e : predictions.entrySet()) {
            double acc = accuracy(e.getValue(), test.labels());
            double agree = agreement(e.getValue(), ref);
            md.append(String.format(Locale.ROOT, "| %s | %.4f | %.4f |%n", e.getKey(), acc, agree));
            json.add(String.format(Locale.ROOT, "{\"what\":\"fashion_mnist\",\"precision\":\"%s\",\"accuracy\":%.4f,\"top1_agreement\":%.4f}",
                    e.getKey(), acc, agree));
            System.out.printf(Locale.ROOT, "fashion-mnist %-5s accuracy %.4f, top-1 agreement with fp32 %.4f%n", e.getKey(), acc, agree);
        }
        summary.put("bf16_top1_agreement", String.format(Locale.ROOT, "%.4f", agreement(predictions.get("bf16"), ref)));
        double int8Drop = accuracy(ref, test.labels()) - accuracy(predictions.get("int8"), test.labels());
        summary.put("int8_accuracy_drop", String.format(Locale.ROOT, "%.4f", int8Drop));

        // Speed and top-5 overlap on the exported models at batch 8.
        md.append(String.format(Locale.ROOT, "%nExported models at batch 8, %d threads, oneDNN: ms per run (median of %d,"
                + " the precisions alternating) and top-5 overlap with FP32 on the exported inputs:%n%n", threads, iters));
        md.append("| model | precision | ms per run | speed-up over FP32 | top-5 overlap with FP32 |\n|---|---|---|---|---|\n");
        for (String name : List.of("resnet18", "mobilenet_v2")) {
            Path onnx = modelsDir.resolve(name + "_b8.onnx");
            if (!Files.isRegularFile(onnx)) {
                System.err.println("PrecisionBench: no " + onnx + " (make models); skipped");
                continue;
            }
            OnnxGraph g = OnnxImporter.load(onnx);
            float[] x = OnnxTensor.read(modelsDir.resolve(name + "_b8_input.pb")).floats();
            Shape in = g.inputShapes().values().iterator().next();
            // int8: calibrated (min/max) on the exported input itself: the top-5 overlap is then an upper bound of
            // what unseen inputs would give.
            Graph q = PostTrainingQuantizer.minMax().quantize(g.graph(), in, List.of(x)).graph();
            List<Variant> vs = List.of(new Variant("fp32", s -> g.graph().compile(s, fp32)),
                    new Variant("bf16", s -> g.graph().compile(s, fp32.withPrecision(Precision.BF16))),
                    new Variant("int8", s -> q.compile(s, fp32)));
            Map<String, Long> medians = new LinkedHashMap<>();
            Map<String, float[]> outputs = new LinkedHashMap<>();
            time(vs, in, x, iters, medians, outputs);
            float[] base = outputs.get("fp32");
            int k = base.length / in.dim(0);
            for (String p : medians.keySet()) {
                double speedup = (double) medians.get("fp32") / medians.get(p);
                double overlap = top5Overlap(base, outputs.get(p), k);
                md.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.2f | %.3f |%n", name, p, medians.get(p) / 1e6, speedup, overlap));
                json.add(String.format(Locale.ROOT, "{\"what\":\"%s_b8\",\"precision\":\"%s\",\"median_ns\":%d,\"speedup\":%.3f,\"top5_overlap\":%.3f}",
                        name, p, medians.get(p), speedup, overlap));
                System.out.printf(Locale.ROOT, "%s b8 %-5s %8.2f ms  speed-up %.2f  top-5 overlap %.3f%n", name, p, medians.get(p) / 1e6,
                        speedup, overlap);
                if (name.equals("resnet18") && p.equals("bf16")) summary.put("bf16_vs_fp32", String.format(Locale.ROOT, "%.3f", speedup));
                if (name.equals("resnet18") && p.equals("int8")) summary.put("int8_vs_fp32", String.format(Locale.ROOT, "%.3f", speedup));
            }
        }
        md.append('\n');
        for (var e : summary.entrySet()) md.append("    summary ").append(e.getKey()).append('=').append(e.getValue()).append('\n');
        Files.createDirectories(out);
        Files.writeString(out.resolve("precision.json"), "[\n" + String.join(",\n", json) + "\n]\n");
        Files.writeString(out.resolve("precision.md"), md.toString());
        if (a.containsKey("report")) {
            Path report = Path.of(a.get("report")).resolve("report.md");
            Files.writeString(report, (Files.exists(report) ? Files.readString(report) : "") + md);
        }
        for (var e : summary.entrySet()) System.out.println("summary " + e.getKey() + "=" + e.getValue());
    }

    static Shape batchShape(int n, Shape image) {
        int[] dims = new int[image.rank() + 1];
        dims[0] = n;
        for (int i = 0; i < image.rank(); i++) dims[i + 1] = image.dim(i);
        return Shape.of(dims);
    }

    /** The top-1 class of every test image, in batches of 100. */
    static int[] predict(Variant v, Dataset d) {
        int batch = 100;
        Batches bs = d.batches(batch, false, 0, 0, false);
        int[] pred = new int[d.size()];
        Map<Integer, Session> sessions = new LinkedHashMap<>();
        try {
            int at = 0;
            for (int b = 0; b < bs.count(); b++) {
                int n = bs.size(b);
                float[] x = new float[n * d.imageSize()];
                int[] y = new int[n];
                bs.fill(b, x, y);
                Session s = sessions.computeIfAbsent(n, m -> v.compile().apply(batchShape(m, d.imageShape())));
                float[] scores = s.run(x);
                int k = scores.length / n;
                for (int i = 0; i < n; i++) pred[at++] = argmax(scores, i * k, k);
            }
        } finally {
            sessions.values().forEach(Session::close);
        }
        return pred;
    }

    /** Times the variants on one input, alternating run by run; keeps each one's median and output. */
    static void time(List<Variant> vs, Shape in, float[] x, int iters, Map<String, Long> medians, Map<String, float[]> outputs) {
        List<Session> sessions = new ArrayList<>();
        try (Arena arena = Arena.ofConfined()) {
            for (Variant v : vs) sessions.add(v.compile().apply(in));
            MemorySegment xs = arena.allocate((long) x.length * Float.BYTES, 64);
            MemorySegment.copy(x, 0, xs, ValueLayout.JAVA_FLOAT, 0, x.length);
            List<MemorySegment> ys = new ArrayList<>();
            for (Session s : sessions) ys.add(arena.allocate(s.outputShape().elementCount() * Float.BYTES, 64));
            long[][] t = new long[vs.size()][iters];
            for (int w = 0; w < 3; w++) for (int i = 0; i < vs.size(); i++) sessions.get(i).run(xs, ys.get(i));
            for (int r = 0; r < iters; r++) {
                for (int i = 0; i < vs.size(); i++) {
                    long t0 = System.nanoTime();
                    sessions.get(i).run(xs, ys.get(i));
                    t[i][r] = System.nanoTime() - t0;
                }
            }
            for (int i = 0; i < vs.size(); i++) {
                Arrays.sort(t[i]);
                medians.put(vs.get(i).name(), t[i][iters / 2]);
                outputs.put(vs.get(i).name(), ys.get(i).toArray(ValueLayout.JAVA_FLOAT));
            }
        } finally {
            sessions.forEach(Session::close);
        }
    }

    static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int j = 1; j < n; j++) if (v[from + j] > v[from + best]) best = j;
        return best;
    }

    static double accuracy(int[] pred, int[] labels) {
        int c = 0;
        for (int i = 0; i < pred.length; i++) if (pred[i] == labels[i]) c++;
        return (double) c / pred.length;
    }

    static double agreement(int[] a, int[] b) {
        int c = 0;
        for (int i = 0; i < a.length; i++) if (a[i] == b[i]) c++;
        return (double) c / a.length;
    }

    /** Mean over the rows of |top-5(a) ∩ top-5(b)| / 5. */
    static double top5Overlap(float[] a, float[] b, int k) {
        int rows = a.length / k;
        double sum = 0;
        for (int r = 0; r < rows; r++) {
            List<Integer> ta = top5(a, r * k, k), tb = top5(b, r * k, k);
            sum += ta.stream().filter(tb::contains).count() / 5.0;
        }
        return sum / rows;
    }

    private static List<Integer> top5(float[] v, int from, int k) {
        Integer[] idx = new Integer[k];
        for (int i = 0; i < k; i++) idx[i] = i;
        Arrays.sort(idx, (p, q) -> Float.compare(v[from + q], v[from + p]));
        return Arrays.asList(idx).subList(0, 5);
    }
}
