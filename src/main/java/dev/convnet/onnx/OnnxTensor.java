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
 * {@link OnnxDataType#INT64} and {@link OnnxDataType#INT32} tensors ({@link #longs()}). Tensors of other
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

    /** Whether the values are held: FLOAT, INT64 or INT32 tensors. */
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
     * The values of an INT64 or INT32 tensor, in row-major order (a copy).
     *
     * @throws OnnxFormatException if the tensor is of another type
     */
    public long[] longs() {
        if (longs == null) {
            throw new OnnxFormatException("tensor '" + name + "' has element type " + dataType + ", not INT64 or INT32: its values cannot be read as integers");
        }
        return longs.clone();
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
