package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;

/**
 * Reads the IDX files of MNIST and Fashion-MNIST: a big-endian header (magic number, then one 32-bit size per
 * dimension) followed by the data, unsigned bytes in row-major order.
 *
 * <ul>
 *   <li>Images: magic {@code 0x00000803} (unsigned bytes, 3 dimensions: count, rows, columns). Pixels become
 *       floats {@code value / 255f} in [0, 1]; the image shape is {@code [1, rows, columns]}.</li>
 *   <li>Labels: magic {@code 0x00000801} (unsigned bytes, 1 dimension: count).</li>
 *   <li>Either file may be gzip-compressed; that is recognized by its first two bytes ({@code 1f 8b}),
 *       whatever its name.</li>
 * </ul>
 *
 * <p>The dataset's classes are {@code 0 .. max label}, named {@code "0"}, {@code "1"}, ...: 10 for the
 * standard sets, whose labels are 0..9. {@link Dataset#withClassNames} gives them other names.
 *
 * <p>Checks, each a {@link DatasetException} naming the file and the numbers: a missing file; a magic number
 * other than the one expected (an image file given as labels says so); a dimension of 0; images of more
 * floats than one array holds ({@value Dataset#MAX_FLOATS}); a file shorter than its header promises
 * (truncated) or longer (trailing bytes); a corrupt or truncated gzip stream; image and label counts that
 * differ. Memory grows with the data actually read, not with what a header promises.
 *
 * <p>Thread-safety: stateless; all methods may be called concurrently.
 */
public final class IdxFiles {
    /** The magic number of an IDX file of unsigned bytes with 3 dimensions: images. */
    public static final int IMAGES_MAGIC = 0x00000803;
    /** The magic number of an IDX file of unsigned bytes with 1 dimension: labels. */
    public static final int LABELS_MAGIC = 0x00000801;

    private static final float[] UNIT = new float[256];

    static {
        for (int i = 0; i < 256; i++) UNIT[i] = i / 255f;
    }

    private IdxFiles() {
    }

    /**
     * Reads an image file and its label file.
     *
     * @throws DatasetException if a file is missing or malformed, or the counts differ
     * @throws IOException      if reading fails for another reason
     */
    public static Dataset read(Path images, Path labels) throws IOException {
        Images img = readImages(images);
        int[] lab = readLabels(labels);
        if (lab.length != img.count) {
            throw new DatasetException(images + " and " + labels + ": " + img.count + " images but " + lab.length
                    + " labels");
        }
        int max = Arrays.stream(lab).max().orElseThrow();
        List<String> names = new ArrayList<>(max + 1);
        for (int c = 0; c <= max; c++) names.add(Integer.toString(c));
        return Dataset.wrap(Shape.of(1, img.rows, img.cols), img.pixels, lab, names);
    }

