package dev.convnet.internal.reference;

import dev.convnet.internal.train.GradKernel;
import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.List;

/** Reference training kernels (being written). Internal. */
final class ReferenceLayerGradients {
    private ReferenceLayerGradients() {
    }

    static GradKernel create(Layer layer, List<Shape> inputs, Shape output) {
        throw new UnsupportedOperationException("the reference backend cannot train " + layer.kind() + " yet");
    }
}
