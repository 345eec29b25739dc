package dev.convnet.bench;

import dev.convnet.layer.Layer;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Shape;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The side-by-side report: the machine's FMA peak and the C baseline ({@code native/bench}) against this library
 * on the same layers, with the same thread count and the same timing method (per-run {@code nanoTime} around one
 * execution, median of N after W warm-ups), and the headline ratios as {@code summary NAME=VALUE} lines.
 *
 * <p>Run by {@code make bench-quick} ({@code --quick}) and {@code make bench}. Writes {@code results.json} and
 * {@code report.md} into {@code --out}.
 */
public final class SideBySide {
    record Timing(long medianNs, long minNs) {}

    /** One layer × batch: the C time, ours on oneDNN, ours on the Java backend (or null), and the FLOPs. */
    private record Row(String layer, int batch, long flops, String impl, Timing c, Timing ours, Timing java) {}

    private static final Pattern FIELD = Pattern.compile("\"([a-z_]+)\":(\"[^\"]*\"|[-0-9.eE]+)");

    static Map<String, String> json(String line) {
        Map<String, String> m = new LinkedHashMap<>();
        Matcher x = FIELD.matcher(line);
        while (x.find()) {
            String v = x.group(2);
            m.put(x.group(1), v.startsWith("\"") ? v.substring(1, v.length() - 1) : v);
        }
        return m;
    }

