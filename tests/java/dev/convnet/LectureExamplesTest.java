package dev.convnet;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.FcToConv;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.random.RandomGeneratorFactory;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every worked example and number of the lecture notes, and every errata decision. */
class LectureExamplesTest {
    private static final float[] F = {3, 5, 6, 7, 8};
    private static final float[] G = {2, 1, 2};

    private static float[] run(Layer layer, Shape in, float[] x, BackendKind backend) {
        try (Session s = Network.of(layer).compile(in, backend)) {
            return s.run(x);
        }
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void theFourOneDimensionalExamples(BackendKind backend) {
        assertArrayEquals(new float[] {23, 30, 35}, Lecture.convolve1d(F, G, 1, Padding.valid(), backend));
        assertArrayEquals(new float[] {23, 35}, Lecture.convolve1d(F, G, 2, Padding.valid(), backend));
        assertArrayEquals(new float[] {13, 23, 30, 35, 22}, Lecture.convolve1d(F, G, 1, Padding.same(), backend));
        // errata: "With p = 1" is wrong for s = 2; p = 3 as the padded sequence shows
        assertArrayEquals(new float[] {0, 13, 30, 22, 0}, Lecture.convolve1d(F, G, 2, Padding.same(), backend));
        assertEquals(3, Padding.same().resolve(0, 1, 5, 3, 2, 1).before());
        assertEquals(3, Padding.same().resolve(0, 1, 5, 3, 2, 1).after());
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void trueConvolutionFlipsTheKernelAndDiffersOnAnAsymmetricKernel(BackendKind backend) {
        float[] g = {1, 2, 3};
        Shape in = Shape.of(1, 1, 5);
        Conv1d cross = Conv1d.builder(1, 1, 3).weights(g).build();
        Conv1d flipped = Conv1d.builder(1, 1, 3).weights(g).trueConvolution(true).build();
        // Σ_m f[n + m]·g[m]: 3+10+18, 5+12+21, 6+14+24
        assertArrayEquals(new float[] {31, 38, 44}, run(cross, in, F, backend));
        // Σ_m f[n + m]·g[2 − m] (Eq. 2's g[n − m]): 9+10+6, 15+12+7, 18+14+8
        assertArrayEquals(new float[] {25, 34, 40}, run(flipped, in, F, backend));
        // the notes' symmetric g = {2, 1, 2} cannot tell them apart
        Conv1d symmetric = Conv1d.builder(1, 1, 3).weights(G).trueConvolution(true).build();
        assertArrayEquals(new float[] {23, 30, 35}, run(symmetric, in, F, backend));
    }

    @Test
    void fullPaddingIsWideConvolution() {
        // p = N − 1 = 2: [0,0,3,5,6,7,8,0,0] → M + N − 1 = 7 outputs
        assertArrayEquals(new float[] {6, 13, 23, 30, 35, 22, 16},
                Lecture.convolve1d(F, G, 1, Padding.full(), BackendKind.REFERENCE));
        assertArrayEquals(new float[] {6, 13, 23, 30, 35, 22, 16},
                Lecture.convolve1d(F, G, 1, Padding.full(), BackendKind.JAVA));
    }

    @Test
    void theConvolutionLayerExample() {
        Conv2d conv = Conv2d.builder(3, 6, 5).randomWeights(RandomGeneratorFactory.of("L64X128MixRandom").create(5)).build();
        GraphSummary s = Network.of(conv).plan(Shape.of(1, 3, 32, 32));
        GraphSummary.Row row = s.rows().getFirst();
        assertEquals(Shape.of(6, 28, 28), row.imageShape());
        assertEquals(Shape.of(6, 3, 5, 5), conv.weightShape());
        assertEquals(75, conv.weightShape().elementCount(1)); // 3 × 5 × 5 per kernel
        assertEquals(450, row.weights());
        assertEquals(6, row.biases());
        assertEquals(456, row.parameters()); // 76 × 6
        assertEquals(784, row.neurons() / 6); // 28 × 28 per feature map
        assertEquals(4704, row.neurons());
        String table = s.layerTable();
        assertTrue(table.contains("[6, 28, 28]") && table.contains("456") && table.contains("4,704")
                && table.contains("450"), table);
    }

    @Test
    void fcParameterCountSeparatesWeightsAndBiases() {
        // "an output of shape [7, 7, 512] mapped to 10 classes": 250,880 weights; with biases 250,890
        Linear fc = Linear.of(7 * 7 * 512, 10, new float[250_880], new float[10]);
        GraphSummary s = Network.of(new Flatten(), fc).plan(Shape.of(1, 512, 7, 7));
        assertEquals(250_880, s.totalWeights());
        assertEquals(10, s.totalBiases());
        assertEquals(250_890, s.totalParameters());
    }

    @Test
    void filterSizingIsWeightsOnly() {
        for (int c : new int[] {1, 8, 64}) {
            var rng = RandomGeneratorFactory.of("L64X128MixRandom").create(c);
            Network one = Network.of(Conv2d.builder(c, c, 7).padding(Padding.same()).randomWeights(rng).build());
            Network three = Network.of(Conv2d.builder(c, c, 3).padding(Padding.same()).randomWeights(rng).build(),
                    Conv2d.builder(c, c, 3).padding(Padding.same()).randomWeights(rng).build(),
                    Conv2d.builder(c, c, 3).padding(Padding.same()).randomWeights(rng).build());
            Shape in = Shape.of(1, c, 9, 9);
            assertEquals(49L * c * c, one.plan(in).totalWeights());
            assertEquals(27L * c * c, three.plan(in).totalWeights());
            // biases are excluded from 49C² and 27C²; they exist and are counted separately
            assertEquals(c, one.plan(in).totalBiases());
            assertEquals(3L * c, three.plan(in).totalBiases());
        }
    }

    @Test
    void fcAsConvolutionShapes() {
        assertEquals(Shape.of(4096, 512, 7, 7), FcToConv.kernelShape(Shape.of(512, 7, 7), 4096));
        assertEquals(Shape.of(1000, 4096, 1, 1), FcToConv.kernelShape(Shape.of(4096, 1, 1), 1000));
        // errata: stride 1 (not 0) and p = 0 give a 1 × 1 × K output: small stand-in for [4096, 512, 7, 7]
        Conv2d asConv = Conv2d.builder(5, 4, 7).weights(new float[4 * 5 * 7 * 7]).stride(1).build();
        assertEquals(Shape.of(1, 4, 1, 1), asConv.outputShape(Shape.of(1, 5, 7, 7)));
        ShapeException zero = assertThrows(ShapeException.class,
                () -> Conv2d.builder(5, 4, 7).weights(new float[4 * 5 * 7 * 7]).stride(0).build());
        assertTrue(zero.getMessage().contains("stride s = 0×0 must be ≥ 1"), zero.getMessage());
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void maxPoolingExample(BackendKind backend) {
        // the classic 2×2, stride 2 example (Eq. 11)
        float[] x = {
            1, 1, 2, 4,
            5, 6, 7, 8,
            3, 2, 1, 0,
            1, 2, 3, 4};
        assertArrayEquals(new float[] {6, 8, 3, 4}, run(MaxPool2d.of(2, 2), Shape.of(1, 1, 4, 4), x, backend));
        // Eq. 12 on the same input: means 13/4, 21/4, 8/4, 8/4
        assertArrayEquals(new float[] {3.25f, 5.25f, 2f, 2f}, run(AvgPool2d.of(2, 2), Shape.of(1, 1, 4, 4), x, backend));
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void averagePoolingWithPaddingCountsPadOrNot(BackendKind backend) {
        float[] x = {1, 2, 3, 4};
        Shape in = Shape.of(1, 1, 2, 2);
        AvgPool2d counted = AvgPool2d.builder(2, 2).stride(2).padding(Padding.symmetric(1)).build();
        AvgPool2d notCounted = AvgPool2d.builder(2, 2).stride(2).padding(Padding.symmetric(1)).countIncludePad(false).build();
        // each 2×2 window holds one real element and three padded zeros
        assertArrayEquals(new float[] {0.25f, 0.5f, 0.75f, 1f}, run(counted, in, x, backend));
        assertArrayEquals(new float[] {1, 2, 3, 4}, run(notCounted, in, x, backend));
        // max pooling ignores padding even for negative inputs
        MaxPool2d max = MaxPool2d.builder(2, 2).stride(2).padding(Padding.symmetric(1)).build();
        assertArrayEquals(new float[] {-1, -2, -3, -4}, run(max, in, new float[] {-1, -2, -3, -4}, backend));
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void tensorsAreNchwAndKernelsOihw(BackendKind backend) {
        // errata to Eq. 9: input [N, C, H, W]; a 1×1 kernel [O=1, I=2, 1, 1] = {1, 10} mixes channel 0 and 1
        float[] x = {1, 2, 3, 4, /* channel 1 */ 5, 6, 7, 8};
        Conv2d conv = Conv2d.builder(2, 1, 1).weights(new float[] {1, 10}).build();
        assertArrayEquals(new float[] {51, 62, 73, 84}, run(conv, Shape.of(1, 2, 2, 2), x, backend));
        // a 1×2 kernel runs along W (the last axis): [1, 1, 1, 2] = {1, 100}
        Conv2d wide = Conv2d.builder(1, 1, 1, 2).weights(new float[] {1, 100}).build();
        assertArrayEquals(new float[] {201, 403}, run(wide, Shape.of(1, 1, 2, 2), new float[] {1, 2, 3, 4}, backend));
    }

    @ParameterizedTest
    @EnumSource(value = BackendKind.class, names = {"JAVA", "REFERENCE"})
    void eachOutputChannelUsesOnlyItsOwnKernel(BackendKind backend) {
        // errata to Eq. 10: no sum over output channels; out[z] = b[z] + Σ I·K[z]
        float[] x = {1, 2, 3, 4};
        Conv2d conv = Conv2d.builder(1, 2, 2).weights(new float[] {1, 1, 1, 1, 1, 0, 0, -1})
                .bias(new float[] {100, 200}).build();
        assertArrayEquals(new float[] {110, 197}, run(conv, Shape.of(1, 1, 2, 2), x, backend));
    }

    @Test
    void fourKindsOfLayersExist() {
        // errata to Sec. 2.2: convolutional, non-linear, pooling and fully-connected layers (four, not three)
        List<Class<?>> permitted = List.of(Layer.class.getPermittedSubclasses());
        assertTrue(permitted.contains(Conv2d.class));
        assertTrue(permitted.contains(Activation.class));
        assertTrue(permitted.contains(MaxPool2d.class));
        assertTrue(permitted.contains(Linear.class));
    }

    @Test
    void layerPatternHasTheCorrectedBrackets() {
        // INPUT → [[CONV → RELU]*N → POOL?]*M → [FC → RELU]*K → FC with N = 2, M = 2, K = 1
        Network net = LecturePattern.builder(Shape.of(3, 16, 16)).convsPerBlock(2).blocks(2).blockChannels(4, 8)
                .hiddenLayers(1).hiddenUnits(12).classes(10).seed(7).build();
        List<String> kinds = net.layers().stream().map(Layer::kind).toList();
        assertEquals(List.of("Conv2d", "ReLU", "Conv2d", "ReLU", "MaxPool2d", "Conv2d", "ReLU", "Conv2d", "ReLU",
                "MaxPool2d", "Flatten", "Linear", "ReLU", "Linear"), kinds);
        GraphSummary s = net.plan(Shape.of(1, 3, 16, 16));
        assertEquals(Shape.of(1, 10), s.outputShape());
        assertEquals(Shape.of(8, 4, 4), s.rows().get(9).imageShape());
        // same padding 3×3 keeps 16×16, pools halve it twice; weights: 3·4·9 + 4·4·9 + 4·8·9 + 8·8·9 + 128·12 + 12·10
        assertEquals(108 + 144 + 288 + 576 + 1536 + 120, s.totalWeights());
        assertEquals(4 + 4 + 8 + 8 + 12 + 10, s.totalBiases());
        // N = M = K = 0 is INPUT → FC
        Network minimal = LecturePattern.build(Shape.of(1, 2, 2), 0, 0, 0, new int[0], new int[0], 3,
                RandomGeneratorFactory.of("L64X128MixRandom").create(1));
        assertEquals(List.of("Flatten", "Linear"), minimal.layers().stream().map(Layer::kind).toList());
        // pooling may be omitted per block ("POOL?")
        Network noPool = LecturePattern.builder(Shape.of(1, 8, 8)).convsPerBlock(1).blocks(2).blockChannels(2, 2)
                .poolAfterBlock(true, false).classes(2).seed(1).build();
        assertEquals(1, noPool.layers().stream().filter(l -> l instanceof MaxPool2d).count());
        // the same seed gives the same weights
        Network again = LecturePattern.builder(Shape.of(3, 16, 16)).convsPerBlock(2).blocks(2).blockChannels(4, 8)
                .hiddenLayers(1).hiddenUnits(12).classes(10).seed(7).build();
        assertArrayEquals(((Conv2d) net.layers().getFirst()).weights(), ((Conv2d) again.layers().getFirst()).weights());
        ShapeException bad = assertThrows(ShapeException.class, () -> LecturePattern.builder(Shape.of(3, 8, 8))
                .blocks(2).convsPerBlock(1).blockChannels(4).seed(1).build());
        assertTrue(bad.getMessage().contains("M = 2 blocks need 2 channel counts"), bad.getMessage());
    }

    @Test
    void reportIsComputedByTheLibrary() {
        String r = Lecture.report();
        for (String s : new String[] {"[23, 30, 35]", "[23, 35]", "[13, 23, 30, 35, 22]", "[0, 13, 30, 22, 0]",
            "[6, 28, 28]", "456", "4,704", "250,880", "250,890", "49C²", "27C²", "[4096, 512, 7, 7]"}) {
            assertTrue(r.contains(s), () -> "report lacks " + s + ":\n" + r);
        }
        assertFalse(Lecture.report(BackendKind.JAVA).isEmpty());
    }
}
