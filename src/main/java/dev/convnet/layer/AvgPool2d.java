package dev.convnet.layer;

import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;

import java.util.Objects;

/**
 * Average pooling over each channel of an NCHW input (Eq. 12). With padding the notes are
 * silent; per the errata both conventions exist (ONNX {@code count_include_pad}):
 * <ul>
 *   <li>{@code countIncludePad = true} (default, Eq. 12's {@code 1/(P×Q)}): padded zeros count,
 *       the divisor is the number of window positions inside the padded input;</li>
 *   <li>{@code false}: only real input elements are summed and counted.</li>
 * </ul>
 * With {@code ceilMode}, window positions beyond the padded input are never counted.
 *
 * <p>Thread-safety: immutable.
 */
public final class AvgPool2d implements Layer {
    private final PoolWindow window;
    private final boolean countIncludePad;

    private AvgPool2d(PoolWindow window, boolean countIncludePad) {
        this.window = window;
        this.countIncludePad = countIncludePad;
    }

    /** A {@code k×k} window with stride {@code stride}, no padding. */
    public static AvgPool2d of(int kernelSize, int stride) {
        return builder(kernelSize, kernelSize).stride(stride).build();
    }

    /** A builder; the default stride equals the window, padding valid, padded zeros counted. */
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

    /** Whether padded zeros are counted in the divisor. */
    public boolean countIncludePad() {
        return countIncludePad;
    }

    /** The validated geometry (Eq. 8 per axis, each window covering input). */
    public Geometry2d geometry(Shape input) {
        return window.geometry("AvgPool2d", "Eq. 12", input);
    }

    @Override
    public Shape outputShape(Shape input) {
        Geometry2d g = geometry(input);
        return Shape.of(input.dim(0), input.dim(1), g.height().output(), g.width().output());
    }

    @Override
    public String toString() {
        return "AvgPool2d(" + window.describe() + (countIncludePad ? "" : ", pad not counted") + ")";
    }

    /**
     * Collects the settings of an {@link AvgPool2d}.
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
        private boolean countIncludePad = true;

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

        /** Padding (zeros). */
        public Builder padding(Padding padding) {
            this.padding = Objects.requireNonNull(padding, "padding");
            return this;
        }

        /** Round output sizes up instead of down. */
        public Builder ceilMode(boolean ceilMode) {
            this.ceilMode = ceilMode;
            return this;
        }

        /** Whether padded zeros count in the divisor (default true). */
        public Builder countIncludePad(boolean countIncludePad) {
            this.countIncludePad = countIncludePad;
            return this;
        }

        /** Builds the layer. */
        public AvgPool2d build() {
            return new AvgPool2d(new PoolWindow(kernelHeight, kernelWidth, strideHeight, strideWidth, padding, ceilMode),
                    countIncludePad);
        }
    }
}
