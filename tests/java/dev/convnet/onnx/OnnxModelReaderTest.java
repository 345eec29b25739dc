package dev.convnet.onnx;

import static dev.convnet.onnx.OnnxTestModels.convGraph;
import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.model;
import static dev.convnet.onnx.OnnxTestModels.node;
import static dev.convnet.onnx.OnnxTestModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorShapeProto;
import dev.convnet.onnx.proto.OnnxProtos.TypeProto;
import dev.convnet.onnx.proto.OnnxProtos.ValueInfoProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.OptionalLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the reader makes of valid files: known conformance cases and models built here. */
class OnnxModelReaderTest {
    static final Path NODE = OnnxConformanceReadTest.DATA.resolve("node");

    static Path conformance(String test) {
        Path dir = NODE.resolve(test);
        assumeTrue(Files.isDirectory(dir), "libonnx-testdata is not installed (make test installs it)");
        return dir;
    }

    @Test
    void convWithStridesPadding() throws IOException {
        Path dir = conformance("test_conv_with_strides_padding");
        OnnxModel m = OnnxModelReader.read(dir.resolve("model.onnx"));
        assertEquals(OptionalLong.of(m.opsetImports().get("")), m.opsetVersion("ai.onnx"));
        assertEquals(1, m.nodes().size());
        OnnxNode conv = m.nodes().getFirst();
        assertEquals("Conv", conv.opType());
        assertEquals("", conv.domain());
        assertEquals(List.of("x", "W"), conv.inputs());
        assertEquals(List.of("y"), conv.outputs());
        assertEquals(new OnnxAttribute.Ints(new long[] {3, 3}), conv.attributes().get("kernel_shape"));
        assertEquals(new OnnxAttribute.Ints(new long[] {1, 1, 1, 1}), conv.attributes().get("pads"));
        assertEquals(new OnnxAttribute.Ints(new long[] {2, 2}), conv.attributes().get("strides"));

        assertEquals(List.of("x", "W"), m.inputs().stream().map(OnnxValueInfo::name).toList());
        OnnxValueInfo x = m.inputs().getFirst();
        assertTrue(x.tensor());
        assertEquals(OnnxDataType.FLOAT, x.elemType());
        assertArrayEquals(new long[] {1, 1, 7, 5}, x.staticDims().orElseThrow());
        assertArrayEquals(new long[] {1, 1, 3, 3}, m.inputs().get(1).staticDims().orElseThrow());
        assertArrayEquals(new long[] {1, 1, 4, 3}, m.outputs().getFirst().staticDims().orElseThrow());
        assertTrue(m.initializers().isEmpty());

        OnnxTensor in = OnnxTensor.read(dir.resolve("test_data_set_0/input_0.pb"));
        assertEquals("x", in.name());
        assertArrayEquals(new long[] {1, 1, 7, 5}, in.dims());
        float[] xs = in.floats();
        assertEquals(35, xs.length);
        for (int i = 0; i < 35; i++) assertEquals(i, xs[i]);
        float[] w = OnnxTensor.read(dir.resolve("test_data_set_0/input_1.pb")).floats();
        assertArrayEquals(new float[] {1, 1, 1, 1, 1, 1, 1, 1, 1}, w);
        OnnxTensor y = OnnxTensor.read(dir.resolve("test_data_set_0/output_0.pb"));
        assertArrayEquals(new long[] {1, 1, 4, 3}, y.dims());
        // 3x3 sums of x (0..34 laid out 7x5) at stride 2 with one padding row and column
        assertArrayEquals(new float[] {12, 27, 24, 63, 108, 81, 123, 198, 141, 112, 177, 124}, y.floats());
    }

    @Test
    void reshapeShapeInputIsInt64() throws IOException {
        Path dir = conformance("test_reshape_reduced_dims");
        OnnxModel m = OnnxModelReader.read(dir.resolve("model.onnx"));
        assertEquals("Reshape", m.nodes().getFirst().opType());
        OnnxTensor shape = OnnxTensor.read(dir.resolve("test_data_set_0/input_1.pb"));
        assertEquals(OnnxDataType.INT64, shape.dataType());
        assertArrayEquals(new long[] {2}, shape.dims());
        assertArrayEquals(new long[] {2, 12}, shape.longs());
        assertThrows(OnnxFormatException.class, shape::floats);
    }

    @Test
    void constantNodeCarriesItsTensor() throws IOException {
        Path dir = conformance("test_constant");
        OnnxModel m = OnnxModelReader.read(dir.resolve("model.onnx"));
        OnnxNode c = m.nodes().getFirst();
        assertEquals("Constant", c.opType());
        OnnxTensor value = assertInstanceOf(OnnxAttribute.Tensor.class, c.attributes().get("value")).value();
        assertArrayEquals(new long[] {5, 5}, value.dims());
        // the output .pb is the constant itself
        OnnxTensor expected = OnnxTensor.read(dir.resolve("test_data_set_0/output_0.pb"));
        assertArrayEquals(expected.floats(), value.floats());
    }

