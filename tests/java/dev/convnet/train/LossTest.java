package dev.convnet.train;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each loss's value on hand-worked numbers and its gradient against central finite differences. */
class LossTest {
    @Test
    void crossEntropyByHand() {
        // scores (0, ln 3) for label 1: softmax = (1/4, 3/4), loss = −ln(3/4)
        float[] s = {0f, (float) Math.log(3)};
        float[] g = new float[2];
        assertEquals(-Math.log(0.75), Loss.softmaxCrossEntropy().compute(s, new int[] {1}, 2, g), 1e-7);
        assertEquals(0.25, g[0], 1e-7);
        assertEquals(-0.25, g[1], 1e-7);
    }

    @Test
    void hingeByHand() {
        // CS231n's example: scores (3.2, 5.1, −1.7), label 0: max(0, 5.1 − 3.2 + 1) + max(0, −1.7 − 3.2 + 1) = 2.9
        float[] g = new float[3];
        assertEquals(2.9, Loss.multiclassHinge().compute(new float[] {3.2f, 5.1f, -1.7f}, new int[] {0}, 3, g), 1e-6);
        assertEquals(-1, g[0], 0);
        assertEquals(1, g[1], 0);
        assertEquals(0, g[2], 0);
    }

    @Test
    void gradientsMatchFiniteDifferences() {
        SplittableRandom r = new SplittableRandom(3);
        for (Loss loss : new Loss[] {Loss.softmaxCrossEntropy(), Loss.softmaxCrossEntropy(0.1), Loss.multiclassHinge(),
                Loss.meanSquaredError()}) {
            for (int trial = 0; trial < 20; trial++) {
                int n = 1 + r.nextInt(5);
                int k = 2 + r.nextInt(6);
                float[] s = new float[n * k];
                for (int i = 0; i < s.length; i++) s[i] = (float) r.nextDouble(-3, 3);
                int[] y = new int[n];
                for (int i = 0; i < n; i++) y[i] = r.nextInt(k);
                float[] g = new float[s.length];
                loss.compute(s, y, k, g);
                for (int i = 0; i < s.length; i++) {
                    float h = 1e-2f;
                    float[] p = s.clone();
                    float[] m = s.clone();
                    p[i] += h;
                    m[i] -= h;
                    double fd = (loss.compute(p, y, k, null) - loss.compute(m, y, k, null)) / (p[i] - (double) m[i]);
                    if (loss.kind() == Loss.Kind.MULTICLASS_HINGE && nearKink(s, y, k, i / k, h)) continue;
                    assertEquals(fd, g[i], 2e-4 + 1e-3 * Math.abs(fd), loss + ": ∂L/∂s[" + i + "]");
                }
            }
        }
    }

    /** Whether a hinge margin of example {@code e} is within 2h of 0 (the finite difference straddles the kink). */
    private static boolean nearKink(float[] s, int[] y, int k, int e, float h) {
        for (int j = 0; j < k; j++) {
            if (j != y[e] && Math.abs(s[e * k + j] - s[e * k + y[e]] + 1) < 3 * h) return true;
        }
        return false;
    }

    @Test
    void badInputIsNamed() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Loss.softmaxCrossEntropy().compute(new float[4], new int[] {0, 2}, 2, null));
        assertTrue(e.getMessage().contains("label 2 of example 1") && e.getMessage().contains("[0, 2)"), e.getMessage());
        ArithmeticException nan = assertThrows(ArithmeticException.class,
                () -> Loss.softmaxCrossEntropy().compute(new float[] {0, Float.NaN}, new int[] {0}, 2, null));
        assertTrue(nan.getMessage().contains("example 0"), nan.getMessage());
        assertThrows(dev.convnet.shape.ShapeException.class, () -> Loss.multiclassHinge().compute(new float[5], new int[] {0, 1}, 2, null));
        assertThrows(IllegalArgumentException.class, () -> Loss.softmaxCrossEntropy(1.0));
    }
}
