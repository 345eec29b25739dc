package dev.convnet.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.onednn.bindings.dnnl_version_t;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Whether oneDNN is available in this JVM, and what was loaded.
 *
 * <p>The first call searches for the library once ({@link OneDnnLoader}'s order: an explicit file or folder, the
 * natives in convnet's jar copied to a per-user cache, the build's unpacked artifact, the system library) and
 * caches the outcome for the life of the JVM. A success is logged
 * once at INFO; a failure is logged once, as a warning that names every place tried, when the automatic
 * backend choice falls back to Java ({@link #isAvailable()}), and is thrown to callers that demand oneDNN
 * ({@link #require()}). Thread-safe.
 */
public final class OneDnn {
    private static final Logger LOG = System.getLogger("dev.convnet.onednn");

    private OneDnn() {}

    /** Initialization-on-demand holder: the search runs once, when first needed. */
    private static final class Holder {
        static final OneDnnLoader.Outcome OUTCOME = OneDnnLoader.search(
                OneDnnLoader.candidates(OneDnnLoader.Settings.ofThisJvm()), true);
        static final OneDnnInfo INFO;

        static {
            if (OUTCOME.ok()) {
                INFO = describe(OUTCOME);
                LOG.log(Level.INFO, () -> "oneDNN " + INFO.version() + " loaded from " + INFO.libraryPath()
                        + " (" + INFO.source() + "); ISA " + INFO.effectiveIsa() + ", " + INFO.cpuRuntime()
                        + ", " + INFO.maxThreads() + " threads");
            } else {
                INFO = null;
            }
        }
    }

    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();

    /**
     * True if oneDNN loaded (searching for it on the first call). When it did not, the first call logs one
     * warning that names every place tried and says that the Java backend is used instead: this is the
     * question the automatic backend choice asks.
     */
    public static boolean isAvailable() {
        boolean ok = Holder.OUTCOME.ok();
        if (!ok && FALLBACK_LOGGED.compareAndSet(false, true)) {
            LOG.log(Level.WARNING, () -> "oneDNN is not available, using the Java backend. "
                    + new NativeLibraryException(Holder.OUTCOME.failures()).getMessage());
        }
        return ok;
    }

    /** What was loaded, or empty if oneDNN is not available. */
    public static Optional<OneDnnInfo> info() {
        return Optional.ofNullable(Holder.INFO);
    }

    /**
     * What was loaded; for callers that demand the native backend.
     *
     * @throws NativeLibraryException naming every place tried and why each failed
     */
    public static OneDnnInfo require() {
        if (!Holder.OUTCOME.ok()) throw new NativeLibraryException(Holder.OUTCOME.failures());
        return Holder.INFO;
    }

    /** Every place tried before the library that loaded (or all of them, if none did). */
    public static List<LoadAttempt> failedAttempts() {
        return Holder.OUTCOME.failures();
    }

    /**
     * How many threads oneDNN primitives created now on the calling thread will use (OpenMP's
     * {@code omp_get_max_threads()} for this thread).
     */
    public static int maxThreads() {
        require();
        return omp_get_max_threads();
    }

    /**
     * True if oneDNN is loaded and its kernels on this CPU have native bfloat16 instructions (ISA
     * {@code avx512_core_bf16} or later, which {@code avx512_bf16} CPUs get); without them oneDNN would emulate bf16,
     * slower than FP32.
     */
    public static boolean hasNativeBf16() {
        if (!isAvailable()) return false;
        int isa = dnnl_get_effective_cpu_isa();
        int bf16 = dnnl_cpu_isa_avx512_core_bf16();
        return (isa & bf16) == bf16;
    }

    private static OneDnnInfo describe(OneDnnLoader.Outcome o) {
        MemorySegment v = dnnl_version().reinterpret(dnnl_version_t.layout().byteSize());
        String hash = dnnl_version_t.hash(v).reinterpret(256).getString(0);
        String runtime = dnnl_runtime2str(dnnl_version_t.cpu_runtime(v)).reinterpret(64).getString(0);
        return new OneDnnInfo(dnnl_version_t.major(v), dnnl_version_t.minor(v), dnnl_version_t.patch(v), hash,
                CpuIsa.name(dnnl_get_effective_cpu_isa()), runtime, omp_get_max_threads(), o.source(),
                o.library().toAbsolutePath().toString());
    }
}
