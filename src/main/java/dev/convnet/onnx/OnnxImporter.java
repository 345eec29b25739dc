package dev.convnet.onnx;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.net.Graph;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;

/**
 * Maps an ONNX model ({@link OnnxModelReader}) to a {@link Graph} of convnet layers, for fixed input shapes.
 *
 * <p>What it does, node by node in topological order:
 * <ul>
 *   <li>Weights come from initializers (and {@code Constant} nodes); a graph input that is also an
 *       initializer (IR &lt; 4) is a constant, not a runtime input.</li>
 *   <li>Static shapes are inferred with the layers' own shape rules; a dynamic dimension of an input
 *       (such as a symbolic batch) becomes 1 unless the caller gives the input's shape.</li>
 *   <li>Constant folding: a node whose inputs are all known is computed at import (integer shape
 *       arithmetic such as {@code Shape → Gather → Unsqueeze → Concat → Reshape} with its own small evaluator,
 *       float nodes as a one-node graph on the reference backend), so such sub-graphs leave only their result.</li>
 *   <li>{@code Identity} and {@code Dropout} (inference) are dropped.</li>
 *   <li>Operators: Conv (1-D, 2-D; groups, dilations, strides, pads, auto_pad), MaxPool, AveragePool (1-D, 2-D;
 *       ceil_mode, count_include_pad), GlobalAveragePool, GlobalMaxPool, Gemm (Linear when B and C are
 *       constant), MatMul, BatchNormalization, Relu, LeakyRelu, Sigmoid, Tanh, Elu, Selu, Softplus, Softsign,
 *       HardSigmoid, HardSwish, ThresholdedRelu, Abs, Neg, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Erf, Clip,
 *       Softmax, LogSoftmax, Hardmax (both axis conventions), Flatten, Reshape, Squeeze, Unsqueeze, Transpose,
 *       Concat, Pad (constant, reflect, edge), Add, Sub, Mul, Div, Pow, PRelu, Max, Min, Sum, Mean, the Reduce
 *       family, Expand, Slice, Split, Gather (of constant indices), Constant, ConstantOfShape, Shape, Size, Cast,
 *       Range (these five computed at import), at opsets 7–17 (attribute-to-input moves at opsets 11, 13 and 18 handled).</li>
 *   <li>Quantization (opset 10 on): QuantizeLinear and DequantizeLinear (per tensor; per axis from opset 13; INT8 or
 *       UINT8 zero points) become {@link dev.convnet.layer.QuantizeLinear} and
 *       {@link dev.convnet.layer.DequantizeLinear}; QLinearConv and QLinearMatMul become DequantizeLinear → Conv /
 *       MatMul → QuantizeLinear; a DequantizeLinear of an initializer (an int8 weight, an int32 bias) is folded into
 *       float values, so the Conv, Gemm or MatMul it feeds holds float weights.</li>
 * </ul>
 * Only float32 values flow at run time; INT8 and UINT8 inputs, outputs and QuantizeLinear results are carried as
 * floats holding the integers (exact), and only DequantizeLinear and operations that move values (Reshape,
 * Flatten, Transpose, Slice, Concat, MaxPool) may read them: arithmetic on them is refused, since ONNX computes it in
 * integers. A runtime input that must be constant (Reshape's shape, Pad's pads,
 * Clip's bounds, …) may be given a value with {@code inputValues}, which then replaces the input.
 *
 * <p>Each operation (or family) has its own converter, registered for the range of opsets whose meaning it
 * implements (the internal {@code ConverterRegistry}); an operation or opset without one is refused naming both:
 * {@code Upsample at opset 9 is not supported (node 'up'); convnet has no converter for Upsample}.
 *
 * <p>The graph is made for fixed input shapes; {@link OnnxModelSession} keeps a model's symbolic dimensions and imports
 * and compiles it per input shape on demand (any batch size from one loaded model).
 *
 * <p>Errors: {@link OnnxUnsupportedException} for anything valid but not supported (naming the operator,
 * opset and node), {@link OnnxFormatException} for an inconsistent model, {@link ShapeException} naming the
 * node when shapes do not fit.
 *
 * <p>Thread-safety: stateless; each call works on its own state.
 */
public final class OnnxImporter {
    private OnnxImporter() {
    }

    /**
     * Reads and imports a model for the input shapes it declares (dynamic dimensions become 1).
     *
     * @throws IOException if the file cannot be read
     * @throws OnnxFormatException if the file is malformed ({@link OnnxUnsupportedException} if unsupported)
     * @throws ShapeException if the shapes do not fit
     */
    public static OnnxGraph load(Path modelFile) throws IOException {
        return importModel(OnnxModelReader.read(modelFile), Map.of(), Map.of());
    }

    /** As {@link #load(Path)}, with the shapes of some or all runtime inputs given. */
    public static OnnxGraph load(Path modelFile, Map<String, Shape> inputShapes) throws IOException {
        return importModel(OnnxModelReader.read(modelFile), inputShapes, Map.of());
    }

    /**
     * Imports a model.
     *
     * @param inputShapes shapes of runtime inputs (others: as declared, dynamic dimensions 1)
     * @param inputValues values for runtime inputs that an operator needs as constants (Reshape's shape, Pad's
     *                    pads, Clip's bounds, …); inputs given here and used only that way are not runtime inputs
     */
    public static OnnxGraph importModel(OnnxModel model, Map<String, Shape> inputShapes, Map<String, OnnxTensor> inputValues) {
        return new ImportContext(model, inputShapes, inputValues).importGraph(ConverterRegistry.standard());
    }
}

