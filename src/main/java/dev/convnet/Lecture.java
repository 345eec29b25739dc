package dev.convnet;

import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Linear;
import dev.convnet.net.BackendKind;
import dev.convnet.net.FcToConv;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.shape.AxisPadding;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.Arrays;
import java.util.Locale;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * The lecture notes' worked examples, computed by the library (nothing is typed in): the four
 * 1-D convolutions, the [3, 32, 32] convolution layer's summary, the FC parameter count, the
 * filter-sizing comparison and the FC-as-convolution shapes.
 *
 * <p>Thread-safety: stateless.
 */
public final class Lecture {
    /** The notes' input sequence f. */
    static final float[] F = {3, 5, 6, 7, 8};
    /** The notes' kernel g. */
    static final float[] G = {2, 1, 2};

    private Lecture() {
    }

    /**
     * One 1-D example: {@code f * g} (cross-correlation, as the notes compute it) with the given
     * stride and padding, on the given backend.
     */
    public static float[] convolve1d(float[] f, float[] g, int stride, Padding padding, BackendKind backend) {
        Conv1d conv = Conv1d.builder(1, 1, g.length).stride(stride).padding(padding).weights(g).build();
        try (Session s = Network.of(conv).compile(Shape.of(1, 1, f.length), backend)) {
            return s.run(f);
        }
    }

    /** The report printed by {@code make run}. */
    public static String report() {
        return report(BackendKind.REFERENCE);
    }

    /** The report, with the 1-D examples computed on {@code backend}. */
    public static String report(BackendKind backend) {
        StringBuilder sb = new StringBuilder();
        sb.append("Lecture 5 worked examples (computed by convnet, backend ").append(backend).append(")\n\n");
        sb.append("1-D convolution, f = ").append(ints(F)).append(", g = ").append(ints(G)).append('\n');
        example(sb, 1, Padding.valid(), "no padding", backend);
        example(sb, 2, Padding.valid(), "no padding", backend);
        example(sb, 1, Padding.same(), "same padding", backend);
        example(sb, 2, Padding.same(), "same padding", backend);

        sb.append("\nConvolution layer: input [3, 32, 32], 6 kernels [3, 5, 5], no padding, stride 1\n");
        Conv2d conv = Conv2d.builder(3, 6, 5).weights(new float[6 * 3 * 5 * 5]).bias(new float[6]).build();
        GraphSummary summary = Network.of(conv).plan(Shape.of(1, 3, 32, 32));
        sb.append(summary.layerTable());
        GraphSummary.Row row = summary.rows().getFirst();
        sb.append(String.format(Locale.ROOT, "output %s, %,d parameters (%,d weights + %,d biases), %,d neurons%n",
                row.imageShape(), row.parameters(), row.weights(), row.biases(), row.neurons()));

        Shape volume = Shape.of(512, 7, 7);
        int d = (int) volume.elementCount();
        Linear fc = Linear.of(d, 10, new float[d * 10], new float[10]);
        sb.append(String.format(Locale.ROOT, "%nFC layer on %s → 10 classes: %,d weights + %,d biases = %,d parameters%n",
                volume, fc.weightCount(), fc.biasCount(), fc.weightCount() + fc.biasCount()));

        int c = 64;
        RandomGenerator rng = RandomGeneratorFactory.of("L64X128MixRandom").create(0);
        long big = Conv2d.builder(c, c, 7).randomWeights(rng).build().weightCount();
        long small = 3 * Conv2d.builder(c, c, 3).randomWeights(rng).build().weightCount();
        sb.append(String.format(Locale.ROOT,
                "Filter sizing, C = %d: one 7×7 conv %,d weights = %dC², three 3×3 convs %,d weights = %dC² (biases excluded)%n",
                c, big, big / ((long) c * c), small, small / ((long) c * c)));

        Shape k1 = FcToConv.kernelShape(Shape.of(512, 7, 7), 4096);
        Shape k2 = FcToConv.kernelShape(Shape.of(4096, 1, 1), 4096);
        sb.append(String.format(Locale.ROOT,
                "FC as convolution: FC 4096 on [512, 7, 7] → conv kernels %s, p = 0, s = 1 → output [4096, 1, 1];"
                        + " the next FC 4096 → conv kernels %s%n", k1, k2));
        return sb.toString();
    }

    private static void example(StringBuilder sb, int stride, Padding padding, String label, BackendKind backend) {
        AxisPadding p = padding.resolve(0, 1, F.length, G.length, stride, 1);
        ConvAxis a = Conv1d.builder(1, 1, G.length).stride(stride).padding(padding).weights(G).build()
                .geometry(Shape.of(1, 1, F.length));
        float[] out = convolve1d(F, G, stride, padding, backend);
        String pText = p.before() == p.after() ? "p = " + p.before() : "p = " + p.before() + " + " + p.after();
        if (padding.mode() == Padding.Mode.SAME) {
            pText += " (p = (s(L − 1) + N − M)/2 = (" + stride + "·(" + F.length + " − 1) + " + G.length + " − "
                    + F.length + ")/2)";
        }
        sb.append(String.format(Locale.ROOT, "  %-12s s = %d, %s: L = ⌊(%d + 2·%d − %d)/%d⌋ + 1 = %d → %s%n",
                label + ",", stride, pText, F.length, p.before(), G.length, stride, a.output(), ints(out)));
    }

    private static String ints(float[] values) {
        int[] v = new int[values.length];
        for (int i = 0; i < v.length; i++) {
            v[i] = Math.round(values[i]);
            if (v[i] != values[i]) {
                return Arrays.toString(values);
            }
        }
        return Arrays.toString(v);
    }
}
