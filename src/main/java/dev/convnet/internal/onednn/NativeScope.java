package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.ToIntFunction;

/**
 * Owner of oneDNN handles and the native memory they use.
 *
 * <p>Every handle created through a scope is destroyed when the scope closes, in reverse order of creation,
 * and every destroy call's status is checked. Native buffers come from the scope's shared arena and are freed
 * with it. Closing twice is harmless; using a closed scope throws {@link IllegalStateException}.
 *
 * <p>Creating handles is not thread-safe (a scope is built by one thread); closing is safe from any thread
 * once no other thread uses the handles.
 */
public final class NativeScope implements AutoCloseable {
    private final Arena arena = Arena.ofShared();
    private final Deque<Runnable> cleanups = new ArrayDeque<>();
    private boolean closed;

    /** The arena that owns this scope's native memory. */
    public Arena arena() {
        ensureOpen();
        return arena;
    }

    /** A fresh pointer-sized slot for a C function's output handle. */
    public MemorySegment slot() {
        return arena().allocate(ValueLayout.ADDRESS);
    }

    /**
     * Reads the handle a successful create call wrote into {@code slot}, and registers its destroy function.
     *
     * @param destroyName the destroy function's C name, for the status check
     */
    public MemorySegment own(MemorySegment slot, String destroyName, ToIntFunction<MemorySegment> destroy) {
        MemorySegment handle = slot.get(ValueLayout.ADDRESS, 0);
        if (handle.equals(MemorySegment.NULL)) {
            throw new IllegalStateException(destroyName.replace("destroy", "create") + " returned success but a NULL handle");
        }
        cleanups.push(() -> Dnnl.check(destroyName, destroy.applyAsInt(handle)));
        return handle;
    }

    /** Creates a CPU engine owned by this scope. */
    public MemorySegment cpuEngine() {
        MemorySegment slot = slot();
        Dnnl.check("dnnl_engine_create", dnnl_engine_create(slot, dnnl_cpu(), 0));
        return own(slot, "dnnl_engine_destroy", h -> dnnl_engine_destroy(h));
    }

    /** Creates an in-order stream on {@code engine}, owned by this scope. */
    public MemorySegment stream(MemorySegment engine) {
        MemorySegment slot = slot();
        Dnnl.check("dnnl_stream_create", dnnl_stream_create(slot, engine, dnnl_stream_default_flags()));
        return own(slot, "dnnl_stream_destroy", h -> dnnl_stream_destroy(h));
    }

    /** Creates an f32 memory descriptor with the given dimensions and format tag (e.g. {@code dnnl_nchw()}). */
    public MemorySegment memoryDesc(long[] dims, int formatTag) {
        return memoryDesc(dims, formatTag, dnnl_f32());
    }

    /** Creates a memory descriptor of data type {@code dataType} (e.g. {@code dnnl_bf16()}) with a format tag. */
    public MemorySegment memoryDesc(long[] dims, int formatTag, int dataType) {
        MemorySegment slot = slot();
        MemorySegment d = arena().allocateFrom(ValueLayout.JAVA_LONG, dims);
        Dnnl.check("dnnl_memory_desc_create_with_tag",
                dnnl_memory_desc_create_with_tag(slot, dims.length, d, dataType, formatTag));
        return own(slot, "dnnl_memory_desc_destroy", h -> dnnl_memory_desc_destroy(h));
    }

    /** Creates a memory object for {@code desc} over the caller's buffer {@code data} (not copied, not owned). */
    public MemorySegment memory(MemorySegment desc, MemorySegment engine, MemorySegment data) {
        MemorySegment slot = slot();
        Dnnl.check("dnnl_memory_create", dnnl_memory_create(slot, desc, engine, data));
        return own(slot, "dnnl_memory_destroy", h -> dnnl_memory_destroy(h));
    }

    /** Registers a primitive descriptor written into {@code slot} by a successful create call. */
    public MemorySegment primitiveDesc(MemorySegment slot) {
        return own(slot, "dnnl_primitive_desc_destroy", h -> dnnl_primitive_desc_destroy(h));
    }

    /** Creates the primitive for a primitive descriptor, owned by this scope. */
    public MemorySegment primitive(MemorySegment primitiveDesc) {
        MemorySegment slot = slot();
        Dnnl.check("dnnl_primitive_create", dnnl_primitive_create(slot, primitiveDesc));
        return own(slot, "dnnl_primitive_destroy", h -> dnnl_primitive_destroy(h));
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("native scope is closed");
    }

    /** Destroys every handle (newest first) and frees the memory; the first failing destroy is rethrown at the end. */
    @Override
    public synchronized void close() {
        if (closed) return;
        closed = true;
        RuntimeException first = null;
        while (!cleanups.isEmpty()) {
            try {
                cleanups.pop().run();
            } catch (RuntimeException e) {
                if (first == null) first = e; else first.addSuppressed(e);
            }
        }
        arena.close();
        if (first != null) throw first;
    }
}
