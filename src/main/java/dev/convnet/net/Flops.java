package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.DepthPool;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Unary;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;

import java.util.List;

/** The FLOP counts of {@link GraphSummary} (the rules are listed there). Stateless. */
final class Flops {
    private Flops() {
    }

    static long of(Layer layer, List<Shape> in, Shape out) {
        Shape x = in.getFirst();
        long outElements = out.elementCount();
        return switch (layer) {
            case Conv2d c -> {
                Geometry2d g = c.geometry(x);
                yield 2L * x.dim(0) * c.outChannels() * (c.inChannels() / c.groups()) * taps(g.height()) * taps(g.width());
            }
            case Conv1d c -> 2L * x.dim(0) * c.outChannels() * (c.inChannels() / c.groups()) * taps(c.geometry(x));
            case Linear l -> 2L * x.dim(0) * l.inFeatures() * l.outFeatures();
            case MatMul m -> {
                Shape a = in.get(0);
                yield 2L * outElements * a.dim(a.rank() - 1);
            }
            case MaxPool2d p -> outElements * p.kernelHeight() * p.kernelWidth();
            case AvgPool2d p -> outElements * p.kernelHeight() * p.kernelWidth();
            case GlobalPool2d g -> x.elementCount();
            case DepthPool d -> outElements * d.window();
            case BatchNorm b -> 2 * outElements;
            case Binary b -> outElements;
            case Unary u -> outElements;
            case Activation a -> outElements;
            case Reduce r -> x.elementCount();
            case Softmax s -> 3 * outElements;
            case AxisSoftmax s -> 3 * outElements;
            default -> 0; // data movement: Flatten, Reshape, Transpose, Pad, Concat
        };
    }

    /** The (output position, kernel tap) pairs of one axis whose input index lies inside the input. */
    static long taps(ConvAxis a) {
        long count = 0;
        for (int o = 0; o < a.output(); o++) {
            for (int k = 0; k < a.kernel(); k++) {
                long i = (long) o * a.stride() - a.padBefore() + (long) k * a.dilation();
                if (i >= 0 && i < a.input()) count++;
            }
        }
        return count;
    }
}
