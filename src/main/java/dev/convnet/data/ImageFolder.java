package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
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
                Decoded img;
                try {
                    img = decode(file, channels);
                } catch (DatasetException e) {
                    if (!skipUnreadable) throw e;
                    LOG.log(Level.WARNING, "skipping " + e.getMessage());
                    continue;
                }
                float[] resized = resize(img.pixels, channels, img.height, img.width, height, width);
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

    /** An image at its own size: {@code channels × height × width} floats in [0, 1], planar. */
    private record Decoded(float[] pixels, int height, int width) {
    }

    private static Decoded decode(Path file, int channels) throws DatasetException {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {       // decoders throw unchecked exceptions on some corrupt files
            throw new DatasetException(file + ": cannot be decoded: " + e.getMessage(), e);
        }
        if (img == null) {
            throw new DatasetException(file + ": not an image javax.imageio can read (PNG, JPEG, GIF, BMP)");
        }
        return new Decoded(toFloats(img, channels), img.getHeight(), img.getWidth());
    }

    /** The image as planar floats in [0, 1] with the given number of channels (1 or 3). */
    static float[] toFloats(BufferedImage img, int channels) {
        int h = img.getHeight(), w = img.getWidth(), plane = h * w;
        float[] out = new float[channels * plane];
        ColorModel cm = img.getColorModel();
        if (cm.getColorSpace().getType() == ColorSpace.TYPE_GRAY && !(cm instanceof IndexColorModel)) {
            // getRGB would convert linear gray to sRGB and brighten it; the samples are what the file holds
            Raster r = img.getRaster();
            float max = (float) ((1L << cm.getComponentSize(0)) - 1);
            for (int y = 0, i = 0; y < h; y++) {
                for (int x = 0; x < w; x++, i++) {
                    float g = r.getSample(x, y, 0) / max;
                    for (int c = 0; c < channels; c++) out[c * plane + i] = g;
                }
            }
            return out;
        }
        int[] argb = img.getRGB(0, 0, w, h, null, 0, w);
        for (int i = 0; i < plane; i++) {
            float red = ((argb[i] >> 16) & 0xff) / 255f;
            float green = ((argb[i] >> 8) & 0xff) / 255f;
            float blue = (argb[i] & 0xff) / 255f;
            if (channels == 3) {
                out[i] = red;
                out[plane + i] = green;
                out[2 * plane + i] = blue;
            } else {
                out[i] = 0.299f * red + 0.587f * green + 0.114f * blue;
            }
        }
        return out;
    }

    /**
     * Bilinear resize of planar {@code channels × h × w} floats to {@code channels × outH × outW}, pixel centres
     * aligned: output x samples source {@code (x + 0.5)·w/outW - 0.5}, clamped to {@code [0, w - 1]}. Returns
     * {@code src} itself when the size is unchanged.
     */
    static float[] resize(float[] src, int channels, int h, int w, int outH, int outW) {
        if (h == outH && w == outW) {
            return src;
        }
        int[] x0 = new int[outW], x1 = new int[outW];
        float[] fx = new float[outW];
        taps(w, outW, x0, x1, fx);
        int[] y0 = new int[outH], y1 = new int[outH];
        float[] fy = new float[outH];
        taps(h, outH, y0, y1, fy);
        float[] out = new float[channels * outH * outW];
        for (int c = 0, o = 0; c < channels; c++) {
            int base = c * h * w;
            for (int y = 0; y < outH; y++) {
                int top = base + y0[y] * w, bottom = base + y1[y] * w;
                float wy = fy[y];
                for (int x = 0; x < outW; x++, o++) {
                    float wx = fx[x];
                    float t = (1 - wx) * src[top + x0[x]] + wx * src[top + x1[x]];
                    float b = (1 - wx) * src[bottom + x0[x]] + wx * src[bottom + x1[x]];
                    out[o] = (1 - wy) * t + wy * b;
                }
            }
        }
        return out;
    }

    /** For each output coordinate: the two source neighbours and the weight of the second. */
    private static void taps(int in, int out, int[] lo, int[] hi, float[] frac) {
        double scale = (double) in / out;
        for (int i = 0; i < out; i++) {
            double s = Math.min(Math.max((i + 0.5) * scale - 0.5, 0), in - 1);
            lo[i] = (int) s;
            hi[i] = Math.min(lo[i] + 1, in - 1);
            frac[i] = (float) (s - lo[i]);
        }
    }
}
