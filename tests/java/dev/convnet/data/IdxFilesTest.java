package dev.convnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.convnet.shape.Shape;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class IdxFilesTest {
    @TempDir
    Path dir;

    static final int COUNT = 5, ROWS = 3, COLS = 2;
    static final int[] LABELS = {0, 3, 1, 3, 2};

    /** Pixel p of image i: rising from 0 (first pixel) to 255 (last pixel). */
    static int pixel(int i, int p) {
        return (i * ROWS * COLS + p) * 255 / (COUNT * ROWS * COLS - 1);
    }

    static byte[] idx(int magic, int[] dims, byte[] data) {
        return IdxBytes.idx(magic, dims, data);
    }

    static byte[] imageFile() {
        byte[] px = new byte[COUNT * ROWS * COLS];
        for (int i = 0; i < COUNT; i++) {
            for (int p = 0; p < ROWS * COLS; p++) px[i * ROWS * COLS + p] = (byte) pixel(i, p);
        }
        return idx(0x00000803, new int[] {COUNT, ROWS, COLS}, px);
    }

    static byte[] labelFile(int... labels) {
        byte[] b = new byte[labels.length];
        for (int i = 0; i < labels.length; i++) b[i] = (byte) labels[i];
        return idx(0x00000801, new int[] {labels.length}, b);
    }

    static byte[] gzip(byte[] raw) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(raw);
        }
        return out.toByteArray();
    }

    Path write(String name, byte[] bytes) throws IOException {
        return Files.write(dir.resolve(name), bytes);
    }

    static void checkContents(Dataset d) {
        assertEquals(COUNT, d.size());
        assertEquals(Shape.of(1, ROWS, COLS), d.imageShape());
        assertEquals(4, d.classes(), "classes = max label + 1");
        assertEquals(List.of("0", "1", "2", "3"), d.classNames());
        assertArrayEquals(LABELS, d.labels());
        for (int i = 0; i < COUNT; i++) {
            float[] img = d.image(i);
            for (int p = 0; p < ROWS * COLS; p++) assertEquals(pixel(i, p) / 255f, img[p], "image " + i + " pixel " + p);
        }
    }

    @Test
    void roundTripRaw() throws IOException {
        Dataset d = IdxFiles.read(write("i", imageFile()), write("l", labelFile(LABELS)));
        checkContents(d);
        float min = 1, max = 0;
        for (int i = 0; i < COUNT; i++) {
            for (float v : d.image(i)) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        assertEquals(0f, min);
        assertEquals(1f, max);
    }

    @Test
    void roundTripGzipRecognizedByContentNotName() throws IOException {
        checkContents(IdxFiles.read(write("i.gz", gzip(imageFile())), write("l.gz", gzip(labelFile(LABELS)))));
        // compressed data under a raw name, raw data under a .gz name
        checkContents(IdxFiles.read(write("images-idx3-ubyte", gzip(imageFile())), write("labels.gz", labelFile(LABELS))));
    }

    @Test
    void readDirectoryFindsRawOrGzip() throws IOException {
        write("train-images-idx3-ubyte.gz", gzip(imageFile()));
        write("train-labels-idx1-ubyte", labelFile(LABELS));
        checkContents(IdxFiles.readDirectory(dir, true));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.readDirectory(dir, false));
        assertEquals(dir + ": neither t10k-images-idx3-ubyte nor t10k-images-idx3-ubyte.gz exists", e.getMessage());
        e = assertThrows(DatasetException.class, () -> IdxFiles.readDirectory(dir.resolve("nope"), true));
        assertEquals(dir.resolve("nope") + ": no such folder", e.getMessage());
    }

    @Test
    void missingFile() throws IOException {
        Path labels = write("l", labelFile(LABELS));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(dir.resolve("absent"), labels));
        assertEquals(dir.resolve("absent") + ": no such file", e.getMessage());
    }

    @Test
    void wrongMagicNumber() throws IOException {
        Path labels = write("l", labelFile(LABELS));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(labels, labels));
        assertEquals(labels + ": magic number 0x00000801 is not an IDX image file (0x00000803: unsigned bytes, "
                + "3 dimensions) (it is an IDX label file; are images and labels swapped?)", e.getMessage());

        byte[] floats = imageFile();
        floats[2] = 0x0D;                              // type float instead of unsigned byte
        Path f = write("float.gz", gzip(floats));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(f, labels));
        assertEquals(f + ": magic number 0x00000D03 is not an IDX image file (0x00000803: unsigned bytes, 3 dimensions)",
                e.getMessage());

        Path images = write("i", imageFile());
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(images, images));
        assertEquals(images + ": magic number 0x00000803 is not an IDX label file (0x00000801: unsigned bytes, "
                + "1 dimension) (it is an IDX image file; are images and labels swapped?)", e.getMessage());
    }

    @Test
    void truncatedImages() throws IOException {
        Path labels = write("l", labelFile(LABELS));
        byte[] full = imageFile();
        Path raw = write("i", Arrays.copyOf(full, 16 + 20));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(raw, labels));
        assertEquals(raw + ": truncated: header promises 5 images of 3×2 (30 bytes after the 16-byte header), "
                + "the file has only 20", e.getMessage());
        Path gz = write("i.gz", gzip(Arrays.copyOf(full, 16 + 20)));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(gz, labels));
        assertEquals(gz + ": truncated: header promises 5 images of 3×2 (30 bytes after the 16-byte header), "
                + "the decompressed data has only 20", e.getMessage());
        Path header = write("h", Arrays.copyOf(full, 10));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(header, labels));
        assertEquals(header + ": truncated: 10 bytes, an IDX image file starts with a 16-byte header", e.getMessage());
        Path empty = write("e", new byte[0]);
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(empty, labels));
        assertEquals(empty + ": truncated: 0 bytes, an IDX image file starts with a 16-byte header", e.getMessage());
    }

    @Test
    void truncatedLabels() throws IOException {
        Path images = write("i", imageFile());
        Path labels = write("l", Arrays.copyOf(labelFile(LABELS), 8 + 3));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(images, labels));
        assertEquals(labels + ": truncated: header promises 5 labels (bytes after the 8-byte header), "
                + "the file has only 3", e.getMessage());
    }

    @Test
    void truncatedOrCorruptGzipStream() throws IOException {
        Path labels = write("l", labelFile(LABELS));
        byte[] gz = gzip(imageFile());
        Path cut = write("cut.gz", Arrays.copyOf(gz, gz.length - 12));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(cut, labels));
        assertTrue(e.getMessage().startsWith(cut + ": truncated gzip stream ("), e.getMessage());
        byte[] bad = gz.clone();
        bad[2] = 7;                                    // compression method 7: only 8 (deflate) exists
        Path corrupt = write("bad.gz", bad);
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(corrupt, labels));
        assertTrue(e.getMessage().startsWith(corrupt + ": corrupt gzip stream ("), e.getMessage());
    }

    @Test
    void countsDiffer() throws IOException {
        Path images = write("i", imageFile());
        Path labels = write("l", labelFile(0, 1, 2, 3));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(images, labels));
        assertEquals(images + " and " + labels + ": 5 images but 4 labels", e.getMessage());
    }

    @Test
    void absurdDimensions() throws IOException {
        Path labels = write("l", labelFile(LABELS));
        Path huge = write("huge", idx(0x00000803, new int[] {100_000, 100_000, 100_000}, new byte[100]));
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(huge, labels));
        assertEquals(huge + ": header promises 100000 images of 100000×100000 (1000000000000000 pixels), "
                + "more than one float array holds (2147483639)", e.getMessage());
        Path negative = write("neg", idx(0x00000803, new int[] {-1, 28, 28}, new byte[100]));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(negative, labels));
        assertEquals(negative + ": header dimension 0 is 4294967295; sizes must be in [1, 2147483639]", e.getMessage());
        Path zero = write("zero", idx(0x00000803, new int[] {5, 0, 2}, new byte[0]));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(zero, labels));
        assertEquals(zero + ": header dimension 1 is 0; sizes must be in [1, 2147483639]", e.getMessage());
        // a plausible header over a short file fails fast, with memory for what was read, not what was promised
        Path promise = write("promise.gz", gzip(idx(0x00000803, new int[] {2_000_000, 32, 32}, new byte[50])));
        e = assertThrows(DatasetException.class, () -> IdxFiles.read(promise, labels));
        assertTrue(e.getMessage().endsWith("the decompressed data has only 50"), e.getMessage());
    }

    @Test
    void trailingBytes() throws IOException {
        Path images = write("i", imageFile());
        byte[] labels = Arrays.copyOf(labelFile(LABELS), 8 + 5 + 2);
        Path l = write("l", labels);
        DatasetException e = assertThrows(DatasetException.class, () -> IdxFiles.read(images, l));
        assertEquals(l + ": 2 bytes follow the 5 data bytes that the 8-byte header promises", e.getMessage());
    }
}
