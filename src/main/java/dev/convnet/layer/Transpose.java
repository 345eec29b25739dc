package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Arrays;

/**
 * Permutes the axes (ONNX Transpose): output axis {@code i} is input axis {@code perm[i]}, so
 * {@code out[j_0, …, j_(r−1)] = in[i]} with {@code i_(perm[k]) = j_k}. ShuffleNet's channel shuffle is
 * Reshape {@code [N, g, C/g, H, W]} → Transpose {@code (0, 2, 1, 3, 4)} → Reshape {@code [N, C, H, W]}.
 * Without a permutation the axes are reversed.
 *
 * <p>Thread-safety: immutable.
 */
public final class Transpose implements Layer {
    private final int[] perm;

    private Transpose(int[] perm) {
        this.perm = perm;
    }

    /**
     * The permutation {@code perm} (a permutation of {@code 0..r−1}); empty: reverse the axes.
     *
     * @throws ShapeException if {@code perm} is not a permutation
     */
    public static Transpose of(int... perm) {
        boolean[] seen = new boolean[perm.length];
        for (int p : perm) {
            if (p < 0 || p >= perm.length || seen[p]) {
                throw new ShapeException("Transpose: " + Arrays.toString(perm) + " is not a permutation of 0.." + (perm.length - 1));
            }
            seen[p] = true;
        }
        return new Transpose(perm.clone());
    }

    /** The permutation for an input of rank {@code rank} (the reversal if none was given). */
    public int[] perm(int rank) {
        if (perm.length == 0) {
            int[] p = new int[rank];
            for (int i = 0; i < rank; i++) p[i] = rank - 1 - i;
            return p;
        }
        return perm.clone();
    }

    @Override
    public Shape outputShape(Shape input) {
        if (perm.length != 0 && perm.length != input.rank()) {
            throw new ShapeException("Transpose: permutation " + Arrays.toString(perm) + " has " + perm.length
                    + " axes, the input " + input + " " + input.rank());
        }
        int[] p = perm(input.rank());
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) out[i] = input.dim(p[i]);
        return Shape.of(out);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Transpose t && Arrays.equals(t.perm, perm);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(perm);
    }

    @Override
    public String toString() {
        return "Transpose" + (perm.length == 0 ? "(reverse)" : Arrays.toString(perm).replace('[', '(').replace(']', ')'));
    }
}
