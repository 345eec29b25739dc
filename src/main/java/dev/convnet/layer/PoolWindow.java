package dev.convnet.layer;

import dev.convnet.shape.ConvAxis;
import dev.convnet.shape.Geometry2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.shape.SizeEquations;

/** Settings and geometry shared by the 2-D pooling layers. Immutable. */
record PoolWindow(int kernelHeight, int kernelWidth, int strideHeight, int strideWidth, Padding padding,
                  boolean ceilMode) {

    PoolWindow {
        String eq = "pooling";
        Params.positive(eq, "window height", kernelHeight);
        Params.positive(eq, "window width", kernelWidth);
        if (strideHeight < 1 || strideWidth < 1) {
            throw new ShapeException("pooling: Eq. 8: stride s = " + strideHeight + "×" + strideWidth
                    + " must be ≥ 1 (the equation divides by s)");
        }
    }

    Geometry2d geometry(String layer, String equation, Shape input) {
        Params.checkRank(layer, "NCHW", input, 4);
        ConvAxis h = SizeEquations.axis(equation, "height", input.dim(2), kernelHeight, strideHeight, 1, padding, 0, 2, ceilMode);
        ConvAxis w = SizeEquations.axis(equation, "width", input.dim(3), kernelWidth, strideWidth, 1, padding, 1, 2, ceilMode);
        checkCoversInput(equation, "height", h);
        checkCoversInput(equation, "width", w);
        return new Geometry2d(h, w);
    }

    /** Every window must contain at least one real input element (else max is −∞ and the average 0/0). */
    private static void checkCoversInput(String equation, String axis, ConvAxis a) {
        if (a.padBefore() >= a.kernel()) {
            throw new ShapeException(equation + " (" + axis + "): padding before " + a.padBefore()
                    + " ≥ window " + a.kernel() + ": the first window covers only padding");
        }
        long lastStart = (long) (a.output() - 1) * a.stride() - a.padBefore();
        if (lastStart >= a.input()) {
            throw new ShapeException(equation + " (" + axis + "): the last window starts at " + lastStart
                    + " ≥ input " + a.input() + " and covers only padding (padding after " + a.padAfter()
                    + ", window " + a.kernel() + ")");
        }
    }

    String describe() {
        return kernelHeight + "×" + kernelWidth + ", s=" + (strideHeight == strideWidth ? strideHeight
                : strideHeight + "×" + strideWidth) + ", " + padding + (ceilMode ? ", ceil" : "");
    }
}
