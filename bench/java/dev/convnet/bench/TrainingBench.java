package dev.convnet.bench;

import dev.convnet.net.BackendKind;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

import java.util.Arrays;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * Time per training step (one training-mode forward pass and one backward pass; the optimizer's update is not
 * included) of the benchmark network: INPUT [N, 1, 28, 28] → Conv 3×3 same 1→32 → ReLU → MaxPool 2×2 → Conv 3×3
 * same 32→64 → ReLU → MaxPool 2×2 → Flatten → Linear 3136→128 → ReLU → Linear 128→10. {@code --warmup} untimed
 * steps, then {@code --steps} timed with {@link System#nanoTime()} around each; prints the median and the fastest
 * step and images per second at the median, and with {@code --plan} the session's plan.
 *
 * <pre>
 *   TrainingBench [--backend onednn|java|reference] [--batch 64] [--threads 2] [--steps 50] [--warmup 10] [--plan]
 * </pre>
 */
public final class TrainingBench {
    private TrainingBench() {
    }

    public static void main(String[] args) {
        BackendKind backend = BackendKind.ONEDNN;
        int batch = 64;
        int threads = Runtime.getRuntime().availableProcessors();
        int steps = 50;
        int warmup = 10;
        boolean plan = false;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--backend" -> backend = BackendKind.valueOf(args[++i].toUpperCase(Locale.ROOT));
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--threads" -> threads = Integer.parseInt(args[++i]);
                case "--steps" -> steps = Integer.parseInt(args[++i]);
                case "--warmup" -> warmup = Integer.parseInt(args[++i]);
                case "--plan" -> plan = true;
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Network net = LecturePattern.builder(Shape.of(1, 28, 28)).convsPerBlock(1).blocks(2).blockChannels(32, 64)
                .hiddenLayers(1).hiddenUnits(128).classes(10).seed(1).build();
        Shape in = Shape.of(batch, 1, 28, 28);
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble();
        float[] dy = new float[batch * 10];
        for (int i = 0; i < dy.length; i++) dy[i] = (float) r.nextDouble(-1, 1) / batch;
        TrainingOptions options = TrainingOptions.defaults().withBackend(backend).withThreads(threads);
        try (ParameterSet p = ParameterSet.of(net); TrainingSession s = TrainingSession.compile(net.toGraph(), p, in, options)) {
            if (plan) System.out.println(s.plan());
            for (int i = 0; i < warmup; i++) {
                s.forward(x, true);
                s.backward(dy);
            }
            double[] ms = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                s.forward(x, true);
                s.backward(dy);
                ms[i] = (System.nanoTime() - t0) / 1e6;
            }
            Arrays.sort(ms);
            double median = ms[steps / 2];
            System.out.printf(Locale.ROOT, "training step, %s, batch %d, %d threads: median %.2f ms, fastest %.2f ms, %.0f images/s%n",
                    backend.name().toLowerCase(Locale.ROOT), batch, threads, median, ms[0], batch * 1000 / median);
        }
    }
}
