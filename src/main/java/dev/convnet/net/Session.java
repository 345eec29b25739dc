package dev.convnet.net;

import dev.convnet.shape.Shape;
import dev.convnet.tensor.Tensor;
import java.lang.foreign.MemorySegment;

/**
 * A network compiled for one input shape on one backend: build once, run many times.
 * Obtained from {@link Network#compile(Shape, BackendKind)}.
 *
 * <p>Thread-safety: every {@code run} method is thread-safe: any number of threads may run the same
 * session at once (each call uses its own buffers and, on oneDNN, its own stream and scratchpad). {@link #close()}
 * waits for runs in flight to finish; runs that start after it throw
 * {@link IllegalStateException}. Closing twice is harmless.
 */
public interface Session extends AutoCloseable {
    /** The backend that runs this session. */
    BackendKind backend();

    /** The validated plan: every layer's output shape and parameter counts. */
    NetworkSummary summary();

    /** The input shape this session was compiled for (batch first). */
    Shape inputShape();

    /** The output shape (batch first). */
    Shape outputShape();

    /**
     * Runs the network on {@code input} (which is only read) and returns a new tensor owned by
     * the caller (close it).
     *
     * @throws dev.convnet.shape.ShapeException if the input's shape differs from {@link #inputShape()}
     * @throws IllegalStateException            if the session or the input is closed
     */
    Tensor run(Tensor input);

    /**
     * Runs the network on a row-major copy of the input and returns the output as a new array.
     *
     * @throws dev.convnet.shape.ShapeException if the length differs from the input's element count
     * @throws IllegalStateException            if the session is closed
     */
    float[] run(float[] input);

    /**
     * Runs the network from the caller's input segment into the caller's output segment: on oneDNN without any
     * copy. Both hold row-major floats of {@link #inputShape()} and {@link #outputShape()}; the output must be
     * writable. In steady state this allocates nothing on the Java heap (oneDNN backend).
     *
     * <p>The caller keeps both segments' arenas open until the call returns.
     *
     * @throws dev.convnet.shape.ShapeException if a segment's size differs from its shape's
     * @throws IllegalArgumentException if a segment is not native, not 4-byte aligned, or the output is read-only
     * @throws IllegalStateException if the session is closed
     */
    void run(MemorySegment input, MemorySegment output);

    /**
     * Runs the network from {@code input} into {@code output} (row-major, exactly the shapes' element counts):
     * one copy in, one copy out, no other allocation on the oneDNN backend.
     *
     * @throws dev.convnet.shape.ShapeException if a length differs from its shape's element count
     * @throws IllegalStateException if the session is closed
     */
    void run(float[] input, float[] output);

    /**
     * What runs: per step the layer, the primitive or kernel, the implementation, the memory formats and the
     * fused operations. For the Java backends, the kernel per layer.
     */
    String plan();

    /** Releases threads and memory; waits for runs in flight. Idempotent. */
    @Override
    void close();
}
