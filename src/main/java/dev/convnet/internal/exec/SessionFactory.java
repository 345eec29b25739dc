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

import dev.convnet.net.Precision;
import dev.convnet.onednn.OneDnn;

import java.lang.System.Logger.Level;
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
        Precision precision = precision(options, backend);
        Map<String, float[]> constants = new LinkedHashMap<>();
        for (String name : graph.constantShapes().keySet()) constants.put(name, graph.constantValues(name));
        return switch (backend) {
            case ONEDNN -> new OneDnnSession(plan, constants, threads, options.fusion(), options.channelsLast(),
                    options.profiling(), () -> new JavaKernels(threads), weights, precision);
            case JAVA -> GraphSession.open(plan, constants, backend, new JavaKernels(threads), options.channelsLast(),
                    options.profiling());
            case REFERENCE -> GraphSession.open(plan, constants, backend, new ReferenceKernels(), options.channelsLast(),
                    options.profiling());
        };
    }

    /**
     * The precision the session computes in: the one asked for where the backend and CPU offer it; otherwise FP32
     * with a logged warning ({@link SessionOptions#precisionFallback()}) or an {@link UnsupportedOperationException}
     * that says why.
     */
    static Precision precision(SessionOptions options, BackendKind backend) {
        if (options.precision() == Precision.FP32) return Precision.FP32;
        String why = null;
        if (backend != BackendKind.ONEDNN) {
            why = "the " + backend + " backend computes in FP32 only; " + options.precision() + " needs oneDNN";
        } else if (!OneDnn.hasNativeBf16()) {
            why = options.precision() + " needs a CPU with native bf16 instructions (avx512_bf16; oneDNN ISA"
                    + " avx512_core_bf16 or later); oneDNN runs " + OneDnn.info().map(i -> i.effectiveIsa()).orElse("?")
                    + " here, where bf16 would be emulated and slower than FP32";
        }
        if (why == null) return options.precision();
        if (!options.precisionFallback()) {
            throw new UnsupportedOperationException(why + " (SessionOptions.withPrecision(p, true) falls back to FP32)");
        }
        System.getLogger("dev.convnet.net").log(Level.WARNING, why + ": computing in FP32 instead");
        return Precision.FP32;
    }
}
