package dev.convnet.net;

import dev.convnet.onednn.OneDnn;
import java.util.Locale;

/**
 * The one place that chooses the backend when the caller does not name one.
 *
 * <p>Order: the system property {@value #PROPERTY}, else the environment variable {@value #ENV}
 * ({@code onednn}, {@code java} or {@code reference}); else oneDNN if it loads, else the Java backend (after one
 * logged warning that says why oneDNN is missing and how to fix it). The automatic choice is made once and
 * cached. Forcing {@code onednn} when it cannot load makes compiling fail with a
 * {@link dev.convnet.onednn.NativeLibraryException} that names every place tried.
 *
 * <p>Thread-safe.
 */
public final class Backends {
    /** System property that forces a backend. */
    public static final String PROPERTY = "convnet.backend";
    /** Environment variable that forces a backend (when the property is not set). */
    public static final String ENV = "CONVNET_BACKEND";

    private Backends() {}

    /** Why a backend was chosen. */
    public record Choice(BackendKind kind, boolean forced, String reason) {}

    private static final class Automatic {
        static final Choice CHOICE = OneDnn.isAvailable()
                ? new Choice(BackendKind.ONEDNN, false, "chosen automatically: oneDNN loaded")
                : new Choice(BackendKind.JAVA, false, "chosen automatically: oneDNN is not available");
    }

    /**
     * The backend to use: {@code requested} if not null, else the forced one, else the automatic choice.
     *
     * @throws IllegalArgumentException if the property or environment names an unknown backend
     */
    public static BackendKind resolve(BackendKind requested) {
        return choose(requested, "the caller").kind();
    }

    /** As {@link #resolve}, with the reason; {@code requestedBy} names where {@code requested} came from. */
    public static Choice choose(BackendKind requested, String requestedBy) {
        if (requested != null) return new Choice(requested, true, "forced by " + requestedBy);
        String[][] sources = {
            {System.getProperty(PROPERTY), "system property " + PROPERTY},
            {System.getenv(ENV), "environment variable " + ENV},
        };
        for (String[] s : sources) {
            if (s[0] != null && !s[0].isBlank()) return new Choice(parse(s[0], s[1]), true, "forced by " + s[1]);
        }
        return Automatic.CHOICE;
    }

    /**
     * Parses {@code onednn}, {@code java} or {@code reference} (any case).
     *
     * @param source where the value came from, for the message
     */
    public static BackendKind parse(String value, String source) {
        try {
            return BackendKind.valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": unknown backend '" + value + "'; expected onednn, java or reference");
        }
    }
}
