package dev.convnet.internal.train;

import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Shape;

/**
 * A {@link Conv2d} or {@link Conv1d} resolved on one input shape, as the training kernels of every backend see it:
 * a grouped 2-D convolution over NCHW with OIHW weights, a 1-D one being the case {@code H = kH = 1}. Output
 * element {@code (n, z, oy, ox)} reads input {@code (n, g·C_g + c, oy·sh − padTop + i·dh, ox·sw − padLeft + j·dw)}
 * (zero outside) times weight {@code (z, c, i, flipped ? kW − 1 − j : j)}, with {@code g = z / O_g}; the flip is
 * {@link Conv1d#trueConvolution()}. Internal.
 *
 * <p>Thread-safety: immutable.
 */
public record ConvGeometry(int batch, int inC, int inH, int inW, int outC, int outH, int outW, int groups,
                           int kh, int kw, int sh, int sw, int dh, int dw, int padTop, int padLeft, boolean flipped) {

    /** The geometry of {@code conv} on an NCHW input. */
    public static ConvGeometry of(Conv2d conv, Shape in) {
        Geometry2d g = conv.geometry(in);
        ConvAxis h = g.height();
        ConvAxis w = g.width();
        return new ConvGeometry(in.dim(0), in.dim(1), in.dim(2), in.dim(3), conv.outChannels(), h.output(), w.output(),
                conv.groups(), conv.kernelHeight(), conv.kernelWidth(), h.stride(), w.stride(), h.dilation(), w.dilation(),
                h.padBefore(), w.padBefore(), false);
    }

    /** The geometry of {@code conv} on an NCL input, as a 2-D convolution of height 1. */
    public static ConvGeometry of(Conv1d conv, Shape in) {
        ConvAxis a = conv.geometry(in);
        return new ConvGeometry(in.dim(0), in.dim(1), 1, in.dim(2), conv.outChannels(), 1, a.output(), conv.groups(),
                1, conv.kernelSize(), 1, a.stride(), 1, a.dilation(), 0, a.padBefore(), conv.trueConvolution());
    }

    /** Input channels per group, C_g. */
    public int groupIn() {
        return inC / groups;
    }

    /** Output channels per group, O_g. */
    public int groupOut() {
        return outC / groups;
    }

    /** Output positions per image and channel, {@code H_out·W_out}. */
    public int positions() {
        return outH * outW;
    }

    /** Weights per output channel, {@code C_g·kH·kW} (the reduction length of one output element). */
    public int reduction() {
        return groupIn() * kh * kw;
    }

    /** The stored weight column of kernel tap column {@code j} (its mirror image when flipped). */
    public int weightColumn(int j) {
        return flipped ? kw - 1 - j : j;
    }
}
