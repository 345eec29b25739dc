package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.shape.ShapeException;

import java.util.ArrayList;
import java.util.List;

/**
 * Gather with constant indices: of known data computed at import; of a tensor computed at run time, one slice per
 * index (squeezed for a scalar index, concatenated for a vector).
 */
final class GatherOps {
    private GatherOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Gather", GatherOps::gather);
    }

    private static void gather(ImportContext cx) {
        String data = cx.in(0);
        Const c = cx.constant(data);
        long[] idx = cx.longsInput(1, "Gather's indices");
        long[] idxDims = cx.constant(cx.in(1)).dims();
        if (c == null) {
            atRunTime(cx, data, idx, idxDims);
            return;
        }
        long[] dims = c.dims();
        int rank = dims.length;
        long axisAttr = cx.attrInt("axis", 0);
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        if (axis < 0 || axis >= rank) throw new ShapeException("Gather: axis " + axisAttr + " for rank " + rank);
        long outer = 1;
        for (int i = 0; i < axis; i++) outer *= dims[i];
        long inner = 1;
        for (int i = axis + 1; i < rank; i++) inner *= dims[i];
        long n = dims[axis];
        long[] outDims = new long[rank - 1 + idxDims.length];
        System.arraycopy(dims, 0, outDims, 0, axis);
        System.arraycopy(idxDims, 0, outDims, axis, idxDims.length);
        System.arraycopy(dims, axis + 1, outDims, axis + idxDims.length, rank - axis - 1);
        int count = (int) (outer * idx.length * inner);
        float[] f = c.isFloat() ? new float[count] : null;
        long[] l = c.isInt() ? new long[count] : null;
        int o = 0;
        for (long a = 0; a < outer; a++) {
            for (long j : idx) {
                long jj = j < 0 ? j + n : j;
                if (jj < 0 || jj >= n) throw new ShapeException("Gather: index " + j + " outside [" + -n + ", " + n + ")");
                for (long b = 0; b < inner; b++) {
                    int src = (int) ((a * n + jj) * inner + b);
                    if (f != null) f[o] = c.f()[src];
                    else l[o] = c.l()[src];
                    o++;
                }
            }
        }
        cx.define(cx.out(), new Const(outDims, f, l, c.type()));
    }

    /** Gather of constant indices (a scalar or a vector) from a runtime tensor: slices, squeezed or concatenated. */
    private static void atRunTime(ImportContext cx, String data, long[] idx, long[] idxDims) {
        if (idxDims.length > 1) throw cx.unsupported("Gather with " + idxDims.length + "-D indices on a tensor computed at run time");
        int rank = cx.shapeOf(data).rank();
        long axisAttr = cx.attrInt("axis", 0);
        int axis = (int) (axisAttr < 0 ? axisAttr + rank : axisAttr);
        long n = cx.shapeOf(data).dim(Math.max(0, Math.min(rank - 1, axis)));
        String out = cx.out();
        List<String> parts = new ArrayList<>();
        for (long j : idx) {
            long jj = j < 0 ? j + n : j;
            if (jj < 0 || jj >= n) throw new ShapeException("Gather: index " + j + " outside [" + -n + ", " + n + ")");
            String part = idxDims.length == 0 || idx.length == 1 ? (idxDims.length == 0 ? cx.fresh(out + "/slice") : out)
                    : cx.fresh(out + "/" + j);
            cx.emit(part, Slice.range(axis, jj, jj + 1), data);
            parts.add(part);
        }
        if (idxDims.length == 0) {
            cx.emit(out, Reshape.squeeze(axis), parts.getFirst());
        } else if (parts.size() > 1) {
            cx.emit(out, Concat.of(axis), parts);
        }
    }
}
