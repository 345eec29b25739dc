package dev.convnet.cli;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import picocli.CommandLine.Option;

/** The {@code --backend} option shared by the subcommands, resolved by {@link Backends}. */
final class BackendOption {
    @Option(names = "--backend", paramLabel = "onednn|java|reference",
            description = "Backend to use (default: oneDNN if it loads, else java; also -Dconvnet.backend / CONVNET_BACKEND).")
    String backend;

    Backends.Choice resolve() {
        BackendKind requested = backend == null ? null : Backends.parse(backend, "--backend");
        return Backends.choose(requested, "--backend");
    }
}
