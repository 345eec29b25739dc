package dev.convnet.net;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.GraphSession;
import dev.convnet.internal.onednn.OneDnnSession;
import dev.convnet.internal.reference.ReferenceKernels;

import java.util.LinkedHashMap;
import java.util.Map;

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
            case JAVA -> GraphSession.open(plan, backend, new JavaKernels(threads), options.channelsLast());
            case REFERENCE -> GraphSession.open(plan, backend, new ReferenceKernels(), options.channelsLast());
        };
    }

    static Session create(Graph graph, GraphSummary plan, SessionOptions options) {
        BackendKind backend = Backends.resolve(options.backend());
        int threads = options.threads();
        return switch (backend) {
            case ONEDNN -> new OneDnnSession(plan, constants(graph), threads, options.fusion(), options.channelsLast(),
                    () -> new JavaKernels(threads));
            case JAVA -> GraphSession.open(plan, constants(graph), backend, new JavaKernels(threads));
            case REFERENCE -> GraphSession.open(plan, constants(graph), backend, new ReferenceKernels());
        };
    }

    private static Map<String, float[]> constants(Graph graph) {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (String name : graph.constantShapes().keySet()) m.put(name, graph.constantValues(name));
        return m;
    }
}
