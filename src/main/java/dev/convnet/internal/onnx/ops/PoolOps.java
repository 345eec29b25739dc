package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.Arrays;
import java.util.stream.IntStream;

/**
 * MaxPool and AveragePool (1-D as 2-D with a unit height; ceil_mode, count_include_pad), GlobalAveragePool and
 * GlobalMaxPool (a reduction over the spatial axes when not 2-D).
 */
final class PoolOps {
    private PoolOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("MaxPool", cx -> pool(cx, true));
        r.add("AveragePool", cx -> pool(cx, false));
        r.add("GlobalAveragePool", cx -> global(cx, false));
        r.add("GlobalMaxPool", cx -> global(cx, true));
    }

    private static void global(ImportContext cx, boolean max) {
        Shape s = cx.shapeOf(cx.in(0));
        if (s.rank() == 4) {
            cx.emit(cx.out(), max ? GlobalPool2d.max() : GlobalPool2d.average(), cx.in(0));
        } else {
            int[] axes = IntStream.range(2, s.rank()).toArray();
            cx.emit(cx.out(), Reduce.of(max ? Reduce.Kind.MAX : Reduce.Kind.MEAN, axes, true), cx.in(0));
        }
    }

    private static void pool(ImportContext cx, boolean max) {
        long[] ks = cx.attrInts("kernel_shape");
        if (ks == null) throw cx.malformed("kernel_shape is required");
        int spatial = ks.length;
        if (spatial != 1 && spatial != 2) throw cx.unsupported((max ? "MaxPool" : "AveragePool") + " with " + spatial + " spatial axes");
        int[] strides = Windows.perAxis(cx, "strides", spatial, 1);
        int[] dil = Windows.perAxis(cx, "dilations", spatial, 1);
        for (int d : dil) if (d != 1) throw cx.unsupported("pooling with dilations " + Arrays.toString(dil));
        boolean ceil = cx.attrInt("ceil_mode", 0) != 0;
        boolean countPad = cx.attrInt("count_include_pad", 0) != 0;
        Padding p = Windows.padding(cx, spatial, "pooling");
        int[] k = ImportContext.ints(ks);
        if (spatial == 1) {
            k = new int[] {1, k[0]};
            strides = new int[] {1, strides[0]};
            if (p.mode() == Padding.Mode.EXPLICIT) {
                long[] pads = cx.attrInts("pads");
                p = pads == null ? Padding.valid() : Padding.explicit2d(0, (int) pads[0], 0, (int) pads[1]);
            }
        }
        Layer layer = max
                ? MaxPool2d.builder(k[0], k[1]).stride(strides[0], strides[1]).padding(p).ceilMode(ceil).build()
                : AvgPool2d.builder(k[0], k[1]).stride(strides[0], strides[1]).padding(p).ceilMode(ceil)
                .countIncludePad(countPad).build();
        String out = cx.out();
        if (spatial == 1) {
            String x4 = cx.fresh(out + "/as2d");
            cx.emit(x4, Reshape.unsqueeze(2), cx.in(0));
            String y4 = cx.fresh(out + "/pool2d");
            cx.emit(y4, layer, x4);
            cx.emit(out, Reshape.squeeze(2), y4);
        } else {
            cx.emit(out, layer, cx.in(0));
        }
    }
}
