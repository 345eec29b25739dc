package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Layer;
import dev.convnet.shape.Shape;

import java.util.Arrays;
import java.util.List;

/** Integer tensors at import (shape arithmetic): data movement by index and NumPy broadcasting of flat indices. */
final class IntFolding {
    private IntFolding() {
    }

    /**
     * Input 0, a known integer tensor, through a data-movement layer (Transpose, Flatten): the layer moves the indices
     * (as floats, exact up to 2^24) on the reference backend, and the values follow them.
     */
    static void move(ImportContext cx, Layer layer) {
        Const c = cx.constant(cx.in(0));
        Shape s = ImportContext.constShape(c);
        Shape o = layer.outputShape(s);
        float[] index = new float[(int) s.elementCount()];
        for (int i = 0; i < index.length; i++) index[i] = i;
        if (index.length > (1 << 24)) throw cx.unsupported("folding an integer tensor this large");
        float[] moved = ImportContext.evaluate(layer, List.of(s), new float[][] {index});
        long[] v = new long[moved.length];
        for (int i = 0; i < v.length; i++) v[i] = c.l()[(int) moved[i]];
        cx.define(cx.out(), new Const(Arrays.stream(o.dims()).asLongStream().toArray(), null, v, c.type()));
    }

    /** The flat index in an operand of dims {@code d} of output flat index {@code i} (dims {@code out}). */
    static long broadcastIndex(long i, long[] out, long[] d) {
        long off = 0;
        long mul = 1;
        for (int k = out.length - 1; k >= 0; k--) {
            long idx = i % out[k];
            i /= out[k];
            int dk = k - (out.length - d.length);
            if (dk >= 0) {
                if (d[dk] != 1) off += idx * mul;
                mul *= d[dk];
            }
        }
        return off;
    }
}
