package dev.convnet.internal.jvm;

import dev.convnet.internal.train.GradKernel;
import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.List;

/** Java training kernels (being written). Internal. */
final class JavaLayerGradients {
    private JavaLayerGradients() {
    }

    static GradKernel create(Parallel parallel, Layer layer, List<Shape> inputs, Shape output) {
        throw new UnsupportedOperationException("the Java backend cannot train " + layer.kind() + " yet");
    }
}
