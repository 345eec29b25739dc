package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.Const;
import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;
import dev.convnet.layer.BatchNorm;

import java.math.BigDecimal;
import java.util.List;

/**
 * BatchNormalization in inference mode, with constant scale, bias, mean and variance (the parameters keep the
 * initializers' names). Before opset 9 the {@code spatial} attribute exists; only its default (1) is supported.
 */
final class BatchNormOps {
    private BatchNormOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("BatchNormalization", 1, 8, cx -> batchNorm(cx, true));
        r.add("BatchNormalization", 9, cx -> batchNorm(cx, false));
    }

    /** @param spatialAttribute whether the opset defines {@code spatial} */
    private static void batchNorm(ImportContext cx, boolean spatialAttribute) {
        if (cx.attrInt("training_mode", 0) != 0) throw cx.unsupported("BatchNormalization in training mode");
        if (spatialAttribute && cx.attrInt("spatial", 1) == 0) throw cx.unsupported("BatchNormalization with spatial = 0");
        float eps = cx.attrFloat("epsilon", 1e-5f);
        float[][] p = new float[4][];
        String[] what = {"scale", "B", "mean", "var"};
        for (int i = 0; i < 4; i++) {
            Const c = cx.constInput(i + 1, "BatchNormalization " + what[i]);
            if (!c.isFloat()) throw cx.unsupported("BatchNormalization " + what[i] + " of type " + c.type());
            p[i] = c.f();
        }
        // ONNX's momentum weighs the old running value (default 0.9); convnet's, as PyTorch's, the new batch value.
        double momentum = BigDecimal.ONE.subtract(new BigDecimal(Float.toString(cx.attrFloat("momentum", 0.9f)))).doubleValue();
        List<String> parameters = cx.node().inputs().subList(1, 5);
        cx.emit(cx.out(), BatchNorm.of(p[0], p[1], p[2], p[3], eps).withMomentum(Math.min(1, Math.max(0, momentum))),
                parameters, List.of(cx.in(0)));
    }
}
