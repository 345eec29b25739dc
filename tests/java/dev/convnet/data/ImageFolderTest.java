package dev.convnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.convnet.shape.Shape;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ImageFolderTest {
    @TempDir
    Path root;

    /** An RGB image; {@code red[y][x]} is the red value, green is {@code 255 - red}, blue is 7. */
    static BufferedImage rgb(int[][] red) {
        BufferedImage img = new BufferedImage(red[0].length, red.length, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < red.length; y++) {
            for (int x = 0; x < red[0].length; x++) img.setRGB(x, y, red[y][x] << 16 | (255 - red[y][x]) << 8 | 7);
        }
        return img;
    }

    Path write(BufferedImage img, String format, String... path) throws IOException {
        Path file = root.resolve(String.join("/", path));
        Files.createDirectories(file.getParent());
        assertTrue(ImageIO.write(img, format, file.toFile()), "no writer for " + format);
        return file;
    }

    @Test
    void twoClassesOfDifferentSizesResized() throws IOException {
        // "bird" sorts after "ant": labels ant = 0, bird = 1
        write(rgb(new int[][] {{0, 60}, {120, 240}}), "png", "bird", "a.png");           // 2×2 → 4×4
        write(rgb(new int[][] {{10, 20, 30, 40}, {50, 60, 70, 80}, {90, 100, 110, 120}, {130, 140, 150, 160}}),
                "png", "bird", "deeper", "b.PNG");                                            // 4×4 unchanged
        int[][] wide = new int[3][5];
        for (int[] row : wide) Arrays.fill(row, 200);
        write(rgb(wide), "png", "ant", "c.png");                                               // 3×5 → 4×4
        Files.writeString(root.resolve("ant/notes.txt"), "not an image");                     // ignored
        Files.createDirectories(root.resolve(".hidden"));                                    // not a class

        Dataset d = ImageFolder.read(root, 4, 4, 3);
        assertEquals(List.of("ant", "bird"), d.classNames());
        assertEquals(Shape.of(3, 4, 4), d.imageShape());
        assertArrayEquals(new int[] {0, 1, 1}, d.labels());

        float[] flat = d.image(0);                        // a constant image stays constant at any size
        for (int i = 0; i < 16; i++) {
            assertEquals(200 / 255f, flat[i], 1e-6f);
            assertEquals(55 / 255f, flat[16 + i], 1e-6f);
            assertEquals(7 / 255f, flat[32 + i], 1e-6f);
        }

        // 2×2 → 4×4 by hand: output x samples source (x + 0.5)/2 - 0.5 = -0.25, 0.25, 0.75, 1.25, clamped to [0, 1]
        // red: a = 0, b = 60, c = 120, d = 240 (top-left, top-right, bottom-left, bottom-right)
        float[] up = d.image(1);
        assertEquals(0f, up[0], 1e-6f);                                        // (0, 0): a
        assertEquals((0.75f * 0 + 0.25f * 60) / 255, up[1], 1e-6f);            // (0, 1): 15
        assertEquals((0.25f * 0 + 0.75f * 60) / 255, up[2], 1e-6f);            // (0, 2): 45
        assertEquals(60 / 255f, up[3], 1e-6f);                                 // (0, 3): b
        // (1, 1): 0.75·0.75·a + 0.75·0.25·b + 0.25·0.75·c + 0.25·0.25·d = 11.25 + 22.5 + 15 = 48.75
        assertEquals(48.75f / 255, up[5], 1e-6f);
        assertEquals(240 / 255f, up[15], 1e-6f);                               // (3, 3): d
        assertEquals((255 - 48.75f) / 255, up[16 + 5], 1e-6f);                 // green is 255 - red, linear too

        float[] same = d.image(2);                        // nested folder, upper-case extension, no resize
        assertEquals(10 / 255f, same[0]);
        assertEquals(160 / 255f, same[15]);
    }

    @Test
    void downscaleAveragesBlocksByHand() {
        // 4×4 → 2×2: output x samples source (x + 0.5)·2 - 0.5 = 0.5, 2.5: the mean of each 2×2 block
        float[] src = new float[16];
        for (int i = 0; i < 16; i++) src[i] = i;
        assertArrayEquals(new float[] {2.5f, 4.5f, 10.5f, 12.5f}, Images.resize(src, 1, 4, 4, 2, 2));
        assertSame(src, Images.resize(src, 1, 4, 4, 4, 4));
        // 1×3 → 1×2 along x only: samples 0.25 and 1.75 → 0.75·0 + 0.25·10 = 2.5, 0.25·10 + 0.75·20 = 17.5
        assertArrayEquals(new float[] {2.5f, 17.5f}, Images.resize(new float[] {0, 10, 20}, 1, 1, 3, 1, 2));
    }

    @Test
    void grayscaleAndLuminance() throws IOException {
        BufferedImage gray = new BufferedImage(2, 2, BufferedImage.TYPE_BYTE_GRAY);
        gray.getRaster().setSample(0, 0, 0, 128);
        gray.getRaster().setSample(1, 1, 0, 255);
        write(gray, "png", "g", "gray.png");
        float[] g1 = ImageFolder.read(root, 2, 2, 1).image(0);
        assertArrayEquals(new float[] {128 / 255f, 0, 0, 1}, g1, "the stored samples, not sRGB-converted ones");
        float[] g3 = ImageFolder.read(root, 2, 2, 3).image(0);
        for (int c = 0; c < 3; c++) assertArrayEquals(g1, Arrays.copyOfRange(g3, c * 4, c * 4 + 4));

        BufferedImage red = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB);
        red.setRGB(0, 0, 0xFF0000);
        write(red, "png", "g", "red.png");
        assertEquals(0.299f, ImageFolder.read(root, 1, 1, 1).image(1)[0], 1e-6f);
    }

    @Test
    void jpeg() throws IOException {
        int[][] flat = new int[8][8];
        for (int[] row : flat) Arrays.fill(row, 180);
        write(rgb(flat), "jpg", "k", "x.jpg");
        float[] img = ImageFolder.read(root, 8, 8, 3).image(0);
        assertEquals(180 / 255f, img[27], 4 / 255f);   // JPEG is lossy
        assertEquals(75 / 255f, img[64 + 27], 4 / 255f);
    }

    @Test
    void unreadableFileFailsOrIsSkipped() throws IOException {
        write(rgb(new int[][] {{1}}), "png", "a", "good.png");
        write(rgb(new int[][] {{2}}), "png", "b", "good.png");
        Path garbage = root.resolve("b/broken.png");
        Files.writeString(garbage, "this is not a PNG");
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFolder.read(root, 1, 1, 3));
        assertEquals(garbage + ": not an image javax.imageio can read (PNG, JPEG, GIF, BMP)", e.getMessage());

        byte[] png = Files.readAllBytes(root.resolve("a/good.png"));
        Path cut = root.resolve("a/cut.png");
        Files.write(cut, Arrays.copyOf(png, 40));       // a PNG signature and header, then nothing
        e = assertThrows(DatasetException.class, () -> ImageFolder.read(root, 1, 1, 3));
        assertTrue(e.getMessage().startsWith(cut + ": cannot be decoded: "), e.getMessage());

        Dataset d = ImageFolder.read(root, 1, 1, 3, true);
        assertEquals(2, d.size());
        assertArrayEquals(new int[] {0, 1}, d.labels());
        assertEquals(2 / 255f, d.image(1)[0]);
    }

    @Test
    void layoutErrors() throws IOException {
        DatasetException e = assertThrows(DatasetException.class, () -> ImageFolder.read(root, 4, 4, 3));
        assertEquals(root + ": no class folders; expected one subfolder of images per class", e.getMessage());
        e = assertThrows(DatasetException.class, () -> ImageFolder.read(root.resolve("x"), 4, 4, 3));
        assertEquals(root.resolve("x") + ": no such folder", e.getMessage());

        write(rgb(new int[][] {{1}}), "png", "a", "ok.png");
        Files.createDirectories(root.resolve("b/.cache"));
        write(rgb(new int[][] {{1}}), "png", "b", ".cache", "hidden.png");
        Files.writeString(root.resolve("b/readme.txt"), "text");
        e = assertThrows(DatasetException.class, () -> ImageFolder.read(root, 4, 4, 3));
        assertEquals(root.resolve("b") + ": class folder holds no images (.bmp, .gif, .jpeg, .jpg, .png)",
                e.getMessage());

        IllegalArgumentException bad = assertThrows(IllegalArgumentException.class, () -> ImageFolder.read(root, 4, 4, 2));
        assertEquals("ImageFolder: channels = 2 must be 1 (grayscale) or 3 (RGB)", bad.getMessage());
        bad = assertThrows(IllegalArgumentException.class, () -> ImageFolder.read(root, 0, 4, 3));
        assertEquals("ImageFolder: size 0×4 must be at least 1×1", bad.getMessage());
    }
}
