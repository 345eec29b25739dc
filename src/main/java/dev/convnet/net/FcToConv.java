package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.shape.SizeEquations;

import java.util.ArrayList;
import java.util.List;

/**
 * Fully-connected layers as convolutions (Sec. 2.2). An FC layer with K outputs whose input is a
 * {@code [C, H, W]} volume becomes a convolution with K kernels {@code [C, H, W]}, padding 0 and
 * stride 1 (the notes' "s = 0" is an erratum); its weights are the FC weights reshaped (the same
 * numbers in the same order). Later FC layers, whose inputs are now {@code [K, 1, 1]}, become
 * 1×1 convolutions. {@link Flatten} layers are dropped.
 *
 * <p>On the original input the converted network computes the same numbers (output
 * {@code [N, K, 1, 1]} instead of {@code [N, K]}). On a larger input it slides: output position
 * (i, j) equals the original network on the crop starting at {@code (i·S_h, j·S_w)}, with S the
 * product of the strides before the first FC layer, provided the layers before it do not pad
 * (padding at a crop's border differs from the image's interior).
 *
 * <p>Thread-safety: stateless.
 */
public final class FcToConv {
    private FcToConv() {
    }

    /**
     * A converted network and the stride of its class-score map.
     *
     * @param network      the fully-convolutional network
     * @param strideHeight vertical distance in input pixels between neighbouring outputs
     * @param strideWidth  horizontal distance in input pixels between neighbouring outputs
     */
    public record Conversion(Network network, int strideHeight, int strideWidth) {
    }

    /**
     * The convolution kernel shape {@code [K, C, H, W]} that replaces an FC layer with K outputs
     * on a {@code [C, H, W]} input, and checks with Eq. 8 (p = 0, s = 1) that it yields
     * {@code [K, 1, 1]}.
     */
    public static Shape kernelShape(Shape fcInputImage, int outFeatures) {
        if (fcInputImage.rank() != 3) {
            throw new ShapeException("FC as convolution: the FC input must be a [C, H, W] volume, got " + fcInputImage);
        }
        int h = SizeEquations.outputSize("Eq. 8", "height", fcInputImage.dim(1), fcInputImage.dim(1), 1, 1, 0, 0, false);
        int w = SizeEquations.outputSize("Eq. 8", "width", fcInputImage.dim(2), fcInputImage.dim(2), 1, 1, 0, 0, false);
        if (h != 1 || w != 1) {
            throw new IllegalStateException("Eq. 8 gave " + h + "×" + w);
        }
        return Shape.of(outFeatures, fcInputImage.dim(0), fcInputImage.dim(1), fcInputImage.dim(2));
    }

    /**
     * Converts every FC layer of {@code network} (planned for {@code inputShape}, batch first,
     * NCHW) into a convolution.
     *
     * @throws ShapeException           if the network does not fit the input
     * @throws IllegalArgumentException if a layer other than an activation sits between a
     *                                  {@link Flatten} and the FC layer after it, or the first FC
     *                                  input is not an NCHW volume
     */
    public static Conversion convert(Network network, Shape inputShape) {
        GraphSummary plan = network.plan(inputShape);
        List<Layer> converted = new ArrayList<>();
        Shape current = inputShape;
        boolean flattened = false;
        boolean seenFc = false;
        int strideH = 1;
        int strideW = 1;
        for (GraphSummary.Row row : plan.rows()) {
            Layer layer = row.layer();
            Layer replacement;
            switch (layer) {
                case Flatten f -> {
                    flattened = true;
                    continue;
                }
                case Linear fc -> {
                    if (current.rank() != 4) {
                        throw new IllegalArgumentException("FC as convolution: layer " + row.index() + " " + fc
                                + " needs an NCHW input volume, got " + current);
                    }
                    Shape k = kernelShape(current.withoutBatch(), fc.outFeatures());
                    Conv2d.Builder b = Conv2d.builder(k.dim(1), k.dim(0), k.dim(2), k.dim(3)).weights(fc.weights());
                    fc.bias().ifPresent(b::bias);
                    replacement = b.build();
                    seenFc = true;
                    flattened = false;
                }
                case Activation a -> replacement = a;
                default -> {
                    if (flattened) {
                        throw new IllegalArgumentException("FC as convolution: layer " + row.index() + " " + layer
                                + " sits between a Flatten and an FC layer; only activations may");
                    }
                    if (!seenFc) {
                        switch (layer) {
                            case Conv2d c -> {
                                strideH *= c.strideHeight();
                                strideW *= c.strideWidth();
                            }
                            case MaxPool2d p -> {
                                strideH *= p.strideHeight();
                                strideW *= p.strideWidth();
                            }
                            case AvgPool2d p -> {
                                strideH *= p.strideHeight();
                                strideW *= p.strideWidth();
                            }
                            default -> {
                            }
                        }
                    }
                    replacement = layer;
                }
            }
            converted.add(replacement);
            current = replacement.outputShape(current);
        }
        return new Conversion(Network.of(converted), strideH, strideW);
    }
}
