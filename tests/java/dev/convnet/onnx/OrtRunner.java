package dev.convnet.onnx;

import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtLoggingLevel;
import ai.onnxruntime.OrtSession;

import java.nio.ByteBuffer;
import java.nio.FloatBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * ONNX Runtime (Java) on float, int8 and uint8 tensors, values exchanged as floats (the way convnet carries 8-bit
 * integers), for the quantization cross-checks. Test helper.
 */
final class OrtRunner {
    private static final OrtEnvironment ENV = OrtEnvironment.getEnvironment(OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, "convnet-quant-test");

    private OrtRunner() {
    }

    /** Input element types, as ONNX Runtime names them: FLOAT, INT8 or UINT8 (by input name; FLOAT when absent). */
    static Map<String, float[]> run(byte[] model, Map<String, long[]> dims, Map<String, float[]> inputs,
                                    Map<String, OnnxDataType> types, boolean optimize) throws OrtException {
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            options.setIntraOpNumThreads(1);
            options.setInterOpNumThreads(1);
            options.setOptimizationLevel(optimize ? OrtSession.SessionOptions.OptLevel.ALL_OPT : OrtSession.SessionOptions.OptLevel.NO_OPT);
            try (OrtSession session = ENV.createSession(model, options)) {
                Map<String, ai.onnxruntime.OnnxTensor> in = new HashMap<>();
                try {
                    for (String name : session.getInputNames()) {
                        float[] x = inputs.get(name);
                        OnnxDataType t = types.getOrDefault(name, OnnxDataType.FLOAT);
                        if (t == OnnxDataType.FLOAT) {
                            in.put(name, ai.onnxruntime.OnnxTensor.createTensor(ENV, FloatBuffer.wrap(x), dims.get(name)));
                        } else {
                            ByteBuffer b = ByteBuffer.allocateDirect(x.length);
                            for (float v : x) b.put((byte) (int) v);
                            b.flip();
                            in.put(name, ai.onnxruntime.OnnxTensor.createTensor(ENV, b, dims.get(name),
                                    t == OnnxDataType.INT8 ? OnnxJavaType.INT8 : OnnxJavaType.UINT8));
                        }
                    }
                    Map<String, float[]> out = new LinkedHashMap<>();
                    try (OrtSession.Result r = session.run(in)) {
                        for (Map.Entry<String, ai.onnxruntime.OnnxValue> e : r) {
                            ai.onnxruntime.OnnxTensor t = (ai.onnxruntime.OnnxTensor) e.getValue();
                            OnnxJavaType type = t.getInfo().type;
                            float[] v;
                            if (type == OnnxJavaType.FLOAT) {
                                FloatBuffer b = t.getFloatBuffer();
                                v = new float[b.remaining()];
                                b.get(v);
                            } else {
                                ByteBuffer b = t.getByteBuffer();
                                v = new float[b.remaining()];
                                for (int i = 0; i < v.length; i++) v[i] = type == OnnxJavaType.UINT8 ? b.get(i) & 0xFF : b.get(i);
                            }
                            out.put(e.getKey(), v);
                        }
                    }
                    return out;
                } finally {
                    in.values().forEach(ai.onnxruntime.OnnxTensor::close);
                }
            }
        }
    }

    static Map<String, float[]> run(Path model, Map<String, long[]> dims, Map<String, float[]> inputs, boolean optimize) throws Exception {
        return run(java.nio.file.Files.readAllBytes(model), dims, inputs, Map.of(), optimize);
    }

    static double maxAbsDiff(float[] a, float[] b) {
        if (a.length != b.length) throw new AssertionError("lengths " + a.length + " and " + b.length);
        double m = 0;
        for (int i = 0; i < a.length; i++) m = Math.max(m, Math.abs((double) a[i] - b[i]));
        return m;
    }
}
