package dev.convnet.onednn;

/**
 * One place the loader looked for oneDNN, and why it was not used.
 *
 * @param source which rule produced the candidate (e.g. "system property convnet.onednn.library")
 * @param location the path or library name tried
 * @param failure why it failed
 */
public record LoadAttempt(String source, String location, String failure) {
    @Override
    public String toString() {
        return source + ": " + location + ": " + failure;
    }
}
