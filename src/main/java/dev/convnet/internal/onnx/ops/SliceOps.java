package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Slice;
import dev.convnet.shape.Shape;

import java.util.Arrays;
import java.util.function.Function;

/**
 * Slice (starts, ends and axes as attributes before opset 10; as inputs, with steps, from 10 on) of known data at
 * import or of a runtime tensor as a node, and Split (sizes as an attribute before opset 13, an optional input from 13
 * on; equal parts otherwise) as one slice per output.
 */
final class SliceOps {
    private SliceOps() {
    }

    /** Slice's ranges: per listed axis (all axes in order when {@code axes} is null) start, end and step (null: 1). */
    private record Ranges(long[] starts, long[] ends, long[] axes, long[] steps) {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Slice", 1, 9, cx -> slice(cx, c -> new Ranges(c.attrInts("starts"), c.attrInts("ends"), c.attrInts("axes"), null)));
        r.add("Slice", 10, cx -> slice(cx, c -> new Ranges(c.longsInput(1, "Slice's starts"), c.longsInput(2, "Slice's ends"),
                c.hasInput(3) ? c.longsInput(3, "Slice's axes") : null, c.hasInput(4) ? c.longsInput(4, "Slice's steps") : null)));
        r.add("Split", 1, 12, cx -> split(cx, cx.attrInts("split")));
        r.add("Split", 13, cx -> split(cx, cx.hasInput(1) ? cx.longsInput(1, "Split's sizes") : null));
    }

    private static void slice(ImportContext cx, Function<ImportContext, Ranges> ranges) {
        Const c = cx.constant(cx.in(0));
        Ranges rg = ranges.apply(cx);
        if (rg.starts() == null || rg.ends() == null) throw cx.malformed("starts and ends are required");
        if (c == null) {
            int[] ax = new int[rg.starts().length];
            for (int i = 0; i < ax.length; i++) ax[i] = rg.axes() == null ? i : (int) rg.axes()[i];
            long[] steps = rg.steps();
            if (steps == null) {
                steps = new long[rg.starts().length];
                Arrays.fill(steps, 1);
            }
            cx.emit(cx.out(), Slice.of(ax, rg.starts(), rg.ends(), steps), cx.in(0));
            return;
        }
        sliceKnown(cx, c, rg);
    }

    private static void sliceKnown(ImportContext cx, Const c, Ranges rg) {
        long[] dims = c.dims();
        int rank = dims.length;
        long[] starts = rg.starts();
        long[] begin = new long[rank];
        long[] step = new long[rank];
        long[] size = dims.clone();
        Arrays.fill(step, 1);
        for (int i = 0; i < starts.length; i++) {
            long[] axes = rg.axes();
            int a = (int) (axes == null ? i : axes[i] < 0 ? axes[i] + rank : axes[i]);
            long st = rg.steps() == null ? 1 : rg.steps()[i];
            if (st == 0) throw cx.malformed("step 0");
            long n = dims[a];
            long b = starts[i] < 0 ? starts[i] + n : starts[i];
            long e = rg.ends()[i] < 0 ? rg.ends()[i] + n : rg.ends()[i];
            if (st > 0) {
                b = Math.max(0, Math.min(n, b));
                e = Math.max(0, Math.min(n, e));
                size[a] = Math.max(0, (e - b + st - 1) / st);
            } else {
                b = Math.max(-1, Math.min(n - 1, b));
                e = Math.max(-1, Math.min(n - 1, e));
                size[a] = Math.max(0, (b - e - st - 1) / -st);
            }
            begin[a] = b;
            step[a] = st;
        }
        long count = 1;
        for (long s : size) count *= s;
        if (count == 0) throw cx.unsupported("an empty Slice");
        float[] f = c.isFloat() ? new float[(int) count] : null;
        long[] l = c.isInt() ? new long[(int) count] : null;
        for (int o = 0; o < count; o++) {
            long rest = o;
            long src = 0;
            long mul = 1;
            for (int k = rank - 1; k >= 0; k--) {
                long idx = rest % size[k];
                rest /= size[k];
                src += (begin[k] + idx * step[k]) * mul;
                mul *= dims[k];
            }
            if (f != null) f[o] = c.f()[(int) src];
            else l[o] = c.l()[(int) src];
        }
        cx.define(cx.out(), new Const(size, f, l, c.type()));
    }

    /** One slice per output along the axis: {@code sizes}, or equal parts (the last one smaller) when null. */
    private static void split(ImportContext cx, long[] sizes) {
        String x = cx.in(0);
        Shape s = cx.shapeOf(x);
        long axisAttr = cx.attrInt("axis", 0);
        int axis = (int) (axisAttr < 0 ? axisAttr + s.rank() : axisAttr);
        int outputs = cx.node().outputs().size();
        if (sizes == null) {
            long d = s.dim(axis);
            long part = (d + outputs - 1) / outputs;
            sizes = new long[outputs];
            for (int i = 0; i < outputs; i++) sizes[i] = Math.min(part, d - i * part);
        }
        if (sizes.length != outputs) {
            throw cx.malformed(sizes.length + " split sizes for " + outputs + " outputs");
        }
        long start = 0;
        for (int i = 0; i < outputs; i++) {
            String o = cx.node().outputs().get(i);
            if (!o.isEmpty()) cx.emit(o, Slice.range(axis, start, start + sizes[i]), x);
            start += sizes[i];
        }
    }
}