    /**
     * Reads the training or the test set from a folder in the standard layout: {@code train-images-idx3-ubyte}
     * and {@code train-labels-idx1-ubyte}, or {@code t10k-images-idx3-ubyte} and {@code t10k-labels-idx1-ubyte},
     * each raw or with {@code .gz} appended (the raw file is preferred if both exist).
     *
     * @param train true for the {@code train-} files, false for the {@code t10k-} files
     * @throws DatasetException if the folder or a file is missing or malformed
     * @throws IOException      if reading fails for another reason
     */
    public static Dataset readDirectory(Path dir, boolean train) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new DatasetException(dir + ": no such folder");
        }
        String prefix = train ? "train" : "t10k";
        return read(find(dir, prefix + "-images-idx3-ubyte"), find(dir, prefix + "-labels-idx1-ubyte"));
    }

    private static Path find(Path dir, String name) throws DatasetException {
        for (String candidate : List.of(name, name + ".gz")) {
            Path p = dir.resolve(candidate);
            if (Files.isRegularFile(p)) return p;
        }
        throw new DatasetException(dir + ": neither " + name + " nor " + name + ".gz exists");
    }

    private record Images(int count, int rows, int cols, float[] pixels) {
    }

    private static Images readImages(Path file) throws IOException {
        try (InputStream in = open(file)) {
            int[] dims = header(file, in, IMAGES_MAGIC, 3, "image");
            int count = dims[0], rows = dims[1], cols = dims[2];
            long total = (long) rows * cols * count;              // each ≤ MAX_FLOATS, rows·cols too: no overflow
            if ((long) rows * cols > Dataset.MAX_FLOATS || total > Dataset.MAX_FLOATS) {
                throw new DatasetException(file + ": header promises " + count + " images of " + rows + "×" + cols
                        + " (" + total + " pixels), more than one float array holds (" + Dataset.MAX_FLOATS + ")");
            }
            float[] pixels = new float[(int) Math.min(total, 1 << 20)];
            byte[] chunk = new byte[1 << 16];
            int filled = 0;
            while (filled < total) {
                int want = (int) Math.min(chunk.length, total - filled);
                int got = readFully(file, in, chunk, want);
                if (filled + got > pixels.length) {
                    pixels = Arrays.copyOf(pixels, (int) Math.min(total, 2L * pixels.length + got));
                }
                for (int k = 0; k < got; k++) pixels[filled + k] = UNIT[chunk[k] & 0xff];
                filled += got;
                if (got < want) {
                    throw new DatasetException(file + ": truncated: header promises " + count + " images of " + rows
                            + "×" + cols + " (" + total + " bytes after the 16-byte header), " + where(file)
                            + " has only " + filled);
                }
            }
            checkEnd(file, in, total, 16);
            return new Images(count, rows, cols, pixels);
        }
    }

    private static int[] readLabels(Path file) throws IOException {
        try (InputStream in = open(file)) {
            int count = header(file, in, LABELS_MAGIC, 1, "label")[0];
            byte[] bytes = new byte[Math.min(count, 1 << 16)];
            int[] labels = new int[bytes.length];
            int filled = 0;
            while (filled < count) {
                int want = Math.min(bytes.length, count - filled);
                int got = readFully(file, in, bytes, want);
                if (filled + got > labels.length) {
                    labels = Arrays.copyOf(labels, (int) Math.min(count, 2L * labels.length + got));
                }
                for (int k = 0; k < got; k++) labels[filled + k] = bytes[k] & 0xff;
                filled += got;
                if (got < want) {
                    throw new DatasetException(file + ": truncated: header promises " + count
                            + " labels (bytes after the 8-byte header), " + where(file) + " has only " + filled);
                }
            }
            checkEnd(file, in, count, 8);
            return labels;
        }
    }

    /** Opens the file, decompressing if it starts with the gzip magic bytes. */
    private static InputStream open(Path file) throws IOException {
        if (!Files.isRegularFile(file)) {
            throw new DatasetException(file + ": no such file");
        }
        BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 1 << 16);
        try {
            if (isGzip(in)) {
                return new GZIPInputStream(in, 1 << 16);
            }
        } catch (IOException e) {
            in.close();
            throw gzipError(file, e);
        }
        return in;
    }

    private static boolean isGzip(BufferedInputStream in) throws IOException {
        in.mark(2);
        int b0 = in.read(), b1 = in.read();
        in.reset();
        return b0 == 0x1f && b1 == 0x8b;
    }

    /** Whether the data of this file was decompressed (for messages). */
    private static String where(Path file) throws IOException {
        try (BufferedInputStream in = new BufferedInputStream(Files.newInputStream(file), 2)) {
            return isGzip(in) ? "the decompressed data" : "the file";
        }
    }

    /** Reads and checks the magic number and the dimensions; each dimension is in [1, MAX_FLOATS]. */
    private static int[] header(Path file, InputStream in, int magic, int rank, String kind) throws IOException {
        int headerBytes = 4 + 4 * rank;
        byte[] h = new byte[headerBytes];
        int got = readFully(file, in, h, headerBytes);
        if (got < 4) {
            throw new DatasetException(file + ": truncated: " + got + " bytes, an IDX " + kind
                    + " file starts with a " + headerBytes + "-byte header");
        }
        int found = intAt(h, 0);
        if (found != magic) {
            String hint = found == IMAGES_MAGIC ? " (it is an IDX image file; are images and labels swapped?)"
                    : found == LABELS_MAGIC ? " (it is an IDX label file; are images and labels swapped?)" : "";
            throw new DatasetException(file + ": magic number " + hex(found) + " is not an IDX " + kind + " file ("
                    + hex(magic) + ": unsigned bytes, " + rank + (rank == 1 ? " dimension)" : " dimensions)") + hint);
        }
        if (got < headerBytes) {
            throw new DatasetException(file + ": truncated: " + got + " bytes, an IDX " + kind + " file starts with a "
                    + headerBytes + "-byte header");
        }
        int[] dims = new int[rank];
        for (int d = 0; d < rank; d++) {
            long size = Integer.toUnsignedLong(intAt(h, 4 + 4 * d));
            if (size == 0 || size > Dataset.MAX_FLOATS) {
                throw new DatasetException(file + ": header dimension " + d + " is " + size + "; sizes must be in [1, "
                        + Dataset.MAX_FLOATS + "]");
            }
            dims[d] = (int) size;
        }
        return dims;
    }

    /** Reads up to {@code n} bytes, fewer only at the end of the data; gzip errors become DatasetExceptions. */
    private static int readFully(Path file, InputStream in, byte[] buf, int n) throws IOException {
        try {
            return in.readNBytes(buf, 0, n);
        } catch (ZipException | EOFException e) {
            throw gzipError(file, e);
        }
    }

    /** Fails if anything follows the {@code promised} data bytes. */
    private static void checkEnd(Path file, InputStream in, long promised, int headerBytes) throws IOException {
        long extra;
        try {
            extra = in.transferTo(OutputStream.nullOutputStream());
        } catch (ZipException | EOFException e) {
            throw gzipError(file, e);
        }
        if (extra > 0) {
            throw new DatasetException(file + ": " + extra + " bytes follow the " + promised + " data bytes that the "
                    + headerBytes + "-byte header promises");
        }
    }

    private static DatasetException gzipError(Path file, IOException e) {
        String what = e instanceof EOFException ? "truncated gzip stream" : "corrupt gzip stream";
        return new DatasetException(file + ": " + what + " (" + e.getMessage() + ")", e);
    }

    private static int intAt(byte[] b, int i) {
        return (b[i] & 0xff) << 24 | (b[i + 1] & 0xff) << 16 | (b[i + 2] & 0xff) << 8 | (b[i + 3] & 0xff);
    }

    private static String hex(int v) {
        return String.format("0x%08X", v);
    }
}
