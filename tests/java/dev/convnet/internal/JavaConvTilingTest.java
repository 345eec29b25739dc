package dev.convnet.internal;

import dev.convnet.layer.Conv2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

/**
 * The Java convolution kernel on geometries large enough to reach the blocking edges the random
 * property tests (small planes) do not: column tiles that span several images, reduction slices
 * with a remainder, output-channel blocks that are not a multiple of the 4-row micro-kernel, and
 * the direct depthwise kernel with dilation and uneven padding. Integer data, so the Java backend
 * must equal the reference bitwise whatever its summation order.
 */
class JavaConvTilingTest {
    private static float[] ints(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(-3, 4);
        }
        return v;
    }

    private static float[] run(Conv2d conv, Shape in, float[] x, BackendKind backend, int threads) {
        try (Session s = Network.of(conv).compile(in, backend, threads)) {
            return s.run(x);
        }
    }

    private static void check(int in, int out, int kh, int kw, int stride, int dilation, int groups, Padding p,
                              Shape shape, boolean bias) {
        SplittableRandom r = new SplittableRandom(in * 31L + out * 7L + kh + shape.elementCount());
        Conv2d.Builder b = Conv2d.builder(in, out, kh, kw).stride(stride).dilation(dilation).groups(groups).padding(p)
                .weights(ints(r, out * in / groups * kh * kw));
        if (bias) {
            b.bias(ints(r, out));
        }
        Conv2d conv = b.build();
        float[] x = ints(r, (int) shape.elementCount());
        float[] ref = run(conv, shape, x, BackendKind.REFERENCE, 1);
        for (int threads : new int[] {1, 2, 3}) {
            assertArrayEquals(ref, run(conv, shape, x, BackendKind.JAVA, threads), conv + " on " + shape + ", threads " + threads);
        }
    }

    @Test
    void tilesSpanImagesAndReductionSlicesHaveRemainders() {
        // 3·30·30 = 2700 columns → 4 tiles crossing image boundaries; K = 15·9 = 135 = 128 + 7
        check(15, 70, 3, 3, 1, 1, 1, Padding.symmetric(1), Shape.of(3, 15, 30, 30), true);
        // 130 output channels: several blocks, the last one not a multiple of 4
        check(8, 130, 3, 3, 1, 1, 1, Padding.symmetric(1), Shape.of(3, 8, 20, 20), false);
        // small 7×7 planes batched: 8·49 columns in one tile
        check(64, 36, 3, 3, 1, 1, 1, Padding.symmetric(1), Shape.of(8, 64, 7, 7), true);
    }

    @Test
    void fewColumnsManyChannelsTakeTheTransposedProduct() {
        // 49 columns, 130 channels (blocks not a multiple of 4), no bias
        check(8, 130, 3, 3, 1, 1, 1, Padding.same(), Shape.of(1, 8, 7, 7), false);
        // two groups of 72 channels, 2·5·6 = 60 columns across two images, K = 360 = 128 + 128 + 104
        check(80, 144, 3, 3, 1, 1, 2, Padding.symmetric(1), Shape.of(2, 80, 5, 6), true);
        // strided and dilated, 1-wide output rows
        check(16, 96, 3, 2, 2, 2, 1, Padding.explicit2d(2, 1, 0, 1), Shape.of(3, 16, 9, 4), true);
    }

    @Test
    void pointwiseAndGroupedTilesSpanImages() {
        check(33, 66, 1, 1, 1, 1, 1, Padding.valid(), Shape.of(2, 33, 25, 23), true);
        check(12, 18, 3, 1, 2, 1, 3, Padding.explicit2d(1, 0, 2, 0), Shape.of(5, 12, 27, 19), true);
    }

    @Test
    void depthwiseDirectKernel() {
        check(6, 6, 3, 3, 1, 1, 6, Padding.symmetric(1), Shape.of(3, 6, 40, 37), true);
        check(4, 4, 5, 3, 1, 2, 4, Padding.explicit2d(3, 0, 1, 4), Shape.of(2, 4, 11, 9), true);
        check(5, 5, 3, 3, 1, 1, 5, Padding.valid(), Shape.of(1, 5, 3, 4), false);
        // 3×3 padding 1: the vertically padded fast path; several bands with a remainder, edge columns
        check(8, 8, 3, 3, 1, 1, 8, Padding.same(), Shape.of(2, 8, 30, 64), true);
        check(3, 3, 3, 3, 1, 1, 3, Padding.symmetric(1), Shape.of(2, 3, 1, 2), false);
        check(3, 3, 3, 3, 1, 1, 3, Padding.symmetric(1), Shape.of(1, 3, 5, 600), true);
        // stride 2 takes the im2col path
        check(4, 4, 3, 3, 2, 1, 4, Padding.same(), Shape.of(2, 4, 13, 12), true);
    }
}
