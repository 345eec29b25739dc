package dev.convnet.net;

import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/** Channels-last (NHWC) input and output give the NCHW results, transposed, on every backend. */
class ChannelsLastTest {
    private static float[] toNhwc(float[] x, Shape s) {
        int n = s.dim(0), c = s.dim(1), hw = s.dim(2) * s.dim(3);
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++)
            for (int ch = 0; ch < c; ch++)
                for (int p = 0; p < hw; p++) y[(b * hw + p) * c + ch] = x[(b * c + ch) * hw + p];
        return y;
    }

    @Test
    void nhwcRunsMatchNchwRunsOnEveryBackend() {
        SplittableRandom r = new SplittableRandom(3);
        Network net = Network.of(Conv2d.builder(3, 16, 3).padding(Padding.same()).randomWeights(r).build(),
                Activation.relu(), MaxPool2d.of(2, 2));
        Shape in = Shape.of(2, 3, 8, 6);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = r.nextInt(-4, 5);
        for (BackendKind kind : BackendKind.values()) {
            SessionOptions o = SessionOptions.defaults().withBackend(kind);
            try (Session nchw = net.compile(in, o); Session nhwc = net.compile(in, o.withChannelsLast(true))) {
                float[] expected = toNhwc(nchw.run(x), nchw.outputShape());
                assertArrayEquals(expected, nhwc.run(toNhwc(x, in)), kind.toString());
                assertTrue(nhwc.plan().contains("channels-last"), nhwc.plan());
                if (kind == BackendKind.ONEDNN) {
                    assertFalse(nhwc.plan().contains("reorder (input"), "no reorder at the input: " + nhwc.plan());
                }
            }
        }
    }
}
