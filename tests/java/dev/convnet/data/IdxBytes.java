package dev.convnet.data;

import java.nio.ByteBuffer;

/** IDX files written by hand for tests (big-endian magic and dimensions, then the data bytes). */
public final class IdxBytes {
    private IdxBytes() {
    }

    /** An IDX file: magic, the dimensions, then the data bytes. */
    public static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        b.putInt(magic);
        for (int d : dims) b.putInt(d);
        b.put(data);
        return b.array();
    }
}
