package dev.convnet.internal.exec;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.GraphSession;
import dev.convnet.internal.onednn.OneDnnSession;
import dev.convnet.internal.onednn.WeightCache;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.net.Graph;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The one place that chooses a backend implementation for a validated graph (a network compiles as its chain graph).
 * Internal: {@code Graph.compile} and the model session that compiles one model per input shape call it.
 *
 * <p>Thread-safety: stateless.
 */
public final class SessionFactory {
    private SessionFactory() {
    }

    /**
     * A session for {@code graph} as {@code plan} planned it, on the backend {@code options} name.
     *
     * @param weights on oneDNN, where the constants live when they are shared with other sessions of the same model
     *                (must outlive the session), or null for the session's own memory; ignored by the other backends
     */
    public static Session create(Graph graph, GraphSummary plan, SessionOptions options, WeightCache weights) {
        BackendKind backend = Backends.resolve(options.backend());
        int threads = options.threads();
        Map<String, float[]> constants = new LinkedHashMap<>();
        for (String name : graph.constantShapes().keySet()) constants.put(name, graph.constantValues(name));
        return switch (backend) {
            case ONEDNN -> new OneDnnSession(plan, constants, threads, options.fusion(), options.channelsLast(),
                    options.profiling(), () -> new JavaKernels(threads), weights);
            case JAVA -> GraphSession.open(plan, constants, backend, new JavaKernels(threads), options.channelsLast(),
                    options.profiling());
            case REFERENCE -> GraphSession.open(plan, constants, backend, new ReferenceKernels(), options.channelsLast(),
                    options.profiling());
        };
    }
}
