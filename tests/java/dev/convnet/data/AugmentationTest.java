package dev.convnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.convnet.shape.Shape;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class AugmentationTest {
    /** A 4×4 image holding 1..16 in row-major order. */
    static final float[] IMAGE = {
            1, 2, 3, 4,
            5, 6, 7, 8,
            9, 10, 11, 12,
            13, 14, 15, 16};

    static float[] crop(float[] image, int c, int p, int dy, int dx) {
        float[] out = image.clone();
        Augmentation.crop(out, 0, c, 4, 4, p, dy, dx, new float[image.length]);
        return out;
    }

    @Test
    void cropAtKnownOffsetsByHand() {
        // offset (0, 2) of the 6×6 padded image: output (y, x) = input (y - 1, x + 1)
        assertArrayEquals(new float[] {
                0, 0, 0, 0,
                2, 3, 4, 0,
                6, 7, 8, 0,
                10, 11, 12, 0}, crop(IMAGE, 1, 1, 0, 2));
        // offset (2, 0): output (y, x) = input (y + 1, x - 1)
        assertArrayEquals(new float[] {
                0, 5, 6, 7,
                0, 9, 10, 11,
                0, 13, 14, 15,
                0, 0, 0, 0}, crop(IMAGE, 1, 1, 2, 0));
        assertArrayEquals(IMAGE, crop(IMAGE, 1, 1, 1, 1), "the centre offset is the image itself");
        assertArrayEquals(new float[16], crop(IMAGE, 1, 5, 0, 0), "padding wider than the image: all zeros");
        // two channels are cropped alike, each in its own plane
        float[] two = new float[32];
        for (int i = 0; i < 16; i++) {
            two[i] = IMAGE[i];
            two[16 + i] = 100 + IMAGE[i];
        }
        float[] out = crop(two, 2, 1, 0, 2);
        assertArrayEquals(new float[] {0, 0, 0, 0, 102, 103, 104, 0, 106, 107, 108, 0, 110, 111, 112, 0},
                Arrays.copyOfRange(out, 16, 32));
    }

    @Test
    void flipByHand() {
        float[] img = IMAGE.clone();
        Augmentation.flip(img, 0, 1, 4, 4);
        assertArrayEquals(new float[] {4, 3, 2, 1, 8, 7, 6, 5, 12, 11, 10, 9, 16, 15, 14, 13}, img);
        float[] odd = {1, 2, 3, 4, 5, 6};                    // [1, 2, 3]
        Augmentation.flip(odd, 0, 1, 2, 3);
        assertArrayEquals(new float[] {3, 2, 1, 6, 5, 4}, odd);
    }

    /** {@code n} copies of {@link #IMAGE} as a batch [n, 1, 4, 4]. */
    static float[] copies(int n) {
        float[] b = new float[n * 16];
        for (int k = 0; k < n; k++) System.arraycopy(IMAGE, 0, b, k * 16, 16);
        return b;
    }

    @Test
    void randomCropPicksEveryOffsetOfThePaddedImage() {
        int n = 300;
        float[] batch = copies(n);
        Augmentation.randomCrop(1).apply(batch, Shape.of(n, 1, 4, 4), 5, 0, 0);
        int[] hits = new int[9];
        for (int k = 0; k < n; k++) {
            float[] got = Arrays.copyOfRange(batch, k * 16, k * 16 + 16);
            int match = -1;
            for (int o = 0; o < 9; o++) {
                if (Arrays.equals(got, crop(IMAGE, 1, 1, o / 3, o % 3))) match = o;
            }
            assertTrue(match >= 0, "image " + k + " is no crop of the padded image: " + Arrays.toString(got));
            hits[match]++;
        }
        for (int o = 0; o < 9; o++) {
            assertTrue(hits[o] > 10, "offset (" + o / 3 + ", " + o % 3 + ") drawn " + hits[o] + " times of " + n);
        }
    }

    @Test
    void flipHappensAboutHalfTheTime() {
        int n = 400;
        float[] batch = copies(n);
        Augmentation.horizontalFlip().apply(batch, Shape.of(n, 1, 4, 4), 5, 0, 0);
        float[] flipped = IMAGE.clone();
        Augmentation.flip(flipped, 0, 1, 4, 4);
        int flips = 0;
        for (int k = 0; k < n; k++) {
            float[] got = Arrays.copyOfRange(batch, k * 16, k * 16 + 16);
            if (Arrays.equals(got, flipped)) flips++;
            else assertArrayEquals(IMAGE, got);
        }
        assertTrue(flips > 150 && flips < 250, flips + " flips of " + n);
    }

    @Test
    void deterministicPerSeedEpochAndBatch() {
        Augmentation aug = Augmentation.randomCrop(2).thenHorizontalFlip();
        Shape s = Shape.of(20, 1, 4, 4);
        float[] a = apply(aug, s, 1, 2, 3), b = apply(aug, s, 1, 2, 3);
        assertArrayEquals(a, b);
        assertFalse(Arrays.equals(a, apply(aug, s, 1, 2, 4)), "another batch");
        assertFalse(Arrays.equals(a, apply(aug, s, 1, 3, 3)), "another epoch");
        assertFalse(Arrays.equals(a, apply(aug, s, 2, 2, 3)), "another seed");
        // composition with then() is the same augmentation
        assertArrayEquals(a, apply(Augmentation.randomCrop(2).then(Augmentation.horizontalFlip()), s, 1, 2, 3));
        assertEquals("randomCrop(2) → horizontalFlip", aug.toString());
    }

    static float[] apply(Augmentation aug, Shape s, long seed, int epoch, int batch) {
        float[] x = copies(s.dim(0));
        aug.apply(x, s, seed, epoch, batch);
        return x;
    }

    @Test
    void noneAndValidation() {
        float[] x = copies(3);
        Augmentation.none().apply(x, Shape.of(3, 1, 4, 4), 1, 1, 1);
        assertArrayEquals(copies(3), x);
        assertTrue(Augmentation.none().isNone());
        assertFalse(Augmentation.horizontalFlip().isNone());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Augmentation.randomCrop(-1));
        assertEquals("randomCrop: padding -1 must be ≥ 0", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Augmentation.horizontalFlip().apply(new float[47], Shape.of(3, 1, 4, 4), 1, 1, 1));
        assertEquals("augmentation: a batch [3, 1, 4, 4] needs 48 floats, the array holds 47", e.getMessage());
    }
}
