package dev.convnet.onednn;

import java.util.List;

/**
 * oneDNN could not be loaded from any of the places the loader tries.
 *
 * <p>Thrown when a caller demands the oneDNN backend (for example {@code --backend onednn} or
 * {@code -Dconvnet.backend=onednn}) and none of the candidates loads. The message names every
 * place tried, in order, and why each one failed.
 */
public final class NativeLibraryException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final transient List<LoadAttempt> attempts;

    /** @param attempts every candidate tried, in order, with its failure */
    public NativeLibraryException(List<LoadAttempt> attempts) {
        super(message(attempts));
        this.attempts = List.copyOf(attempts);
    }

    private static String message(List<LoadAttempt> attempts) {
        StringBuilder sb = new StringBuilder("oneDNN (libdnnl.so.3, major version 3) could not be loaded; tried ")
                .append(attempts.size()).append(attempts.size() == 1 ? " place:" : " places:");
        int i = 1;
        for (LoadAttempt a : attempts) {
            sb.append("\n  ").append(i++).append(". ").append(a);
        }
        sb.append("\nSet -Dconvnet.onednn.library=/path/to/libdnnl.so.3 (or CONVNET_ONEDNN_LIBRARY), run `make build` to unpack"
                + " the Maven artifact, or choose the Java backend with -Dconvnet.backend=java.");
        return sb.toString();
    }

    /** Every candidate tried, in order. */
    public List<LoadAttempt> attempts() { return attempts; }
}
