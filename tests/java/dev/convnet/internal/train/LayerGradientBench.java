package dev.convnet.internal.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.ParameterSpec;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

/**
 * Times the Java training kernels of the training benchmark network's layers (forward in training mode and
 * backward, batch 64): INPUT[1,28,28] → Conv 3×3 same 1→32 → ReLU → MaxPool 2×2 → Conv 3×3 same 32→64 → ReLU →
 * MaxPool 2×2 → Flatten → Linear 3136→128 → ReLU → Linear 128→10. ReLU and Flatten are not timed; the first
 * convolution's input gradient is not requested, as in training. Run with
 * {@code java -cp target/classes:target/test-classes dev.convnet.internal.train.LayerGradientBench [threads] [batch]}.
 */
public final class LayerGradientBench {
    private record Step(String name, Layer layer, Shape in, boolean inputGradient) {
    }

    private LayerGradientBench() {
    }

    public static void main(String[] args) {
        int threads = args.length > 0 ? Integer.parseInt(args[0]) : 2;
        int batch = args.length > 1 ? Integer.parseInt(args[1]) : 64;
        int iterations = args.length > 2 ? Integer.parseInt(args[2]) : 40;
        SplittableRandom rng = new SplittableRandom(1);
        List<Step> steps = List.of(
                new Step("conv1 3x3 1->32", Conv2d.builder(1, 32, 3).padding(Padding.same()).randomWeights(rng).build(),
                        Shape.of(batch, 1, 28, 28), false),
                new Step("maxpool1 2x2", MaxPool2d.of(2, 2), Shape.of(batch, 32, 28, 28), true),
                new Step("conv2 3x3 32->64", Conv2d.builder(32, 64, 3).padding(Padding.same()).randomWeights(rng).build(),
                        Shape.of(batch, 32, 14, 14), true),
                new Step("maxpool2 2x2", MaxPool2d.of(2, 2), Shape.of(batch, 64, 14, 14), true),
                new Step("linear 3136->128", Linear.random(3136, 128, rng), Shape.of(batch, 3136), true),
                new Step("linear 128->10", Linear.random(128, 10, rng), Shape.of(batch, 128), true));
        try (JavaGradients factory = new JavaGradients(threads)) {
            double totalF = 0;
            double totalB = 0;
            double minF = 0;
            double minB = 0;
            System.out.printf("Java training kernels, batch %d, %d threads, %d timed runs: median (minimum) ms%n", batch, threads,
                    iterations);
            for (Step s : steps) {
                double[] t = time(factory, s, iterations, rng);
                totalF += t[0];
                totalB += t[1];
                minF += t[2];
                minB += t[3];
                System.out.printf("  %-18s forward %7.3f (%7.3f)  backward %7.3f (%7.3f)%n", s.name(), t[0], t[2], t[1], t[3]);
            }
            System.out.printf("  %-18s forward %7.3f (%7.3f)  backward %7.3f (%7.3f)  forward+backward %7.3f (%7.3f)%n", "all",
                    totalF, minF, totalB, minB, totalF + totalB, minF + minB);
        }
    }

    private static double[] time(JavaGradients factory, Step s, int iterations, SplittableRandom rng) {
        Shape out = s.layer().outputShape(s.in());
        GradKernel k = factory.create(s.layer(), List.of(s.in()), out);
        float[] x = GradientHarness.uniform(rng, (int) s.in().elementCount());
        float[] y = new float[(int) out.elementCount()];
        float[] dy = GradientHarness.uniform(rng, y.length);
        List<ParameterSpec> specs = s.layer().parameters();
        float[][] params = new float[specs.size()][];
        float[][] dParams = new float[specs.size()][];
        for (int j = 0; j < params.length; j++) {
            params[j] = specs.get(j).values();
            dParams[j] = new float[params[j].length];
        }
        float[][] dx = {s.inputGradient() ? new float[x.length] : null};
        List<Double> f = new ArrayList<>();
        List<Double> b = new ArrayList<>();
        for (int i = 0; i < iterations + 20; i++) {
            long t0 = System.nanoTime();
            k.forward(new float[][] {x}, params, y, true);
            long t1 = System.nanoTime();
            k.backward(new float[][] {x}, y, dy, params, dx, dParams);
            long t2 = System.nanoTime();
            if (i >= 20) {
                f.add((t1 - t0) / 1e6);
                b.add((t2 - t1) / 1e6);
            }
        }
        return new double[] {median(f), median(b), f.stream().mapToDouble(Double::doubleValue).min().orElseThrow(),
                b.stream().mapToDouble(Double::doubleValue).min().orElseThrow()};
    }

    private static double median(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a[a.length / 2];
    }
}