    static List<String> run(List<String> command) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
        List<String> lines = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).lines().toList();
        if (!p.waitFor(30, TimeUnit.MINUTES) || p.exitValue() != 0) {
            throw new IllegalStateException(String.join(" ", command) + " failed with status " + p.exitValue());
        }
        return lines;
    }

    /** The layer set, named as in {@code native/bench/layers.c} and {@link LayerBenchmark}. */
    static final List<String> LAYERS = List.of("lecture_conv5x5", "r18_conv3x3_56", "r18_conv3x3_28", "r18_conv3x3_14",
            "r18_conv3x3_7", "conv1x1_56", "dw_conv3x3_56", "maxpool2x2_56", "maxpool3x3_112", "fc_512_1000",
            "fc_25088_4096", "relu_56");

    /**
     * Median and minimum of {@code iters} timed runs after a warm-up of at least {@code warmup} runs and 0.3 s, so
     * that the JIT has compiled the Java side of {@code run} (the C program needs no such warm-up).
     */
    static Timing time(Session s, MemorySegment in, MemorySegment out, int warmup, int iters) {
        long until = System.nanoTime() + 300_000_000L;
        for (int i = 0; i < warmup || System.nanoTime() < until; i++) s.run(in, out);
        long[] t = new long[iters];
        for (int i = 0; i < iters; i++) {
            long t0 = System.nanoTime();
            s.run(in, out);
            t[i] = System.nanoTime() - t0;
        }
        Arrays.sort(t);
        return new Timing(t[iters / 2], t[0]);
    }

    static Timing timeLayer(String name, int batch, BackendKind backend, int threads, int warmup, int iters) {
        Object[] l = LayerBenchmark.layer(name);
        Shape in = ((Shape) l[1]).withBatch(batch);
        // Each backend in its own layout: oneDNN's primitives pick NHWC here (as in the C program), the Java kernels
        // work on NCHW; so neither run pays for a transposition at its edges.
        SessionOptions o = new SessionOptions(backend, threads, true, backend == BackendKind.ONEDNN);
        try (Session s = Network.of((Layer) l[0]).compile(in, o); Arena arena = Arena.ofConfined()) {
            MemorySegment x = arena.allocate(in.elementCount() * Float.BYTES, 64); // 64-byte aligned, as oneDNN allocates its own
            SplittableRandom r = new SplittableRandom(7);
            for (long i = 0; i < in.elementCount(); i++) x.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
            MemorySegment y = arena.allocate(s.outputShape().elementCount() * Float.BYTES, 64); // 64-byte aligned, as oneDNN allocates its own
            return time(s, x, y, warmup, iters);
        }
    }

    /** One layer through oneDNN's C API ({@code native/bench/onednn_layers}): its JSON line. */
    static Map<String, String> cLayer(Path nativeBench, String layer, int batch, int threads, int iters, int warmup)
            throws IOException, InterruptedException {
        return json(run(List.of(nativeBench.resolve("onednn_layers").toString(), "--threads", "" + threads, "--iters",
                "" + iters, "--warmup", "" + warmup, "--batch", "" + batch, "--only", layer)).get(0));
    }

    static double geomean(List<Double> v) {
        return Math.exp(v.stream().mapToDouble(Math::log).average().orElse(Double.NaN));
    }

    public static void main(String[] args) throws Exception {
        boolean quick = Arrays.asList(args).contains("--quick");
        int threads = Runtime.getRuntime().availableProcessors();
        Path out = Path.of("bench/results");
        Path nativeBench = Path.of("target/native-bench");
        Path modelTimes = Path.of("target/bench/models.jsonl");
        for (int i = 0; i < args.length - 1; i++) {
            switch (args[i]) {
                case "--threads" -> threads = Integer.parseInt(args[i + 1]);
                case "--out" -> out = Path.of(args[i + 1]);
                case "--native" -> nativeBench = Path.of(args[i + 1]);
                case "--models" -> modelTimes = Path.of(args[i + 1]);
                default -> { }
            }
        }
        int iters = quick ? 20 : 100;
        int warmup = quick ? 5 : 20;
        Files.createDirectories(out);

        Map<String, String> peak = json(run(List.of(nativeBench.resolve("peak").toString(), "--threads", "" + threads,
                "--reps", quick ? "3" : "5", "--mib", quick ? "64" : "256")).get(0));
        double peakGflops = Double.parseDouble(peak.get("fma_gflops_all"));
        System.out.printf("peak: %.1f GFLOP/s FP32 FMA on %d threads (%s), triad %s GB/s%n", peakGflops, threads,
                peak.get("cpu_model"), peak.get("triad_gbs"));

        // Each layer and batch: the C program, then this library, one right after the other, so that whatever else
        // the machine is doing weighs on both alike.
        List<Row> rows = new ArrayList<>();
        for (String layer : LAYERS) {
            for (int batch : new int[] {1, 8}) {
                Map<String, String> c = cLayer(nativeBench, layer, batch, threads, iters, warmup);
                Timing ct = new Timing(Long.parseLong(c.get("median_ns")), Long.parseLong(c.get("min_ns")));
                Timing ours = timeLayer(layer, batch, BackendKind.ONEDNN, threads, warmup, iters);
                boolean conv = c.getOrDefault("kind", "").equals("conv");
                Timing java = conv && (!quick || batch == 1)
                        ? timeLayer(layer, batch, BackendKind.JAVA, threads, quick ? 2 : 5, quick ? 5 : 20) : null;
                Row row = new Row(layer, batch, Long.parseLong(c.getOrDefault("flops", "0")), c.getOrDefault("impl", ""),
                        ct, ours, java);
                rows.add(row);
                System.out.printf(Locale.ROOT, "%-16s b%d  C %9.1f us  ours %9.1f us  jvm_vs_c %.3f%s%n", layer, batch,
                        ct.medianNs() / 1e3, ours.medianNs() / 1e3, (double) ct.medianNs() / ours.medianNs(),
                        java == null ? "" : String.format(Locale.ROOT, "  java %9.1f us", java.medianNs() / 1e3));
            }
        }

        List<Double> jvmVsC = rows.stream().map(r -> (double) r.c().medianNs() / r.ours().medianNs()).toList();
        List<Double> peakFraction = rows.stream().filter(r -> r.layer().startsWith("r18_conv3x3") && r.batch() == 8)
                .map(r -> r.flops() / (double) r.ours().medianNs() / peakGflops).toList();
        List<Double> javaVsOnednn = rows.stream().filter(r -> r.java() != null)
                .map(r -> (double) r.ours().medianNs() / r.java().medianNs()).toList();
        Row smallest = rows.stream().filter(r -> r.batch() == 1)
                .min((a, b) -> Long.compare(a.c().medianNs(), b.c().medianNs())).orElseThrow();
        // The overhead is a difference of two microsecond-scale times: measure it five more times, C and convnet
        // alternating, and take the median difference.
        long[] diffs = new long[5];
        for (int k = 0; k < diffs.length; k++) {
            Map<String, String> c = cLayer(nativeBench, smallest.layer(), 1, threads, iters, warmup);
            diffs[k] = timeLayer(smallest.layer(), 1, BackendKind.ONEDNN, threads, warmup, iters).medianNs()
                    - Long.parseLong(c.get("median_ns"));
        }
        Arrays.sort(diffs);
        long overhead = diffs[diffs.length / 2];

        Map<String, String> summary = new LinkedHashMap<>();
        summary.put("jvm_vs_c", String.format(Locale.ROOT, "%.3f", geomean(jvmVsC)));
        summary.put("peak_fraction", String.format(Locale.ROOT, "%.3f", geomean(peakFraction)));
        ModelResults models = ModelResults.load(modelTimes);
        summary.put("vs_ort", models.ratio("ort"));
        summary.put("vs_ort_b8", models.ratio("ort", 8));
        summary.put("vs_torch", models.ratio("torch"));
        summary.put("java_vs_onednn", String.format(Locale.ROOT, "%.3f", geomean(javaVsOnednn)));
        summary.put("call_overhead_ns", Long.toString(overhead));

        writeReports(out, peak, threads, rows, summary, smallest, models, quick);
        for (var e : summary.entrySet()) System.out.println("summary " + e.getKey() + "=" + e.getValue());
    }

    private static void writeReports(Path out, Map<String, String> peak, int threads, List<Row> rows,
                                     Map<String, String> summary, Row smallest, ModelResults models, boolean quick)
            throws IOException {
        String date = ZonedDateTime.now().toString();
        StringBuilder md = new StringBuilder();
        md.append("# convnet side-by-side report\n\n");
        md.append(String.format(Locale.ROOT, "%s; CPU %s; %d threads; FP32 FMA peak %s GFLOP/s (one core %s); triad %s GB/s; %s run%n%n",
                date, peak.get("cpu_model"), threads, peak.get("fma_gflops_all"), peak.get("fma_gflops_one"),
                peak.get("triad_gbs"), quick ? "quick" : "full"));
        md.append("| layer | batch | C (µs) | convnet oneDNN (µs) | jvm_vs_c | GFLOP/s | of peak | Java backend (µs) | java_vs_onednn | oneDNN kernel |\n");
        md.append("|---|---|---|---|---|---|---|---|---|---|\n");
        double peakG = Double.parseDouble(peak.get("fma_gflops_all"));
        for (Row r : rows) {
            double gf = r.flops() / (double) r.ours().medianNs();
            md.append(String.format(Locale.ROOT, "| %s | %d | %.1f | %.1f | %.3f | %s | %s | %s | %s | %s |%n", r.layer(),
                    r.batch(), r.c().medianNs() / 1e3, r.ours().medianNs() / 1e3,
                    (double) r.c().medianNs() / r.ours().medianNs(),
                    r.flops() == 0 ? "" : String.format(Locale.ROOT, "%.1f", gf),
                    r.flops() == 0 ? "" : String.format(Locale.ROOT, "%.2f", gf / peakG),
                    r.java() == null ? "" : String.format(Locale.ROOT, "%.1f", r.java().medianNs() / 1e3),
                    r.java() == null ? "" : String.format(Locale.ROOT, "%.3f", (double) r.ours().medianNs() / r.java().medianNs()),
                    r.impl()));
        }
        md.append('\n').append(models.markdown()).append('\n');
        md.append("Headline ratios (`summary` lines; call overhead: median of five alternating C/convnet measurements of ")
                .append(smallest.layer()).append(" batch 1, the layer C runs fastest):\n\n");
        for (var e : summary.entrySet()) md.append("    summary ").append(e.getKey()).append('=').append(e.getValue()).append('\n');
        Files.writeString(out.resolve("report.md"), md.toString());

        StringBuilder js = new StringBuilder("{\n");
        js.append("  \"date\": \"").append(date).append("\",\n  \"cpu_model\": \"").append(peak.get("cpu_model"))
                .append("\",\n  \"threads\": ").append(threads).append(",\n  \"peak_gflops\": ").append(peak.get("fma_gflops_all"))
                .append(",\n  \"summary\": {");
        js.append(String.join(", ", summary.entrySet().stream().map(e -> "\"" + e.getKey() + "\": \"" + e.getValue() + "\"").toList()));
        js.append("},\n  \"layers\": [\n");
        List<String> items = new ArrayList<>();
        for (Row r : rows) {
            items.add(String.format(Locale.ROOT,
                    "    {\"layer\": \"%s\", \"batch\": %d, \"flops\": %d, \"c_median_ns\": %d, \"onednn_median_ns\": %d, \"java_median_ns\": %s, \"impl\": \"%s\"}",
                    r.layer(), r.batch(), r.flops(), r.c().medianNs(), r.ours().medianNs(),
                    r.java() == null ? "null" : Long.toString(r.java().medianNs()), r.impl()));
        }
        js.append(String.join(",\n", items)).append("\n  ],\n  \"models\": ").append(models.json()).append("\n}\n");
        Files.writeString(out.resolve("results.json"), js.toString());
    }
}
