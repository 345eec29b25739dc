package dev.convnet.onnx;

/**
 * ONNX tensor element types ({@code TensorProto.DataType}), with their numbers in the ONNX specification
 * and their storage width.
 *
 * <p>convnet materializes only {@link #FLOAT} (as {@code float[]}) and {@link #INT64}, {@link #INT32},
 * {@link #INT8} and {@link #UINT8} (as {@code long[]}); tensors of the other types are read, their size is checked, and their values are
 * refused with an {@link OnnxFormatException} when asked for. Enum constants are immutable and thread-safe.
 */
public enum OnnxDataType {
    UNDEFINED(0, 0),
    FLOAT(1, 32),
    UINT8(2, 8),
    INT8(3, 8),
    UINT16(4, 16),
    INT16(5, 16),
    INT32(6, 32),
    INT64(7, 64),
    /** Variable-length UTF-8 strings; never in {@code raw_data}. */
    STRING(8, 0),
    BOOL(9, 8),
    FLOAT16(10, 16),
    DOUBLE(11, 64),
    UINT32(12, 32),
    UINT64(13, 64),
    COMPLEX64(14, 64),
    COMPLEX128(15, 128),
    BFLOAT16(16, 16),
    FLOAT8E4M3FN(17, 8),
    FLOAT8E4M3FNUZ(18, 8),
    FLOAT8E5M2(19, 8),
    FLOAT8E5M2FNUZ(20, 8),
    UINT4(21, 4),
    INT4(22, 4),
    FLOAT4E2M1(23, 4),
    FLOAT8E8M0(24, 8),
    UINT2(25, 2),
    INT2(26, 2);

    private static final OnnxDataType[] BY_CODE = values();

    private final int code;
    private final int bits;

    OnnxDataType(int code, int bits) {
        this.code = code;
        this.bits = bits;
    }

    /** The number of this type in the ONNX specification ({@code TensorProto.DataType}). */
    public int code() {
        return code;
    }

    /** Bits per element in {@code raw_data}; 0 for {@link #UNDEFINED} and {@link #STRING}. */
    public int bits() {
        return bits;
    }

    /**
     * The type with this ONNX number.
     *
     * @throws OnnxFormatException if the number is not an ONNX data type
     */
    public static OnnxDataType fromCode(int code) {
        if (code >= 0 && code < BY_CODE.length && BY_CODE[code].code == code) {
            return BY_CODE[code];
        }
        throw new OnnxFormatException("unknown ONNX data type " + code + " (known: 0.." + (BY_CODE.length - 1) + ")");
    }
}
