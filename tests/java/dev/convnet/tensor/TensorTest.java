package dev.convnet.tensor;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.Test;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorTest {

    @Test
    void copyInAndOut() {
        float[] v = {1, 2, 3, 4, 5, 6};
        try (Tensor t = Tensor.of(Shape.of(2, 3), v)) {
            v[0] = 99; // the tensor holds a copy
            assertArrayEquals(new float[] {1, 2, 3, 4, 5, 6}, t.toArray());
            assertEquals(6f, t.get(5));
            t.set(5, 7f);
            float[] out = new float[6];
            t.copyTo(out);
            assertEquals(7f, out[5]);
            t.copyFrom(new float[] {0, 0, 0, 0, 0, 1});
            assertEquals(1f, t.get(5));
            assertTrue(t.segment().isNative());
        }
    }

    @Test
    void lengthMustMatchShape() {
        ShapeException e = assertThrows(ShapeException.class, () -> Tensor.of(Shape.of(2, 3), new float[5]));
        assertTrue(e.getMessage().contains("5 floats") && e.getMessage().contains("[2, 3]"), e.getMessage());
    }

    @Test
    void wrapIsZeroCopyAndChecked() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment seg = arena.allocate(4L * 6, 4);
            try (Tensor t = Tensor.wrap(Shape.of(6), seg)) {
                seg.setAtIndex(ValueLayout.JAVA_FLOAT, 2, 42f);
                assertEquals(42f, t.get(2));
                t.set(3, 5f);
                assertEquals(5f, seg.getAtIndex(ValueLayout.JAVA_FLOAT, 3));
            }
            assertEquals(42f, seg.getAtIndex(ValueLayout.JAVA_FLOAT, 2), "closing a wrapper must not free the segment");
            ShapeException size = assertThrows(ShapeException.class, () -> Tensor.wrap(Shape.of(5), seg));
            assertTrue(size.getMessage().contains("24 bytes") && size.getMessage().contains("20 bytes"), size.getMessage());
            MemorySegment big = arena.allocate(32, 8);
            IllegalArgumentException align = assertThrows(IllegalArgumentException.class,
                    () -> Tensor.wrap(Shape.of(6), big.asSlice(1, 24)));
            assertTrue(align.getMessage().contains("aligned"), align.getMessage());
            assertThrows(IllegalArgumentException.class, () -> Tensor.wrap(Shape.of(6), seg.asReadOnly()));
        }
        float[] heap = new float[4];
        try (Tensor t = Tensor.wrap(Shape.of(4), MemorySegment.ofArray(heap))) {
            t.set(1, 3f);
            assertEquals(3f, heap[1]);
        }
    }

    @Test
    void useAfterCloseThrowsAndDoubleCloseIsHarmless() {
        Tensor t = Tensor.allocate(Shape.of(3));
        t.close();
        t.close();
        assertTrue(t.isClosed());
        assertThrows(IllegalStateException.class, t::toArray);
        assertThrows(IllegalStateException.class, t::segment);
        assertThrows(IllegalStateException.class, t::shape);
        assertThrows(IllegalStateException.class, () -> t.get(0));
        assertThrows(IllegalStateException.class, () -> t.copyFrom(new float[3]));
    }

    @Test
    void arenaOwnedTensorLivesWithItsArena() {
        MemorySegment seg;
        try (Arena arena = Arena.ofConfined()) {
            Tensor t = Tensor.allocate(arena, Shape.of(2, 2));
            seg = t.segment();
            t.close();
            assertThrows(IllegalStateException.class, t::segment);
            assertTrue(seg.scope().isAlive(), "the arena, not the tensor, owns the memory");
        }
        assertTrue(!seg.scope().isAlive());
    }
}
