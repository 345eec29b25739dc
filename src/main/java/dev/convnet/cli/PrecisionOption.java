package dev.convnet.cli;

import dev.convnet.net.Precision;
import dev.convnet.net.SessionOptions;
import picocli.CommandLine.Option;

import java.util.Locale;

/** The {@code --precision} option of the inference commands. */
final class PrecisionOption {
    @Option(names = "--precision", paramLabel = "fp32|bf16", defaultValue = "fp32",
            description = "Number format between the model's edges: fp32 (default) or bf16 (oneDNN on a CPU with avx512_bf16;"
                    + " elsewhere the command fails and says why).")
    String precision;

    SessionOptions applyTo(SessionOptions options) {
        Precision p = switch (precision.toLowerCase(Locale.ROOT)) {
            case "fp32" -> Precision.FP32;
            case "bf16" -> Precision.BF16;
            default -> throw new IllegalArgumentException("--precision " + precision + ": expected fp32 or bf16");
        };
        return options.withPrecision(p);
    }
}
