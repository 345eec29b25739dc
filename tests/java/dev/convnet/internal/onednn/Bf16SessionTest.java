package dev.convnet.internal.onednn;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.convnet.layer.Activation;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.net.Precision;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onednn.OneDnn;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * bf16 sessions on oneDNN against the FP32 reference, with the bound {@link Precision#BF16} states; and the precision
 * choice where bf16 cannot be had.
 */
class Bf16SessionTest {
    private static final SessionOptions BF16 = SessionOptions.defaults().withBackend(BackendKind.ONEDNN)
            .withPrecision(Precision.BF16);

    private static float[] random(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) r.nextDouble(-1, 1);
        return v;
    }

    private static float[] abs(float[] v) {
        float[] a = new float[v.length];
        for (int i = 0; i < v.length; i++) a[i] = Math.abs(v[i]);
        return a;
    }

    private static float[] reference(Network net, Shape in, float[] x) {
        try (Session s = net.compile(in, BackendKind.REFERENCE)) {
            return s.run(x);
        }
    }

    /**
     * One convolution over random geometries: inputs and weights rounded to bf16 (relative error ≤ 2⁻⁹ each), products
     * accumulated in FP32 (≤ n·2⁻²⁴ relative to Σ|x·w|), the output rounded to bf16 (≤ 2⁻⁹·|y| ≤ 2⁻⁹·S): so
     * |y_bf16 − y| ≤ (2⁻⁸ + 2⁻¹⁸ + n·2⁻²⁴ + 2⁻⁹)·S with S = Σ|x|·|w| + |b|, checked element by element.
     */
    @Test
    void convolutionsOverRandomGeometriesStayWithinTheBf16Bound() {
        assumeTrue(OneDnn.hasNativeBf16(), "no native bf16 on this CPU");
        SplittableRandom r = new SplittableRandom(42);
        for (int trial = 0; trial < 24; trial++) {
            int k = new int[] {1, 3, 5}[r.nextInt(3)];
            int stride = 1 + r.nextInt(2);
            int pad = r.nextInt(k / 2 + 1);
            boolean depthwise = r.nextInt(4) == 0;
            int cin = depthwise ? 8 + 8 * r.nextInt(4) : 1 + r.nextInt(48);
            int groups = depthwise ? cin : 1;
            int cout = depthwise ? cin : 1 + r.nextInt(64);
            int h = k + r.nextInt(20), w = k + r.nextInt(20);
            int batch = 1 + r.nextInt(3);
            float[] wts = random(r, cout * (cin / groups) * k * k);
            float[] bias = random(r, cout);
            Conv2d conv = Conv2d.builder(cin, cout, k).stride(stride).padding(Padding.symmetric(pad)).groups(groups)
                    .weights(wts).bias(bias).build();
            Conv2d absConv = Conv2d.builder(cin, cout, k).stride(stride).padding(Padding.symmetric(pad)).groups(groups)
                    .weights(abs(wts)).bias(abs(bias)).build();
            Shape in = Shape.of(batch, cin, h, w);
            float[] x = random(r, (int) in.elementCount());
            float[] ref = reference(Network.of(conv), in, x);
            float[] s = reference(Network.of(absConv), in, abs(x));
            int n = (cin / groups) * k * k;
            double rel = Math.scalb(1.0, -8) + Math.scalb(1.0, -18) + n * Math.scalb(1.0, -24) + Math.scalb(1.0, -9);
            String what = "conv " + conv + " on " + in;
            try (Session sess = Network.of(conv).compile(in, BF16)) {
                assertTrue(sess.plan().contains("bf16:"), "plan computes in bf16: " + sess.plan());
                float[] y = sess.run(x);
                int differing = 0;
                for (int i = 0; i < y.length; i++) {
                    double bound = rel * s[i] + 1e-7;
                    assertTrue(Math.abs(y[i] - ref[i]) <= bound,
                            what + ": element " + i + " FP32 " + ref[i] + " bf16 " + y[i] + " bound " + bound);
                    if (y[i] != ref[i]) differing++;
                }
                assertTrue(differing > 0, what + ": bf16 gave exactly the FP32 results: not computing in bf16?");
            }
        }
    }

    private static Network vgg(SplittableRandom r) {
        List<Layer> layers = new ArrayList<>();
        int in = 3;
        for (int c : new int[] {16, 32}) {
            for (int k = 0; k < 2; k++) {
                float[] w = random(r, c * in * 9);
                for (int i = 0; i < w.length; i++) w[i] *= (float) Math.sqrt(3.0 / (in * 9));
                layers.add(Conv2d.builder(in, c, 3).padding(Padding.same()).weights(w).bias(random(r, c)).build());
                float[] var = new float[c];
                for (int i = 0; i < c; i++) var[i] = (float) r.nextDouble(0.5, 2);
                layers.add(BatchNorm.of(random(r, c), random(r, c), random(r, c), var, 1e-5));
                layers.add(Activation.relu());
                in = c;
            }
            layers.add(MaxPool2d.of(2, 2));
        }
        layers.add(new Flatten());
        layers.add(Linear.of(32 * 8 * 8, 20, random(r, 32 * 64 * 20), random(r, 20)));
        layers.add(Activation.relu());
        layers.add(Linear.of(20, 10, random(r, 200), random(r, 10)));
        return Network.of(layers);
    }

    /**
     * A VGG-style network with batch norms: every output within 2% of the largest FP32 output (the per-layer bound
     * compounded over six layers, with margin), and the same top-1 class for every image.
     */
    @Test
    void wholeNetworkAgreesWithFp32WithinTheStatedBoundAndOnTop1() {
        assumeTrue(OneDnn.hasNativeBf16(), "no native bf16 on this CPU");
        Network net = vgg(new SplittableRandom(3));
        Shape in = Shape.of(16, 3, 32, 32);
        float[] x = random(new SplittableRandom(4), (int) in.elementCount());
        float[] ref = reference(net, in, x);
        try (Session s = net.compile(in, BF16)) {
            float[] y = s.run(x);
            double max = 0;
            for (float v : ref) max = Math.max(max, Math.abs(v));
            int agree = 0;
            for (int img = 0; img < 16; img++) {
                for (int j = 0; j < 10; j++) {
                    int i = img * 10 + j;
                    assertTrue(Math.abs(y[i] - ref[i]) <= 0.02 * max, "image " + img + " class " + j + ": FP32 " + ref[i]
                            + " bf16 " + y[i] + " (max |y| " + max + ")");
                }
                if (argmax(ref, img * 10, 10) == argmax(y, img * 10, 10)) agree++;
            }
            assertTrue(agree >= 15, "top-1 agreement " + agree + "/16");
        }
    }

    /** A residual graph (convolution + skip, global pooling): the same bound through oneDNN's sum and binary steps. */
    @Test
    void residualGraphInBf16() {
        assumeTrue(OneDnn.hasNativeBf16(), "no native bf16 on this CPU");
        SplittableRandom r = new SplittableRandom(9);
        Graph g = Graph.builder()
                .input("x")
                .node("c1", Conv2d.builder(8, 16, 3).padding(Padding.same()).weights(scaled(r, 16 * 8 * 9, 8 * 9)).build(), "x")
                .node("r1", Activation.relu(), "c1")
                .node("c2", Conv2d.builder(16, 16, 3).padding(Padding.same()).weights(scaled(r, 16 * 16 * 9, 16 * 9)).build(), "r1")
                .node("sum", Binary.add(), "c2", "r1")
                .node("r2", Activation.relu(), "sum")
                .node("gap", GlobalPool2d.average(), "r2")
                .output("gap")
                .build();
        Shape in = Shape.of(2, 8, 16, 16);
        float[] x = random(r, (int) in.elementCount());
        float[] ref;
        try (Session s = g.compile(java.util.Map.of("x", in), SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
            ref = s.run(x);
        }
        try (Session s = g.compile(java.util.Map.of("x", in), BF16)) {
            float[] y = s.run(x);
            double max = 0;
            for (float v : ref) max = Math.max(max, Math.abs(v));
            for (int i = 0; i < y.length; i++) {
                assertTrue(Math.abs(y[i] - ref[i]) <= 0.02 * max, "element " + i + ": FP32 " + ref[i] + " bf16 " + y[i]);
            }
        }
    }

    /**
     * Layers that keep their source's data type (pooling, binary) reading the FP32 input of a bf16 plan: oneDNN has no
     * f32 → bf16 pooling, so they stay FP32 until the first convolution converts.
     */
    @Test
    void poolingTheFp32InputCompilesAndAgrees() {
        assumeTrue(OneDnn.hasNativeBf16(), "no native bf16 on this CPU");
        SplittableRandom r = new SplittableRandom(11);
        for (Layer first : List.<Layer>of(MaxPool2d.of(2, 2), GlobalPool2d.average())) {
            Network net = first instanceof GlobalPool2d
                    ? Network.of(first, new Flatten(), Linear.of(4, 3, random(r, 12), random(r, 3)))
                    : Network.of(first, Conv2d.builder(4, 6, 3).padding(Padding.same()).weights(scaled(r, 6 * 4 * 9, 36)).build());
            Shape in = Shape.of(2, 4, 8, 8);
            float[] x = random(r, (int) in.elementCount());
            float[] ref = reference(net, in, x);
            try (Session s = net.compile(in, BF16)) {
                float[] y = s.run(x);
                for (int i = 0; i < y.length; i++) {
                    assertEquals(ref[i], y[i], 0.02 * Math.max(1, Math.abs(ref[i])), first + ": element " + i + "\n" + s.plan());
                }
            }
        }
    }

    @Test
    void javaBackendRefusesBf16OrFallsBackToFp32AsAsked() {
        Network net = vgg(new SplittableRandom(5));
        Shape in = Shape.of(1, 3, 32, 32);
        SessionOptions java = SessionOptions.defaults().withBackend(BackendKind.JAVA);
        UnsupportedOperationException e = assertThrows(UnsupportedOperationException.class,
                () -> net.compile(in, java.withPrecision(Precision.BF16)));
        assertTrue(e.getMessage().contains("FP32 only") && e.getMessage().contains("withPrecision(p, true)"), e.getMessage());
        float[] x = random(new SplittableRandom(6), (int) in.elementCount());
        try (Session fp32 = net.compile(in, java); Session fallback = net.compile(in, java.withPrecision(Precision.BF16, true))) {
            assertArrayEquals(fp32.run(x), fallback.run(x), "the fallback computes in FP32");
        }
    }

    private static float[] scaled(SplittableRandom r, int n, int fanIn) {
        float[] w = random(r, n);
        for (int i = 0; i < n; i++) w[i] *= (float) Math.sqrt(3.0 / fanIn);
        return w;
    }

    private static int argmax(float[] v, int from, int n) {
        int best = from;
        for (int i = from; i < from + n; i++) if (v[i] > v[best]) best = i;
        return best - from;
    }
}
