package dev.convnet.data;

import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** {@link Images}: interleaved B, G, R (and R, G, B) samples and encoded files give the same planar floats. */
class ImagesTest {
    @Test
    void interleavedSamplesAsPlanarFloats() throws IOException {
        // a 1×2 image: pixel 0 is (R, G, B) = (10, 20, 30), pixel 1 (200, 100, 0), stored B, G, R as OpenCV does
        byte[] bgr = {30, 20, 10, 0, 100, (byte) 200};
        float[] rgb = Images.planar(bgr, 1, 2, 3, true, 3);
        assertArrayEquals(new float[] {10 / 255f, 200 / 255f, 20 / 255f, 100 / 255f, 30 / 255f, 0}, rgb);
        assertArrayEquals(rgb, Images.planar(new byte[] {10, 20, 30, (byte) 200, 100, 0}, 1, 2, 3, false, 3));
        byte[] bgra = {30, 20, 10, (byte) 255, 0, 100, (byte) 200, 7};
        assertArrayEquals(rgb, Images.planar(bgra, 1, 2, 4, true, 3), "alpha ignored");
        float[] gray = Images.planar(bgr, 1, 2, 3, true, 1);
        assertEquals(0.299f * 10 / 255f + 0.587f * 20 / 255f + 0.114f * 30 / 255f, gray[0], 1e-7f);
        assertArrayEquals(new float[] {1, 1, 1}, Images.planar(new byte[] {(byte) 255}, 1, 1, 1, true, 3), "gray repeated");

        // the same pixels through a PNG file
        BufferedImage img = new BufferedImage(2, 1, BufferedImage.TYPE_INT_RGB);
        img.setRGB(0, 0, 10 << 16 | 20 << 8 | 30);
        img.setRGB(1, 0, 200 << 16 | 100 << 8);
        ByteArrayOutputStream png = new ByteArrayOutputStream();
        ImageIO.write(img, "png", png);
        Images.Decoded d = Images.decode(png.toByteArray(), 3);
        assertEquals(1, d.height());
        assertEquals(2, d.width());
        assertArrayEquals(rgb, d.pixels());

        assertEquals("1 × 2 × 3 samples need 6 bytes; the image has 5",
                assertThrows(IllegalArgumentException.class, () -> Images.planar(new byte[5], 1, 2, 3, true, 3)).getMessage());
        assertEquals("not an image javax.imageio can read (PNG, JPEG, GIF, BMP)",
                assertThrows(IOException.class, () -> Images.decode(new byte[] {1, 2, 3}, 3)).getMessage());
        assertEquals("channels = 2; expected 1 or 3", assertThrows(IllegalArgumentException.class, () -> Images.planar(img, 2)).getMessage());
    }
}
