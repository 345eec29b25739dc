package dev.convnet.onnx;

import static dev.convnet.onnx.OnnxTestModels.convGraph;
import static dev.convnet.onnx.OnnxTestModels.external;
import static dev.convnet.onnx.OnnxTestModels.floatInput;
import static dev.convnet.onnx.OnnxTestModels.model;
import static dev.convnet.onnx.OnnxTestModels.node;
import static dev.convnet.onnx.OnnxTestModels.rawFloats;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.convnet.onnx.proto.OnnxProtos.AttributeProto;
import dev.convnet.onnx.proto.OnnxProtos.GraphProto;
import dev.convnet.onnx.proto.OnnxProtos.ModelProto;
import dev.convnet.onnx.proto.OnnxProtos.StringStringEntryProto;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.function.Consumer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Malformed input: every case either reads or throws {@link OnnxFormatException} with a clear message;
 * nothing else (no other exception, no OutOfMemoryError, no protobuf exception leaking).
 */
class OnnxMalformedInputTest {

    /** Reads model bytes; returns the exception, or null if they read. Fails on any other throwable. */
    static OnnxFormatException readModel(byte[] bytes) {
        try {
            OnnxModel m = OnnxModelReader.read(bytes);
            for (OnnxTensor t : m.initializers().values()) {
                if (t.hasValues()) {
                    long n = t.dataType() == OnnxDataType.FLOAT ? t.floats().length : t.longs().length;
                    assertEquals(t.elementCount(), n);
                }
            }
            return null;
        } catch (OnnxFormatException e) {
            assertTrue(e.getMessage() != null && !e.getMessage().isBlank());
            return e;
        } catch (Throwable t) {
            throw new AssertionError("reading " + bytes.length + " bytes threw " + t, t);
        }
    }

    static OnnxFormatException readTensor(byte[] bytes) {
        try {
            OnnxTensor t = OnnxTensor.parse(bytes);
            if (t.hasValues()) {
                long n = t.dataType() == OnnxDataType.FLOAT ? t.floats().length : t.longs().length;
                assertEquals(t.elementCount(), n);
            }
            return null;
        } catch (OnnxFormatException e) {
            return e;
        } catch (Throwable t) {
            throw new AssertionError("reading a " + bytes.length + "-byte tensor threw " + t, t);
        }
    }

