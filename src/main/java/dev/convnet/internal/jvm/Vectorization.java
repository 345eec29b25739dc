package dev.convnet.internal.jvm;

import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.lang.reflect.InvocationTargetException;
import java.util.Locale;
import java.util.Optional;

/**
 * The one place that chooses how the Java backend's inner loops run: on the JDK's incubating Vector API
 * ({@code VectorKernels}) or as scalar loops that C2 auto-vectorizes ({@link ScalarKernels}).
 *
 * <p>The Vector API kernels are used when all of these hold, else the scalar ones:
 * <ol>
 * <li>the system property {@value #PROPERTY} is not {@code false} (it may be {@code true} or unset; any other value
 *     is refused with an {@link IllegalArgumentException} when the first Java kernel is built);</li>
 * <li>the module {@value #MODULE} is in the boot layer: the JVM was started with
 *     {@code --add-modules jdk.incubator.vector} ({@code bin/convnet}, the build's tests and benchmarks do);</li>
 * <li>the JVM runs C2 (not {@code -Xint} nor a C1-only configuration, where vector code is slower than scalar);</li>
 * <li>the platform's preferred vector holds at least 128 bits, and the implementation class loads.</li>
 * </ol>
 * The vector implementation is loaded reflectively by name, so that the scalar path never links against the
 * incubator module, and warmed up on small inputs until the JIT has compiled it (at most two seconds, once per JVM):
 * before C2 compiles them, Vector API kernels run many times slower than scalar loops. The choice is made once per
 * JVM, when the first Java kernel is built, and logged once on the
 * {@code dev.convnet.jvm} {@link System.Logger}: at INFO when the Vector API kernels or the opt-out property decided,
 * at WARNING (with how to fix it) when something was missing.
 *
 * <p>Thread-safety: thread-safe; the choice is cached in a holder class.
 */
public final class Vectorization {
    /** System property: {@code false} forces the scalar kernels. */
    public static final String PROPERTY = "convnet.vectorization";
    /** The incubator module the vector kernels need. */
    static final String MODULE = "jdk.incubator.vector";
    static final String VECTOR_CLASS = "dev.convnet.internal.jvm.VectorKernels";

    private static final Logger LOG = System.getLogger("dev.convnet.jvm");
    /** The most time the warm-up of the vector kernels may take (it usually needs a few hundred milliseconds). */
    private static final long WARM_UP_BUDGET_NANOS = 2_000_000_000L;

    private Vectorization() {
    }

    /**
     * The outcome of the decision: the kernels (null when the property was invalid), the level it is logged at and
     * why (or what was wrong with the property).
     */
    record Choice(FloatKernels kernels, Level level, String reason) {
        /** The log line: what runs and why. */
        String message() {
            return kernels == null ? reason : "Java kernels: " + kernels.description() + ": " + reason;
        }
    }

    private static final class Holder {
        static final Choice CHOICE = log(warm(decide(System.getProperty(PROPERTY),
                ModuleLayer.boot().findModule(MODULE), System.getProperty("java.vm.info", ""))));

        /** Warms the chosen kernels up (see {@link FloatKernels#warmUp}) and says how long that took. */
        private static Choice warm(Choice c) {
            if (c.kernels() == null) {
                return c;
            }
            long ns = c.kernels().warmUp(WARM_UP_BUDGET_NANOS);
            return ns == 0 ? c : new Choice(c.kernels(), c.level(),
                    c.reason() + "; compiled by the JIT in " + ns / 1_000_000 + " ms");
        }

        private static Choice log(Choice c) {
            if (c.kernels() != null) {
                LOG.log(c.level(), c.message());
            }
            return c;
        }
    }

    /**
     * The kernels this JVM uses (decided, warmed up and logged on the first call).
     *
     * @throws IllegalArgumentException if the system property {@value #PROPERTY} is neither {@code true} nor
     *                                  {@code false}
     */
    static FloatKernels kernels() {
        Choice c = Holder.CHOICE;
        if (c.kernels() == null) {
            throw new IllegalArgumentException(c.reason());
        }
        return c.kernels();
    }

    /**
     * What the Java backend's kernels run on and why, in one line, e.g. {@code "Vector API, 512-bit (16 floats)
     * (module jdk.incubator.vector is loaded; compiled by the JIT in 310 ms)"}; for {@code convnet info}.
     *
     * @throws IllegalArgumentException if the system property {@value #PROPERTY} is invalid
     */
    public static String describe() {
        return kernels().description() + " (" + Holder.CHOICE.reason() + ")";
    }

    /**
     * The decision, without logging or warming up (tests call it with the inputs they want). Where the module is
     * loaded but not read by this class's module (a named module without {@code requires static}), it adds the read
     * edge.
     *
     * @param property the value of {@value #PROPERTY}, or null
     * @param module   the module {@value #MODULE} as the boot layer has it, or empty
     * @param vmInfo   the system property {@code java.vm.info} (names {@code -Xint} and C1-only configurations)
     */
    static Choice decide(String property, Optional<Module> module, String vmInfo) {
        if (property != null && !property.isBlank()) {
            String v = property.strip().toLowerCase(Locale.ROOT);
            if (v.equals("false")) {
                return scalar(Level.INFO, "disabled by the system property " + PROPERTY + "=" + property.strip());
            }
            if (!v.equals("true")) {
                return new Choice(null, Level.ERROR, "system property " + PROPERTY + ": expected true or false, got '"
                        + property + "'");
            }
        }
        if (module.isEmpty()) {
            return scalar(Level.WARNING, "module " + MODULE + " is not loaded; start the JVM with --add-modules "
                    + MODULE + " for the Vector API kernels (or set -D" + PROPERTY + "=false to choose the scalar "
                    + "ones without this warning)");
        }
        if (vmInfo.contains("interpreted mode") || vmInfo.contains("emulated-client")) {
            return scalar(Level.WARNING, "the JVM runs without C2 (" + vmInfo + "), where Vector API code is slower "
                    + "than scalar code");
        }
        Module self = Vectorization.class.getModule();
        if (!self.canRead(module.get())) {
            self.addReads(module.get());
        }
        try {
            FloatKernels k = (FloatKernels) Class.forName(VECTOR_CLASS).getDeclaredConstructor().newInstance();
            return new Choice(k, Level.INFO, "module " + MODULE + " is loaded");
        } catch (InvocationTargetException e) {
            return scalar(Level.WARNING, "the Vector API kernels refused this platform: " + e.getCause().getMessage());
        } catch (ReflectiveOperationException | LinkageError e) {
            return scalar(Level.WARNING, "the Vector API kernels did not load: " + e);
        }
    }

    private static Choice scalar(Level level, String why) {
        return new Choice(ScalarKernels.INSTANCE, level, why);
    }
}
