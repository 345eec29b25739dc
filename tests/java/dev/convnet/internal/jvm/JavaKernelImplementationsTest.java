package dev.convnet.internal.jvm;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.internal.train.GradKernel;
import dev.convnet.internal.train.GradientHarness;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * The Java backend built on each {@link FloatKernels} implementation explicitly (not through the JVM-wide choice)
 * against the reference backend: convolutions of random geometry (grouped, depthwise, strided, dilated, padded,
 * pointwise, the transposed product for few columns), fully-connected layers and matrix products, forward and, for
 * convolution and Linear, the training passes. Integer data, so every sum is exact and the results must be equal
 * bit for bit whatever the summation order.
 */
class JavaKernelImplementationsTest {
    private static float[] ints(SplittableRandom r, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = r.nextInt(-3, 4);
        }
        return v;
    }

    private static float[] forward(dev.convnet.internal.kernels.KernelFactory f, Layer layer, Shape in, float[] x) {
        float[] y = new float[(int) layer.outputShape(in).elementCount()];
        f.create(layer, in, layer.outputShape(in)).forward(x, y);
        return y;
    }

    private static Conv2d conv(SplittableRandom r, int in, int out, int kh, int kw, int stride, int dilation, int groups,
                               Padding padding, boolean bias) {
        Conv2d.Builder b = Conv2d.builder(in, out, kh, kw).stride(stride).dilation(dilation).groups(groups)
                .padding(padding).weights(ints(r, out * (in / groups) * kh * kw));
        if (bias) {
            b.bias(ints(r, out));
        }
        return b.build();
    }

    /** Random convolutions, with the special paths (depthwise, 3×3 same, pointwise, transposed) drawn often. */
    private static Conv2d randomConv(SplittableRandom r, Shape[] shape) {
        int batch = r.nextInt(1, 4);
        int h = r.nextInt(1, 24);
        int w = r.nextInt(1, 24);
        int kind = r.nextInt(5);
        Conv2d c;
        switch (kind) {
            case 0 -> { // depthwise, 3×3 same padding or any kernel
                int ch = r.nextInt(1, 9);
                h = Math.max(h, 2);
                w = Math.max(w, 2);
                c = r.nextBoolean() ? conv(r, ch, ch, 3, 3, 1, 1, ch, Padding.symmetric(1), r.nextBoolean())
                        : conv(r, ch, ch, r.nextInt(1, 6), r.nextInt(1, 6), 1, r.nextInt(1, 3), ch, Padding.same(), true);
            }
            case 1 -> c = conv(r, r.nextInt(1, 20), r.nextInt(1, 40), 1, 1, 1, 1, 1, Padding.valid(), r.nextBoolean());
            case 2 -> { // few columns, many channels: the transposed product
                batch = 1;
                h = r.nextInt(1, 8);
                w = r.nextInt(1, 8);
                c = conv(r, r.nextInt(1, 12), r.nextInt(64, 140), 3, 3, 1, 1, 1, Padding.symmetric(1), r.nextBoolean());
            }
            default -> {
                int groups = r.nextInt(1, 4);
                int kh = r.nextInt(1, 6);
                int kw = r.nextInt(1, 6);
                int stride = r.nextInt(1, 3);
                int dilation = r.nextInt(1, 3);
                h = Math.max(h, (kh - 1) * dilation + 1);
                w = Math.max(w, (kw - 1) * dilation + 1);
                c = conv(r, groups * r.nextInt(1, 6), groups * r.nextInt(1, 12), kh, kw, stride, dilation, groups,
                        switch (r.nextInt(3)) {
                            case 0 -> Padding.valid();
                            case 1 -> Padding.same(); // stride 1: output planes the input's size, even kernels unevenly
                            default -> Padding.symmetric(r.nextInt(0, 3));
                        }, r.nextBoolean());
            }
        }
        shape[0] = Shape.of(batch, c.inChannels(), h, w);
        return c;
    }

    @Test
    void convolutionsEqualTheReference() {
        SplittableRandom r = new SplittableRandom(21);
        try (ReferenceKernels ref = new ReferenceKernels()) {
            for (int t = 0; t < 150; t++) {
                Shape[] in = new Shape[1];
                Conv2d c = randomConv(r, in);
                float[] x = ints(r, (int) in[0].elementCount());
                float[] expected = forward(ref, c, in[0], x);
                for (FloatKernels impl : FloatKernelsTest.both()) {
                    for (int threads : new int[] {1, 3}) {
                        try (JavaKernels java = new JavaKernels(threads, impl)) {
                            assertArrayEquals(expected, forward(java, c, in[0], x),
                                    impl.description() + ", " + threads + " threads: " + c + " on " + in[0]);
                        }
                    }
                }
            }
        }
    }

    @Test
    void largeTilesWithRaggedEdgesEqualTheReference() {
        SplittableRandom r = new SplittableRandom(22);
        // 2·29·31 = 1798 columns: tiles of 600 (not a multiple of 16), 70 channels, K = 9·9 = 81
        Conv2d big = conv(r, 9, 70, 3, 3, 1, 1, 1, Padding.symmetric(1), true);
        Shape bigIn = Shape.of(2, 9, 29, 31);
        // MobileNet-style depthwise 3×3 on a 57-wide plane: bands of 8 rows, 456 positions (28.5 vectors)
        Conv2d dw = conv(r, 6, 6, 3, 3, 1, 1, 6, Padding.symmetric(1), true);
        Shape dwIn = Shape.of(2, 6, 57, 57);
        // valid 5×5 (the wide column space): 4·28·32 columns in tiles that start mid-row and cross images
        Conv2d valid = conv(r, 3, 6, 5, 5, 1, 1, 1, Padding.valid(), true);
        Shape validIn = Shape.of(4, 3, 32, 32);
        // valid, dilated, few columns and many channels: the wide columns in the transposed product
        Conv2d validT = conv(r, 5, 80, 3, 3, 1, 2, 1, Padding.valid(), false);
        Shape validTIn = Shape.of(2, 5, 9, 10);
        try (ReferenceKernels ref = new ReferenceKernels()) {
            for (Object[] c : new Object[][] {{big, bigIn}, {dw, dwIn}, {valid, validIn}, {validT, validTIn}}) {
                Conv2d conv = (Conv2d) c[0];
                Shape in = (Shape) c[1];
                float[] x = ints(r, (int) in.elementCount());
                float[] expected = forward(ref, conv, in, x);
                for (FloatKernels impl : FloatKernelsTest.both()) {
                    try (JavaKernels java = new JavaKernels(2, impl)) {
                        assertArrayEquals(expected, forward(java, conv, in, x), impl.description() + ": " + conv + " on " + in);
                    }
                }
            }
        }
    }

    @Test
    void linearAndMatMulEqualTheReference() {
        SplittableRandom r = new SplittableRandom(23);
        try (ReferenceKernels ref = new ReferenceKernels()) {
            for (int t = 0; t < 60; t++) {
                int batch = r.nextInt(1, 10);
                int d = r.nextInt(1, 300);
                int k = r.nextInt(1, 300);
                Linear l = Linear.of(d, k, ints(r, d * k), r.nextBoolean() ? ints(r, k) : null);
                Shape in = Shape.of(batch, d);
                float[] x = ints(r, batch * d);
                float[] expected = forward(ref, l, in, x);
                List<Shape> shapes = List.of(Shape.of(r.nextInt(1, 3), r.nextInt(1, 20), d), Shape.of(d, k));
                Shape mmOut = new MatMul().outputShape(shapes);
                float[][] operands = {ints(r, (int) shapes.get(0).elementCount()), ints(r, d * k)};
                float[] mmExpected = new float[(int) mmOut.elementCount()];
                ref.create(new MatMul(), shapes, mmOut).forward(operands, mmExpected);
                for (FloatKernels impl : FloatKernelsTest.both()) {
                    try (JavaKernels java = new JavaKernels(2, impl)) {
                        assertArrayEquals(expected, forward(java, l, in, x), impl.description() + ": " + l + " on " + in);
                        float[] mm = new float[mmExpected.length];
                        java.create(new MatMul(), shapes, mmOut).forward(operands, mm);
                        assertArrayEquals(mmExpected, mm, impl.description() + ": MatMul of " + shapes);
                    }
                }
            }
        }
    }

    private static GradientHarness.Case integerCase(SplittableRandom r, Layer layer, Shape in) {
        Shape out = layer.outputShape(in);
        float[][] params = new float[layer.parameters().size()][];
        for (int j = 0; j < params.length; j++) {
            params[j] = ints(r, layer.parameters().get(j).values().length);
        }
        return new GradientHarness.Case(layer, List.of(in), out, new float[][] {ints(r, (int) in.elementCount())}, params,
                ints(r, (int) out.elementCount()));
    }

    private static void sameGradients(GradientHarness.Gradients expected, GradientHarness.Gradients got, String what) {
        assertArrayEquals(expected.output(), got.output(), what + ": output");
        assertEquals(expected.inputs().length, got.inputs().length);
        for (int i = 0; i < expected.inputs().length; i++) {
            assertArrayEquals(expected.inputs()[i], got.inputs()[i], what + ": ∂input " + i);
        }
        for (int j = 0; j < expected.params().length; j++) {
            assertArrayEquals(expected.params()[j], got.params()[j], what + ": ∂parameter " + j);
        }
    }

    @Test
    void trainingPassesEqualTheReference() {
        SplittableRandom r = new SplittableRandom(24);
        ReferenceGradients ref = new ReferenceGradients();
        for (int t = 0; t < 60; t++) {
            Layer layer;
            Shape in;
            if (t % 3 == 0) {
                int d = r.nextInt(1, 150);
                int k = r.nextInt(1, 150);
                layer = Linear.of(d, k, ints(r, d * k), r.nextBoolean() ? ints(r, k) : null);
                in = Shape.of(r.nextInt(1, 9), d);
            } else {
                Shape[] s = new Shape[1];
                layer = randomConv(r, s);
                in = s[0];
            }
            GradientHarness.Case c = integerCase(r, layer, in);
            GradKernel refKernel = ref.create(layer, c.inputs(), c.output());
            GradientHarness.Gradients expected = GradientHarness.run(refKernel, c);
            for (FloatKernels impl : FloatKernelsTest.both()) {
                try (JavaGradients java = new JavaGradients(2, impl)) {
                    sameGradients(expected, GradientHarness.run(java.create(layer, c.inputs(), c.output()), c),
                            impl.description() + ": " + layer + " on " + in);
                }
            }
        }
    }
}
