package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.io.IOException;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Stream;
import javax.imageio.ImageIO;

/**
 * Reads a folder of images with one subfolder per class, as torchvision's {@code ImageFolder} does:
 * {@code root/cat/1.png}, {@code root/dog/a/2.jpg}, ... The class folders, sorted by name ({@link String}
 * order, the same on every machine), get labels 0, 1, 2, ... and give the class names. Inside a class folder,
 * every file ending in {@code .png}, {@code .jpg}, {@code .jpeg}, {@code .gif} or {@code .bmp} (any case) is
 * read, in nested folders too, sorted by path; other files, files directly in {@code root}, and hidden files and
 * folders (names starting with {@code .}) are ignored.
 *
 * <p>Each image is read with {@link ImageIO}, turned into floats in [0, 1] (colour via {@code getRGB}, so
 * palettes and colour spaces are converted to sRGB; grayscale from the raw samples, 8 or 16 bits; alpha is
 * ignored), converted to the requested channels (3: red, green, blue; 1: grayscale, or luminance
 * {@code 0.299 R + 0.587 G + 0.114 B} for colour images) and resized to height × width by bilinear
 * interpolation with pixel centres aligned (source coordinate {@code (x + 0.5)·in/out - 0.5}, clamped to the
 * image; PyTorch's {@code align_corners=False}, without antialiasing, so shrinking by more than 2 skips pixels).
 *
 * <p>Errors are {@link DatasetException}s naming the file or folder: a missing root, no class folders, a class
 * folder without images, a file that cannot be decoded (or, with {@code skipUnreadable}, one warning per
 * such file on the {@code dev.convnet.data} {@link System.Logger} and the file left out), more pixels than
 * one float array holds.
 *
 * <p>Thread-safety: stateless; all methods may be called concurrently.
 */
public final class ImageFolder {
    private static final Logger LOG = System.getLogger("dev.convnet.data");
    private static final Set<String> EXTENSIONS = Set.of("png", "jpg", "jpeg", "gif", "bmp");

    private ImageFolder() {
    }

    /**
     * Reads every image under {@code root}, failing on the first file that cannot be decoded.
     *
     * @param channels 3 (RGB) or 1 (grayscale)
     * @throws IllegalArgumentException if height or width is below 1, or channels is not 1 or 3
     * @throws DatasetException         if the folder layout or a file is unusable (see the class description)
     * @throws IOException              if reading fails for another reason
     */
    public static Dataset read(Path root, int height, int width, int channels) throws IOException {
        return read(root, height, width, channels, false);
    }

    /**
     * Reads every image under {@code root}.
     *
     * @param channels       3 (RGB) or 1 (grayscale)
     * @param skipUnreadable leave out files that cannot be decoded, with a warning each, instead of failing
     * @throws IllegalArgumentException if height or width is below 1, or channels is not 1 or 3
     * @throws DatasetException         if the folder layout or a file is unusable (see the class description)
     * @throws IOException              if reading fails for another reason
     */
    public static Dataset read(Path root, int height, int width, int channels, boolean skipUnreadable)
            throws IOException {
        if (height < 1 || width < 1) {
            throw new IllegalArgumentException("ImageFolder: size " + height + "×" + width + " must be at least 1×1");
        }
        if (channels != 1 && channels != 3) {
            throw new IllegalArgumentException("ImageFolder: channels = " + channels + " must be 1 (grayscale) or 3 (RGB)");
        }
        if (!Files.isDirectory(root)) {
            throw new DatasetException(root + ": no such folder");
        }
        List<Path> classDirs;
        try (Stream<Path> s = Files.list(root)) {
            classDirs = s.filter(p -> Files.isDirectory(p) && !hidden(p))
                    .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString())).toList();
        }
        if (classDirs.isEmpty()) {
            throw new DatasetException(root + ": no class folders; expected one subfolder of images per class");
        }
        List<List<Path>> files = new ArrayList<>();
        long count = 0;
        for (Path dir : classDirs) {
            List<Path> images;
            try (Stream<Path> s = Files.walk(dir)) {
                images = s.filter(p -> Files.isRegularFile(p) && isImageName(p) && !hiddenBelow(dir, p))
                        .sorted().toList();
            }
            if (images.isEmpty()) {
                throw new DatasetException(dir + ": class folder holds no images (" + String.join(", ",
                        EXTENSIONS.stream().sorted().map(e -> "." + e).toList()) + ")");
            }
            files.add(images);
            count += images.size();
        }
        Shape shape = Shape.of(channels, height, width);
        int per = (int) shape.elementCount();
        if (count * per > Dataset.MAX_FLOATS) {
            throw new DatasetException(root + ": " + count + " images of " + shape + " need " + count * per
                    + " floats, more than one float array holds (" + Dataset.MAX_FLOATS + ")");
        }
        float[] pixels = new float[(int) count * per];
        int[] labels = new int[(int) count];
        int n = 0;
        for (int c = 0; c < classDirs.size(); c++) {
            int before = n;
            for (Path file : files.get(c)) {
                Images.Decoded img;
                try {
                    img = decode(file, channels);
                } catch (DatasetException e) {
                    if (!skipUnreadable) throw e;
                    LOG.log(Level.WARNING, "skipping " + e.getMessage());
                    continue;
                }
                float[] resized = Images.resize(img.pixels(), channels, img.height(), img.width(), height, width);
                System.arraycopy(resized, 0, pixels, n * per, per);
                labels[n++] = c;
            }
            if (n == before) {
                throw new DatasetException(classDirs.get(c) + ": no readable images in the class folder");
            }
        }
        List<String> names = classDirs.stream().map(p -> p.getFileName().toString()).toList();
        return Dataset.wrap(shape, n == count ? pixels : Arrays.copyOf(pixels, n * per),
                n == count ? labels : Arrays.copyOf(labels, n), names);
    }

    private static boolean hidden(Path p) {
        return p.getFileName().toString().startsWith(".");
    }

    /** Whether a name between {@code dir} (exclusive) and {@code p} (inclusive) starts with a dot. */
    private static boolean hiddenBelow(Path dir, Path p) {
        for (Path part : dir.relativize(p)) {
            if (part.toString().startsWith(".")) return true;
        }
        return false;
    }

    private static boolean isImageName(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot >= 0 && EXTENSIONS.contains(name.substring(dot + 1).toLowerCase(Locale.ROOT));
    }

    private static Images.Decoded decode(Path file, int channels) throws IOException {
        byte[] bytes = Files.readAllBytes(file);            // a failing read is the JDK's IOException
        try {
            return Images.decode(bytes, channels);
        } catch (IOException e) {
            throw new DatasetException(file + ": " + e.getMessage(), e.getCause());
        }
    }
}
