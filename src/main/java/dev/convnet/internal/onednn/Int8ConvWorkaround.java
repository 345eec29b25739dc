package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import java.lang.foreign.MemorySegment;

/**
 * oneDNN issue #5080: in 3.8.1, {@code brg_conv_fwd:avx512_core_vnni} computes wrong int8 forward convolutions with a
 * channels-last (NHWC, {@code acdb}) source at the output columns whose window reaches into explicit width padding.
 * On this project's AVX-512 VNNI machine {@code Int8PaddedColumnsTest} finds it with one input channel at any stride
 * (35 of 305 padded geometries, e.g. the issue's own {@code ic1 oc1 ih32 iw64 kh2 kw4 sh2 sw1, width padding 1/2}:
 * 48 of 1024 outputs wrong, and {@code ic1 oc1 ih12 iw17 kh2 kw2, stride 1, width padding 1/1}: 22 of 198), and never
 * with 2 to 64 channels, nor depthwise or grouped. With a margin: an ungrouped int8 convolution with fewer than
 * {@link #SAFE_CHANNELS} input channels, width padding and a source that is not channel-blocked moves past every
 * {@code brg_conv_fwd} implementation to oneDNN's next one ({@code jit_int8}, or the reference). Such first layers are
 * cheap, and here {@code jit_int8} is as fast: ResNet-18's 3→64 7×7 stride-2 layer at batch 8, 2 threads, took
 * 1.58 ms on it against 1.62 ms on {@code brg_conv_fwd}.
 *
 * <p>Stateless; thread-safe.
 */
final class Int8ConvWorkaround {
    private Int8ConvWorkaround() {}

    /** Input channels from which the brgemm int8 convolution is trusted with width padding (1 fails, 2 to 64 pass). */
    static final int SAFE_CHANNELS = 4;

    /**
     * {@code pd} itself, or moved past the faulty implementation; {@code null} if no other implementation is left.
     *
     * @param inChannels the convolution's input channels
     * @param groups its groups
     * @param padL the padding before, {height, width}
     * @param padR the padding after, {height, width}
     */
    static MemorySegment avoid(Primitives prims, MemorySegment pd, String layer, int inChannels, int groups, long[] padL,
                               long[] padR) {
        boolean widthPadded = padL[padL.length - 1] > 0 || padR[padR.length - 1] > 0;
        if (!widthPadded || groups != 1 || inChannels >= SAFE_CHANNELS) return pd;
        while (prims.implementation(pd).contains("brg_conv_fwd")
                && !MemoryFormats.channelBlocked(Primitives.queryMd(pd, dnnl_query_src_md()))) {
            int status = dnnl_primitive_desc_next_impl(pd);
            if (status == dnnl_last_impl_reached()) return null;
            Dnnl.check("dnnl_primitive_desc_next_impl", status, layer);
        }
        return pd;
    }
}
