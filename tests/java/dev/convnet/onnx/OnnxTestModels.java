package dev.convnet.onnx;

import com.google.protobuf.ByteString;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.NodeProto;
import dev.convnet.onnx.proto.OnnxProtos.OperatorSetIdProto;
import dev.convnet.onnx.proto.OnnxProtos.StringStringEntryProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/** Small ONNX models and tensors built with the generated protobuf builders, for the tests. */
final class OnnxTestModels {
    private OnnxTestModels() {}

    static ValueInfoProto floatInput(String name, long... dims) {
        TensorShapeProto.Builder shape = TensorShapeProto.newBuilder();
        for (long d : dims) shape.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        return ValueInfoProto.newBuilder().setName(name)
                .setType(TypeProto.newBuilder().setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape)))
                .build();
    }

    static TensorProto.Builder rawFloats(String name, long[] dims, float... values) {
        ByteBuffer b = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
        for (float v : values) b.putFloat(v);
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(1).setRawData(ByteString.copyFrom(b.array()));
        for (long d : dims) t.addDims(d);
        return t;
    }

    static NodeProto.Builder node(String name, String op, String[] inputs, String... outputs) {
        NodeProto.Builder n = NodeProto.newBuilder().setName(name).setOpType(op);
        for (String i : inputs) n.addInput(i);
        for (String o : outputs) n.addOutput(o);
        return n;
    }

    static AttributeProto ints(String name, long... values) {
        AttributeProto.Builder a = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS_VALUE);
        for (long v : values) a.addInts(v);
        return a.build();
    }

    static ModelProto model(GraphProto.Builder graph) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("convnet-tests")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(13))
                .setGraph(graph).build();
    }

    /** x[1,1,4,4] -> Conv(W[1,1,3,3] raw_data, B[1] float_data, pads 1) -> Relu -> y. */
    static GraphProto.Builder convGraph() {
        float[] w = new float[9];
        for (int i = 0; i < 9; i++) w[i] = i * 0.5f;
        return GraphProto.newBuilder().setName("conv")
                .addInput(floatInput("x", 1, 1, 4, 4))
                .addOutput(floatInput("y", 1, 1, 4, 4))
                .addInitializer(rawFloats("W", new long[] {1, 1, 3, 3}, w))
                .addInitializer(TensorProto.newBuilder().setName("B").setDataType(1).addDims(1).addFloatData(0.25f))
                .addNode(node("conv1", "Conv", new String[] {"x", "W", "B"}, "c")
                        .addAttribute(ints("kernel_shape", 3, 3)).addAttribute(ints("pads", 1, 1, 1, 1)))
                .addNode(node("relu1", "Relu", new String[] {"c"}, "y"));
    }

    static TensorProto.Builder external(String name, long[] dims, int dataType, String location) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(dataType)
                .setDataLocation(TensorProto.DataLocation.EXTERNAL_VALUE)
                .addExternalData(StringStringEntryProto.newBuilder().setKey("location").setValue(location));
        for (long d : dims) t.addDims(d);
        return t;
    }
}
