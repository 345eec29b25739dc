package dev.convnet.internal.exec;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The native memory the process holds from malloc, through glibc's {@code mallinfo2}: for {@code convnet bench} and
 * the tests that check that sessions free (or share) what they allocate. Internal.
 *
 * <p>Thread-safe.
 */
public final class NativeMemory {
    private NativeMemory() {
    }

    private static final MethodHandle MALLINFO2 = Linker.nativeLinker().defaultLookup().find("mallinfo2")
            .map(f -> Linker.nativeLinker().downcallHandle(f,
                    FunctionDescriptor.of(MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, ValueLayout.JAVA_LONG)))))
            .orElse(null);

    /** Whether {@link #mallocInUse()} works here (glibc 2.33 or later). */
    public static boolean isAvailable() {
        return MALLINFO2 != null;
    }

    /**
     * Bytes the process holds from malloc right now ({@code uordblks + hblkhd}, over all arenas). oneDNN's allocations
     * and the FFM arenas' both come from malloc; unlike the resident set, this does not move with the Java heap.
     *
     * @throws UnsupportedOperationException if the C library has no {@code mallinfo2}
     */
    public static long mallocInUse() {
        if (MALLINFO2 == null) throw new UnsupportedOperationException("the C library has no mallinfo2 (glibc 2.33 or later)");
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = (MemorySegment) MALLINFO2.invokeExact((SegmentAllocator) a);
            return info.getAtIndex(ValueLayout.JAVA_LONG, 7) + info.getAtIndex(ValueLayout.JAVA_LONG, 4);
        } catch (Throwable t) {
            throw new IllegalStateException("mallinfo2 failed", t);
        }
    }
}
