package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.shape.Padding;

import java.util.Arrays;

/** The attributes convolution and pooling share: {@code auto_pad} and {@code pads}, per-axis strides and dilations. */
final class Windows {
    private Windows() {
    }

    /** The padding {@code auto_pad} and {@code pads} describe for {@code spatial} axes. */
    static Padding padding(ImportContext cx, int spatial, String what) {
        String autoPad = cx.attrString("auto_pad", "NOTSET");
        return switch (autoPad) {
            case "NOTSET", "" -> {
                long[] pads = cx.attrInts("pads");
                if (pads == null) pads = new long[2 * spatial];
                if (pads.length != 2 * spatial) {
                    throw cx.malformed("pads " + Arrays.toString(pads) + " must have " + 2 * spatial + " entries");
                }
                int[] before = new int[spatial];
                int[] after = new int[spatial];
                for (int i = 0; i < spatial; i++) {
                    before[i] = (int) pads[i];
                    after[i] = (int) pads[spatial + i];
                }
                yield Padding.perAxis(before, after);
            }
            case "VALID" -> Padding.valid();
            case "SAME_UPPER" -> Padding.sameUpper();
            case "SAME_LOWER" -> Padding.sameLower();
            default -> throw cx.malformed("auto_pad '" + autoPad + "' for " + what);
        };
    }

    /** An INTS attribute with one entry per spatial axis, or {@code def} on every axis. */
    static int[] perAxis(ImportContext cx, String name, int spatial, int def) {
        long[] v = cx.attrInts(name);
        int[] r = new int[spatial];
        Arrays.fill(r, def);
        if (v == null) return r;
        if (v.length != spatial) {
            throw cx.malformed(name + " " + Arrays.toString(v) + " must have " + spatial + " entries");
        }
        return ImportContext.ints(v);
    }
}
