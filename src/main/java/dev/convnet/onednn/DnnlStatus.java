package dev.convnet.onednn;

/**
 * The values of oneDNN's {@code dnnl_status_t}, with what each means.
 *
 * <p>Every oneDNN call the library makes returns one of these; anything but {@link #SUCCESS}
 * becomes a {@link OneDnnException}. Immutable and thread-safe.
 */
public enum DnnlStatus {
    SUCCESS(0, "dnnl_success", "the operation was successful"),
    OUT_OF_MEMORY(1, "dnnl_out_of_memory", "the operation failed due to an out-of-memory condition"),
    INVALID_ARGUMENTS(2, "dnnl_invalid_arguments", "the operation failed because of incorrect function arguments"),
    UNIMPLEMENTED(3, "dnnl_unimplemented", "the requested functionality is not implemented (no kernel for these shapes, formats or attributes)"),
    LAST_IMPL_REACHED(4, "dnnl_last_impl_reached", "the last available implementation was reached"),
    RUNTIME_ERROR(5, "dnnl_runtime_error", "a primitive or engine failed on execution"),
    NOT_REQUIRED(6, "dnnl_not_required", "the queried element is not required for the given primitive"),
    INVALID_GRAPH(7, "dnnl_invalid_graph", "the graph is not legitimate"),
    INVALID_GRAPH_OP(8, "dnnl_invalid_graph_op", "the operation is not legitimate according to its op schema"),
    INVALID_SHAPE(9, "dnnl_invalid_shape", "the shape cannot be inferred or compiled"),
    INVALID_DATA_TYPE(10, "dnnl_invalid_data_type", "the data type cannot be inferred or compiled"),
    UNKNOWN(-1, "unknown", "a status code this version of convnet does not know");

    private final int code;
    private final String cName;
    private final String meaning;

    DnnlStatus(int code, String cName, String meaning) {
        this.code = code;
        this.cName = cName;
        this.meaning = meaning;
    }

    /** The numeric value of the C enum. */
    public int code() { return code; }

    /** The C enumerator's name, e.g. {@code dnnl_invalid_arguments}. */
    public String cName() { return cName; }

    /** What the status means, in words. */
    public String meaning() { return meaning; }

    /** The status for a numeric code; {@link #UNKNOWN} for a code outside the enum. */
    public static DnnlStatus of(int code) {
        for (DnnlStatus s : values()) {
            if (s.code == code && s != UNKNOWN) return s;
        }
        return UNKNOWN;
    }
}
