package dev.convnet.layer;

import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * Max pooling over each channel of an NCHW input (Eq. 11):
 * {@code Y[n, c, y, x] = max_{i < P, j < Q} X[n, c, y·s − p_top + i, x·s − p_left + j]}, where
 * padded positions are ignored (never the maximum). Output sizes follow Eq. 8, or its ceiling
 * form with {@code ceilMode} (ONNX / PyTorch {@code ceil_mode}). Every window must contain at
 * least one input element.
 *
 * <p>Thread-safety: immutable.
 */
public final class MaxPool2d implements Layer {
    private final PoolWindow window;

    private MaxPool2d(PoolWindow window) {
        this.window = window;
    }

    /** A {@code k×k} window with stride {@code stride}, no padding. */
    public static MaxPool2d of(int kernelSize, int stride) {
        return builder(kernelSize, kernelSize).stride(stride).build();
    }

    /** A builder; the default stride equals the window and the default padding is valid. */
    public static Builder builder(int kernelHeight, int kernelWidth) {
        return new Builder(kernelHeight, kernelWidth);
    }

    /** Window height P. */
    public int kernelHeight() {
        return window.kernelHeight();
    }

    /** Window width Q. */
    public int kernelWidth() {
        return window.kernelWidth();
    }

    /** Vertical stride. */
    public int strideHeight() {
        return window.strideHeight();
    }

    /** Horizontal stride. */
    public int strideWidth() {
        return window.strideWidth();
    }

    /** Padding rule. */
    public Padding padding() {
        return window.padding();
    }

    /** Whether output sizes round up. */
    public boolean ceilMode() {
        return window.ceilMode();
    }

    /** The validated geometry (Eq. 8 per axis, each window covering input). */
    public Geometry2d geometry(Shape input) {
        return window.geometry("MaxPool2d", "Eq. 11", input);
    }

    @Override
    public Shape outputShape(Shape input) {
        Geometry2d g = geometry(input);
        return Shape.of(input.dim(0), input.dim(1), g.height().output(), g.width().output());
    }

    @Override
    public String toString() {
        return "MaxPool2d(" + window.describe() + ")";
    }

    /**
     * Collects the settings of a {@link MaxPool2d}.
     *
     * <p>Thread-safety: not thread-safe.
     */
    public static final class Builder {
        private final int kernelHeight;
        private final int kernelWidth;
        private int strideHeight;
        private int strideWidth;
        private Padding padding = Padding.valid();
        private boolean ceilMode;

        private Builder(int kernelHeight, int kernelWidth) {
            this.kernelHeight = kernelHeight;
            this.kernelWidth = kernelWidth;
            this.strideHeight = kernelHeight;
            this.strideWidth = kernelWidth;
        }

        /** The same stride on both axes. */
        public Builder stride(int stride) {
            return stride(stride, stride);
        }

        /** Per-axis stride. */
        public Builder stride(int height, int width) {
            this.strideHeight = height;
            this.strideWidth = width;
            return this;
        }

        /** Padding (padded elements never win the maximum). */
        public Builder padding(Padding padding) {
            this.padding = Objects.requireNonNull(padding, "padding");
            return this;
        }

        /** Round output sizes up instead of down. */
        public Builder ceilMode(boolean ceilMode) {
            this.ceilMode = ceilMode;
            return this;
        }

        /** Builds the layer. */
        public MaxPool2d build() {
            return new MaxPool2d(new PoolWindow(kernelHeight, kernelWidth, strideHeight, strideWidth, padding, ceilMode));
        }
    }
}
