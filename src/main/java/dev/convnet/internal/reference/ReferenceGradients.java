package dev.convnet.internal.reference;

import dev.convnet.internal.train.GradKernel;
import dev.convnet.internal.train.GradKernelFactory;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Shape;

import java.util.List;

/**
 * The reference backend's training kernels: the forward and backward equations as plain loops with double
 * accumulation, the oracle that the Java and oneDNN gradients are checked against and that is itself checked
 * against central finite differences. Layers with parameters and pooling are in {@link ReferenceLayerGradients},
 * every other graph operation in {@link ReferenceOpGradients}. Internal.
 *
 * <p>Thread-safety: stateless; the kernels it creates are not thread-safe.
 */
public final class ReferenceGradients implements GradKernelFactory {
    @Override
    public GradKernel create(Layer layer, List<Shape> inputs, Shape output) {
        return switch (layer) {
            case Conv2d c -> ReferenceLayerGradients.create(layer, inputs, output);
            case Conv1d c -> ReferenceLayerGradients.create(layer, inputs, output);
            case Linear l -> ReferenceLayerGradients.create(layer, inputs, output);
            case MatMul m -> ReferenceLayerGradients.create(layer, inputs, output);
            case MaxPool2d p -> ReferenceLayerGradients.create(layer, inputs, output);
            case AvgPool2d p -> ReferenceLayerGradients.create(layer, inputs, output);
            case GlobalPool2d g -> ReferenceLayerGradients.create(layer, inputs, output);
            case DepthPool d -> ReferenceLayerGradients.create(layer, inputs, output);
            case BatchNorm b -> ReferenceLayerGradients.create(layer, inputs, output);
            default -> ReferenceOpGradients.create(layer, inputs, output);
        };
    }

    @Override
    public void close() {
    }
}
