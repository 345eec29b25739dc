package dev.convnet.internal.onednn;

import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SegmentAllocator;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/** How much native memory the process holds, for the leak tests. */
final class NativeMemory {
    private static final MethodHandle MALLINFO2 = Linker.nativeLinker().downcallHandle(
            Linker.nativeLinker().defaultLookup().findOrThrow("mallinfo2"),
            FunctionDescriptor.of(MemoryLayout.structLayout(MemoryLayout.sequenceLayout(10, ValueLayout.JAVA_LONG))));

    private NativeMemory() {
    }

    /**
     * Bytes the process holds from malloc right now (glibc's {@code mallinfo2}: {@code uordblks + hblkhd}, over all
     * arenas). oneDNN's allocations and the FFM arenas' both come from malloc; unlike the resident set, this does
     * not move with the Java heap.
     */
    static long mallocInUse() throws Throwable {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment info = (MemorySegment) MALLINFO2.invokeExact((SegmentAllocator) a);
            return info.getAtIndex(ValueLayout.JAVA_LONG, 7) + info.getAtIndex(ValueLayout.JAVA_LONG, 4);
        }
    }
}
