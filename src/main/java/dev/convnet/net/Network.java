package dev.convnet.net;

import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A sequential network: layers applied one after another. It knows nothing about input sizes
 * until {@link #plan(Shape) planned} or {@link #compile(Shape, BackendKind) compiled} for an
 * input shape (batch first, e.g. {@code [1, 3, 32, 32]}), which validates every layer.
 *
 * <p>Thread-safety: immutable; one network may be compiled many times, from several threads.
 */
public final class Network {
    private final List<Layer> layers;

    private Network(List<Layer> layers) {
        this.layers = List.copyOf(layers);
    }

    /** A network of the given layers, in order. */
    public static Network of(Layer... layers) {
        return new Network(List.of(layers));
    }

    /** A network of the given layers, in order. */
    public static Network of(List<? extends Layer> layers) {
        return new Network(List.copyOf(layers));
    }

    /** The layers, in order. */
    public List<Layer> layers() {
        return layers;
    }

    /** This network as a chain {@link Graph} (see {@link Graph#of(Network)}). */
    public Graph toGraph() {
        return Graph.of(this);
    }

    /** A new network with {@code more} appended. */
    public Network append(Layer... more) {
        List<Layer> all = new ArrayList<>(layers);
        all.addAll(List.of(more));
        return new Network(all);
    }

    /**
     * Validates every layer for {@code inputShape} (batch first) and reports each layer's output shape, parameter
     * counts, neurons and FLOPs: the summary of this network's chain graph ({@link Graph#of(Network)}), one row per
     * layer (node {@code layer<i>}).
     *
     * @throws ShapeException naming the layer (index and description), the rule and the numbers, e.g.
     *                        {@code layer 1 Conv2d(…) on input [1, 1, 5, 5]: Eq. 8 (height): …}
     */
    public GraphSummary plan(Shape inputShape) {
        return Graph.of(this).plan(inputShape);
    }

    /**
     * Plans the network for {@code inputShape} and prepares it on {@code backend}, using as many
     * threads as there are processors (where the backend uses threads).
     *
     * @throws ShapeException                if a layer does not fit the input
     * @throws dev.convnet.onednn.NativeLibraryException if the backend is oneDNN and it cannot be loaded
     */
    public Session compile(Shape inputShape, BackendKind backend) {
        return compile(inputShape, backend, Runtime.getRuntime().availableProcessors());
    }

    /**
     * As {@link #compile(Shape, BackendKind)}, with {@code threads} worker threads (≥ 1; the
     * reference backend always uses the calling thread).
     */
    public Session compile(Shape inputShape, BackendKind backend, int threads) {
        Objects.requireNonNull(backend, "backend");
        return compile(inputShape, SessionOptions.defaults().withBackend(backend).withThreads(threads));
    }

    /**
     * Plans the network for {@code inputShape} and prepares it on the automatically chosen backend
     * ({@link Backends}: oneDNN when it loads, else Java), with every core and fusion on.
     */
    public Session compile(Shape inputShape) {
        return compile(inputShape, SessionOptions.defaults());
    }

    /**
     * Plans the network for {@code inputShape} and prepares it as {@code options} say: compiles its chain graph
     * ({@link Graph#compile(Shape, SessionOptions)}). On oneDNN this creates every primitive once; runs then only
     * execute them.
     *
     * @throws ShapeException if a layer does not fit the input
     * @throws dev.convnet.onednn.NativeLibraryException if oneDNN is demanded and cannot be loaded
     * @throws dev.convnet.onednn.OneDnnException if oneDNN refuses a primitive
     */
    public Session compile(Shape inputShape, SessionOptions options) {
        return Graph.of(this).compile(inputShape, options);
    }

    @Override
    public String toString() {
        return "Network" + layers;
    }
}
