package dev.convnet.tensor;

import dev.convnet.internal.exec.RunGuard;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Objects;

/**
 * A dense row-major tensor of 32-bit floats in off-heap memory (a {@link MemorySegment}).
 *
 * <p>Ownership: a tensor made by {@link #allocate(Shape)} or {@link #of(Shape, float[])} owns a
 * shared {@link Arena} of its own and frees the memory on {@link #close()}. One made by
 * {@link #allocate(Arena, Shape)} lives in the caller's arena (closing the tensor only marks it
 * closed; the memory goes when the arena is closed). {@link #wrap(Shape, MemorySegment)} views a
 * caller's segment without copying and never frees it. Every accessor of a closed tensor throws
 * {@link IllegalStateException}; closing twice is harmless.
 *
 * <p>Thread-safety: reads from several threads are safe; concurrent writes, or a write racing a
 * read, need external synchronization. Closing a tensor while a session runs on it waits for that run
 * ({@link #pin()}); later uses throw {@code IllegalStateException}.
 */
public final class Tensor implements AutoCloseable {
    private static final long FLOAT_BYTES = Float.BYTES;
    /** Tensors the library allocates start on a cache line: oneDNN's vector loads and stores are fastest there. */
    private static final long ALIGNMENT = 64;

    private final Shape shape;
    private final MemorySegment segment;
    private final Arena ownedArena;
    private volatile boolean closed;
    private final RunGuard pins = new RunGuard("tensor");

    private Tensor(Shape shape, MemorySegment segment, Arena ownedArena) {
        this.shape = shape;
        this.segment = segment;
        this.ownedArena = ownedArena;
    }

    /** A zero-filled tensor that owns its memory. */
    public static Tensor allocate(Shape shape) {
        Objects.requireNonNull(shape, "shape");
        Arena arena = Arena.ofShared();
        try {
            return new Tensor(shape, arena.allocate(byteSize(shape), ALIGNMENT), arena);
        } catch (RuntimeException | Error e) {
            arena.close();
            throw e;
        }
    }

    /** A zero-filled tensor whose memory belongs to {@code arena}. */
    public static Tensor allocate(Arena arena, Shape shape) {
        Objects.requireNonNull(arena, "arena");
        Objects.requireNonNull(shape, "shape");
        return new Tensor(shape, arena.allocate(byteSize(shape), ALIGNMENT), null);
    }

    /** A tensor that owns its memory, filled with a copy of {@code values} (row-major). */
    public static Tensor of(Shape shape, float[] values) {
        Objects.requireNonNull(values, "values");
        checkLength(shape, values.length);
        Tensor t = allocate(shape);
        MemorySegment.copy(values, 0, t.segment, ValueLayout.JAVA_FLOAT, 0, values.length);
        return t;
    }

    /**
     * A zero-copy view of the caller's segment. The segment must hold exactly
     * {@code shape.elementCount()} floats and be aligned to 4 bytes; it is never freed by the tensor.
     *
     * @throws ShapeException           if the size does not match the shape
     * @throws IllegalArgumentException if the segment is not aligned to 4 bytes or is read-only
     */
    public static Tensor wrap(Shape shape, MemorySegment segment) {
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(segment, "segment");
        long expected = byteSize(shape);
        if (segment.byteSize() != expected) {
            throw new ShapeException("segment of " + segment.byteSize() + " bytes does not match shape " + shape
                    + ": expected " + shape.elementCount() + " floats = " + expected + " bytes");
        }
        if (!segment.isNative() && segment.heapBase().filter(b -> b instanceof float[]).isEmpty()) {
            // heap segments backed by other array types are not guaranteed to be float aligned
            throw new IllegalArgumentException("a heap segment must be backed by a float[] to be used as a tensor");
        }
        if (segment.isNative() && segment.address() % FLOAT_BYTES != 0) {
            throw new IllegalArgumentException("segment address 0x" + Long.toHexString(segment.address())
                    + " is not aligned to " + FLOAT_BYTES + " bytes");
        }
        if (segment.isReadOnly()) {
            throw new IllegalArgumentException("segment is read-only");
        }
        return new Tensor(shape, segment, null);
    }

