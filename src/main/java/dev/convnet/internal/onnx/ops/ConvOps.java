package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Layer;
import dev.convnet.shape.Padding;

import java.util.Arrays;
import java.util.List;

/** Conv (1-D and 2-D; groups, dilations, strides, pads, auto_pad) with constant weights and bias. */
final class ConvOps {
    private ConvOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Conv", ConvOps::conv);
    }

    private static void conv(ImportContext cx) {
        Const w = cx.constInput(1, "Conv weights");
        if (!w.isFloat()) throw cx.unsupported("Conv weights of type " + w.type());
        float[] bias = null;
        if (cx.hasInput(2)) {
            Const b = cx.constInput(2, "Conv bias");
            if (!b.isFloat()) throw cx.unsupported("Conv bias of type " + b.type());
            bias = b.f();
        }
        Layer layer = layer(cx, w.dims(), w.f(), bias);
        List<String> parameters = bias == null ? List.of(cx.rawInput(1)) : List.of(cx.rawInput(1), cx.rawInput(2));
        cx.emit(cx.out(), layer, parameters, List.of(cx.in(0)));
    }

    /**
     * The convolution the node's attributes (kernel_shape, group, strides, dilations, pads, auto_pad) describe, with
     * these float weights of ONNX dimensions {@code wDims} and bias (or null). Shared with QLinearConv.
     */
    static Layer layer(ImportContext cx, long[] wDims, float[] weights, float[] bias) {
        int rank = wDims.length;
        int spatial = rank - 2;
        if (spatial != 1 && spatial != 2) throw cx.unsupported("Conv with " + spatial + " spatial axes");
        long[] ks = cx.attrInts("kernel_shape");
        for (int i = 0; ks != null && i < spatial; i++) {
            if (ks[i] != wDims[2 + i]) {
                throw cx.malformed("kernel_shape " + Arrays.toString(ks) + " differs from the weights " + Arrays.toString(wDims));
            }
        }
        int group = (int) cx.attrInt("group", 1);
        int outC = (int) wDims[0];
        int inC = (int) wDims[1] * group;
        int[] strides = Windows.perAxis(cx, "strides", spatial, 1);
        int[] dil = Windows.perAxis(cx, "dilations", spatial, 1);
        Padding p = Windows.padding(cx, spatial, "Conv");
        if (spatial == 2) {
            Conv2d.Builder b = Conv2d.builder(inC, outC, (int) wDims[2], (int) wDims[3]).groups(group)
                    .stride(strides[0], strides[1]).dilation(dil[0], dil[1]).padding(p).weights(weights);
            return (bias == null ? b : b.bias(bias)).build();
        }
        Conv1d.Builder b = Conv1d.builder(inC, outC, (int) wDims[2]).groups(group).stride(strides[0])
                .dilation(dil[0]).padding(p).weights(weights);
        return (bias == null ? b : b.bias(bias)).build();
    }
}
