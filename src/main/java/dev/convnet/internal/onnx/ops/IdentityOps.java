package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;
import dev.convnet.internal.onnx.ImportContext;

/** Identity and Dropout (inference): the output is the input, no node. */
final class IdentityOps {
    private IdentityOps() {
    }

    static void register(ConverterRegistry.Builder r) {
        r.add("Identity", cx -> cx.alias(cx.out(), cx.in(0)));
        r.add("Dropout", IdentityOps::dropout);
    }

    private static void dropout(ImportContext cx) {
        if (cx.node().outputs().size() > 1 && !cx.node().outputs().get(1).isEmpty()) throw cx.unsupported("Dropout's mask output");
        if (cx.hasInput(2) && cx.constInput(2, "training_mode").value(0) != 0) throw cx.unsupported("Dropout in training mode");
        cx.alias(cx.out(), cx.in(0));
    }
}
