package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.onednn.OneDnnException;
import dev.convnet.onednn.bindings.dnnl_exec_arg_t;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;

/**
 * The single status check every oneDNN call goes through. No {@code dnnl_status_t} is ignored:
 * each call site passes the function's name, and a failure becomes a {@link OneDnnException}.
 */
public final class Dnnl {
    private Dnnl() {}

    /**
     * @param function the C function's name
     * @param status what it returned
     * @throws OneDnnException unless {@code status} is {@code dnnl_success}
     */
    public static void check(String function, int status) {
        if (status != 0) throw new OneDnnException(function, status, null);
    }

    /** As {@link #check(String, int)}, with what the library was doing (e.g. the layer) in the message. */
    public static void check(String function, int status, String context) {
        if (status != 0) throw new OneDnnException(function, status, context);
    }

    /**
     * Allocates the {@code dnnl_exec_arg_t} array for {@code (argKind, memory)} pairs.
     *
     * @param pairs alternating {@code Integer} argument kinds ({@code DNNL_ARG_*}) and memory handles
     */
    public static MemorySegment execArgs(Arena arena, Object... pairs) {
        int n = pairs.length / 2;
        MemorySegment args = dnnl_exec_arg_t.allocateArray(n, arena);
        for (int i = 0; i < n; i++) {
            MemorySegment a = dnnl_exec_arg_t.asSlice(args, i);
            dnnl_exec_arg_t.arg(a, (Integer) pairs[2 * i]);
            dnnl_exec_arg_t.memory(a, (MemorySegment) pairs[2 * i + 1]);
        }
        return args;
    }

    /** Executes {@code primitive} on {@code stream} with {@code args} and waits for it to finish. */
    public static void executeAndWait(MemorySegment primitive, MemorySegment stream, MemorySegment args, String context) {
        int n = (int) (args.byteSize() / dnnl_exec_arg_t.layout().byteSize());
        check("dnnl_primitive_execute", dnnl_primitive_execute(primitive, stream, n, args), context);
        check("dnnl_stream_wait", dnnl_stream_wait(stream), context);
    }
}
