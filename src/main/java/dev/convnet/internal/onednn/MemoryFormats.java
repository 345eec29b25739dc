package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.Comparator;
import java.util.stream.IntStream;

/**
 * Reads a oneDNN memory descriptor back: its dimensions, its size, and its layout written in oneDNN's own
 * notation ({@code abcd} is NCHW, {@code acdb} NHWC, {@code aBcd16b} the blocked nChw16c, {@code ABcd16b16a}
 * a blocked weights format), as {@code ONEDNN_VERBOSE} prints it. Stateless and thread-safe.
 */
public final class MemoryFormats {
    private MemoryFormats() {}

    /** The logical dimensions of {@code md}. */
    public static long[] dims(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment n = a.allocate(ValueLayout.JAVA_INT);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_ndims_s32(), n));
            return queryLongs(md, dnnl_query_dims(), n.get(ValueLayout.JAVA_INT, 0), a);
        }
    }

    /** Bytes a buffer for {@code md} needs (padding of blocked formats included). */
    public static long bytes(MemorySegment md) {
        return dnnl_memory_desc_get_size(md);
    }

    /** True if {@code md} is a blocked layout with an inner block over dimension 1 (channels), e.g. {@code aBcd16b}. */
    public static boolean channelBlocked(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment i = a.allocate(ValueLayout.JAVA_INT);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_format_kind(), i));
            if (i.get(ValueLayout.JAVA_INT, 0) != dnnl_blocked()) return false;
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_ndims_s32(), i));
            int ndims = i.get(ValueLayout.JAVA_INT, 0);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_inner_nblks_s32(), i));
            int nblks = i.get(ValueLayout.JAVA_INT, 0);
            if (nblks == 0) return false;
            long[] idxs = queryLongs(md, dnnl_query_inner_idxs(), ndims, a);
            for (int b = 0; b < nblks; b++) if (idxs[b] == 1) return true;
            return false;
        }
    }

    /** True if the two descriptors describe the same layout. */
    public static boolean same(MemorySegment a, MemorySegment b) {
        return dnnl_memory_desc_equal(a, b) != 0;
    }

    private static long[] queryLongs(MemorySegment md, int what, int n, Arena a) {
        MemorySegment ptr = a.allocate(ValueLayout.ADDRESS);
        Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, what, ptr));
        MemorySegment arr = ptr.get(ValueLayout.ADDRESS, 0).reinterpret((long) Long.BYTES * Math.max(n, 1));
        return n == 0 ? new long[0] : arr.toArray(ValueLayout.JAVA_LONG);
    }

    /** The layout in oneDNN's notation, e.g. {@code aBcd16b}; {@code any} or {@code opaque} for those kinds. */
    public static String describe(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment i = a.allocate(ValueLayout.JAVA_INT);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_format_kind(), i));
            int kind = i.get(ValueLayout.JAVA_INT, 0);
            if (kind == dnnl_format_kind_any()) return "any";
            if (kind != dnnl_blocked()) return "opaque";
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_ndims_s32(), i));
            int ndims = i.get(ValueLayout.JAVA_INT, 0);
            if (ndims == 0) return "undef";
            long[] strides = queryLongs(md, dnnl_query_strides(), ndims, a);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_inner_nblks_s32(), i));
            int nblks = i.get(ValueLayout.JAVA_INT, 0);
            long[] blks = nblks == 0 ? new long[0] : Arrays.copyOf(queryLongs(md, dnnl_query_inner_blks(), ndims, a), nblks);
            long[] idxs = nblks == 0 ? new long[0] : Arrays.copyOf(queryLongs(md, dnnl_query_inner_idxs(), ndims, a), nblks);
            boolean[] blocked = new boolean[ndims];
            for (long idx : idxs) blocked[(int) idx] = true;
            // Outer order: largest stride first; ties keep the logical order (as oneDNN prints them).
            Integer[] order = IntStream.range(0, ndims).boxed()
                    .sorted(Comparator.comparingLong((Integer d) -> -strides[d]).thenComparingInt(d -> d))
                    .toArray(Integer[]::new);
            StringBuilder sb = new StringBuilder();
            for (int d : order) {
                char c = (char) ('a' + d);
                sb.append(blocked[d] ? Character.toUpperCase(c) : c);
            }
            for (int b = 0; b < nblks; b++) sb.append(blks[b]).append((char) ('a' + idxs[b]));
            int dt = dataType(md);
            if (dt != dnnl_f32()) sb.insert(0, dataTypeName(dt) + ":"); // f32 is the unmarked default
            return sb.toString();
        }
    }

    /** The data type of {@code md} ({@code dnnl_f32()}, {@code dnnl_bf16()}, {@code dnnl_u8()}, ...). */
    public static int dataType(MemorySegment md) {
        try (Arena a = Arena.ofConfined()) {
            MemorySegment i = a.allocate(ValueLayout.JAVA_INT);
            Dnnl.check("dnnl_memory_desc_query", dnnl_memory_desc_query(md, dnnl_query_data_type(), i));
            return i.get(ValueLayout.JAVA_INT, 0);
        }
    }

    /** oneDNN's short name of a data type ({@code bf16}, {@code s8}, {@code u8}, ...). */
    public static String dataTypeName(int dt) {
        if (dt == dnnl_f32()) return "f32";
        if (dt == dnnl_bf16()) return "bf16";
        if (dt == dnnl_f16()) return "f16";
        if (dt == dnnl_s8()) return "s8";
        if (dt == dnnl_u8()) return "u8";
        if (dt == dnnl_s32()) return "s32";
        return "dt" + dt;
    }
}
