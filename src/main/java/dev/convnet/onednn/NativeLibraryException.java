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
        StringBuilder sb = new StringBuilder("oneDNN (major version 3) could not be loaded; tried ")
                .append(attempts.size()).append(attempts.size() == 1 ? " place:" : " places:");
        int i = 1;
        for (LoadAttempt a : attempts) {
            sb.append("\n  ").append(i++).append(". ").append(a);
        }
        sb.append("\nName a oneDNN with -Dconvnet.onednn.library=FILE-OR-FOLDER (or CONVNET_ONEDNN_LIBRARY), a cache folder for"
                + " the one in convnet's jar with -Dconvnet.onednn.cache=DIR (or CONVNET_ONEDNN_CACHE), or choose the Java"
                + " backend with -Dconvnet.backend=java.");
        return sb.toString();
    }

    /** Every candidate tried, in order. */
    public List<LoadAttempt> attempts() { return attempts; }
}
