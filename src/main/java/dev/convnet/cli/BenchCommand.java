package dev.convnet.cli;

import dev.convnet.internal.exec.NativeMemory;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Profile;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxModelSession;
import dev.convnet.onnx.OnnxValueInfo;
import dev.convnet.shape.Shape;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code convnet bench MODEL}: latency percentiles and throughput of one loaded model ({@link OnnxModelSession}) per
 * batch size, with {@code --concurrency} callers running it at once, and with {@code --profile} the time per primitive
 * or kernel, in the manner of {@code onnxruntime_perf_test}.
 */
@Command(name = "bench", description = {"Load an ONNX model once and time it per batch size: compile time, latency p50/p90/p99,",
        "throughput; C concurrent callers share the one loaded model; --profile adds the time per primitive or kernel."})
final class BenchCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "The .onnx file.")
    Path model;

    @Option(names = "--batch", split = ",", defaultValue = "1", paramLabel = "B[,B…]",
            description = "Batch sizes to run, one after the other on the same loaded model (default ${DEFAULT-VALUE}).")
    int[] batches;

    @Option(names = "--threads", paramLabel = "N",
            description = "Threads per run (oneDNN's OpenMP threads, the Java backend's workers; default: cores / concurrency).")
    Integer threads;

    @Option(names = "--concurrency", defaultValue = "1", paramLabel = "C",
            description = "Callers running the model at once, each on its own thread (default ${DEFAULT-VALUE}).")
    int concurrency;

    @Option(names = "--iters", defaultValue = "20", paramLabel = "N", description = "Timed runs per caller and batch size (default ${DEFAULT-VALUE}).")
    int iters;

    @Option(names = "--warmup", defaultValue = "5", paramLabel = "N", description = "Untimed runs per caller and batch size first (default ${DEFAULT-VALUE}).")
    int warmup;

    @Option(names = "--profile", description = "Time every primitive or kernel (slightly slower runs) and print where the time goes per batch size.")
    boolean profile;

    @Option(names = "--top", defaultValue = "15", paramLabel = "N", description = "Steps listed per profile (default ${DEFAULT-VALUE}; 0: all).")
    int top;

    @Option(names = "--shape", paramLabel = "NAME=DxDx…",
            description = "An input's shape where it is not the declared one with the batch on axis 0 (other dynamic sizes default to 1); --batch still sets axis 0. Repeatable.")
    List<String> shapes;

    @Mixin
    BackendOption backend;

    @Mixin
    PrecisionOption precision;

    @Spec
    CommandSpec spec;

    /**
     * One batch size: the latencies of the timed runs and their wall time, in nanoseconds, and the profile as it was
     * when they started (after the warm-up runs).
     */
    private record Timing(long[] latencies, long wallNanos, Profile atStart) {
    }

    @Override
    public Integer call() throws IOException {
        if (batches.length == 0 || Arrays.stream(batches).anyMatch(b -> b < 1)) throw new IllegalArgumentException("--batch sizes must be ≥ 1");
        if (concurrency < 1) throw new IllegalArgumentException("--concurrency must be ≥ 1");
        if (iters < 1 || warmup < 0) throw new IllegalArgumentException("--iters must be ≥ 1 and --warmup ≥ 0");
        int cores = Runtime.getRuntime().availableProcessors();
        int perRun = threads != null ? threads : Math.max(1, cores / concurrency);
        if (perRun < 1) throw new IllegalArgumentException("--threads must be ≥ 1");
        PrintWriter out = spec.commandLine().getOut();
        OnnxModel m = OnnxModelReader.read(model);
        SessionOptions options = SessionOptions.defaults().withBackend(backend.resolve().kind()).withThreads(perRun)
                .withProfiling(profile);
        options = precision.applyTo(options);
        Map<String, Shape> given = InspectCommand.parseShapes(shapes);
        long memoryBefore = NativeMemory.isAvailable() ? NativeMemory.mallocInUse() : -1;
        try (OnnxModelSession session = OnnxModelSession.open(m, options, Math.max(1, batches.length))) {
            out.printf(Locale.ROOT, "model:    %s (opset %d), inputs %s, outputs %s%n", model.getFileName(), session.opset(),
                    session.inputDims(), session.outputNames());
            out.printf(Locale.ROOT, "backend:  %s, %d thread(s) per run, %d concurrent caller(s) on one loaded model; %d timed runs"
                            + " per caller after %d warm-up runs%s%n", session.backend().name().toLowerCase(Locale.ROOT), perRun,
                    concurrency, iters, warmup, profile ? "; profiling on" : "");
            out.println();
            String fmt = "%6s %11s %6s %9s %9s %9s %9s %9s %10s%n";
            out.printf(Locale.ROOT, fmt, "batch", "compile ms", "runs", "p50 ms", "p90 ms", "p99 ms", "mean ms", "runs/s", "images/s");
            out.flush();
            List<String> profiles = new ArrayList<>();
            long memoryAfterFirst = -1;
            for (int batch : batches) {
                Map<String, Shape> inputShapes = shapesFor(session, given, batch);
                Map<String, float[]> inputs = new LinkedHashMap<>();
                SplittableRandom r = new SplittableRandom(1);
                inputShapes.forEach((name, s) -> {
                    float[] x = new float[Math.toIntExact(s.elementCount())];
                    for (int i = 0; i < x.length; i++) x[i] = (float) (r.nextDouble() * 2 - 1);
                    inputs.put(name, x);
                });
                long t0 = System.nanoTime();
                compile(session, inputShapes);
                double compileMs = (System.nanoTime() - t0) / 1e6;
                Timing t = time(session, inputs, inputShapes);
                if (memoryAfterFirst < 0 && memoryBefore >= 0) memoryAfterFirst = NativeMemory.mallocInUse() - memoryBefore;
                long[] lat = t.latencies().clone();
                Arrays.sort(lat);
                double mean = Arrays.stream(lat).average().orElse(0) / 1e6;
                double runsPerSecond = lat.length / (t.wallNanos() / 1e9);
                out.printf(Locale.ROOT, fmt, batch, String.format(Locale.ROOT, "%.1f", compileMs), lat.length,
                        ms(percentile(lat, 50)), ms(percentile(lat, 90)), ms(percentile(lat, 99)), String.format(Locale.ROOT, "%.3f", mean),
                        String.format(Locale.ROOT, "%.1f", runsPerSecond), String.format(Locale.ROOT, "%.1f", runsPerSecond * batch));
                out.flush();
                if (profile) {
                    Profile p = session.profile(inputShapes).since(t.atStart()); // the timed runs only
                    profiles.add("profile at batch " + batch + " (" + inputShapes + "):\n" + p.table(top));
                }
            }
            OnnxModelSession.CacheStats stats = session.cacheStats();
            out.println();
            out.printf(Locale.ROOT, "cache:    %d shape(s) compiled%s%n", stats.cachedShapes(), session.backend() != BackendKind.ONEDNN ? ""
                    : String.format(Locale.ROOT, "; constants shared by them: %.1f MB native, %d found already laid out",
                    stats.sharedConstantBytes() / 1e6, stats.sharedConstantHits()));
            if (memoryBefore >= 0) {
                out.printf(Locale.ROOT, "memory:   malloc'd after the first batch size %.1f MB, after all %d: %.1f MB%n",
                        memoryAfterFirst / 1e6, batches.length, (NativeMemory.mallocInUse() - memoryBefore) / 1e6);
            }
            for (String p : profiles) {
                out.println();
                out.print(p);
            }
        }
        out.flush();
        return 0;
    }

    /** Warm-up runs, then the timed runs: {@link #concurrency} callers, {@link #iters} runs each, started together. */
    /**
     * Compiles the model for {@code shapes} on a thread that then ends. oneDNN's OpenMP runtime (libgomp) keeps a team of
     * threads per calling thread for the calling thread's life; once more such threads exist than cores, it stops
     * spinning between parallel regions and every primitive pays a futex wake-up (MobileNetV2 at batch 1 here: 5 ms
     * per run instead of 2). Compiling on the main thread would leave its team behind next to the callers'.
     */
    private static void compile(OnnxModelSession session, Map<String, Shape> shapes) {
        AtomicReference<RuntimeException> failure = new AtomicReference<>();
        Thread t = Thread.ofPlatform().name("convnet-compile").start(() -> {
            try {
                session.outputShapes(shapes);
            } catch (RuntimeException e) {
                failure.set(e);
            }
        });
        try {
            t.join();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted", e);
        }
        if (failure.get() != null) throw failure.get(); // e.g. a shape error: reported as if compiled here
    }

    private Timing time(OnnxModelSession session, Map<String, float[]> inputs, Map<String, Shape> shapes) {
        ExecutorService pool = Executors.newFixedThreadPool(concurrency);
        try {
            AtomicReference<Profile> atStart = new AtomicReference<>(Profile.EMPTY);
            CyclicBarrier start = new CyclicBarrier(concurrency, () -> {
                if (profile) atStart.set(session.profile(shapes));
            });
            long[] latencies = new long[concurrency * iters];
            long[] ends = new long[concurrency];
            long[] starts = new long[concurrency];
            List<Future<?>> callers = new ArrayList<>();
            for (int c = 0; c < concurrency; c++) {
                int caller = c;
                callers.add(pool.submit(() -> {
                    for (int i = 0; i < warmup; i++) session.run(inputs, shapes);
                    start.await();
                    starts[caller] = System.nanoTime();
                    for (int i = 0; i < iters; i++) {
                        long t = System.nanoTime();
                        session.run(inputs, shapes);
                        latencies[caller * iters + i] = System.nanoTime() - t;
                    }
                    ends[caller] = System.nanoTime();
                    return null;
                }));
            }
            for (Future<?> f : callers) {
                try {
                    f.get();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("interrupted", e);
                } catch (ExecutionException e) {
                    if (e.getCause() instanceof RuntimeException r) throw r;
                    if (e.getCause() instanceof Error r) throw r;
                    throw new IllegalStateException(e.getCause());
                }
            }
            long wall = Arrays.stream(ends).max().orElseThrow() - Arrays.stream(starts).min().orElseThrow();
            return new Timing(latencies, wall, atStart.get());
        } finally {
            pool.shutdownNow();
        }
    }

    /** The inputs' shapes at {@code batch}: as given with --shape or declared (other dynamic sizes 1), axis 0 the batch. */
    private static Map<String, Shape> shapesFor(OnnxModelSession session, Map<String, Shape> given, int batch) {
        Map<String, Shape> out = new LinkedHashMap<>();
        for (String name : given.keySet()) {
            if (!session.inputNames().contains(name)) {
                throw new IllegalArgumentException("--shape " + name + ": the model's inputs are " + session.inputNames());
            }
        }
        for (String name : session.inputNames()) {
            int[] d;
            if (given.containsKey(name)) {
                d = given.get(name).dims();
            } else {
                List<OnnxValueInfo.Dim> dims = session.inputDims().get(name);
                d = new int[Math.max(1, dims.size())];
                for (int a = 0; a < dims.size(); a++) d[a] = dims.get(a).isDynamic() ? 1 : Math.toIntExact(dims.get(a).value());
                if (dims.isEmpty()) d[0] = 1;
            }
            d[0] = batch;
            out.put(name, Shape.of(d));
        }
        return out;
    }

    private static long percentile(long[] sorted, int p) {
        int i = (int) Math.ceil(p / 100.0 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }

    private static String ms(long nanos) {
        return String.format(Locale.ROOT, "%.3f", nanos / 1e6);
    }
}
