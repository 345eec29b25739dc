package dev.convnet.cli;

import dev.convnet.net.BackendKind;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onednn.OneDnn;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.io.PrintWriter;
import java.util.Arrays;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/**
 * {@code convnet demo}: a VGG-style network (the lecture's Sec. 2.3 pattern with 3×3 same convolutions) on a
 * 3×224×224 input, compiled on oneDNN and on the Java backend: the oneDNN plan, the time per image on each,
 * and how far apart their outputs are.
 */
@Command(name = "demo", description = "Compile a VGG-style network for 3×224×224, print the oneDNN plan and time it on oneDNN and Java.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--runs", defaultValue = "10", description = "Timed runs per backend (default ${DEFAULT-VALUE}).")
    int runs;

    @Option(names = "--batch", defaultValue = "1", description = "Images per run (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--threads", description = "Threads per run (default: all cores).")
    Integer threads;

    @Spec
    CommandSpec spec;

    /** The network: [[CONV 3×3 → RELU]×2 → POOL]×3 → [FC → RELU]×1 → FC, channels 32, 64, 128, seeded weights. */
    static Network vgg() {
        return LecturePattern.builder(Shape.of(3, 224, 224)).convsPerBlock(2).blocks(3).hiddenLayers(1)
                .blockChannels(32, 64, 128).hiddenUnits(256).classes(10).kernelSize(3).convPadding(Padding.same())
                .seed(2026).build();
    }

    @Override
    public Integer call() {
        PrintWriter out = spec.commandLine().getOut();
        if (runs < 1 || batch < 1) throw new IllegalArgumentException("--runs and --batch must be ≥ 1");
        int t = threads == null ? Runtime.getRuntime().availableProcessors() : threads;
        Network net = vgg();
        Shape in = Shape.of(batch, 3, 224, 224);
        out.println(net.plan(in).layerTable());
        float[] x = new float[Math.toIntExact(in.elementCount())];
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();
        float[] reference = null;
        for (BackendKind kind : new BackendKind[] {BackendKind.ONEDNN, BackendKind.JAVA}) {
            if (kind == BackendKind.ONEDNN && !OneDnn.isAvailable()) {
                out.println("oneDNN: not available, skipped");
                continue;
            }
            try (Session s = net.compile(in, new SessionOptions(kind, t, true))) {
                if (kind == BackendKind.ONEDNN) out.println(s.plan());
                float[] y = new float[Math.toIntExact(s.outputShape().elementCount())];
                s.run(x, y); // warm-up
                long best = Long.MAX_VALUE;
                long total = 0;
                for (int i = 0; i < runs; i++) {
                    long t0 = System.nanoTime();
                    s.run(x, y);
                    long dt = System.nanoTime() - t0;
                    best = Math.min(best, dt);
                    total += dt;
                }
                out.printf("%-7s %d thread(s): %8.2f ms per image (mean of %d runs), best %.2f ms%n", kind.name().toLowerCase(),
                        t, total / 1e6 / runs / batch, runs, best / 1e6 / batch);
                if (reference == null) {
                    reference = y.clone();
                } else {
                    double maxDiff = 0;
                    for (int i = 0; i < y.length; i++) maxDiff = Math.max(maxDiff, Math.abs(y[i] - reference[i]));
                    out.printf("max |java − onednn| over the %d class scores: %.3g%n", y.length, maxDiff);
                }
                out.println("class scores (image 0): " + Arrays.toString(Arrays.copyOf(y, 10)));
            }
        }
        out.flush();
        return 0;
    }
}
