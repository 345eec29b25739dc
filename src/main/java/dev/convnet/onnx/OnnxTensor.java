package dev.convnet.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.InvalidProtocolBufferException;
import dev.convnet.onnx.proto.OnnxProtos.TensorProto;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Objects;

/**
 * A named tensor read from an ONNX file: an initializer, the value of a {@code Constant} node's
 * {@code value} attribute, or the content of a backend-test {@code input_N.pb} / {@code output_N.pb} file
 * (a serialized {@code TensorProto}).
 *
 * <p>Values are held for {@link OnnxDataType#FLOAT} tensors ({@link #floats()}) and for
 * {@link OnnxDataType#INT64}, {@link OnnxDataType#INT32}, {@link OnnxDataType#INT8} and {@link OnnxDataType#UINT8}
 * tensors ({@link #longs()}; the 8-bit ones, the values of quantized models, also as floats by
 * {@link #toFloats()}). Tensors of other
 * types keep their name, type and shape (their data size was checked when read), and asking for their
 * values throws {@link OnnxFormatException}.
 *
 * <p>{@link #read(Path)} and {@link #parse(byte[])} read {@code .pb} files with the same checks as
 * {@link OnnxModelReader}; {@link #ofFloats} and {@link #write(Path)} write one back (for
 * {@code convnet run --output}), values as little-endian {@code raw_data}.
 *
 * <p>Immutable (the accessors return copies) and thread-safe.
 */
public final class OnnxTensor {
    private final String name;
    private final OnnxDataType dataType;
    private final long[] dims;
    private final long elementCount;
    private final float[] floats;
    private final long[] longs;

    OnnxTensor(String name, OnnxDataType dataType, long[] dims, long elementCount, float[] floats, long[] longs) {
        this.name = name;
        this.dataType = dataType;
        this.dims = dims;
        this.elementCount = elementCount;
        this.floats = floats;
        this.longs = longs;
    }

    /**
     * A FLOAT tensor with these values (copied), for writing.
     *
     * @throws IllegalArgumentException if a dimension is negative or the values do not fill the shape
     */
    public static OnnxTensor ofFloats(String name, long[] dims, float[] values) {
        long count = checkedCount(dims, values.length);
        return new OnnxTensor(Objects.requireNonNull(name), OnnxDataType.FLOAT, dims.clone(), count, values.clone(), null);
    }

    /**
     * An INT64 tensor with these values (copied), for writing.
     *
     * @throws IllegalArgumentException if a dimension is negative or the values do not fill the shape
     */
    public static OnnxTensor ofLongs(String name, long[] dims, long[] values) {
        long count = checkedCount(dims, values.length);
        return new OnnxTensor(Objects.requireNonNull(name), OnnxDataType.INT64, dims.clone(), count, null, values.clone());
    }

    /**
     * An INT8 or UINT8 tensor (a quantized value or zero point) with these values (copied), for writing.
     *
     * @throws IllegalArgumentException if the type is not INT8 or UINT8, a value is outside its range, a dimension is
     *                                  negative or the values do not fill the shape
     */
    public static OnnxTensor ofBytes(String name, OnnxDataType type, long[] dims, long[] values) {
        if (type != OnnxDataType.INT8 && type != OnnxDataType.UINT8) {
            throw new IllegalArgumentException("ofBytes: type " + type + " is not INT8 or UINT8");
        }
        long lo = type == OnnxDataType.INT8 ? -128 : 0;
        long hi = type == OnnxDataType.INT8 ? 127 : 255;
        for (int i = 0; i < values.length; i++) {
            if (values[i] < lo || values[i] > hi) {
                throw new IllegalArgumentException("ofBytes: value " + values[i] + " at " + i + " is outside " + type + "'s [" + lo + ", " + hi + "]");
            }
        }
        long count = checkedCount(dims, values.length);
        return new OnnxTensor(Objects.requireNonNull(name), type, dims.clone(), count, null, values.clone());
    }

