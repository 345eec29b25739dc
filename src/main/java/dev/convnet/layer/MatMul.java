package dev.convnet.layer;

import dev.convnet.shape.Broadcasting;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.List;

/**
 * Matrix product of two tensors with NumPy {@code matmul} semantics (ONNX MatMul): the last two axes are
 * matrices {@code [M, K]·[K, P] → [M, P]}, the axes before them are batch axes and broadcast
 * ({@link Broadcasting}). A rank-1 {@code a} is a row vector {@code [1, K]} whose 1 is removed from the
 * result; a rank-1 {@code b} a column vector {@code [K, 1]}, likewise. When {@code b} is a constant matrix
 * and {@code a} is {@code [N, K]}, a {@link Linear} layer computes the same and is faster on oneDNN.
 *
 * <p>Thread-safety: immutable.
 */
public final class MatMul implements Layer {
    /** Creates the layer. */
    public MatMul() {
    }

    @Override
    public int arity() {
        return 2;
    }

    /** Always throws: MatMul needs two inputs (use it in a {@code Graph}). */
    @Override
    public Shape outputShape(Shape input) {
        throw new ShapeException("MatMul takes 2 inputs (use it in a Graph), got 1: " + input);
    }

    @Override
    public Shape outputShape(List<Shape> inputs) {
        if (inputs.size() != 2) {
            throw new ShapeException("MatMul takes 2 inputs, got " + inputs.size());
        }
        Shape a = inputs.get(0);
        Shape b = inputs.get(1);
        Shape a2 = a.rank() == 1 ? Shape.of(1, a.dim(0)) : a;
        Shape b2 = b.rank() == 1 ? Shape.of(b.dim(0), 1) : b;
        int k = a2.dim(a2.rank() - 1);
        int kb = b2.dim(b2.rank() - 2);
        if (k != kb) {
            throw new ShapeException("MatMul: [M, K]·[K, P]: a " + a + " has K = " + k + " columns, b " + b + " has "
                    + kb + " rows");
        }
        int[] batch = batchDims(a2, b2);
        int m = a2.dim(a2.rank() - 2);
        int p = b2.dim(b2.rank() - 1);
        int[] out = new int[batch.length + (a.rank() == 1 ? 0 : 1) + (b.rank() == 1 ? 0 : 1)];
        System.arraycopy(batch, 0, out, 0, batch.length);
        int i = batch.length;
        if (a.rank() != 1) out[i++] = m;
        if (b.rank() != 1) out[i] = p;
        return out.length == 0 ? Shape.of(1) : Shape.of(out);
    }

    /** The broadcast batch axes of two operands of rank ≥ 2 (empty when both are matrices). */
    public static int[] batchDims(Shape a, Shape b) {
        if (a.rank() == 2 && b.rank() == 2) return new int[0];
        Shape ab = a.rank() > 2 ? Shape.of(java.util.Arrays.copyOf(a.dims(), a.rank() - 2)) : Shape.of(1);
        Shape bb = b.rank() > 2 ? Shape.of(java.util.Arrays.copyOf(b.dims(), b.rank() - 2)) : Shape.of(1);
        Shape batch = Broadcasting.shape("MatMul (batch axes)", ab, bb);
        return a.rank() == 2 && b.rank() == 2 ? new int[0] : batch.dims();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof MatMul;
    }

    @Override
    public int hashCode() {
        return 23;
    }

    @Override
    public String toString() {
        return "MatMul()";
    }
}
