package dev.convnet.spark;

import dev.convnet.data.Images;

import java.io.IOException;
import java.io.Serial;
import java.io.Serializable;
import java.util.Arrays;
import java.util.List;
import org.apache.spark.TaskContext;
import org.apache.spark.sql.catalyst.InternalRow;
import org.apache.spark.sql.catalyst.util.ArrayData;
import org.apache.spark.sql.types.ArrayType;
import org.apache.spark.sql.types.BooleanType;
import org.apache.spark.sql.types.BinaryType;
import org.apache.spark.sql.types.DataType;
import org.apache.spark.sql.types.DoubleType;
import org.apache.spark.sql.types.FloatType;
import org.apache.spark.sql.types.IntegerType;
import org.apache.spark.sql.types.NumericType;
import org.apache.spark.sql.types.StringType;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads a row's input column into its slot of a batch. The column's type says how:
 * <ul>
 *   <li>{@code array<float>} or {@code array<double>}: the sample's values, row-major, exactly as many as the model's
 *       input shape holds;</li>
 *   <li>an image struct as Spark's image data source makes ({@code height}, {@code width}, {@code nChannels},
 *       {@code mode}, {@code data}: 8-bit B, G, R(, A) or gray samples, row after row);</li>
 *   <li>{@code binary}: an encoded image (PNG, JPEG, GIF, BMP; the {@code content} of the {@code binaryFile} source).</li>
 * </ul>
 * Images are scaled to [0, 1] with the model's channels (1: gray, 3: R, G, B) and resized to its height and width
 * (bilinear, {@link Images#resize}). Then, for every kind, {@code (x - mean[c]) / std[c]} per channel when mean and
 * std are set. A row that does not fit is an {@link IllegalArgumentException} naming the row (its position in the
 * partition and a few of its other values), thrown before the model runs.
 *
 * <p>Rows are Spark's internal rows: array values are read straight from Spark's own memory, without boxing.
 *
 * <p>Immutable and thread-safe.
 */
final class RowInput implements PartitionBatches.Input<InternalRow>, Serializable {
    @Serial
    private static final long serialVersionUID = 1L;

    /** How a column's type is read. */
    enum Kind {
        FLOATS, DOUBLES, IMAGE, ENCODED_IMAGE
    }

    /** The image struct's fields, by name. */
    private static final List<String> IMAGE_FIELDS = List.of("height", "width", "nChannels", "mode", "data");
    /** OpenCV's 8-bit types that Spark's image source writes: CV_8UC1, CV_8UC3, CV_8UC4. */
    private static final int CV_8UC1 = 0, CV_8UC3 = 16, CV_8UC4 = 24;
    /** What the message of an unsupported type lists. */
    static final String SUPPORTED = "array<float>, array<double>, an image struct (Spark's image data source: height, width, "
            + "nChannels, mode, data) or binary (encoded PNG/JPEG/GIF/BMP)";

    private final Kind kind;
    private final String column;
    private final int index;
    private final String[] fieldNames;
    private final DataType[] fieldTypes;
    /** Whether the input array may hold nulls (checked per element then). */
    private final boolean containsNull;
    private final int structFields;
    private final int[] sample;
    private final int sampleSize;
    /** Per channel (sample[0] values), or null when not normalized. */
    private final float[] mean;
    private final float[] std;
    /** For images: the struct's height, width, nChannels, mode, data and origin (-1 if none) positions. */
    private final int[] imageFields;

    /**
     * @param schema the rows' schema
     * @param column the input column
     * @param sample one row's input shape (after the batch axis); images need [channels (1 or 3), height, width]
     * @param mean   per-channel means (1 value for all channels, or one per channel), or empty
     * @param std    per-channel standard deviations, as many as {@code mean}
     * @throws IllegalArgumentException if the column is missing or of another type, or the shapes do not fit
     */
    RowInput(StructType schema, String column, int[] sample, double[] mean, double[] std) {
        this.column = column;
        this.index = fieldIndex(schema, column);
        DataType type = schema.fields()[index].dataType();
        this.kind = kindOf(type);
        if (kind == null) {
            throw new IllegalArgumentException("input column '" + column + "' is " + type.simpleString() + "; expected " + SUPPORTED);
        }
        this.fieldNames = schema.fieldNames();
        this.fieldTypes = Arrays.stream(schema.fields()).map(StructField::dataType).toArray(DataType[]::new);
        this.containsNull = type instanceof ArrayType a && a.containsNull();
        this.structFields = type instanceof StructType st ? st.size() : 0;
        this.sample = sample.clone();
        long size = 1;
        for (int d : sample) size *= d;
        this.sampleSize = Math.toIntExact(size);
        boolean image = kind == Kind.IMAGE || kind == Kind.ENCODED_IMAGE;
        if (image && (sample.length != 3 || (sample[0] != 1 && sample[0] != 3))) {
            throw new IllegalArgumentException("input column '" + column + "' holds images; the model's input " + Arrays.toString(sample)
                    + " is not [channels (1 or 3), height, width]");
        }
        if (mean.length != std.length) {
            throw new IllegalArgumentException("mean has " + mean.length + " value(s), std " + std.length + "; give both with as many");
        }
        if (mean.length == 0) {
            this.mean = this.std = null;
        } else {
            int channels = sample[0];
            if (mean.length != 1 && mean.length != channels) {
                throw new IllegalArgumentException("mean and std have " + mean.length + " values; the model's input " + Arrays.toString(sample)
                        + " has " + channels + " channel(s): give 1 or " + channels);
            }
            this.mean = new float[channels];
            this.std = new float[channels];
            for (int c = 0; c < channels; c++) {
                this.mean[c] = (float) mean[mean.length == 1 ? 0 : c];
                this.std[c] = (float) std[std.length == 1 ? 0 : c];
                if (!(this.std[c] > 0) || !Float.isFinite(this.std[c]) || !Float.isFinite(this.mean[c])) {
                    throw new IllegalArgumentException("std must be finite and > 0, mean finite; channel " + c + " has mean "
                            + this.mean[c] + ", std " + this.std[c]);
                }
            }
        }
        if (kind == Kind.IMAGE) {
            StructType st = (StructType) type;
            imageFields = new int[IMAGE_FIELDS.size() + 1];
            for (int i = 0; i < IMAGE_FIELDS.size(); i++) imageFields[i] = st.fieldIndex(IMAGE_FIELDS.get(i));
            imageFields[IMAGE_FIELDS.size()] = Arrays.asList(st.fieldNames()).indexOf("origin");
        } else {
            imageFields = null;
        }
    }

    /** How a column of this type is read, or null if it cannot be. */
    static Kind kindOf(DataType type) {
        if (type instanceof ArrayType a) {
            if (a.elementType() instanceof FloatType) return Kind.FLOATS;
            if (a.elementType() instanceof DoubleType) return Kind.DOUBLES;
            return null;
        }
        if (type instanceof BinaryType) return Kind.ENCODED_IMAGE;
        if (type instanceof StructType st) {
            List<String> names = Arrays.asList(st.fieldNames());
            if (!names.containsAll(IMAGE_FIELDS)) return null;
            for (String f : IMAGE_FIELDS.subList(0, 4)) {
                if (!(st.apply(f).dataType() instanceof IntegerType)) return null;
            }
            return st.apply("data").dataType() instanceof BinaryType ? Kind.IMAGE : null;
        }
        return null;
    }

    /** The column's position, or an error listing the columns there are. */
    static int fieldIndex(StructType schema, String column) {
        int i = Arrays.asList(schema.fieldNames()).indexOf(column);
        if (i < 0) {
            throw new IllegalArgumentException("input column '" + column + "' does not exist; the columns are "
                    + Arrays.toString(schema.fieldNames()));
        }
        return i;
    }

    @Override
    public void write(InternalRow row, long rowIndex, float[] batch, int offset) {
        if (row.isNullAt(index)) throw problem(row, rowIndex, "is null");
        switch (kind) {
            case FLOATS, DOUBLES -> writeValues(row, rowIndex, row.getArray(index), batch, offset);
            case IMAGE -> writeImage(row, rowIndex, row.getStruct(index, structFields), batch, offset);
            case ENCODED_IMAGE -> writeEncoded(row, rowIndex, row.getBinary(index), batch, offset);
        }
        if (mean != null) {
            int plane = sampleSize / sample[0];
            for (int c = 0, o = offset; c < sample[0]; c++) {
                float m = mean[c], s = std[c];
                for (int i = 0; i < plane; i++, o++) batch[o] = (batch[o] - m) / s;
            }
        }
    }

    private void writeValues(InternalRow row, long rowIndex, ArrayData values, float[] batch, int offset) {
        int n = values.numElements();
        if (n != sampleSize) {
            throw problem(row, rowIndex, "has " + n + " values; the model's input " + Arrays.toString(sample) + " needs " + sampleSize);
        }
        if (containsNull) {
            for (int i = 0; i < n; i++) if (values.isNullAt(i)) throw problem(row, rowIndex, "holds a null at index " + i);
        }
        if (kind == Kind.FLOATS) {
            for (int i = 0; i < n; i++) batch[offset + i] = values.getFloat(i);
        } else {
            for (int i = 0; i < n; i++) batch[offset + i] = (float) values.getDouble(i);
        }
    }

    private void writeImage(InternalRow row, long rowIndex, InternalRow image, float[] batch, int offset) {
        int h = image.getInt(imageFields[0]), w = image.getInt(imageFields[1]), samples = image.getInt(imageFields[2]);
        int mode = image.getInt(imageFields[3]);
        byte[] data = image.isNullAt(imageFields[4]) ? null : image.getBinary(imageFields[4]);
        int expected = switch (samples) {
            case 1 -> CV_8UC1;
            case 3 -> CV_8UC3;
            case 4 -> CV_8UC4;
            default -> -1;
        };
        if (mode != expected || data == null) {
            throw problem(row, rowIndex, "is an image of OpenCV type " + mode + " with " + samples + " channel(s)"
                    + (data == null ? " and no data" : "") + "; expected 8-bit samples: CV_8UC1 (0), CV_8UC3 (16) or CV_8UC4 (24)");
        }
        float[] pixels;
        try {
            pixels = Images.planar(data, h, w, samples, true, sample[0]);
        } catch (IllegalArgumentException e) {
            throw problem(row, rowIndex, "is a broken image: " + e.getMessage());
        }
        put(Images.resize(pixels, sample[0], h, w, sample[1], sample[2]), batch, offset);
    }

    private void writeEncoded(InternalRow row, long rowIndex, byte[] encoded, float[] batch, int offset) {
        Images.Decoded img;
        try {
            img = Images.decode(encoded, sample[0]);
        } catch (IOException e) {
            throw problem(row, rowIndex, "(" + encoded.length + " bytes) " + e.getMessage());
        }
        put(Images.resize(img.pixels(), sample[0], img.height(), img.width(), sample[1], sample[2]), batch, offset);
    }

    private void put(float[] pixels, float[] batch, int offset) {
        System.arraycopy(pixels, 0, batch, offset, sampleSize);
    }

    /**
     * The error for a row: its position in the partition, up to three of its other plain values (and an image's
     * origin), the column and what is wrong.
     */
    private IllegalArgumentException problem(InternalRow row, long rowIndex, String what) {
        StringBuilder ctx = new StringBuilder();
        int shown = 0;
        for (int i = 0; i < row.numFields() && i < fieldTypes.length && shown < 3; i++) {
            DataType t = fieldTypes[i];
            if (i == index || row.isNullAt(i) || !(t instanceof NumericType || t instanceof StringType || t instanceof BooleanType)) continue;
            ctx.append(shown++ == 0 ? " (" : ", ").append(fieldNames[i]).append('=').append(abbreviate(row.get(i, t)));
        }
        if (kind == Kind.IMAGE && imageFields[5] >= 0 && !row.isNullAt(index)) {
            InternalRow image = row.getStruct(index, structFields);
            if (!image.isNullAt(imageFields[5])) {
                ctx.append(shown++ == 0 ? " (" : ", ").append(column).append(".origin=").append(abbreviate(image.getUTF8String(imageFields[5])));
            }
        }
        if (shown > 0) ctx.append(')');
        return new IllegalArgumentException("row " + rowIndex + " of partition " + TaskContext.getPartitionId() + ctx
                + ": column '" + column + "' " + what);
    }

    private static String abbreviate(Object v) {
        String s = String.valueOf(v);
        return s.length() <= 60 ? s : s.substring(0, 57) + "...";
    }
}
