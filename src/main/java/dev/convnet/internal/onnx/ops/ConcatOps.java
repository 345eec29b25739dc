package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Concat;

import java.util.ArrayList;
import java.util.List;

/** Concat (the axis defaults to 1 before opset 4 and is required from 4 on); known integers are joined at import. */
final class ConcatOps {
    private ConcatOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Concat", 1, 3, cx -> concat(cx, cx.attrInt("axis", 1)));
        r.add("Concat", 4, cx -> {
            long axis = cx.attrInt("axis", Long.MIN_VALUE);
            if (axis == Long.MIN_VALUE) throw cx.malformed("axis is required");
            concat(cx, axis);
        });
    }

    private static void concat(ImportContext cx, long axisAttr) {
        List<String> ins = cx.presentInputs();
        if (ins.stream().allMatch(cx::isIntConst)) {
            Const first = cx.constant(ins.getFirst());
            int rank = first.dims().length;
            int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
            long[] dims = first.dims().clone();
            long outer = 1;
            for (int i = 0; i < axis; i++) outer *= dims[i];
            long inner = 1;
            for (int i = axis + 1; i < rank; i++) inner *= dims[i];
            dims[axis] = 0;
            for (String n : ins) dims[axis] += cx.constant(n).dims()[axis];
            List<Long> v = new ArrayList<>();
            for (long o = 0; o < outer; o++) {
                for (String n : ins) {
                    Const c = cx.constant(n);
                    long block = c.dims()[axis] * inner;
                    for (long j = 0; j < block; j++) v.add(c.l()[(int) (o * block + j)]);
                }
            }
            cx.define(cx.out(), Const.longs(dims, v.stream().mapToLong(Long::longValue).toArray()));
            return;
        }
        cx.emit(cx.out(), Concat.of((int) axisAttr), ins);
    }
}
