package dev.convnet.onnx;

import static dev.convnet.onnx.OnnxTestModels.convGraph;
import static dev.convnet.onnx.OnnxTestModels.external;
import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.model;
import static dev.convnet.onnx.OnnxTestModels.node;

import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes the seed corpus of {@link OnnxReaderFuzzTest} (small models and tensors built with the protobuf
 * builders) into {@code tests/resources/dev/convnet/onnx/OnnxReaderFuzzTestInputs/}. Not a test; run after
 * {@code mvn test-compile}:
 * {@code java -cp target/test-classes:target/classes:$(cat target/test-classpath.txt) dev.convnet.onnx.FuzzSeeds}
 */
final class FuzzSeeds {
    private FuzzSeeds() {}

    public static void main(String[] args) throws IOException {
        Path root = Path.of(args.length > 0 ? args[0] : "tests/resources/dev/convnet/onnx/OnnxReaderFuzzTestInputs");
        Path models = Files.createDirectories(root.resolve("readModel"));
        Path tensors = Files.createDirectories(root.resolve("readTensor"));

        Files.write(models.resolve("conv_relu.onnx"), model(convGraph()).toByteArray());
        TensorProto shape = TensorProto.newBuilder().setDataType(7).addDims(2).addInt64Data(1).addInt64Data(-1).build();
        GraphProto.Builder constant = GraphProto.newBuilder().addInput(floatInput("x", 2, 3)).addOutput(floatInput("y", 6))
                .addNode(node("shape", "Constant", new String[0], "s")
                        .addAttribute(AttributeProto.newBuilder().setName("value").setType(4).setT(shape)))
                .addNode(node("reshape", "Reshape", new String[] {"x", "s"}, "y"));
        Files.write(models.resolve("constant_reshape.onnx"), model(constant).toByteArray());
        GraphProto.Builder cycle = GraphProto.newBuilder().addInput(floatInput("x", 1)).addOutput(floatInput("y", 1))
                .addNode(node("a", "Add", new String[] {"x", "y"}, "t"))
                .addNode(node("b", "Relu", new String[] {"t"}, "y"));
        Files.write(models.resolve("cycle.onnx"), model(cycle).toByteArray());
        GraphProto.Builder ext = convGraph();
        ext.setInitializer(0, external("W", new long[] {1, 1, 3, 3}, 1, "../../etc/passwd"));
        Files.write(models.resolve("external_traversal.onnx"), model(ext).toByteArray());

        Files.write(tensors.resolve("float_raw.pb"), OnnxTensor.ofFloats("x", new long[] {1, 2, 2}, new float[] {0, 1, 2, 3}).toByteArray());
        Files.write(tensors.resolve("int64_typed.pb"), shape.toByteArray());
        Files.write(tensors.resolve("float_typed.pb"),
                TensorProto.newBuilder().setName("f").setDataType(1).addDims(2).addFloatData(1.5f).addFloatData(-2f).build().toByteArray());
        Files.write(tensors.resolve("int8_raw.pb"), TensorProto.newBuilder().setName("q").setDataType(3).addDims(3)
                .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[] {1, 2, 3})).build().toByteArray());
    }
}
