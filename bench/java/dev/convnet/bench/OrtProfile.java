package dev.convnet.bench;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.OrtSession.SessionOptions;
import ai.onnxruntime.OrtSession.SessionOptions.ExecutionMode;
import ai.onnxruntime.OrtSession.SessionOptions.OptLevel;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * ONNX Runtime's own per-node profile of a model, in the shape of {@code convnet bench --profile}'s table, so that the
 * two can be read side by side: time per run by operator type and the slowest nodes (its built-in profiler's
 * {@code *_kernel_time} events, averaged over the timed runs).
 *
 * <p>Usage: {@code OrtProfile MODEL.onnx BATCH THREADS [ITERS]}.
 */
public final class OrtProfile {
    private OrtProfile() {}

    public static void main(String[] args) throws Exception {
        Path model = Path.of(args[0]);
        int batch = Integer.parseInt(args[1]);
        int threads = Integer.parseInt(args[2]);
        int iters = args.length > 3 ? Integer.parseInt(args[3]) : 20;
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        Path dir = Files.createTempDirectory("ort-profile");
        Path profile;
        try (SessionOptions opts = new SessionOptions()) {
            opts.setIntraOpNumThreads(threads);
            opts.setInterOpNumThreads(1);
            opts.setOptimizationLevel(OptLevel.ALL_OPT);
            opts.setExecutionMode(ExecutionMode.SEQUENTIAL);
            if (!Boolean.getBoolean("noprof")) opts.enableProfiling(dir.resolve("ort").toString());
            try (OrtSession session = env.createSession(model.toString(), opts)) {
                var info = (ai.onnxruntime.TensorInfo) session.getInputInfo().values().iterator().next().getInfo();
                long[] dims = info.getShape().clone();
                dims[0] = batch;
                long n = 1;
                for (long d : dims) n *= d;
                float[] x = new float[Math.toIntExact(n)];
                SplittableRandom r = new SplittableRandom(1);
                for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble(-1, 1);
                String inName = session.getInputNames().iterator().next();
                try (OnnxTensor in = OnnxTensor.createTensor(env, OrtPeer.direct(x), dims)) {
                    for (int i = 0; i < 5; i++) session.run(Map.of(inName, in)).close();
                    long t0 = System.nanoTime();
                    for (int i = 0; i < iters; i++) session.run(Map.of(inName, in)).close();
                    System.out.printf(Locale.ROOT, "%s batch %d, %d thread(s): %.3f ms per run (mean of %d)%n",
                            model.getFileName(), batch, threads, (System.nanoTime() - t0) / 1e6 / iters, iters);
                }
                profile = Path.of(session.endProfiling());
            }
        }
        String json = Files.readString(profile);
        Pattern name = Pattern.compile("\"name\" *: *\"([^\"]+)_kernel_time\"");
        Pattern dur = Pattern.compile("\"dur\" *: *(\\d+)");
        Pattern op = Pattern.compile("\"op_name\" *: *\"([^\"]+)\"");
        Map<String, Long> byOp = new HashMap<>();
        Map<String, Long> byNode = new HashMap<>();
        Map<String, String> opOf = new HashMap<>();
        Map<String, Integer> calls = new HashMap<>();
        for (String ev : json.split("\\{\"cat\" *: *")) {
            if (!ev.startsWith("\"Node\"")) continue;
            Matcher n = name.matcher(ev), d = dur.matcher(ev), o = op.matcher(ev);
            if (!n.find() || !d.find() || !o.find()) continue;
            long us = Long.parseLong(d.group(1));
            byOp.merge(o.group(1), us, Long::sum);
            byNode.merge(n.group(1), us, Long::sum);
            calls.merge(n.group(1), 1, Integer::sum);
            opOf.put(n.group(1), o.group(1));
        }
        int runs = calls.values().stream().mapToInt(i -> i).max().orElse(1);
        long total = byOp.values().stream().mapToLong(l -> l).sum();
        System.out.printf(Locale.ROOT, "by operator (%d profiled runs incl. warm-up, %.3f ms per run in nodes):%n", runs, total / 1e3 / runs);
        byOp.entrySet().stream().sorted((a, b) -> Long.compare(b.getValue(), a.getValue())).forEach(e ->
                System.out.printf(Locale.ROOT, "  %5.1f %9.3f  %s%n", 100.0 * e.getValue() / total, e.getValue() / 1e3 / runs, e.getKey()));
        System.out.println("slowest nodes:");
        List<Map.Entry<String, Long>> nodes = new ArrayList<>(byNode.entrySet());
        nodes.sort((a, b) -> Long.compare(b.getValue(), a.getValue()));
        for (var e : nodes.subList(0, Math.min(15, nodes.size()))) {
            System.out.printf(Locale.ROOT, "  %5.1f %9.3f  %-14s %s%n", 100.0 * e.getValue() / total, e.getValue() / 1e3 / runs,
                    opOf.get(e.getKey()), e.getKey());
        }
        if (!Boolean.getBoolean("keep")) Files.deleteIfExists(profile); else System.out.println(profile);
    }
}
