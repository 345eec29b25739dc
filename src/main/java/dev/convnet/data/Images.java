package dev.convnet.data;

import java.awt.color.ColorSpace;
import java.awt.image.BufferedImage;
import java.awt.image.ColorModel;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import javax.imageio.ImageIO;

/**
 * Images as a network's input: planar floats ({@code channels × height × width}) in [0, 1], from a decoded
 * {@link BufferedImage}, from encoded bytes (PNG, JPEG, GIF, BMP through {@link ImageIO}) or from interleaved 8-bit
 * samples (OpenCV's and Spark's image layout), and their bilinear resize. {@link ImageFolder} reads its files with
 * these, and {@code dev.convnet.spark} its image columns.
 *
 * <p>Channels: 3 is red, green, blue; 1 is grayscale, the luminance {@code 0.299 R + 0.587 G + 0.114 B} of a colour
 * image; a grayscale image asked for 3 channels repeats its one. Alpha is ignored.
 *
 * <p>Thread-safety: stateless; every method may be called concurrently.
 */
public final class Images {
    private Images() {
    }

    /**
     * The image as planar floats in [0, 1] with the given number of channels: colour via {@code getRGB} (palettes and
     * colour spaces converted to sRGB), grayscale from the raw samples (8 or 16 bits).
     *
     * @param channels 1 or 3
     */
    public static float[] planar(BufferedImage img, int channels) {
        checkChannels(channels);
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
            put(out, i, plane, channels, ((argb[i] >> 16) & 0xff) / 255f, ((argb[i] >> 8) & 0xff) / 255f, (argb[i] & 0xff) / 255f);
        }
        return out;
    }

    /**
     * Decodes an encoded image (PNG, JPEG, GIF, BMP) into planar floats in [0, 1], as {@link #planar}.
     *
     * @return the pixels and the image's own height and width
     * @throws IOException if javax.imageio cannot decode the bytes (the message says why)
     */
    public static Decoded decode(byte[] encoded, int channels) throws IOException {
        checkChannels(channels);
        BufferedImage img;
        try {
            img = ImageIO.read(new ByteArrayInputStream(encoded));
        } catch (IOException | RuntimeException e) {       // decoders throw unchecked exceptions on some corrupt files
            throw new IOException("cannot be decoded: " + e.getMessage(), e);
        }
        if (img == null) throw new IOException("not an image javax.imageio can read (PNG, JPEG, GIF, BMP)");
        return new Decoded(planar(img, channels), img.getHeight(), img.getWidth());
    }

    /**
     * An image decoded to planar floats.
     *
     * @param pixels {@code channels × height × width} floats in [0, 1]
     * @param height the image's height
     * @param width  the image's width
     */
    public record Decoded(float[] pixels, int height, int width) {
    }

    /**
     * Interleaved 8-bit samples, row after row ({@code height × width × samples}), as planar floats in [0, 1]. The
     * samples of a pixel are B, G, R (and A) when {@code bgr} is set, as in OpenCV and Spark's image data source;
     * R, G, B (A) otherwise; one sample is gray.
     *
     * @param samples  1 (gray), 3 or 4 (colour, the fourth alpha, ignored)
     * @param channels 1 or 3
     * @throws IllegalArgumentException if the sizes do not fit {@code data.length} or a count is unsupported
     */
    public static float[] planar(byte[] data, int height, int width, int samples, boolean bgr, int channels) {
        checkChannels(channels);
        if (samples != 1 && samples != 3 && samples != 4) {
            throw new IllegalArgumentException(samples + " samples per pixel; expected 1 (gray), 3 or 4 (colour)");
        }
        if (height < 1 || width < 1 || (long) height * width * samples != data.length) {
            throw new IllegalArgumentException(height + " × " + width + " × " + samples + " samples need "
                    + (long) height * width * samples + " bytes; the image has " + data.length);
        }
        int plane = height * width;
        float[] out = new float[channels * plane];
        int r = bgr ? 2 : 0, b = bgr ? 0 : 2;
        for (int i = 0, o = 0; i < plane; i++, o += samples) {
            if (samples == 1) {
                float g = (data[o] & 0xff) / 255f;
                for (int c = 0; c < channels; c++) out[c * plane + i] = g;
            } else {
                put(out, i, plane, channels, (data[o + r] & 0xff) / 255f, (data[o + 1] & 0xff) / 255f, (data[o + b] & 0xff) / 255f);
            }
        }
        return out;
    }

    private static void put(float[] out, int i, int plane, int channels, float red, float green, float blue) {
        if (channels == 3) {
            out[i] = red;
            out[plane + i] = green;
            out[2 * plane + i] = blue;
        } else {
            out[i] = 0.299f * red + 0.587f * green + 0.114f * blue;
        }
    }

    /**
     * Bilinear resize of planar {@code channels × h × w} floats to {@code channels × outH × outW}, pixel centres
     * aligned: output x samples source {@code (x + 0.5)·w/outW - 0.5}, clamped to {@code [0, w - 1]} (PyTorch's
     * {@code align_corners=False} without antialiasing). Returns {@code src} itself when the size is unchanged.
     */
    public static float[] resize(float[] src, int channels, int h, int w, int outH, int outW) {
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
                    float bot = (1 - wx) * src[bottom + x0[x]] + wx * src[bottom + x1[x]];
                    out[o] = (1 - wy) * t + wy * bot;
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

    private static void checkChannels(int channels) {
        if (channels != 1 && channels != 3) throw new IllegalArgumentException("channels = " + channels + "; expected 1 or 3");
    }
}
