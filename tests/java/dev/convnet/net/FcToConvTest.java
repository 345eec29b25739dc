package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Softmax;
import dev.convnet.shape.Shape;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Sec. 2.2: FC layers as convolutions. Integer-valued weights and inputs keep every sum exact in
 * float, so the converted network must match the original bit for bit.
 */
class FcToConvTest {
    private static float[] ints(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(-2, 3);
        }
        return v;
    }

    /** conv 3×3 s1 → ReLU → pool 2 s2 → conv 2×2 s1 → ReLU → Flatten → FC 16 → ReLU → FC 5 on [2, 10, 10]. */
    private static Network network(SplittableRandom r) {
        return Network.of(
                Conv2d.builder(2, 3, 3).weights(ints(r, 3 * 2 * 9)).bias(ints(r, 3)).build(),
                Activation.relu(),
                MaxPool2d.of(2, 2),
                Conv2d.builder(3, 4, 2).weights(ints(r, 4 * 3 * 4)).bias(ints(r, 4)).build(),
                Activation.relu(),
                new Flatten(),
                Linear.of(4 * 3 * 3, 16, ints(r, 16 * 36), ints(r, 16)),
                Activation.relu(),
                Linear.of(16, 5, ints(r, 80), ints(r, 5)),
                new Softmax());
    }

    @Test
    void convertedLayersHaveReshapedKernels() {
        Network net = network(new SplittableRandom(1));
        FcToConv.Conversion c = FcToConv.convert(net, Shape.of(1, 2, 10, 10));
        List<Layer> layers = c.network().layers();
        Conv2d fc1 = (Conv2d) layers.get(5);
        Conv2d fc2 = (Conv2d) layers.get(7);
        assertEquals(Shape.of(16, 4, 3, 3), fc1.weightShape());
        assertEquals(Shape.of(5, 16, 1, 1), fc2.weightShape());
        assertEquals(1, fc1.strideHeight());
        assertArrayEquals(((Linear) net.layers().get(6)).weights(), fc1.weights());
        assertEquals(2, c.strideHeight());
        assertEquals(2, c.strideWidth());
        assertEquals(Shape.of(1, 5, 1, 1), c.network().plan(Shape.of(1, 2, 10, 10)).outputShape());
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void sameOutputOnTheOriginalInput(BackendKind backend) {
        SplittableRandom r = new SplittableRandom(2);
        Network net = network(r).layers().stream().filter(l -> !(l instanceof Softmax)).collect(
                java.util.stream.Collectors.collectingAndThen(java.util.stream.Collectors.toList(), Network::of));
        Shape in = Shape.of(3, 2, 10, 10);
        float[] x = ints(r, (int) in.elementCount());
        FcToConv.Conversion c = FcToConv.convert(net, in);
        try (Session original = net.compile(in, backend); Session converted = c.network().compile(in, backend)) {
            assertEquals(Shape.of(3, 5), original.outputShape());
            assertEquals(Shape.of(3, 5, 1, 1), converted.outputShape());
            assertArrayEquals(original.run(x), converted.run(x));
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void largerInputGivesTheScoreMapOfEveryCrop(BackendKind backend) {
        SplittableRandom r = new SplittableRandom(3);
        Network net = network(r).layers().stream().filter(l -> !(l instanceof Softmax)).collect(
                java.util.stream.Collectors.collectingAndThen(java.util.stream.Collectors.toList(), Network::of));
        int c = 2;
        int h = 10;
        int w = 10;
        int bigH = 16;
        int bigW = 14;
        Shape small = Shape.of(1, c, h, w);
        Shape big = Shape.of(1, c, bigH, bigW);
        float[] image = ints(r, (int) big.elementCount());
        FcToConv.Conversion conv = FcToConv.convert(net, small);
        int s = conv.strideHeight();
        try (Session original = net.compile(small, backend); Session converted = conv.network().compile(big, backend)) {
            Shape outShape = converted.outputShape();
            int outH = outShape.dim(2);
            int outW = outShape.dim(3);
            assertEquals((bigH - h) / s + 1, outH);
            assertEquals((bigW - w) / s + 1, outW);
            float[] map = converted.run(image);
            for (int i = 0; i < outH; i++) {
                for (int j = 0; j < outW; j++) {
                    float[] crop = new float[c * h * w];
                    for (int ch = 0; ch < c; ch++) {
                        for (int y = 0; y < h; y++) {
                            System.arraycopy(image, (ch * bigH + i * s + y) * bigW + j * s, crop, (ch * h + y) * w, w);
                        }
                    }
                    float[] scores = original.run(crop);
                    for (int k = 0; k < scores.length; k++) {
                        assertEquals(scores[k], map[(k * outH + i) * outW + j], "class " + k + " at (" + i + ", " + j + ")");
                    }
                }
            }
        }
    }

    @Test
    void softmaxAfterConversionRunsOverChannelsAtEachPosition() {
        Network net = network(new SplittableRandom(4));
        Shape in = Shape.of(1, 2, 10, 10);
        float[] x = ints(new SplittableRandom(5), 200);
        try (Session a = net.compile(in, BackendKind.REFERENCE);
             Session b = FcToConv.convert(net, in).network().compile(in, BackendKind.REFERENCE)) {
            assertArrayEquals(a.run(x), b.run(x));
        }
    }

    @Test
    void layersBetweenFlattenAndFcAreRejected() {
        Network net = Network.of(new Flatten(), new Softmax(), Linear.of(4, 2, new float[8], null));
        assertThrows(IllegalArgumentException.class, () -> FcToConv.convert(net, Shape.of(1, 1, 2, 2)));
    }
}
