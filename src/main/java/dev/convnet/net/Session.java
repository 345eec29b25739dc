package dev.convnet.net;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Map;

/**
 * A network or graph compiled for its input shapes on one backend: build once, run many times.
 * Obtained from {@link Network#compile(Shape, BackendKind)} or {@link Graph#compile(Map, SessionOptions)}.
 *
 * <p>Inputs and outputs have names: a {@link Network}'s are {@value #INPUT} and {@value #OUTPUT}, a
 * {@link Graph}'s its own. {@link #run(Map)} runs with any number of inputs and outputs; the other
 * {@code run} methods, and {@link #inputShape()} / {@link #outputShape()}, are for one input and one output
 * (on a graph with more they throw {@link IllegalStateException}).
 *
 * <p>Layout: every tensor is row-major, in the order its shape gives ({@code [N, C, H, W]} for images); with
 * {@link SessionOptions#channelsLast()} every 4-D input and output is {@code N, H, W, C} in the caller's buffers
 * instead (shapes are still given as {@code [N, C, H, W]}), on every backend.
 *
 * <p>Sessions are made by the library's backends only; the interface is not meant to be implemented elsewhere.
 *
 * <p>Thread-safety: every {@code run} method is thread-safe: any number of threads may run the same
 * session at once (each call uses its own buffers and, on oneDNN, its own stream and scratchpad). {@link #close()}
 * waits for runs in flight to finish; runs that start after it throw
 * {@link IllegalStateException}. Closing twice is harmless.
 */
public interface Session extends AutoCloseable {
    /** The input name of a network's session. */
    String INPUT = "input";
    /** The output name of a network's session. */
    String OUTPUT = "output";

    /** The backend that runs this session. */
    BackendKind backend();

    /**
     * The validated plan: per node (for a network, per layer) its inputs, output shape, parameters, neurons and
     * FLOPs.
     */
    GraphSummary summary();

    /**
     * The input shape this session was compiled for (batch first).
     *
     * @throws IllegalStateException if the session has several inputs
     */
    Shape inputShape();

    /**
     * The output shape (batch first).
     *
     * @throws IllegalStateException if the session has several outputs
     */
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
     * writable. In steady state this allocates nothing on the Java heap, on every backend.
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
     * one copy in, one copy out, no other allocation in steady state.
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

    /** The input names, in order ({@value #INPUT} for a network). */
    List<String> inputNames();

    /** The output names, in order ({@value #OUTPUT} for a network). */
    List<String> outputNames();

    /** The input shapes by name (batch first), in order. */
    Map<String, Shape> inputShapes();

    /** The output shapes by name (batch first), in order. */
    Map<String, Shape> outputShapes();

    /**
     * Runs on named inputs (row-major, each exactly its shape's element count; only read) and returns every
     * output as a new array, by name in {@link #outputNames()} order.
     *
     * @throws IllegalArgumentException if the names differ from {@link #inputNames()}, or an array is missing
     * @throws ShapeException if an array's length differs from its input's element count
     * @throws IllegalStateException if the session is closed
     */
    Map<String, float[]> run(Map<String, float[]> inputs);

    /** Releases threads and memory; waits for runs in flight. Idempotent. */
    @Override
    void close();
}
