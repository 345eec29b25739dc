package dev.convnet.onnx;

import com.google.protobuf.ByteString;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * {@code TensorProto} to {@link OnnxTensor}: checks the shape, the data type, where the data is and that its
 * size matches the shape, before any array is allocated. Stateless.
 */
final class TensorDecoder {
    private TensorDecoder() {}

    static OnnxTensor decode(TensorProto t, String what, ExternalData external) {
        String name = t.getName();
        String where = name.isEmpty() ? what : what + " '" + name + "'";
        if (!t.hasDataType() || t.getDataType() == 0) {
            throw new OnnxFormatException(where + " has no data type");
        }
        OnnxDataType type;
        try {
            type = OnnxDataType.fromCode(t.getDataType());
        } catch (OnnxFormatException e) {
            throw new OnnxFormatException(where + ": " + e.getMessage());
        }
        long[] dims = new long[t.getDimsCount()];
        long count = 1;
        for (int i = 0; i < dims.length; i++) {
            long d = t.getDims(i);
            if (d < 0) {
                throw new OnnxFormatException(where + " has a negative dimension " + d + " in " + t.getDimsList());
            }
            dims[i] = d;
            try {
                count = Math.multiplyExact(count, d);
            } catch (ArithmeticException e) {
                throw new OnnxFormatException(where + ": the element count of shape " + t.getDimsList() + " overflows 64 bits");
            }
        }
        // A zero dimension after an overflowing prefix is caught above; a large count is caught here.
        if (count > OnnxModelReader.MAX_ELEMENTS) {
            throw new OnnxFormatException(where + " has " + count + " elements (shape " + t.getDimsList()
                    + "), more than the limit of " + OnnxModelReader.MAX_ELEMENTS);
        }
        int n = (int) count;

        int location = t.getDataLocation();
        if (location != 0 && location != 1) {
            throw new OnnxFormatException(where + " has an unknown data_location " + location + " (0 = DEFAULT, 1 = EXTERNAL)");
        }
        boolean isExternal = location == 1;
        if (!isExternal && t.getExternalDataCount() > 0) {
            throw new OnnxFormatException(where + " has external_data entries but data_location is not EXTERNAL");
        }

        int typedFields = (t.getFloatDataCount() > 0 ? 1 : 0) + (t.getInt32DataCount() > 0 ? 1 : 0)
                + (t.getStringDataCount() > 0 ? 1 : 0) + (t.getInt64DataCount() > 0 ? 1 : 0)
                + (t.getDoubleDataCount() > 0 ? 1 : 0) + (t.getUint64DataCount() > 0 ? 1 : 0);
        if (typedFields > 1) {
            throw new OnnxFormatException(where + " stores its data in more than one of the typed *_data fields");
        }
        if ((t.hasRawData() || isExternal) && typedFields > 0) {
            throw new OnnxFormatException(where + " has both " + (isExternal ? "external data" : "raw_data") + " and a typed *_data field");
        }
        if (isExternal && t.hasRawData()) {
            throw new OnnxFormatException(where + " has both external data and raw_data");
        }

        if (isExternal || t.hasRawData()) {
            if (type == OnnxDataType.STRING) {
                throw new OnnxFormatException(where + ": STRING tensors cannot use " + (isExternal ? "external data" : "raw_data"));
            }
            long expectedBytes = (count * type.bits() + 7) / 8; // count < 2^31 and bits <= 128: no overflow
            if (expectedBytes > OnnxModelReader.MAX_ELEMENTS) {
                throw new OnnxFormatException(where + " needs " + expectedBytes + " bytes of data, more than the limit of "
                        + OnnxModelReader.MAX_ELEMENTS);
            }
            ByteBuffer raw;
            if (isExternal) {
                raw = external.read(t.getExternalDataList(), expectedBytes, where);
            } else {
                ByteString bytes = t.getRawData();
                if (bytes.size() != expectedBytes) {
                    throw new OnnxFormatException(where + " of type " + type + " and shape " + t.getDimsList() + " needs "
                            + expectedBytes + " bytes of raw_data, but has " + bytes.size());
                }
                raw = bytes.asReadOnlyByteBuffer();
            }
            raw.order(ByteOrder.LITTLE_ENDIAN);
            return switch (type) {
                case FLOAT -> {
                    float[] v = new float[n];
                    raw.asFloatBuffer().get(v);
                    yield new OnnxTensor(name, type, dims, count, v, null);
                }
                case INT64 -> {
                    long[] v = new long[n];
                    raw.asLongBuffer().get(v);
                    yield new OnnxTensor(name, type, dims, count, null, v);
                }
                case INT32 -> {
                    long[] v = new long[n];
                    java.nio.IntBuffer ib = raw.asIntBuffer();
                    for (int i = 0; i < n; i++) v[i] = ib.get(i);
                    yield new OnnxTensor(name, type, dims, count, null, v);
                }
                case INT8, UINT8 -> {
                    long[] v = new long[n];
                    for (int i = 0; i < n; i++) v[i] = type == OnnxDataType.INT8 ? raw.get(i) : raw.get(i) & 0xFF;
                    yield new OnnxTensor(name, type, dims, count, null, v);
                }
                default -> new OnnxTensor(name, type, dims, count, null, null);
            };
        }

        if (typedFields == 0) {
            if (count != 0) {
                throw new OnnxFormatException(where + " of shape " + t.getDimsList() + " has no data (" + count + " elements expected)");
            }
            return switch (type) {
                case FLOAT -> new OnnxTensor(name, type, dims, 0, new float[0], null);
                case INT64, INT32, INT8, UINT8 -> new OnnxTensor(name, type, dims, 0, null, new long[0]);
                default -> new OnnxTensor(name, type, dims, 0, null, null);
            };
        }

        // Exactly one typed field: it must be the one ONNX assigns to this type, with the right count.
        String field;
        long present;
        long expected;
        switch (type) {
            case FLOAT, COMPLEX64 -> {
                field = "float_data";
                present = t.getFloatDataCount();
                expected = type == OnnxDataType.FLOAT ? count : 2 * count;
            }
            case DOUBLE, COMPLEX128 -> {
                field = "double_data";
                present = t.getDoubleDataCount();
                expected = type == OnnxDataType.DOUBLE ? count : 2 * count;
            }
            case INT64 -> {
                field = "int64_data";
                present = t.getInt64DataCount();
                expected = count;
            }
            case UINT32, UINT64 -> {
                field = "uint64_data";
                present = t.getUint64DataCount();
                expected = count;
            }
            case STRING -> {
                field = "string_data";
                present = t.getStringDataCount();
                expected = count;
            }
            case UINT4, INT4, FLOAT4E2M1 -> {
                field = "int32_data";
                present = t.getInt32DataCount();
                expected = (count + 1) / 2;
            }
            case UINT2, INT2 -> {
                field = "int32_data";
                present = t.getInt32DataCount();
                expected = (count + 3) / 4;
            }
            default -> { // INT32, INT16, INT8, UINT16, UINT8, BOOL, FLOAT16, BFLOAT16, FLOAT8*
                field = "int32_data";
                present = t.getInt32DataCount();
                expected = count;
            }
        }
        if (present == 0) {
            throw new OnnxFormatException(where + " of type " + type + " stores its data in a field other than " + field);
        }
        if (present != expected) {
            throw new OnnxFormatException(where + " of type " + type + " and shape " + t.getDimsList() + " needs " + expected
                    + " values in " + field + ", but has " + present);
        }
        return switch (type) {
            case FLOAT -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) v[i] = t.getFloatData(i);
                yield new OnnxTensor(name, type, dims, count, v, null);
            }
            case INT64 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = t.getInt64Data(i);
                yield new OnnxTensor(name, type, dims, count, null, v);
            }
            case INT32 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) v[i] = t.getInt32Data(i);
                yield new OnnxTensor(name, type, dims, count, null, v);
            }
            case INT8, UINT8 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) {
                    int x = t.getInt32Data(i);
                    // int32_data holds each 8-bit value widened; one outside the type's range is a malformed file
                    if (type == OnnxDataType.INT8 ? x < -128 || x > 127 : x < 0 || x > 255) {
                        throw new OnnxFormatException(where + " of type " + type + " has value " + x + " at " + i
                                + " in int32_data, outside the type's range");
                    }
                    v[i] = x;
                }
                yield new OnnxTensor(name, type, dims, count, null, v);
            }
            default -> new OnnxTensor(name, type, dims, count, null, null);
        };
    }
}
