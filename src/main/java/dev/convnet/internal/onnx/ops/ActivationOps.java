package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.Activation;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Unary;

import java.util.function.Function;
import java.util.function.LongUnaryOperator;

/**
 * The element-wise activations and unary functions (Relu, LeakyRelu, Sigmoid, Tanh, Elu, Selu, HardSigmoid, HardSwish,
 * ThresholdedRelu, Softplus, Softsign, Abs, Neg, Exp, Log, Sqrt, Reciprocal, Floor, Ceil, Erf) and Clip (bounds as
 * attributes before opset 11, as inputs from 11 on). Abs and Neg of known integers are computed at import.
 */
final class ActivationOps {
    private ActivationOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        unary(r, "Relu", cx -> Activation.relu());
        unary(r, "LeakyRelu", cx -> Activation.leakyRelu(cx.attrFloat("alpha", 0.01f)));
        unary(r, "Sigmoid", cx -> Activation.sigmoid());
        unary(r, "Tanh", cx -> Activation.tanh());
        unary(r, "Elu", cx -> Activation.elu(cx.attrFloat("alpha", 1f)));
        unary(r, "Selu", cx -> Unary.of(Unary.Function.SELU, cx.attrFloat("alpha", 1.67326319217681884765625f),
                cx.attrFloat("gamma", 1.05070102214813232421875f)));
        unary(r, "HardSigmoid", cx -> Unary.hardSigmoid(cx.attrFloat("alpha", 0.2f), cx.attrFloat("beta", 0.5f)));
        unary(r, "HardSwish", cx -> Unary.hardSwish());
        unary(r, "ThresholdedRelu", cx -> Unary.of(Unary.Function.THRESHOLDED_RELU, cx.attrFloat("alpha", 1f), 0f));
        unary(r, "Softplus", cx -> Unary.of(Unary.Function.SOFTPLUS));
        unary(r, "Softsign", cx -> Unary.of(Unary.Function.SOFTSIGN));
        unary(r, "Exp", cx -> Unary.of(Unary.Function.EXP));
        unary(r, "Log", cx -> Unary.of(Unary.Function.LOG));
        unary(r, "Sqrt", cx -> Unary.of(Unary.Function.SQRT));
        unary(r, "Reciprocal", cx -> Unary.of(Unary.Function.RECIPROCAL));
        unary(r, "Floor", cx -> Unary.of(Unary.Function.FLOOR));
        unary(r, "Ceil", cx -> Unary.of(Unary.Function.CEIL));
        unary(r, "Erf", cx -> Unary.of(Unary.Function.ERF));
        r.add("Abs", cx -> signed(cx, Unary.Function.ABS, Math::abs));
        r.add("Neg", cx -> signed(cx, Unary.Function.NEG, v -> -v));
        r.add("Clip", 1, 10, cx -> clip(cx, cx.attrFloat("min", Float.NEGATIVE_INFINITY), cx.attrFloat("max", Float.POSITIVE_INFINITY)));
        r.add("Clip", 11, cx -> clip(cx, cx.hasInput(1) ? cx.scalarInput(1, "Clip min") : Float.NEGATIVE_INFINITY,
                cx.hasInput(2) ? cx.scalarInput(2, "Clip max") : Float.POSITIVE_INFINITY));
    }

    /** {@code op}: the layer {@code layer} makes from the node's attributes, on the one input. */
    private static void unary(ConverterRegistry.Builder r, String op, Function<ImportContext, Layer> layer) {
        r.add(op, cx -> cx.emit(cx.out(), layer.apply(cx), cx.in(0)));
    }

    /** Abs and Neg: on known integers computed here, else the unary function. */
    private static void signed(ImportContext cx, Unary.Function f, LongUnaryOperator onIntegers) {
        if (cx.isIntConst(cx.in(0))) {
            Const c = cx.constant(cx.in(0));
            long[] v = c.l().clone();
            for (int i = 0; i < v.length; i++) v[i] = onIntegers.applyAsLong(v[i]);
            cx.define(cx.out(), new Const(c.dims(), null, v, c.type()));
            return;
        }
        cx.emit(cx.out(), Unary.of(f), cx.in(0));
    }

    private static void clip(ImportContext cx, float min, float max) {
        cx.emit(cx.out(), Unary.clip(min, max), cx.in(0));
    }
}
