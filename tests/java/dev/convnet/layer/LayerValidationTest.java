package dev.convnet.layer;

import dev.convnet.net.Network;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every validation error names its rule and numbers; validation happens at build / plan time. */
class LayerValidationTest {

    private static void fails(Executable e, String... parts) {
        ShapeException ex = assertThrows(ShapeException.class, e);
        for (String p : parts) {
            assertTrue(ex.getMessage().contains(p), () -> "message «" + ex.getMessage() + "» lacks «" + p + "»");
        }
    }

    private static Conv2d conv(int in, int out, int k) {
        return Conv2d.builder(in, out, k).weights(new float[out * in * k * k]).build();
    }

    @Test
    void kernelLargerThanInputIsReportedWithLayerAndEquation() {
        Network net = Network.of(conv(1, 1, 7));
        fails(() -> net.plan(Shape.of(1, 1, 5, 5)), "layer 1 Conv2d", "Eq. 8 (height)",
                "⌊(5 + 2·0 − 7)/1⌋ + 1 = -1 < 1", "kernel 7 is larger than the padded input 5");
        Conv1d c1 = Conv1d.builder(1, 1, 7).weights(new float[7]).build();
        fails(() -> c1.outputShape(Shape.of(1, 1, 5)), "Eq. 6 (length)", "kernel 7 is larger than the padded input 5");
        fails(() -> MaxPool2d.of(3, 1).outputShape(Shape.of(1, 1, 2, 2)), "Eq. 11 (height)", "kernel 3");
        fails(() -> AvgPool2d.of(3, 1).outputShape(Shape.of(1, 1, 2, 2)), "Eq. 12 (height)", "kernel 3");
    }

    @Test
    void strideAndDilationBelowOne() {
        fails(() -> Conv2d.builder(1, 1, 3).stride(0).weights(new float[9]).build(), "Eq. 8", "stride s = 0×0 must be ≥ 1");
        fails(() -> Conv2d.builder(1, 1, 3).dilation(1, 0).weights(new float[9]).build(), "dilation d = 1×0 must be ≥ 1");
        fails(() -> Conv1d.builder(1, 1, 3).stride(-1).weights(new float[3]).build(), "Eq. 6", "stride s = -1");
        fails(() -> Conv1d.builder(1, 1, 3).dilation(0).weights(new float[3]).build(), "dilation d = 0");
        fails(() -> MaxPool2d.builder(2, 2).stride(0).build(), "stride s = 0×0");
        fails(() -> DepthPool.max(2, 0), "Eq. 5", "stride s = 0");
    }

    @Test
    void negativePadding() {
        fails(() -> Padding.explicit2d(0, -1, 0, 0), "padding must be ≥ 0", "[0, -1]");
    }

    @Test
    void groupsMustDivideChannels() {
        fails(() -> Conv2d.builder(6, 8, 3).groups(4).weights(new float[8 * 1 * 9]).build(),
                "groups: input channels 6 are not divisible by groups = 4");
        fails(() -> Conv2d.builder(4, 6, 3).groups(4).weights(new float[6 * 9]).build(),
                "groups: output channels 6 are not divisible by groups = 4");
        fails(() -> Conv1d.builder(3, 3, 3).groups(2).weights(new float[9]).build(), "not divisible by groups = 2");
        fails(() -> Conv2d.builder(4, 4, 3).groups(0).weights(new float[36]).build(), "groups = 0 must be ≥ 1");
        // depthwise: groups = C_in = C_out, weights [C, 1, k, k]
        Conv2d dw = Conv2d.builder(4, 4, 3).groups(4).weights(new float[4 * 9]).build();
        assertEquals(Shape.of(4, 1, 3, 3), dw.weightShape());
    }

