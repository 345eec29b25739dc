package dev.convnet.net;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.GraphSession;
import dev.convnet.internal.onednn.OneDnnSession;
import dev.convnet.internal.reference.ReferenceKernels;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that chooses a backend implementation for a validated graph (a network compiles as its chain graph).
 *
 * <p>Thread-safety: stateless.
 */
final class SessionFactory {
    private SessionFactory() {
    }

    static Session create(Graph graph, GraphSummary plan, SessionOptions options) {
        BackendKind backend = Backends.resolve(options.backend());
        int threads = options.threads();
        Map<String, float[]> constants = new LinkedHashMap<>();
        for (String name : graph.constantShapes().keySet()) constants.put(name, graph.constantValues(name));
        return switch (backend) {
            case ONEDNN -> new OneDnnSession(plan, constants, threads, options.fusion(), options.channelsLast(),
                    () -> new JavaKernels(threads));
            case JAVA -> GraphSession.open(plan, constants, backend, new JavaKernels(threads), options.channelsLast());
            case REFERENCE -> GraphSession.open(plan, constants, backend, new ReferenceKernels(), options.channelsLast());
        };
    }
}
