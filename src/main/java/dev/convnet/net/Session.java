package dev.convnet.net;

import dev.convnet.shape.Shape;
import dev.convnet.tensor.Tensor;

/**
 * A network compiled for one input shape on one backend: build once, run many times.
 * Obtained from {@link Network#compile(Shape, BackendKind)}.
 *
 * <p>Thread-safety: {@link #run(Tensor)} and {@link #run(float[])} are thread-safe: any number
 * of threads may run the same session at once (each call uses its own buffers). {@link #close()}
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

    /** Releases threads and memory; waits for runs in flight. Idempotent. */
    @Override
    void close();
}