    @Test
    void weightShapesMustMatch() {
        fails(() -> Conv2d.builder(3, 6, 5).weights(new float[449]).build(),
                "Conv2d weights", "[6, 3, 5, 5]", "needs 450 floats, got 449");
        fails(() -> Conv2d.builder(3, 6, 5).weights(new float[450]).bias(new float[5]).build(),
                "Conv2d bias", "needs 6 floats, got 5");
        fails(() -> Conv1d.builder(2, 2, 3).weights(new float[11]).build(), "[2, 2, 3]", "needs 12 floats, got 11");
        fails(() -> Linear.of(4, 3, new float[11], null), "Linear weights", "[3, 4]", "needs 12 floats, got 11");
        fails(() -> Linear.of(4, 3, new float[12], new float[4]), "Linear bias", "needs 3 floats, got 4");
        fails(() -> BatchNorm.of(new float[2], new float[2], new float[3], new float[2], 1e-5), "lengths 2, 2, 3, 2");
        assertThrows(IllegalStateException.class, () -> Conv2d.builder(1, 1, 3).build());
    }

    @Test
    void weightArraysWhoseSizeOverflowsAreRejected() {
        fails(() -> Conv2d.builder(1 << 16, 1 << 16, 3).weights(new float[1]).build(), "more than a Java array holds");
    }

    @Test
    void inputChannelsMustMatchTheKernels() {
        Network net = Network.of(conv(3, 6, 5));
        fails(() -> net.plan(Shape.of(1, 4, 32, 32)), "layer 1", "Eq. 10", "[6, 3, 5, 5]", "expect 3 input channels",
                "has 4");
        fails(() -> net.plan(Shape.of(3, 32, 32)), "NCHW input of rank 4", "[3, 32, 32]");
    }

    @Test
    void linearInputMustFlattenToD() {
        Linear fc = Linear.of(4096, 10, new float[40960], null);
        fails(() -> fc.outputShape(Shape.of(1, 512, 7, 7)), "Eq. 13–14", "D = 512·7·7 = 25088", "[10, 4096]");
        fails(() -> Network.of(new Flatten(), fc).plan(Shape.of(2, 3, 4)), "layer 2 Linear", "D = 12");
    }

    @Test
    void poolingWindowsMustCoverInput() {
        MaxPool2d p = MaxPool2d.builder(2, 2).stride(1).padding(Padding.symmetric(2)).build();
        fails(() -> p.outputShape(Shape.of(1, 1, 4, 4)), "Eq. 11 (height)", "padding before 2 ≥ window 2");
        // padded input 3 + 3 = 6: ⌊(6 − 3)/3⌋ + 1 = 2 windows, the second starts at 3, in the end padding
        AvgPool2d q = AvgPool2d.builder(3, 3).stride(3).padding(Padding.explicit(0, 3)).build();
        fails(() -> q.outputShape(Shape.of(1, 1, 3, 3)), "Eq. 12 (height)", "last window starts at 3 ≥ input 3");
    }

    @Test
    void depthPoolAndBatchNormChecks() {
        fails(() -> DepthPool.max(5, 1).outputShape(Shape.of(1, 4, 2, 2)), "Eq. 5 (depth)", "kernel 5 is larger");
        fails(() -> BatchNorm.of(new float[] {1}, new float[] {0}, new float[] {0}, new float[] {0}, 0),
                "σ² + ε = 0.0 + 0.0 must be > 0");
        BatchNorm bn = BatchNorm.of(new float[2], new float[2], new float[2], new float[] {1, 1}, 1e-5);
        fails(() -> bn.outputShape(Shape.of(1, 3, 2, 2)), "BatchNorm has 2 channels", "has 3");
        fails(() -> new Softmax().outputShape(Shape.of(5)), "rank ≥ 2");
    }

    @Test
    void layersAreImmutable() {
        float[] w = {1, 2, 3, 4};
        float[] b = {5};
        Conv2d c = Conv2d.builder(1, 1, 2).weights(w).bias(b).build();
        w[0] = 100;
        b[0] = 100;
        assertArrayEquals(new float[] {1, 2, 3, 4}, c.weights());
        c.weights()[1] = 100;
        assertArrayEquals(new float[] {1, 2, 3, 4}, c.weights());
        c.bias().orElseThrow()[0] = 7;
        assertArrayEquals(new float[] {5}, c.bias().orElseThrow());
        float[] lw = {1, 2};
        Linear l = Linear.of(2, 1, lw, null);
        lw[0] = 9;
        assertArrayEquals(new float[] {1, 2}, l.weights());
    }
}