    private static long checkedCount(long[] dims, int valueCount) {
        long count = 1;
        for (long d : dims) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in " + Arrays.toString(dims));
            count = Math.multiplyExact(count, d);
        }
        if (count != valueCount) {
            throw new IllegalArgumentException("shape " + Arrays.toString(dims) + " holds " + count + " values, got " + valueCount);
        }
        return count;
    }

    /**
     * Reads a serialized {@code TensorProto} file. External data, if the tensor has any, is read only from
     * the file's own folder (see {@link OnnxModelReader}).
     *
     * @throws IOException         if the file cannot be read
     * @throws OnnxFormatException if the content is not a valid tensor
     */
    public static OnnxTensor read(Path pbFile) throws IOException {
        byte[] bytes = OnnxModelReader.readBounded(pbFile);
        return parse(bytes, ExternalData.inFolderOf(pbFile), "tensor file " + pbFile.getFileName());
    }

    /**
     * Parses a serialized {@code TensorProto}. Tensors with external data are refused: there is no folder
     * to read them from.
     *
     * @throws OnnxFormatException if the bytes are not a valid tensor
     */
    public static OnnxTensor parse(byte[] bytes) {
        return parse(bytes, ExternalData.NONE, "tensor");
    }

    private static OnnxTensor parse(byte[] bytes, ExternalData external, String what) {
        TensorProto proto;
        try {
            proto = TensorProto.parseFrom(bytes);
        } catch (InvalidProtocolBufferException e) {
            throw new OnnxFormatException(what + " is not a valid ONNX TensorProto: " + e.getMessage(), e);
        }
        return TensorDecoder.decode(proto, what, external);
    }

    /** The tensor's name (empty when the file gives none). */
    public String name() {
        return name;
    }

    /** The element type. */
    public OnnxDataType dataType() {
        return dataType;
    }

    /** The dimensions (a copy); empty for a scalar. */
    public long[] dims() {
        return dims.clone();
    }

    /** The number of dimensions. */
    public int rank() {
        return dims.length;
    }

    /** The number of elements: the product of the dimensions (1 for a scalar). */
    public long elementCount() {
        return elementCount;
    }

    /** Whether the values are held: FLOAT, INT64, INT32, INT8 or UINT8 tensors. */
    public boolean hasValues() {
        return floats != null || longs != null;
    }

    /**
     * The values of a FLOAT tensor, in row-major order (a copy).
     *
     * @throws OnnxFormatException if the tensor is of another type
     */
    public float[] floats() {
        if (floats == null) {
            throw new OnnxFormatException("tensor '" + name + "' has element type " + dataType + ", not FLOAT: its values cannot be read as floats");
        }
        return floats.clone();
    }

    /**
     * The values of an INT64, INT32, INT8 or UINT8 tensor, in row-major order (a copy).
     *
     * @throws OnnxFormatException if the tensor is of another type
     */
    public long[] longs() {
        if (longs == null) {
            throw new OnnxFormatException("tensor '" + name + "' has element type " + dataType + ", not INT64, INT32, INT8 or UINT8: its values cannot be read as integers");
        }
        return longs.clone();
    }

    /**
     * The values as floats, the way a session takes and returns them: a FLOAT tensor's values, or the integers of an
     * INT8 or UINT8 tensor (exact), in row-major order (a copy).
     *
     * @throws OnnxFormatException if the tensor is of another type
     */
    public float[] toFloats() {
        if (floats != null) return floats.clone();
        if (longs != null && (dataType == OnnxDataType.INT8 || dataType == OnnxDataType.UINT8)) {
            float[] f = new float[longs.length];
            for (int i = 0; i < f.length; i++) f[i] = longs[i];
            return f;
        }
        throw new OnnxFormatException("tensor '" + name + "' has element type " + dataType + ": its values are not FLOAT, INT8 or UINT8");
    }

    /**
     * This tensor as a serialized {@code TensorProto}: name, dims, data type and little-endian
     * {@code raw_data}.
     *
     * @throws OnnxFormatException if the tensor's values are not held (see {@link #hasValues()})
     */
    public byte[] toByteArray() {
        return toProto().toByteArray();
    }

    /**
     * This tensor as a {@code TensorProto} message (as {@link #toByteArray()}), for embedding in a model.
     *
     * @throws OnnxFormatException if the tensor's values are not held
     */
    TensorProto toProto() {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(dataType.code());
        for (long d : dims) b.addDims(d);
        ByteBuffer buf;
        if (floats != null) {
            buf = ByteBuffer.allocate(Math.multiplyExact(floats.length, Float.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
            buf.asFloatBuffer().put(floats);
        } else if (longs != null && (dataType == OnnxDataType.INT8 || dataType == OnnxDataType.UINT8)) {
            buf = ByteBuffer.allocate(longs.length);
            for (long v : longs) buf.put((byte) v);
            buf.flip();
        } else if (longs != null && dataType == OnnxDataType.INT32) {
            buf = ByteBuffer.allocate(Math.multiplyExact(longs.length, Integer.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
            for (long v : longs) buf.putInt((int) v);
            buf.flip();
        } else if (longs != null) {
            buf = ByteBuffer.allocate(Math.multiplyExact(longs.length, Long.BYTES)).order(ByteOrder.LITTLE_ENDIAN);
            buf.asLongBuffer().put(longs);
        } else {
            throw new OnnxFormatException("tensor '" + name + "' of type " + dataType + " has no values to write");
        }
        return b.setRawData(ByteString.copyFrom(buf)).build();
    }

    /**
     * Writes {@link #toByteArray()} to a file, replacing it if it exists; written to a temporary file in the same
     * folder and renamed, so the file is never seen half-written.
     *
     * @throws IOException         if the file cannot be written
     * @throws OnnxFormatException if the tensor's values are not held
     */
    public void write(Path pbFile) throws IOException {
        AtomicFiles.write(pbFile, toByteArray());
    }

    @Override
    public String toString() {
        return "OnnxTensor[" + (name.isEmpty() ? "" : "'" + name + "' ") + dataType + " " + Arrays.toString(dims) + "]";
    }
}
