package dev.convnet.internal.kernels;

import dev.convnet.layer.QuantParams;
import dev.convnet.shape.Shape;

/**
 * ONNX QuantizeLinear and DequantizeLinear on row-major float arrays (integers carried as floats), per tensor or per
 * axis. One definition for the reference and Java backends: the arithmetic is {@link QuantParams#quantize} and
 * {@link QuantParams#dequantize}, element by element. Internal.
 */
public final class QuantKernels {
    private QuantKernels() {}

    /** {@code y = quantize(x)} ({@code quantize} true) or {@code y = dequantize(x)} for a tensor of {@code shape}. */
    public static LayerKernel kernel(QuantParams p, Shape shape, boolean quantize) {
        int stride = p.innerStride(shape);
        int channels = p.count();
        return (x, y) -> {
            if (stride == 0) {
                for (int i = 0; i < x.length; i++) y[i] = quantize ? p.quantize(x[i], 0) : p.dequantize(x[i], 0);
                return;
            }
            for (int i = 0; i < x.length; i++) {
                int c = (i / stride) % channels;
                y[i] = quantize ? p.quantize(x[i], c) : p.dequantize(x[i], c);
            }
        };
    }
}
