package dev.convnet.internal.onednn;

import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Unary;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * MobileNet's 1×1 expansion then 3×3 depthwise convolution, fused into one oneDNN primitive (depthwise post-op) where
 * oneDNN offers it and run as two steps where it does not: both against the reference.
 */
class DepthwiseFusionTest {
    private static float[] random(SplittableRandom r, int n, double scale) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) v[i] = (float) (r.nextDouble(-1, 1) * scale);
        return v;
    }

    private static Network block(SplittableRandom r, int in, int mid, int stride, boolean batchNorm) {
        List<Layer> layers = new ArrayList<>();
        layers.add(Conv2d.builder(in, mid, 1).weights(random(r, mid * in, 1 / Math.sqrt(in))).bias(random(r, mid, 0.1)).build());
        layers.add(Unary.clip(0, 6));
        layers.add(Conv2d.builder(mid, mid, 3).stride(stride).padding(Padding.symmetric(1)).groups(mid)
                .weights(random(r, mid * 9, 1 / 3.0)).bias(random(r, mid, 0.1)).build());
        if (batchNorm) {
            float[] var = new float[mid];
            for (int i = 0; i < mid; i++) var[i] = (float) r.nextDouble(0.5, 2);
            layers.add(BatchNorm.of(random(r, mid, 1), random(r, mid, 1), random(r, mid, 1), var, 1e-5));
        }
        layers.add(Unary.clip(0, 6));
        layers.add(Conv2d.builder(mid, in, 1).weights(random(r, mid * in, 1 / Math.sqrt(mid))).build());
        return Network.of(layers);
    }

    @Test
    void expansionThenDepthwiseMatchesTheReferenceFusedOrNot() {
        SplittableRandom r = new SplittableRandom(1);
        int fused = 0;
        int[][] cases = {{16, 96, 2, 28, 0}, {24, 144, 1, 14, 1}, {32, 192, 2, 9, 0}, {8, 48, 1, 7, 1}, {16, 96, 2, 112, 0}};
        for (int[] c : cases) {
            Network net = block(r, c[0], c[1], c[2], c[4] == 1);
            Shape in = Shape.of(c[3] > 100 ? 1 : 1 + r.nextInt(2), c[0], c[3], c[3]);
            float[] x = random(r, (int) in.elementCount(), 1);
            float[] ref;
            try (Session s = net.compile(in, BackendKind.REFERENCE)) {
                ref = s.run(x);
            }
            try (Session s = net.compile(in, SessionOptions.defaults().withBackend(BackendKind.ONEDNN))) {
                float[] y = s.run(x);
                for (int i = 0; i < y.length; i++) {
                    assertEquals(ref[i], y[i], 1e-4 * Math.max(1, Math.abs(ref[i])), "case " + java.util.Arrays.toString(c)
                            + " element " + i + "\n" + s.plan());
                }
                if (s.plan().contains("post-ops: clip(0.0, 6.0), depthwise 3×3")) fused++;
            }
        }
        assertTrue(fused > 0, "oneDNN fused none of the pairs: the fused path went untested");
    }

    /**
     * A residual Add right after the depthwise convolution: the sum cannot ride along in the fused primitive (its
     * destination is a fresh buffer), so it must stay a step of its own, fused or not.
     */
    @Test
    void aResidualAfterTheDepthwiseIsStillAdded() {
        SplittableRandom r = new SplittableRandom(7);
        for (int size : new int[] {112, 9}) {
            dev.convnet.net.Graph g = dev.convnet.net.Graph.builder().input("x")
                    .node("skip", Conv2d.builder(16, 16, 1).weights(random(r, 256, 0.25)).build(), "x")
                    .node("pw", Conv2d.builder(16, 16, 1).weights(random(r, 256, 0.25)).bias(random(r, 16, 0.1)).build(), "x")
                    .node("dw", Conv2d.builder(16, 16, 3).padding(Padding.symmetric(1)).groups(16)
                            .weights(random(r, 16 * 9, 1 / 3.0)).build(), "pw")
                    .node("sum", dev.convnet.layer.Binary.add(), "dw", "skip")
                    .output("sum").build();
            Shape in = Shape.of(1, 16, size, size);
            float[] x = random(r, (int) in.elementCount(), 1);
            float[] ref;
            try (Session s = g.compile(java.util.Map.of("x", in), SessionOptions.defaults().withBackend(BackendKind.REFERENCE))) {
                ref = s.run(x);
            }
            try (Session s = g.compile(java.util.Map.of("x", in), SessionOptions.defaults().withBackend(BackendKind.ONEDNN))) {
                float[] y = s.run(x);
                for (int i = 0; i < y.length; i++) {
                    assertEquals(ref[i], y[i], 1e-4 * Math.max(1, Math.abs(ref[i])), size + ": element " + i + "\n" + s.plan());
                }
            }
        }
    }
}
