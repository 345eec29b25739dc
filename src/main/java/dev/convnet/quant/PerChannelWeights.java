package dev.convnet.quant;

import dev.convnet.layer.QuantParams;

/**
 * The weight rule of convnet's quantized graphs: per output channel, symmetric INT8, {@code scale_c = max|w_c| / 127}
 * (a channel of zeros gets scale 1), {@code q = round_half_even(w / scale_c)} and the float weight stored in the layer
 * is {@code q·scale_c}. An int8 lowering recovers the integers by applying the rule again to the stored floats, so
 * every quantized graph this package makes follows it exactly (float arithmetic as written here).
 *
 * <p>Thread-safety: stateless; arrays are not modified.
 */
public final class PerChannelWeights {
    private PerChannelWeights() {
    }

    /**
     * The scales of weights laid out channel by channel ({@code channels} equal, contiguous runs: a convolution's
     * {@code [out, in/groups, kh, kw]} or a fully connected layer's {@code [out, in]}).
     *
     * @throws IllegalArgumentException if the length is not a positive multiple of {@code channels}
     */
    public static float[] scales(float[] weights, int channels) {
        return scales(weights, channels, perChannel(weights, channels));
    }

    /** The weights rounded to {@code q·scale_c}, channel-major as {@link #scales(float[], int)}. */
    public static float[] quantize(float[] weights, int channels) {
        return quantize(weights, channels, perChannel(weights, channels));
    }

    /** The INT8 integers {@code q} of the weights (as ints), channel-major as {@link #scales(float[], int)}. */
    public static int[] integers(float[] weights, int channels) {
        float[] s = scales(weights, channels);
        int run = perChannel(weights, channels);
        int[] q = new int[weights.length];
        for (int i = 0; i < q.length; i++) q[i] = (int) round(weights[i], s[i / run]);
        return q;
    }

    /** The rule's parameters as {@link QuantParams} along {@code axis} (0 for channel-major weights). */
    public static QuantParams params(float[] weights, int channels, int axis) {
        return QuantParams.perChannelSymmetric(scales(weights, channels), axis);
    }

    /**
     * Scales of a row-major matrix {@code [rows, cols]} quantized per column (a MatMul's constant right operand, whose
     * output channels are its columns).
     */
    static float[] columnScales(float[] matrix, int cols) {
        return scales(matrix, cols, 1);
    }

    /** A row-major {@code [rows, cols]} matrix rounded per column. */
    static float[] quantizeColumns(float[] matrix, int cols) {
        return quantize(matrix, cols, 1);
    }

    private static int perChannel(float[] weights, int channels) {
        if (channels < 1 || weights.length == 0 || weights.length % channels != 0) {
            throw new IllegalArgumentException("per-channel weights: " + weights.length + " values do not split into "
                    + channels + " equal channels");
        }
        return weights.length / channels;
    }

    /** Element i belongs to channel {@code (i / run) % channels}. */
    private static float[] scales(float[] w, int channels, int run) {
        float[] max = new float[channels];
        for (int i = 0; i < w.length; i++) {
            int c = (i / run) % channels;
            max[c] = Math.max(max[c], Math.abs(w[i]));
        }
        float[] s = new float[channels];
        for (int c = 0; c < channels; c++) {
            if (!Float.isFinite(max[c])) throw new IllegalArgumentException("per-channel weights: channel " + c + " holds a non-finite value");
            s[c] = max[c] == 0f ? 1f : max[c] / 127f;
        }
        return s;
    }

    private static float[] quantize(float[] w, int channels, int run) {
        float[] s = scales(w, channels, run);
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            float sc = s[(i / run) % channels];
            out[i] = round(w[i], sc) * sc;
        }
        return out;
    }

    private static float round(float w, float scale) {
        return Math.min(127f, Math.max(-128f, (float) Math.rint(w / scale)));
    }
}
