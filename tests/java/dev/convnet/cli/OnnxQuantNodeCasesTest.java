package dev.convnet.cli;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;
import dev.convnet.net.BackendKind;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxDataType;
import dev.convnet.onnx.OnnxTensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The quantization cases of Debian's libonnx-testdata (1.12: QuantizeLinear, DequantizeLinear per tensor and per
 * axis, QLinearConv, QLinearMatMul 2-D and 3-D; all of uint8/int8 types, so none is skipped) pass on every backend
 * with exact integer outputs, and ONNX Runtime (Java) gives the same outputs on the same inputs.
 * DynamicQuantizeLinear (and its expanded form, which needs Round) is another operator and stays a SKIP with its
 * reason in {@link OnnxNodeConformanceTest}.
 */
class OnnxQuantNodeCasesTest {
    static final List<String> CASES = List.of("test_quantizelinear", "test_quantizelinear_axis", "test_dequantizelinear",
            "test_dequantizelinear_axis", "test_qlinearconv", "test_qlinearmatmul_2D", "test_qlinearmatmul_3D");

    @ParameterizedTest
    @EnumSource(BackendKind.class)
    void everyQuantizationCasePasses(BackendKind backend) {
        assumeTrue(Files.isDirectory(OnnxNodeConformanceTest.NODE), "libonnx-testdata is not installed (make test installs it)");
        SessionOptions options = SessionOptions.defaults().withBackend(backend).withThreads(1);
        for (String c : CASES) {
            // integers must match exactly: tolerance 0
            OnnxTestCommand.Result r = OnnxTestCommand.runCase(OnnxNodeConformanceTest.NODE.resolve(c), options, 0, 0);
            assertEquals(OnnxTestCommand.Status.PASS, r.status(), c + " on " + backend + ": " + r.reason());
        }
    }

    @Test
    void theCasesListIsEveryQuantizationCaseInstalled() throws Exception {
        assumeTrue(Files.isDirectory(OnnxNodeConformanceTest.NODE), "libonnx-testdata is not installed");
        List<String> found = new ArrayList<>();
        try (Stream<Path> s = Files.list(OnnxNodeConformanceTest.NODE)) {
            s.map(p -> p.getFileName().toString())
                    .filter(n -> n.matches("test_(de)?quantizelinear.*|test_qlinear.*"))
                    .sorted().forEach(found::add);
        }
        assertEquals(CASES.stream().sorted().toList(), found,
                "a new quantization case is installed: add it to CASES, or skip it with the reason");
    }

    @Test
    void onnxRuntimeAgreesOnEveryCase() throws Exception {
        assumeTrue(Files.isDirectory(OnnxNodeConformanceTest.NODE), "libonnx-testdata is not installed");
        OrtEnvironment env = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "convnet-quant-cases");
        for (String c : CASES) {
            Path dir = OnnxNodeConformanceTest.NODE.resolve(c);
            Path set = dir.resolve("test_data_set_0");
            try (OrtSession.SessionOptions o = new OrtSession.SessionOptions();
                 OrtSession session = env.createSession(dir.resolve("model.onnx").toString(), o)) {
                List<String> names = new ArrayList<>(session.getInputNames());
                // the input order of the model: getInputNames is a set; take the graph's order from the files
                Map<String, ai.onnxruntime.OnnxTensor> in = new HashMap<>();
                List<String> ordered = orderedInputs(dir);
                assertEquals(names.size(), ordered.size());
                try {
                    for (int i = 0; i < ordered.size(); i++) {
                        OnnxTensor t = OnnxTensor.read(set.resolve("input_" + i + ".pb"));
                        in.put(ordered.get(i), toOrt(env, t));
                    }
                    OnnxTensor expected = OnnxTensor.read(set.resolve("output_0.pb"));
                    try (OrtSession.Result r = session.run(in)) {
                        ai.onnxruntime.OnnxTensor y = (ai.onnxruntime.OnnxTensor) r.get(0);
                        assertArrayEquals(expected.toFloats(), fromOrt(y), c);
                    }
                } finally {
                    in.values().forEach(ai.onnxruntime.OnnxTensor::close);
                }
            }
            // and convnet gives the same outputs (exactly: runCase with tolerance 0 on the Java backend)
            assertEquals(OnnxTestCommand.Status.PASS, OnnxTestCommand.runCase(dir,
                    SessionOptions.defaults().withBackend(BackendKind.JAVA).withThreads(1), 0, 0).status(), c);
        }
    }

    private static List<String> orderedInputs(Path dir) throws Exception {
        return dev.convnet.onnx.OnnxModelReader.read(dir.resolve("model.onnx")).runtimeInputs().stream()
                .map(dev.convnet.onnx.OnnxValueInfo::name).toList();
    }

    private static ai.onnxruntime.OnnxTensor toOrt(OrtEnvironment env, OnnxTensor t) throws Exception {
        long[] dims = t.dims();
        if (t.dataType() == OnnxDataType.FLOAT) return ai.onnxruntime.OnnxTensor.createTensor(env, FloatBuffer.wrap(t.floats()), dims);
        long[] v = t.longs();
        ByteBuffer b = ByteBuffer.allocateDirect(v.length);
        for (long x : v) b.put((byte) x);
        b.flip();
        return ai.onnxruntime.OnnxTensor.createTensor(env, b, dims, t.dataType() == OnnxDataType.INT8 ? OnnxJavaType.INT8 : OnnxJavaType.UINT8);
    }

    private static float[] fromOrt(ai.onnxruntime.OnnxTensor y) {
        OnnxJavaType type = y.getInfo().type;
        if (type == OnnxJavaType.FLOAT) {
            FloatBuffer b = y.getFloatBuffer();
            float[] v = new float[b.remaining()];
            b.get(v);
            return v;
        }
        ByteBuffer b = y.getByteBuffer();
        float[] v = new float[b.remaining()];
        for (int i = 0; i < v.length; i++) v[i] = type == OnnxJavaType.UINT8 ? b.get(i) & 0xFF : b.get(i);
        assertTrue(type == OnnxJavaType.UINT8 || type == OnnxJavaType.INT8, "output type " + type);
        return v;
    }
}
