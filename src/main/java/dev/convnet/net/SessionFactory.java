package dev.convnet.net;

import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.kernels.KernelSession;
import dev.convnet.internal.reference.ReferenceKernels;

/**
 * The one place that chooses a backend implementation for a validated plan.
 *
 * <p>Thread-safety: stateless.
 */
final class SessionFactory {
    private SessionFactory() {
    }

    static Session create(NetworkSummary plan, BackendKind backend, int threads) {
        return switch (backend) {
            case ONEDNN -> throw new UnsupportedOperationException("oneDNN backend: see issue 4");
            case JAVA -> KernelSession.open(plan, backend, new JavaKernels(threads));
            case REFERENCE -> KernelSession.open(plan, backend, new ReferenceKernels());
        };
    }
}
