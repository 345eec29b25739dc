package dev.convnet.shape;

import java.util.Arrays;

/**
 * The sizes of a tensor's dimensions, outermost first (row-major). Network tensors are NCHW:
 * batch, channels, height, width; 1-D convolutions use NCL; fully-connected layers use [N, D].
 *
 * <p>Every size is at least 1 and the product of all sizes fits in a {@code long}; both are
 * checked when the shape is created.
 *
 * <p>Thread-safety: immutable, safe to share between threads.
 */
public final class Shape {
    private final int[] dims;
    private final long elementCount;

    private Shape(int[] dims) {
        if (dims.length == 0) {
            throw new ShapeException("a shape needs at least one dimension");
        }
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            if (dims[i] < 1) {
                throw new ShapeException("shape " + Arrays.toString(dims) + ": dimension " + i + " is "
                        + dims[i] + "; sizes must be ≥ 1");
            }
            try {
                count = Math.multiplyExact(count, dims[i]);
            } catch (ArithmeticException e) {
                throw new ShapeException("shape " + Arrays.toString(dims)
                        + ": the product of the sizes overflows a long (more than " + Long.MAX_VALUE + " elements)");
            }
        }
        this.dims = dims;
        this.elementCount = count;
    }

    /** A shape with the given sizes, outermost first. */
    public static Shape of(int... dims) {
        return new Shape(dims.clone());
    }

    /** The number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** The size of dimension {@code axis} (0 is outermost). */
    public int dim(int axis) {
        return dims[axis];
    }

    /** A copy of all sizes. */
    public int[] dims() {
        return dims.clone();
    }

    /** The product of all sizes. */
    public long elementCount() {
        return elementCount;
    }

    /** The product of the sizes from {@code fromAxis} (inclusive) to the end. */
    public long elementCount(int fromAxis) {
        long count = 1;
        for (int i = fromAxis; i < dims.length; i++) {
            count *= dims[i];
        }
        return count;
    }

    /** This shape without its first (batch) dimension; a rank-1 shape is returned unchanged. */
    public Shape withoutBatch() {
        return dims.length == 1 ? this : new Shape(Arrays.copyOfRange(dims, 1, dims.length));
    }

    /** This shape with {@code batch} prepended as a new first dimension. */
    public Shape withBatch(int batch) {
        int[] d = new int[dims.length + 1];
        d[0] = batch;
        System.arraycopy(dims, 0, d, 1, dims.length);
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    /** The sizes in brackets, e.g. {@code [6, 28, 28]}. */
    @Override
    public String toString() {
        return Arrays.toString(dims);
    }
}
