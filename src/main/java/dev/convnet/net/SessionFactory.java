package dev.convnet.net;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.KernelSession;
import dev.convnet.internal.onednn.OneDnnSession;
import dev.convnet.internal.reference.ReferenceKernels;

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
}
