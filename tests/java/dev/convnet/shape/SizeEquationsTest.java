package dev.convnet.shape;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SizeEquationsTest {

    private static void assertMessage(Exception e, String... parts) {
        for (String p : parts) {
            assertTrue(e.getMessage().contains(p), () -> "message «" + e.getMessage() + "» lacks «" + p + "»");
        }
    }

    @Test
    void eq5AndEq6ReproduceTheWorkedExampleSizes() {
        assertEquals(3, SizeEquations.outputSize(5, 3, 1));
        assertEquals(2, SizeEquations.outputSize(5, 3, 2));
        assertEquals(5, SizeEquations.outputSize(5, 1, 3, 1));
        assertEquals(5, SizeEquations.outputSize(5, 3, 3, 2));
        assertEquals(28, SizeEquations.outputSize(32, 0, 5, 1)); // Eq. 8 on each axis of the [3, 32, 32] layer
    }

    @Test
    void samePaddingSolvesEq6ForP() {
        assertEquals(new AxisPadding(1, 1), SizeEquations.samePadding(5, 3, 1, 1));
        // errata: the notes say "with p = 1" for s = 2, but p = (2(5 − 1) + 3 − 5)/2 = 3
        assertEquals(new AxisPadding(3, 3), SizeEquations.samePadding(5, 3, 2, 1));
    }

    @Test
    void samePaddingWithOddTotalIsAsymmetricFloorBeforeRestAfter() {
        // total = 1·(4 − 1) + 2 − 4 = 1 → 0 before, 1 after
        AxisPadding p = Padding.same().resolve(0, 1, 4, 2, 1, 1);
        assertEquals(new AxisPadding(0, 1), p);
        ConvAxis a = SizeEquations.axis("Eq. 6", "length", 4, 2, 1, 1, Padding.same(), 0, 1, false);
        assertEquals(4, a.output());
        assertEquals(0, a.padBefore());
        assertEquals(1, a.padAfter());
        // stride 2: total = 2·(6 − 1) + 4 − 6 = 8 → 4 / 4; stride 2, M = 5, N = 2: total = 8 + 2 − 5 = 5 → 2 / 3
        assertEquals(new AxisPadding(4, 4), Padding.same().resolve(0, 1, 6, 4, 2, 1));
        assertEquals(new AxisPadding(2, 3), Padding.same().resolve(0, 1, 5, 2, 2, 1));
    }

    @Test
    void sameKeepsTheSizeForAnyStride() {
        for (int m = 1; m < 20; m++) {
            for (int n = 1; n < 6; n++) {
                for (int s = 1; s < 5; s++) {
                    for (int d = 1; d < 3; d++) {
                        ConvAxis a = SizeEquations.axis("Eq. 6", "x", m, n, s, d, Padding.same(), 0, 1, false);
                        assertEquals(m, a.output(), "M=" + m + " N=" + n + " s=" + s + " d=" + d);
                    }
                }
            }
        }
    }

    @Test
    void fullPaddingGivesMPlusNMinusOneAtStrideOne() {
        ConvAxis a = SizeEquations.axis("Eq. 6", "length", 5, 3, 1, 1, Padding.full(), 0, 1, false);
        assertEquals(5 + 3 - 1, a.output());
        assertEquals(2, a.padBefore());
        assertEquals(2, a.padAfter());
        // s > 1: Eq. 6 with p = N − 1: ⌊(5 + 4 − 3)/2⌋ + 1 = 4
        assertEquals(4, SizeEquations.axis("Eq. 6", "length", 5, 3, 2, 1, Padding.full(), 0, 1, false).output());
        // dilation: p = d(N − 1) each side
        assertEquals(new AxisPadding(4, 4), Padding.full().resolve(0, 1, 5, 3, 1, 2));
    }

    @Test
    void onnxSameUpperAndLowerGiveCeilMOverS() {
        for (int m = 1; m < 20; m++) {
            for (int s = 1; s < 5; s++) {
                ConvAxis u = SizeEquations.axis("Eq. 6", "x", m, 3, s, 1, Padding.sameUpper(), 0, 1, false);
                ConvAxis l = SizeEquations.axis("Eq. 6", "x", m, 3, s, 1, Padding.sameLower(), 0, 1, false);
                assertEquals((m + s - 1) / s, u.output());
                assertEquals((m + s - 1) / s, l.output());
                assertEquals(u.padBefore(), l.padAfter());
                assertEquals(u.padAfter(), l.padBefore());
                assertTrue(u.padAfter() >= u.padBefore());
            }
        }
        // M = 5, s = 2, N = 2: L = 3, total = 2·2 + 2 − 5 = 1: upper 0/1, lower 1/0
        assertEquals(new AxisPadding(0, 1), Padding.sameUpper().resolve(0, 1, 5, 2, 2, 1));
        assertEquals(new AxisPadding(1, 0), Padding.sameLower().resolve(0, 1, 5, 2, 2, 1));
        // errata: with s = 2 the lecture's SAME keeps M = 5 while SAME_UPPER gives ⌈5/2⌉ = 3
        assertEquals(5, SizeEquations.axis("Eq. 6", "x", 5, 3, 2, 1, Padding.same(), 0, 1, false).output());
        assertEquals(3, SizeEquations.axis("Eq. 6", "x", 5, 3, 2, 1, Padding.sameUpper(), 0, 1, false).output());
    }

    @Test
    void explicitPerSideAndPerAxisPadding() {
        Padding p = Padding.explicit2d(1, 2, 3, 4);
        assertEquals(new AxisPadding(1, 3), p.resolve(0, 2, 5, 3, 1, 1));
        assertEquals(new AxisPadding(2, 4), p.resolve(1, 2, 5, 3, 1, 1));
        assertEquals(new AxisPadding(2, 2), Padding.symmetric(2).resolve(1, 2, 5, 3, 1, 1));
        ShapeException e = assertThrows(ShapeException.class, () -> p.resolve(0, 1, 5, 3, 1, 1));
        assertMessage(e, "2 axes", "1 spatial");
    }

    @Test
    void dilationUsesTheKernelSpan() {
        // span = 2·(3 − 1) + 1 = 5: ⌊(7 − 5)/1⌋ + 1 = 3
        assertEquals(3, SizeEquations.outputSize("Eq. 6", "", 7, 3, 1, 2, 0, 0, false));
        ShapeException e = assertThrows(ShapeException.class,
                () -> SizeEquations.outputSize("Eq. 6", "", 4, 3, 1, 2, 0, 0, false));
        assertMessage(e, "Eq. 6", "kernel 3 with dilation 2 (span 5) is larger than the padded input 4");
    }

    @Test
    void ceilModeRoundsUpAndDropsWindowsStartingInTheEndPadding() {
        // ⌈(6 − 3)/2⌉ + 1 = 3 versus ⌊…⌋ + 1 = 2
        assertEquals(2, SizeEquations.outputSize("Eq. 11", "", 6, 3, 2, 1, 0, 0, false));
        assertEquals(3, SizeEquations.outputSize("Eq. 11", "", 6, 3, 2, 1, 0, 0, true));
        // M = 5, k = 2, s = 2, p = 1/1: ⌈(7 − 2)/2⌉ + 1 = 4, but the last window starts at 3·2 = 6 ≥ M + p_before = 6 (in the end padding): dropped
        assertEquals(3, SizeEquations.outputSize("Eq. 11", "", 5, 2, 2, 1, 1, 1, false));
        assertEquals(3, SizeEquations.outputSize("Eq. 11", "", 5, 2, 2, 1, 1, 1, true));
    }

    @Test
    void kernelLargerThanPaddedInputNamesEquationAndNumbers() {
        ShapeException e = assertThrows(ShapeException.class, () -> SizeEquations.outputSize(5, 0, 7, 1));
        assertMessage(e, "Eq. 6", "⌊(5 + 2·0 − 7)/1⌋ + 1 = -1 < 1", "kernel 7 is larger than the padded input 5");
        ShapeException e5 = assertThrows(ShapeException.class, () -> SizeEquations.outputSize(2, 3, 1));
        assertMessage(e5, "Eq. 5", "kernel 3 is larger than the padded input 2");
        ShapeException asym = assertThrows(ShapeException.class,
                () -> SizeEquations.outputSize("Eq. 8", "width", 2, 6, 1, 1, 1, 2, false));
        assertMessage(asym, "Eq. 8 (width)", "⌊(2 + 1 + 2 − 6)/1⌋ + 1 = 0 < 1", "padded input 5");
    }

    @Test
    void strideDilationAndPaddingBelowTheirMinimumAreRejected() {
        assertMessage(assertThrows(ShapeException.class, () -> SizeEquations.outputSize(5, 0, 3, 0)),
                "Eq. 6", "stride s = 0 must be ≥ 1");
        assertMessage(assertThrows(ShapeException.class,
                () -> SizeEquations.outputSize("Eq. 6", "", 5, 3, 1, 0, 0, 0, false)), "dilation d = 0 must be ≥ 1");
        assertMessage(assertThrows(ShapeException.class, () -> SizeEquations.outputSize(5, -1, 3, 1)),
                "padding p must be ≥ 0", "before = -1");
        assertMessage(assertThrows(ShapeException.class, () -> Padding.symmetric(-2)), "padding must be ≥ 0", "-2");
        assertMessage(assertThrows(ShapeException.class, () -> new AxisPadding(0, -1)), "padding must be ≥ 0", "-1");
        assertMessage(assertThrows(ShapeException.class, () -> SizeEquations.samePadding(5, 3, 0, 1)), "stride s = 0");
    }

    @Test
    void sizesThatOverflowAreRejected() {
        ShapeException e = assertThrows(ShapeException.class,
                () -> SizeEquations.outputSize("Eq. 6", "", Integer.MAX_VALUE, 1, 1, 1, Integer.MAX_VALUE, 0, false));
        assertMessage(e, "Eq. 6", "overflows int");
        ShapeException s = assertThrows(ShapeException.class, () -> Shape.of(1 << 30, 1 << 30, 1 << 30));
        assertMessage(s, "overflows a long");
        assertMessage(assertThrows(ShapeException.class, () -> Shape.of(3, 0, 2)), "dimension 1 is 0");
    }

    @Test
    void shapeBasics() {
        Shape s = Shape.of(2, 3, 4, 5);
        assertEquals(120, s.elementCount());
        assertEquals(60, s.elementCount(1));
        assertEquals(Shape.of(3, 4, 5), s.withoutBatch());
        assertEquals(s, Shape.of(3, 4, 5).withBatch(2));
        assertEquals("[2, 3, 4, 5]", s.toString());
    }
}
