package dev.convnet.net;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.GraphSession;
import dev.convnet.internal.kernels.KernelSession;
import dev.convnet.internal.onednn.OneDnnSession;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Layer;
import dev.convnet.layer.MatMul;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The one place that chooses a backend implementation for a validated plan.
 *
 * <p>Thread-safety: stateless.
 */
final class SessionFactory {
    private SessionFactory() {
    }

    static Session create(NetworkSummary plan, SessionOptions options) {
        BackendKind backend = Backends.resolve(options.backend());
        int threads = options.threads();
        return switch (backend) {
            case ONEDNN -> new OneDnnSession(plan, threads, options.fusion(), options.channelsLast(),
                    () -> new JavaKernels(threads));
            case JAVA -> KernelSession.open(plan, backend, new JavaKernels(threads), options.channelsLast());
            case REFERENCE -> KernelSession.open(plan, backend, new ReferenceKernels(), options.channelsLast());
        };
    }

    static Session create(Graph graph, GraphSummary plan, SessionOptions options) {
        BackendKind backend = Backends.resolve(options.backend());
        int threads = options.threads();
        return switch (backend) {
            case ONEDNN -> {
                Optional<Network> chain = graph.asChain();
                if (chain.isEmpty() || !chain.get().layers().stream().allMatch(SessionFactory::sequentialLayer)) {
                    throw new UnsupportedOperationException("oneDNN graph sessions: see OneDnnGraphSession");
                }
                Session s = create(chain.get().plan(plan.inputShapes().values().iterator().next()), options);
                yield new NamedSession(s, graph.inputNames().getFirst(), graph.outputNames().getFirst(), plan);
            }
            case JAVA -> GraphSession.open(plan, constants(graph), backend, new JavaKernels(threads));
            case REFERENCE -> GraphSession.open(plan, constants(graph), backend, new ReferenceKernels());
        };
    }

    /** Whether the layer is one of the sequential network types oneDNN's plan supports natively (before issue 5). */
    private static boolean sequentialLayer(Layer layer) {
        return !(layer instanceof Binary || layer instanceof MatMul || layer instanceof Concat || layer instanceof Reshape
                || layer instanceof Transpose || layer instanceof Pad || layer instanceof Unary || layer instanceof Reduce
                || layer instanceof AxisSoftmax || layer instanceof Slice);
    }

    private static Map<String, float[]> constants(Graph graph) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (String name : graph.constantShapes().keySet()) m.put(name, graph.constantValues(name));
        return m;
    }
}
