package dev.convnet.internal.jvm;

/**
 * Per-thread row arrays for the training kernels: a few numbered slots, each a set of {@code float[]} rows indexed
 * from 0 (the form {@link Sgemm#multiplyAddRows} vectorizes), grown on demand and kept for the thread's lifetime.
 * A kernel names its slots; two uses of one slot must not overlap in time on one thread (slot 0: {@link PackedGemm};
 * 1–4: {@link ConvTraining}). Internal.
 *
 * <p>Thread-safety: one instance per thread ({@link #get()}).
 */
final class RowScratch {
    private static final ThreadLocal<RowScratch> LOCAL = ThreadLocal.withInitial(RowScratch::new);
    private static final int SLOTS = 5;

    private final float[][][] slots = new float[SLOTS][0][];

    private RowScratch() {
    }

    /** This thread's scratch. */
    static RowScratch get() {
        return LOCAL.get();
    }

    /** At least {@code rows} rows of at least {@code width} floats in slot {@code slot} (contents undefined). */
    float[][] rows(int slot, int rows, int width) {
        float[][] a = slots[slot];
        if (a.length >= rows && (rows == 0 || a[0].length >= width)) {
            return a;
        }
        int w = Math.max(width, a.length == 0 ? 0 : a[0].length);
        float[][] grown = new float[Math.max(rows, a.length)][];
        for (int r = 0; r < grown.length; r++) {
            grown[r] = new float[w];
        }
        slots[slot] = grown;
        return grown;
    }
}
