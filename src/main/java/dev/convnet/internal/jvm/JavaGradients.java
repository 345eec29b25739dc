package dev.convnet.internal.jvm;

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
 * The Java backend's training kernels: the same gradients as the reference backend, computed in float with the
 * Java backend's SGEMM and parallel loops. Layers with parameters and pooling are in {@link JavaLayerGradients},
 * every other graph operation in {@link JavaOpGradients}. Internal.
 *
 * <p>Thread-safety: {@link #create} from one thread; the kernels are not thread-safe. {@link #close()} shuts the
 * worker pool down.
 */
public final class JavaGradients implements GradKernelFactory {
    private final Parallel parallel;

    /**
     * A factory whose kernels use {@code threads} worker threads (1 = the calling thread only), on the kernels
     * {@link Vectorization} chose.
     */
    public JavaGradients(int threads) {
        this.parallel = new Parallel(threads);
    }

    /** The same on the given kernels (tests run each implementation this way). */
    JavaGradients(int threads, FloatKernels kernels) {
        this.parallel = new Parallel(threads, kernels);
    }

    @Override
    public GradKernel create(Layer layer, List<Shape> inputs, Shape output) {
        return switch (layer) {
            case Conv2d c -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case Conv1d c -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case Linear l -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case MatMul m -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case MaxPool2d p -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case AvgPool2d p -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case GlobalPool2d g -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case DepthPool d -> JavaLayerGradients.create(parallel, layer, inputs, output);
            case BatchNorm b -> JavaLayerGradients.create(parallel, layer, inputs, output);
            default -> JavaOpGradients.create(parallel, layer, inputs, output);
        };
    }

    @Override
    public void close() {
        parallel.close();
    }
}
