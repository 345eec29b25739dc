package dev.convnet.internal.jvm;

import dev.convnet.layer.Conv2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

/**
 * A JVM of its own for {@link VectorizationTest}: builds the Java backend three times and runs a convolution on each,
 * then prints {@code kernels=}{@link Vectorization#describe()}, or {@code error=} and the message if the choice was
 * refused. The decision's log line goes to stderr (java.util.logging's default console handler).
 */
public final class VectorizationChild {
    private VectorizationChild() {
    }

    public static void main(String[] args) {
        try {
            Conv2d conv = Conv2d.builder(2, 3, 3, 3).padding(Padding.same()).weights(new float[54]).build();
            Shape in = Shape.of(1, 2, 5, 5);
            for (int i = 0; i < 3; i++) {
                try (JavaKernels k = new JavaKernels(1)) {
                    k.create(conv, in, conv.outputShape(in)).forward(new float[50], new float[75]);
                }
            }
            System.out.println("kernels=" + Vectorization.describe());
        } catch (IllegalArgumentException e) {
            System.out.println("error=" + e.getMessage());
        }
    }
}
