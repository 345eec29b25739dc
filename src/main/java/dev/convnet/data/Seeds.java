package dev.convnet.data;

import java.util.SplittableRandom;

/**
 * Derives the random streams of this package from the user's seed and the position in training (epoch,
 * batch, class), so each stream is a pure function of those numbers: a run resumed at epoch e draws exactly
 * what an uninterrupted run drew there. Each use has its own stream tag, so the shuffle of epoch 3 and the
 * augmentation of batch 3 never share numbers.
 *
 * <p>Thread-safety: stateless; every call returns a new generator.
 */
final class Seeds {
    static final long SHUFFLE = 1, AUGMENT = 2, SAMPLE = 3, SPLIT = 4;

    private static final long GOLDEN = 0x9E3779B97F4A7C15L;

    private Seeds() {
    }

    /** A generator seeded by a hash of the stream tag and the parts, in order. */
    static SplittableRandom random(long stream, long... parts) {
        long h = mix64(stream * GOLDEN);
        for (long p : parts) {
            h = mix64(h + GOLDEN + mix64(p));
        }
        return new SplittableRandom(h);
    }

    /** The 64-bit finalizer of SplitMix64 (Stafford's variant 13): a bijection that spreads every input bit. */
    private static long mix64(long z) {
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /** Shuffles {@code a} in place (Fisher–Yates, every permutation equally likely). */
    static void shuffle(int[] a, SplittableRandom rng) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