    @Test
    void dynamicDimensionsAreReportedAsSuch() {
        TensorShapeProto shape = TensorShapeProto.newBuilder()
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimParam("batch"))
                .addDim(TensorShapeProto.Dimension.newBuilder())
                .addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(3)).build();
        GraphProto.Builder g = convGraph().setInput(0, ValueInfoProto.newBuilder().setName("x").setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1).setShape(shape))));
        OnnxValueInfo x = OnnxModelReader.read(model(g).toByteArray()).inputs().getFirst();
        List<OnnxValueInfo.Dim> dims = x.shape().orElseThrow();
        assertEquals(OnnxValueInfo.Dim.dynamic("batch"), dims.get(0));
        assertTrue(dims.get(1).isDynamic());
        assertEquals(null, dims.get(1).param());
        assertEquals(OnnxValueInfo.Dim.of(3), dims.get(2));
        assertTrue(x.staticDims().isEmpty());
        // no shape at all: unknown rank
        g = convGraph().setInput(0, ValueInfoProto.newBuilder().setName("x").setType(TypeProto.newBuilder()
                .setTensorType(TypeProto.Tensor.newBuilder().setElemType(1))));
        assertTrue(OnnxModelReader.read(model(g).toByteArray()).inputs().getFirst().shape().isEmpty());
    }

    @Test
    void readsBuiltModel() {
        OnnxModel m = OnnxModelReader.read(model(convGraph()).toByteArray());
        assertEquals("conv", m.graphName());
        assertEquals(8, m.irVersion());
        assertEquals(Map.of("", 13L), m.opsetImports());
        assertEquals(List.of("W", "B"), List.copyOf(m.initializers().keySet()));
        float[] w = m.initializers().get("W").floats();
        for (int i = 0; i < 9; i++) assertEquals(i * 0.5f, w[i]);
        assertArrayEquals(new float[] {0.25f}, m.initializers().get("B").floats());
        assertEquals(List.of("Conv", "Relu"), m.nodes().stream().map(OnnxNode::opType).toList());
        assertEquals(List.of("x"), m.runtimeInputs().stream().map(OnnxValueInfo::name).toList());
    }

    @Test
    void nodesAreSortedTopologicallyAndOptionalInputsMayBeEmpty() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("g")
                .addInput(floatInput("x", 2)).addOutput(floatInput("z", 2))
                .addNode(node("second", "Clip", new String[] {"y", "", ""}, "z"))
                .addNode(node("first", "Relu", new String[] {"x"}, "y"));
        OnnxModel m = OnnxModelReader.read(model(g).toByteArray());
        assertEquals(List.of("first", "second"), m.nodes().stream().map(OnnxNode::name).toList());
        assertEquals(List.of("y", "", ""), m.nodes().get(1).inputs());
    }

    @Test
    void attributesOfEveryReadKind() {
        TensorProto t = TensorProto.newBuilder().setDataType(7).addDims(2).addInt64Data(4).addInt64Data(-1).build();
        GraphProto.Builder g = GraphProto.newBuilder().addInput(floatInput("x", 1)).addOutput(floatInput("y", 1))
                .addNode(node("n", "Custom", new String[] {"x"}, "y")
                        .addAttribute(AttributeProto.newBuilder().setName("i").setType(2).setI(-7))
                        .addAttribute(AttributeProto.newBuilder().setName("f").setType(1).setF(0.5f))
                        .addAttribute(AttributeProto.newBuilder().setName("s").setType(3).setS(com.google.protobuf.ByteString.copyFromUtf8("NOTSET")))
                        .addAttribute(AttributeProto.newBuilder().setName("fs").setType(6).addFloats(1).addFloats(2))
                        .addAttribute(AttributeProto.newBuilder().setName("ss").setType(8).addStrings(com.google.protobuf.ByteString.copyFromUtf8("a")))
                        .addAttribute(AttributeProto.newBuilder().setName("t").setType(4).setT(t))
                        .addAttribute(AttributeProto.newBuilder().setName("old").setI(3)) // IR v1: no type field
                        .addAttribute(AttributeProto.newBuilder().setName("g").setType(5)));
        Map<String, OnnxAttribute> a = OnnxModelReader.read(model(g).toByteArray()).nodes().getFirst().attributes();
        assertEquals(new OnnxAttribute.Int(-7), a.get("i"));
        assertEquals(new OnnxAttribute.Float(0.5f), a.get("f"));
        assertEquals(new OnnxAttribute.Str("NOTSET"), a.get("s"));
        assertEquals(new OnnxAttribute.Floats(new float[] {1, 2}), a.get("fs"));
        assertEquals(new OnnxAttribute.Strs(List.of("a")), a.get("ss"));
        assertArrayEquals(new long[] {4, -1}, ((OnnxAttribute.Tensor) a.get("t")).value().longs());
        assertEquals(new OnnxAttribute.Int(3), a.get("old"));
        assertEquals(new OnnxAttribute.Unsupported("GRAPH"), a.get("g"));
    }

    @Test
    void int32TensorsReadAsLongsFromBothEncodings() {
        TensorProto typed = TensorProto.newBuilder().setDataType(6).addDims(3).addInt32Data(1).addInt32Data(-2).addInt32Data(3).build();
        assertArrayEquals(new long[] {1, -2, 3}, OnnxTensor.parse(typed.toByteArray()).longs());
        ByteBuffer b = ByteBuffer.allocate(12).order(ByteOrder.LITTLE_ENDIAN).putInt(1).putInt(-2).putInt(3);
        TensorProto raw = TensorProto.newBuilder().setDataType(6).addDims(3).setRawData(com.google.protobuf.ByteString.copyFrom(b.array())).build();
        assertArrayEquals(new long[] {1, -2, 3}, OnnxTensor.parse(raw.toByteArray()).longs());
    }

    @Test
    void tensorWriteReadRoundTripIsLittleEndianRawData(@TempDir Path tmp) throws IOException {
        OnnxTensor t = OnnxTensor.ofFloats("y", new long[] {2, 2}, new float[] {1, -2.5f, 0, Float.NaN});
        Path f = tmp.resolve("output_0.pb");
        t.write(f);
        TensorProto p = TensorProto.parseFrom(Files.readAllBytes(f));
        assertEquals("y", p.getName());
        assertEquals(List.of(2L, 2L), p.getDimsList());
        assertEquals(1, p.getDataType());
        assertArrayEquals(new byte[] {0, 0, (byte) 0x80, 0x3f}, p.getRawData().substring(0, 4).toByteArray());
        OnnxTensor back = OnnxTensor.read(f);
        assertEquals("y", back.name());
        assertArrayEquals(new long[] {2, 2}, back.dims());
        assertArrayEquals(t.floats(), back.floats());

        OnnxTensor l = OnnxTensor.parse(OnnxTensor.ofLongs("s", new long[] {2}, new long[] {Long.MIN_VALUE, 5}).toByteArray());
        assertArrayEquals(new long[] {Long.MIN_VALUE, 5}, l.longs());
        assertThrows(IllegalArgumentException.class, () -> OnnxTensor.ofFloats("bad", new long[] {3}, new float[2]));
    }

    @Test
    void externalDataInsideTheModelFolderIsRead(@TempDir Path tmp) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(16 + 8).order(ByteOrder.LITTLE_ENDIAN);
        b.position(16);
        b.putFloat(1.5f).putFloat(-3f);
        Files.createDirectories(tmp.resolve("weights"));
        Files.write(tmp.resolve("weights/w.bin"), b.array());
        TensorProto.Builder w = OnnxTestModels.external("w", new long[] {2}, 1, "weights/w.bin")
                .addExternalData(dev.convnet.onnx.proto.OnnxProtos.StringStringEntryProto.newBuilder().setKey("offset").setValue("16"))
                .addExternalData(dev.convnet.onnx.proto.OnnxProtos.StringStringEntryProto.newBuilder().setKey("length").setValue("8"));
        GraphProto.Builder g = GraphProto.newBuilder().addInput(floatInput("x", 2)).addOutput(floatInput("y", 2))
                .addInitializer(w).addNode(node("add", "Add", new String[] {"x", "w"}, "y"));
        Path file = tmp.resolve("model.onnx");
        Files.write(file, model(g).toByteArray());
        assertArrayEquals(new float[] {1.5f, -3f}, OnnxModelReader.read(file).initializers().get("w").floats());
        // the same bytes without a folder: refused
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModelReader.read(Files.readAllBytes(file)));
        assertTrue(e.getMessage().contains("external"), e.getMessage());
    }

    @Test
    void modelFileErrorsAreIoExceptions(@TempDir Path tmp) {
        assertThrows(java.nio.file.NoSuchFileException.class, () -> OnnxModelReader.read(tmp.resolve("missing.onnx")));
        assertThrows(OnnxFormatException.class, () -> OnnxModelReader.read(tmp)); // a folder
        assertFalse(OnnxTensor.ofFloats("a", new long[0], new float[] {1}).toString().isEmpty());
    }
}