    /** Seed inputs: the models built here, and a few conformance models and tensors when installed. */
    static List<byte[]> seedModels() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        seeds.add(model(convGraph()).toByteArray());
        for (String test : List.of("test_conv_with_strides_padding", "test_constant", "test_reshape_reduced_dims", "test_batchnorm_example")) {
            Path f = OnnxConformanceReadTest.DATA.resolve("node").resolve(test).resolve("model.onnx");
            if (Files.isRegularFile(f)) seeds.add(Files.readAllBytes(f));
        }
        return seeds;
    }

    static List<byte[]> seedTensors() throws IOException {
        List<byte[]> seeds = new ArrayList<>();
        seeds.add(OnnxTensor.ofFloats("x", new long[] {2, 3}, new float[] {1, 2, 3, 4, 5, 6}).toByteArray());
        seeds.add(TensorProto.newBuilder().setDataType(7).addDims(2).addInt64Data(2).addInt64Data(-1).build().toByteArray());
        Path f = OnnxConformanceReadTest.DATA.resolve("node/test_conv_with_strides_padding/test_data_set_0/input_0.pb");
        if (Files.isRegularFile(f)) seeds.add(Files.readAllBytes(f));
        return seeds;
    }

    @Test
    void everyTruncationReadsOrFailsCleanly() throws IOException {
        int refused = 0, cases = 0;
        for (byte[] seed : seedModels()) {
            assertEquals(null, readModel(seed), "the untouched seed reads");
            int step = Math.max(1, seed.length / 400);
            for (int len = 0; len < seed.length; len += step) {
                cases++;
                if (readModel(java.util.Arrays.copyOf(seed, len)) != null) refused++;
            }
        }
        for (byte[] seed : seedTensors()) {
            for (int len = 0; len < seed.length; len++) {
                cases++;
                if (readTensor(java.util.Arrays.copyOf(seed, len)) != null) refused++;
            }
        }
        assertTrue(refused > cases / 2, refused + " of " + cases + " truncations refused");
    }

    @Test
    void randomMutationsReadOrFailCleanly() throws IOException {
        Random random = new Random(20260101L);
        int refused = 0, cases = 0;
        List<byte[]> models = seedModels();
        List<byte[]> tensors = seedTensors();
        for (int i = 0; i < 6000; i++) {
            boolean model = i % 3 != 0;
            List<byte[]> seeds = model ? models : tensors;
            byte[] m = mutate(seeds.get(random.nextInt(seeds.size())), random);
            cases++;
            if ((model ? readModel(m) : readTensor(m)) != null) refused++;
        }
        assertTrue(refused > 0 && refused < cases, refused + " of " + cases + " mutations refused");
    }

    /** One to four bit flips, byte overwrites (often with varint-extreme bytes), insertions or deletions. */
    static byte[] mutate(byte[] seed, Random r) {
        byte[] b = seed.clone();
        int edits = 1 + r.nextInt(4);
        for (int e = 0; e < edits && b.length > 0; e++) {
            int at = r.nextInt(b.length);
            switch (r.nextInt(5)) {
                case 0, 1 -> b[at] ^= (byte) (1 << r.nextInt(8));
                case 2 -> b[at] = (byte) new int[] {0x00, 0xff, 0x7f, 0x80, 0x01, r.nextInt(256)}[r.nextInt(6)];
                case 3 -> {
                    byte[] c = new byte[b.length + 1];
                    System.arraycopy(b, 0, c, 0, at);
                    c[at] = (byte) r.nextInt(256);
                    System.arraycopy(b, at, c, at + 1, b.length - at);
                    b = c;
                }
                default -> {
                    byte[] c = new byte[b.length - 1];
                    System.arraycopy(b, 0, c, 0, at);
                    System.arraycopy(b, at + 1, c, at, b.length - at - 1);
                    b = c;
                }
            }
        }
        return b;
    }

    // ---- hand-made bad files, one per kind of damage ----

    static OnnxFormatException refused(ModelProto m, String... expectedInMessage) {
        OnnxFormatException e = readModel(m.toByteArray());
        if (e == null) fail("was read: " + m);
        for (String s : expectedInMessage) {
            assertTrue(e.getMessage().contains(s), "message '" + e.getMessage() + "' lacks '" + s + "'");
        }
        return e;
    }

    static ModelProto withInitializer(TensorProto.Builder w) {
        GraphProto.Builder g = convGraph();
        g.setInitializer(0, w.setName("W"));
        return model(g);
    }

    static ModelProto edited(Consumer<GraphProto.Builder> edit) {
        GraphProto.Builder g = convGraph();
        edit.accept(g);
        return model(g);
    }

    @Test
    void truncatedAndGarbageFiles() {
        byte[] good = model(convGraph()).toByteArray();
        OnnxFormatException e = readModel(java.util.Arrays.copyOf(good, good.length - 7));
        assertInstanceOf(InvalidProtocolBufferException.class, e.getCause());
        assertTrue(e.getMessage().contains("not a valid ONNX protobuf"), e.getMessage());
        assertTrue(readModel(new byte[0]).getMessage().contains("no graph"));
        assertTrue(readModel("<html>not a model</html>".getBytes()) != null);
        // deeply nested groups: protobuf's recursion limit, wrapped
        byte[] deep = new byte[3000];
        java.util.Arrays.fill(deep, (byte) 0x7b); // field 15, start-group, nested 3000 times
        assertInstanceOf(InvalidProtocolBufferException.class, readModel(deep).getCause());
    }

    @Test
    void tensorSizesThatDoNotMatchTheShape() {
        refused(withInitializer(rawFloats("W", new long[] {1, 1, 3, 3}, new float[8])), "'W'", "needs 36 bytes", "has 32");
        refused(withInitializer(rawFloats("W", new long[] {1, 1, 3, 3}, new float[10])), "needs 36 bytes", "has 40");
        TensorProto.Builder few = TensorProto.newBuilder().setDataType(1).addDims(3).addFloatData(1).addFloatData(2);
        refused(withInitializer(few), "needs 3 values in float_data, but has 2");
        refused(withInitializer(TensorProto.newBuilder().setDataType(1).addDims(2)), "has no data");
        refused(withInitializer(TensorProto.newBuilder().setDataType(1).addDims(1).addInt64Data(3)), "field other than float_data");
        refused(withInitializer(rawFloats("W", new long[] {1}, 1f).addFloatData(2)), "both raw_data and a typed");
        refused(withInitializer(TensorProto.newBuilder().setDataType(8).addDims(1).setRawData(ByteString.copyFromUtf8("abc"))), "STRING");
    }

    @Test
    void absurdDimensions() {
        refused(withInitializer(rawFloats("W", new long[] {1L << 20, 1L << 20}, 1f)), "1099511627776 elements", "limit");
        refused(withInitializer(rawFloats("W", new long[] {3, -1}, 1f)), "negative dimension -1");
        refused(withInitializer(rawFloats("W", new long[] {1L << 62, 4}, 1f)), "overflows");
        refused(withInitializer(rawFloats("W", new long[] {Long.MAX_VALUE, Long.MAX_VALUE, 0}, 1f)), "overflows");
        refused(withInitializer(rawFloats("W", new long[] {Integer.MAX_VALUE}, 1f)), "limit");
        // a huge count in float_data form: checked before anything is allocated
        refused(withInitializer(TensorProto.newBuilder().setDataType(1).addDims(1L << 40).addFloatData(1)), "elements");
        refused(edited(g -> g.setInput(0, floatInput("x", 1, -3, 4, 4))), "graph input 'x'", "negative dimension -3");
    }

    @Test
    void unknownTypesAndLocations() {
        refused(withInitializer(TensorProto.newBuilder().setDataType(99).addDims(1)), "unknown ONNX data type 99");
        refused(withInitializer(TensorProto.newBuilder().addDims(1).addFloatData(1)), "no data type");
        refused(withInitializer(rawFloats("W", new long[] {1}, 1f).setDataLocation(5)), "unknown data_location 5");
        refused(edited(g -> g.setNode(0, g.getNode(0).toBuilder()
                .addAttribute(AttributeProto.newBuilder().setName("odd").setType(77)))), "unknown attribute type 77");
        refused(edited(g -> g.setNode(0, g.getNode(0).toBuilder().addAttribute(OnnxTestModels.ints("pads", 0)))), "two attributes named 'pads'");
        refused(edited(g -> g.setNode(1, g.getNode(1).toBuilder().setOpType(""))), "has no op_type");
        refused(ModelProto.newBuilder().setIrVersion(8).build(), "no graph");
    }

    @Test
    void unsupportedElementTypesAreKeptButNotMaterialized() {
        TensorProto int16 = TensorProto.newBuilder().setName("q").setDataType(5).addDims(2).setRawData(ByteString.copyFrom(new byte[] {1, 0, -1, -1})).build();
        OnnxTensor t = OnnxTensor.parse(int16.toByteArray());
        assertEquals(OnnxDataType.INT16, t.dataType());
        assertEquals(2, t.elementCount());
        assertTrue(assertThrows(OnnxFormatException.class, t::floats).getMessage().contains("INT16"));
        assertThrows(OnnxFormatException.class, t::longs);
        assertThrows(OnnxFormatException.class, t::toFloats);
        assertThrows(OnnxFormatException.class, t::toByteArray);
        // INT8 and UINT8 (quantized values) are held: as integers, and as floats the way a session carries them
        TensorProto int8 = TensorProto.newBuilder().setName("q").setDataType(3).addDims(2).setRawData(ByteString.copyFrom(new byte[] {1, -1})).build();
        OnnxTensor i8 = OnnxTensor.parse(int8.toByteArray());
        assertArrayEquals(new long[] {1, -1}, i8.longs());
        assertArrayEquals(new float[] {1, -1}, i8.toFloats());
        assertThrows(OnnxFormatException.class, i8::floats);
        assertArrayEquals(int8.toByteArray(), i8.toByteArray());
        TensorProto uint8 = TensorProto.newBuilder().setName("u").setDataType(2).addDims(2).setRawData(ByteString.copyFrom(new byte[] {1, -1})).build();
        assertArrayEquals(new long[] {1, 255}, OnnxTensor.parse(uint8.toByteArray()).longs());
        TensorProto typed = TensorProto.newBuilder().setName("u").setDataType(2).addDims(2).addInt32Data(7).addInt32Data(256).build();
        assertTrue(readTensor(typed.toByteArray()).getMessage().contains("value 256"));
        // INT4: two elements a byte
        TensorProto int4 = TensorProto.newBuilder().setDataType(22).addDims(3).setRawData(ByteString.copyFrom(new byte[] {1, 2})).build();
        assertEquals(3, OnnxTensor.parse(int4.toByteArray()).elementCount());
        assertTrue(readTensor(int4.toBuilder().setRawData(ByteString.copyFrom(new byte[3])).build().toByteArray()).getMessage().contains("needs 2 bytes"));
    }

    @Test
    void missingInitializerNamesTensorAndNode() {
        ModelProto m = edited(g -> g.removeInitializer(1)); // B
        refused(m, "Conv 'conv1'", "'B'", "missing initializer");
    }

    @Test
    void cyclesAreNamed() {
        GraphProto.Builder g = GraphProto.newBuilder().addInput(floatInput("x", 1)).addOutput(floatInput("y", 1))
                .addNode(node("a", "Add", new String[] {"x", "t2"}, "t1"))
                .addNode(node("b", "Relu", new String[] {"t1"}, "t2"))
                .addNode(node("c", "Relu", new String[] {"t1"}, "y"));
        OnnxFormatException e = refused(model(g), "cycle", "Add 'a'", "Relu 'b'");
        assertTrue(!e.getMessage().contains("'c'"), e.getMessage());
        GraphProto.Builder self = GraphProto.newBuilder().addInput(floatInput("x", 1)).addOutput(floatInput("y", 1))
                .addNode(node("", "Add", new String[] {"x", "y"}, "y"));
        refused(model(self), "cycle", "Add #0 -> Add #0");
    }

    @Test
    void namesProducedTwiceAndUnproducedOutputs() {
        refused(edited(g -> g.setNode(1, g.getNode(1).toBuilder().setOutput(0, "c"))), "'c' is produced by both");
        refused(edited(g -> g.setNode(1, g.getNode(1).toBuilder().setOutput(0, "x"))), "already a graph input");
        refused(edited(g -> g.addOutput(floatInput("nowhere", 1))), "graph output 'nowhere'");
        refused(edited(g -> g.addInitializer(rawFloats("W", new long[] {1}, 1f))), "two initializers are named 'W'");
        refused(edited(g -> g.addInitializer(rawFloats("", new long[] {1}, 1f))), "has no name");
    }

    // ---- external data ----

    @Test
    void externalDataOutsideTheFolderIsRefused(@TempDir Path tmp) throws IOException {
        Path modelDir = Files.createDirectories(tmp.resolve("models/m"));
        Path outside = tmp.resolve("models/secret.bin");
        Files.write(outside, new byte[36]);
        Files.write(modelDir.resolve("ok.bin"), new byte[36]);
        Files.createSymbolicLink(modelDir.resolve("link.bin"), outside);
        Files.createSymbolicLink(modelDir.resolve("dirlink"), tmp.resolve("models"));
        Files.createDirectories(modelDir.resolve("sub"));
        String[][] cases = {
                {"../../etc/passwd", "contains '..'"},
                {"../secret.bin", "contains '..'"},
                {"sub/../../secret.bin", "contains '..'"},
                {"sub\\..\\..\\secret.bin", "contains '..'"},
                {"/etc/passwd", "absolute path"},
                {outside.toString(), "absolute path"},
                {"\\\\server\\share\\w.bin", "absolute path"},
                {"C:\\Windows\\win.ini", "absolute path"},
                {"link.bin", "outside the model's folder"},
                {"dirlink/secret.bin", "outside the model's folder"},
                {"sub", "not a regular file"},
                {"nothere.bin", "cannot be opened"},
                {"ok.bin\0.txt", "NUL"},
                {"", "without a 'location'"},
        };
        for (String[] c : cases) {
            GraphProto.Builder g = convGraph();
            g.setInitializer(0, external("W", new long[] {1, 1, 3, 3}, 1, c[0]));
            Path file = modelDir.resolve("model.onnx");
            Files.write(file, model(g).toByteArray());
            OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModelReader.read(file), c[0]);
            assertTrue(e.getMessage().contains(c[1]), c[0] + ": " + e.getMessage());
            assertTrue(e.getMessage().contains("'W'"), e.getMessage());
        }
        // inside the folder it reads; wrong length and offset are refused
        GraphProto.Builder g = convGraph();
        g.setInitializer(0, external("W", new long[] {1, 1, 3, 3}, 1, "ok.bin"));
        Path file = modelDir.resolve("model.onnx");
        Files.write(file, model(g).toByteArray());
        assertEquals(9, OnnxModelReader.read(file).initializers().get("W").floats().length);
        for (String[] kv : new String[][] {{"length", "32"}, {"offset", "4"}, {"offset", "-1"}, {"length", "x"}}) {
            GraphProto.Builder bad = convGraph();
            bad.setInitializer(0, external("W", new long[] {1, 1, 3, 3}, 1, "ok.bin")
                    .addExternalData(StringStringEntryProto.newBuilder().setKey(kv[0]).setValue(kv[1])));
            Files.write(file, model(bad).toByteArray());
            assertThrows(OnnxFormatException.class, () -> OnnxModelReader.read(file), kv[0] + "=" + kv[1]);
        }
        // external data from bytes, and in a .pb read from bytes: no folder, refused
        refused(model(g), "external");
        assertTrue(readTensor(external("t", new long[] {1}, 1, "ok.bin").build().toByteArray()).getMessage().contains("external"));
    }

    @Test
    void filesOverTheSizeLimitAreRefusedBeforeReading(@TempDir Path tmp) throws IOException {
        Path big = tmp.resolve("big.onnx");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(OnnxModelReader.MAX_FILE_BYTES + 1); // sparse: no disk space, no memory
        }
        OnnxFormatException e = assertThrows(OnnxFormatException.class, () -> OnnxModelReader.read(big));
        assertTrue(e.getMessage().contains("limit"), e.getMessage());
        assertThrows(OnnxFormatException.class, () -> OnnxTensor.read(big));
    }
}
