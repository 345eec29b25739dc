package dev.convnet.internal.train;

import dev.convnet.layer.Pad;
import dev.convnet.shape.Shape;

/**
 * Index maps of the data-movement operations that both backends' backward passes need. Internal; stateless.
 */
public final class OpGeometry {
    private OpGeometry() {
    }

    /**
     * For each axis {@code k} and each output index {@code o} along it, the input index along {@code k} that
     * {@link Pad} reads there: {@code o − before[k]} inside, the mirrored (REFLECT) or edge (EDGE) index outside, −1
     * for CONSTANT padding. The backward pass adds ∂L/∂y at output {@code (o_0, …)} into input
     * {@code (map[0][o_0], …)}, so reflected and repeated elements sum their gradients.
     */
    public static int[][] padSources(Pad p, Shape in, Shape out) {
        int[] before = p.before();
        int[][] map = new int[in.rank()][];
        for (int k = 0; k < map.length; k++) {
            int n = in.dim(k);
            map[k] = new int[out.dim(k)];
            for (int o = 0; o < map[k].length; o++) {
                int s = o - before[k];
                if (s < 0 || s >= n) {
                    s = switch (p.mode()) {
                        case CONSTANT -> -1;
                        case EDGE -> s < 0 ? 0 : n - 1;
                        case REFLECT -> s < 0 ? -s : 2 * (n - 1) - s;
                    };
                }
                map[k][o] = s;
            }
        }
        return map;
    }

    /** The inverse of permutation {@code perm}: {@code inv[perm[k]] = k}. */
    public static int[] inverse(int[] perm) {
        int[] inv = new int[perm.length];
        for (int k = 0; k < perm.length; k++) inv[perm[k]] = k;
        return inv;
    }

    /** Row-major element strides of {@code s}. */
    public static long[] strides(Shape s) {
        long[] strides = new long[s.rank()];
        long st = 1;
        for (int i = s.rank() - 1; i >= 0; i--) {
            strides[i] = st;
            st *= s.dim(i);
        }
        return strides;
    }
}
