package dev.convnet.onednn;

/**
 * A oneDNN C function returned a status other than {@code dnnl_success}.
 *
 * <p>The message names the function, the status and what it means, and suggests
 * {@code ONEDNN_VERBOSE=all}, which makes oneDNN print why it refused a primitive.
 */
public final class OneDnnException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    private final String function;
    private final int code;

    /**
     * @param function the C function that failed, e.g. {@code dnnl_convolution_forward_primitive_desc_create}
     * @param code the {@code dnnl_status_t} it returned
     * @param context what the library was doing, or {@code null}
     */
    public OneDnnException(String function, int code, String context) {
        super(message(function, code, context));
        this.function = function;
        this.code = code;
    }

    private static String message(String function, int code, String context) {
        DnnlStatus s = DnnlStatus.of(code);
        String what = s == DnnlStatus.UNKNOWN ? "status " + code : s.cName() + " (" + code + ")";
        return function + " failed: " + what + ": " + s.meaning()
                + (context == null || context.isEmpty() ? "" : " [" + context + "]")
                + "; run with ONEDNN_VERBOSE=all to see oneDNN's reason";
    }

    /** The C function that failed. */
    public String function() { return function; }

    /** The raw status code. */
    public int statusCode() { return code; }

    /** The status as an enum ({@link DnnlStatus#UNKNOWN} for an unknown code). */
    public DnnlStatus status() { return DnnlStatus.of(code); }
}