    private static long byteSize(Shape shape) {
        try {
            return Math.multiplyExact(shape.elementCount(), FLOAT_BYTES);
        } catch (ArithmeticException e) {
            throw new ShapeException("shape " + shape + ": " + shape.elementCount() + " floats overflow a byte size in a long");
        }
    }

    private static void checkLength(Shape shape, int length) {
        if (shape.elementCount() != length) {
            throw new ShapeException("array of " + length + " floats does not match shape " + shape
                    + " (" + shape.elementCount() + " elements)");
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("tensor " + shape + " is closed");
        }
    }

    /** The shape. */
    public Shape shape() {
        checkOpen();
        return shape;
    }

    /** The number of floats. */
    public long elementCount() {
        checkOpen();
        return shape.elementCount();
    }

    /** The memory, valid until the tensor (or its arena) is closed. */
    public MemorySegment segment() {
        checkOpen();
        return segment;
    }

    /** The float at flat row-major index {@code index}. */
    public float get(long index) {
        checkOpen();
        return segment.getAtIndex(ValueLayout.JAVA_FLOAT, index);
    }

    /** Sets the float at flat row-major index {@code index}. */
    public void set(long index, float value) {
        checkOpen();
        segment.setAtIndex(ValueLayout.JAVA_FLOAT, index, value);
    }

    /** Copies {@code values} (exactly {@link #elementCount()} floats) into the tensor. */
    public void copyFrom(float[] values) {
        checkOpen();
        checkLength(shape, values.length);
        MemorySegment.copy(values, 0, segment, ValueLayout.JAVA_FLOAT, 0, values.length);
    }

    /** Copies the tensor into {@code values} (exactly {@link #elementCount()} floats). */
    public void copyTo(float[] values) {
        checkOpen();
        checkLength(shape, values.length);
        MemorySegment.copy(segment, ValueLayout.JAVA_FLOAT, 0, values, 0, values.length);
    }

    /**
     * A new array with a copy of the contents.
     *
     * @throws ShapeException if the tensor has more elements than a Java array can hold
     */
    public float[] toArray() {
        checkOpen();
        if (shape.elementCount() > Integer.MAX_VALUE - 8) {
            throw new ShapeException("tensor " + shape + " has " + shape.elementCount()
                    + " elements, more than a Java array holds");
        }
        float[] values = new float[(int) shape.elementCount()];
        copyTo(values);
        return values;
    }

    /** Whether {@link #close()} has been called. */
    public boolean isClosed() {
        return closed;
    }

    /** Frees owned memory (if any) and makes the tensor unusable; a second call does nothing. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        pins.close(); // waits for native calls that hold a pin
        if (ownedArena != null) {
            ownedArena.close();
        }
    }

    /**
     * Keeps the tensor's memory from being freed until the returned pin is closed: {@link #close()} called
     * meanwhile (from any thread) waits for it. Sessions pin the tensors they read and write during a run, so that
     * closing a tensor while native code uses its memory cannot crash the process.
     *
     * @throws IllegalStateException if the tensor is closed
     */
    public Pin pin() {
        pins.enter();
        if (closed) {
            pins.exit();
            throw new IllegalStateException("tensor is closed");
        }
        return new Pin();
    }

    /** A hold on a tensor's memory; see {@link #pin()}. Close it exactly once, from any thread. */
    public final class Pin implements AutoCloseable {
        private final java.util.concurrent.atomic.AtomicBoolean released = new java.util.concurrent.atomic.AtomicBoolean();

        private Pin() {}

        /** The pinned memory. */
        public MemorySegment segment() {
            return segment;
        }

        @Override
        public void close() {
            if (released.compareAndSet(false, true)) pins.exit();
        }
    }

    @Override
    public String toString() {
        return "Tensor" + shape + (closed ? " (closed)" : "");
    }
}
