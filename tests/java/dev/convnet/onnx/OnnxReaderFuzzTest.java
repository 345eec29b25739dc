package dev.convnet.onnx;

import com.code_intelligence.jazzer.junit.FuzzTest;

/**
 * Jazzer fuzz tests of the ONNX readers. In a normal test run ({@code mvn test}) Jazzer runs them in
 * regression mode: once with an empty input and once with each file of the seed corpus under
 * {@code tests/resources/dev/convnet/onnx/OnnxReaderFuzzTestInputs/<method>/} (written by {@link FuzzSeeds}).
 * The pom runs {@code *FuzzTest} classes in a Surefire execution and JVM of their own ({@code fuzz-regression}),
 * because Jazzer attaches an instrumenting agent. To fuzz for real (30 s per method, see {@code maxDuration}):
 * {@code JAZZER_FUZZ=1 mvn test-compile surefire:test@fuzz-regression -Dtest=OnnxReaderFuzzTest#readModel}.
 * A crashing input is saved into the method's folder above and replayed by every later normal run; the
 * working corpus goes to {@code .cifuzz-corpus/} (git-ignored).
 *
 * <p>The rule: any bytes either read or throw {@link OnnxFormatException}; any other exception or error
 * escapes and fails the test.
 */
class OnnxReaderFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void readModel(byte[] data) {
        try {
            OnnxModel model = OnnxModelReader.read(data);
            for (OnnxTensor t : model.initializers().values()) {
                touch(t);
            }
        } catch (OnnxFormatException expected) {
            // the documented outcome for malformed input
        }
    }

    @FuzzTest(maxDuration = "30s")
    void readTensor(byte[] data) {
        try {
            touch(OnnxTensor.parse(data));
        } catch (OnnxFormatException expected) {
            // the documented outcome for malformed input
        }
    }

    private static void touch(OnnxTensor t) {
        if (!t.hasValues()) return;
        long n = t.dataType() == OnnxDataType.FLOAT ? t.floats().length : t.longs().length;
        if (n != t.elementCount()) {
            throw new AssertionError("tensor " + t + " holds " + n + " values, not " + t.elementCount());
        }
        OnnxTensor back = OnnxTensor.parse(t.toByteArray());
        if (back.elementCount() != t.elementCount() || back.dataType() != t.dataType()) {
            throw new AssertionError("write/read changed " + t + " into " + back);
        }
    }
}
