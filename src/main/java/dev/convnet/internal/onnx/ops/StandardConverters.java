package dev.convnet.internal.onnx.ops;

import dev.convnet.internal.onnx.ConverterRegistry;

/**
 * The operation families the importer converts, one file each in this package. Adding an operation to a family
 * touches only its file (and the tests); a new family adds a line here. Internal.
 */
public final class StandardConverters {
    private StandardConverters() {
    }

    /** Registers every family's converters. */
    public static void registerAll(ConverterRegistry.Builder registry) {
        IdentityOps.register(registry);
        ConstantOps.register(registry);
        ConvOps.register(registry);
        PoolOps.register(registry);
        GemmOps.register(registry);
        BatchNormOps.register(registry);
        ActivationOps.register(registry);
        SoftmaxOps.register(registry);
        ReshapeOps.register(registry);
        ConcatOps.register(registry);
        PadOps.register(registry);
        ArithmeticOps.register(registry);
        ReduceOps.register(registry);
        GatherOps.register(registry);
        SliceOps.register(registry);
        QuantOps.register(registry);
    }
}
