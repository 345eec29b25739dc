package dev.convnet.cli;

import dev.convnet.onednn.OneDnn;
import java.util.Locale;
import picocli.CommandLine.Option;

/** The {@code --backend} option shared by the subcommands, resolved against the property and environment. */
final class BackendOption {
    enum Kind {
        ONEDNN, JAVA, REFERENCE;

        String id() { return name().toLowerCase(Locale.ROOT); }
    }

    record Choice(Kind kind, boolean forced, String why) {}

    @Option(names = "--backend", paramLabel = "onednn|java|reference",
            description = "Backend to use (default: oneDNN if it loads, else java; also -Dconvnet.backend / CONVNET_BACKEND).")
    String backend;

    Choice resolve() {
        String[][] sources = {
            {backend, "--backend"},
            {System.getProperty("convnet.backend"), "system property convnet.backend"},
            {System.getenv("CONVNET_BACKEND"), "environment variable CONVNET_BACKEND"},
        };
        for (String[] s : sources) {
            if (s[0] != null && !s[0].isBlank()) {
                Kind k = parse(s[0], s[1]);
                return new Choice(k, true, "forced by " + s[1]);
            }
        }
        return OneDnn.isAvailable()
                ? new Choice(Kind.ONEDNN, false, "chosen automatically: oneDNN loaded")
                : new Choice(Kind.JAVA, false, "chosen automatically: oneDNN is not available");
    }

    private static Kind parse(String value, String source) {
        try {
            return Kind.valueOf(value.strip().toUpperCase(Locale.ROOT));
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(source + ": unknown backend '" + value + "'; expected onednn, java or reference");
        }
    }
}
