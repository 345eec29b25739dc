package dev.convnet.data;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * An immutable, in-memory set of labelled images: {@link #size()} examples, each a float image of
 * {@link #imageShape()} {@code [channels, height, width]} (row-major, no batch dimension) and an int label in
 * {@code [0, }{@link #classes()}{@code )}, with one name per class.
 *
 * <p>Storage: the pixels of all examples live in one {@code float[]} (or one read-only mapped file, {@link #mapped})
 * that is never written after it is filled, and every dataset derived from this one ({@link #filterClasses}, {@link #subset},
 * {@link #samplePerClass}, {@link #split}, {@link #normalized}, {@link #withClassNames}) shares it: a derived
 * dataset holds only its own row indices and labels (8 bytes per example) and, for {@link #normalized}, the
 * per-channel mean and standard deviation, applied when an image is read. One array limits a dataset to
 * {@code 2^31 - 9} floats (Fashion-MNIST's training set is 47,040,000).
 *
 * <p>Indices are checked: an example index outside {@code [0, size())} is an
 * {@link IndexOutOfBoundsException}; every other bad argument is an {@link IllegalArgumentException} whose
 * message names the rule and the numbers.
 *
 * <p>Thread-safety: immutable, safe to share between threads; every method may be called concurrently.
 */
public final class Dataset {
    /** The largest float array a JVM allocates reliably. */
    static final int MAX_FLOATS = Integer.MAX_VALUE - 8;

    private record Normalization(float[] mean, float[] std) {
    }

    private final Shape imageShape;
    private final int imageSize;
    /** The pixels: a heap segment over a float[], or a file mapped read-only ({@link #mapped}). */
    private final MemorySegment pixels;
    /** The row of {@link #pixels} holding example i; null when example i is row i. */
    private final int[] rows;
    private final int[] labels;
    private final List<String> classNames;
    private final List<Normalization> normalizations;

    private Dataset(Shape imageShape, MemorySegment pixels, int[] rows, int[] labels, List<String> classNames,
                    List<Normalization> normalizations) {
        this.imageShape = imageShape;
        this.imageSize = (int) imageShape.elementCount();
        this.pixels = pixels;
        this.rows = rows;
        this.labels = labels;
        this.classNames = classNames;
        this.normalizations = normalizations;
    }

    /**
     * A dataset of copies of the given arrays.
     *
     * @param imageShape {@code [channels, height, width]}
     * @param images     all images, example after example, each {@code imageShape.elementCount()} floats
     * @param labels     one label per image, each in {@code [0, classNames.size())}
     * @param classNames one name per class; the number of names is {@link #classes()}
     * @throws IllegalArgumentException if the shape is not rank 3, the array lengths disagree, a label is out
     *                                  of range or there are no class names
     */
    public static Dataset of(Shape imageShape, float[] images, int[] labels, List<String> classNames) {
        return wrap(imageShape, images.clone(), labels.clone(), classNames);
    }

    /** Like {@link #of} but takes ownership of the arrays instead of copying them (for this package's readers). */
    static Dataset wrap(Shape imageShape, float[] images, int[] labels, List<String> classNames) {
        return checked(imageShape, MemorySegment.ofArray(images), labels, classNames);
    }

    /**
     * A dataset whose images are read from {@code file}: {@code labels.length} images of {@code imageShape}, row-major
     * float32 in the platform's byte order, one after another (as a feature cache writes them), mapped read-only into memory that the
     * garbage collector unmaps once no dataset uses it. For data larger than the heap: the operating system pages it in
     * and out.
     *
     * @throws IllegalArgumentException as {@link #of}, or if the file's size differs from what the labels and shape need
     * @throws IOException if the file cannot be mapped
     */
    public static Dataset mapped(Path file, Shape imageShape, int[] labels, List<String> classNames) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            long need = (long) labels.length * imageShape.elementCount() * Float.BYTES;
            if (ch.size() != need) {
                throw new IllegalArgumentException(file + " holds " + ch.size() + " bytes, " + labels.length + " images of " + imageShape
                        + " need " + need);
            }
            MemorySegment m = ch.map(FileChannel.MapMode.READ_ONLY, 0, need, Arena.ofAuto());
            return checked(imageShape, m, labels.clone(), classNames);
        }
    }

    private static Dataset checked(Shape imageShape, MemorySegment images, int[] labels, List<String> classNames) {
        Objects.requireNonNull(imageShape, "imageShape");
        if (imageShape.rank() != 3) {
            throw new IllegalArgumentException("image shape " + imageShape
                    + " must be [channels, height, width] (rank 3, no batch dimension)");
        }
        if (imageShape.elementCount() > MAX_FLOATS) {
            throw new IllegalArgumentException("image shape " + imageShape + " has " + imageShape.elementCount()
                    + " elements, more than a float array holds (" + MAX_FLOATS + ")");
        }
        long size = imageShape.elementCount();
        long floats = images.byteSize() / Float.BYTES;
        if (floats != labels.length * size) {
            throw new IllegalArgumentException("images hold " + floats + " floats, but " + labels.length
                    + " labels of images " + imageShape + " (" + size + " floats each) need "
                    + labels.length * size);
        }
        List<String> names = List.copyOf(classNames);
        if (names.isEmpty()) {
            throw new IllegalArgumentException("a dataset needs at least one class name");
        }
        for (int i = 0; i < labels.length; i++) {
            if (labels[i] < 0 || labels[i] >= names.size()) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is outside [0, "
                        + names.size() + "): there are " + names.size() + " class names");
            }
        }
        return new Dataset(imageShape, images, null, labels, names, List.of());
    }

    /** The number of examples. */
    public int size() {
        return labels.length;
    }

    /** The shape of one image, {@code [channels, height, width]}. */
    public Shape imageShape() {
        return imageShape;
    }

    /** The number of floats in one image: channels × height × width. */
    public int imageSize() {
        return imageSize;
    }

    /** The number of classes; every label is in {@code [0, classes())}. Some classes may have no examples. */
    public int classes() {
        return classNames.size();
    }

    /** The class names, indexed by label (unmodifiable). */
    public List<String> classNames() {
        return classNames;
    }

    /** The label of example {@code i}. */
    public int label(int i) {
        return labels[Objects.checkIndex(i, labels.length)];
    }

    /** A copy of all labels, in example order. */
    public int[] labels() {
        return labels.clone();
    }

    /**
     * Where each example came from: entry {@code i} is the index of example {@code i} in the dataset that was read or
     * built with {@link #of} or {@link #mapped} (the one whose pixels this dataset shares), through every
     * {@link #filterClasses}, {@link #subset}, {@link #samplePerClass} and {@link #split} since. For example the
     * Fashion-MNIST training images a {@code filterClasses(5, 6, 7, 8, 9).samplePerClass(10, 1)} draw chose, so another
     * program can train on exactly those images.
     *
     * @return a new array of {@link #size()} indices
     */
    public int[] sourceIndices() {
        if (rows != null) return rows.clone();
        int[] out = new int[labels.length];
        Arrays.setAll(out, i -> i);
        return out;
    }

    /** A new array holding image {@code i} ({@link #imageSize()} floats, normalized if this dataset is). */
    public float[] image(int i) {
        float[] out = new float[imageSize];
        copyImage(i, out, 0);
        return out;
    }

    /**
     * Writes image {@code i} (normalized if this dataset is) into {@code dest[offset, offset + imageSize())}.
     *
     * @throws IndexOutOfBoundsException if {@code i} is not an example index or the image does not fit
     */
    public void copyImage(int i, float[] dest, int offset) {
        Objects.checkIndex(i, labels.length);
        Objects.checkFromIndexSize(offset, imageSize, dest.length);
        int row = rows == null ? i : rows[i];
        MemorySegment.copy(pixels, ValueLayout.JAVA_FLOAT_UNALIGNED, (long) row * imageSize * Float.BYTES, dest, offset, imageSize);
        int plane = imageSize / imageShape.dim(0);
        for (Normalization n : normalizations) {
            for (int c = 0, o = offset; c < n.mean.length; c++) {
                float m = n.mean[c], s = n.std[c];
                for (int end = o + plane; o < end; o++) {
                    dest[o] = (dest[o] - m) / s;
                }
            }
        }
    }

    /** The number of examples of each class, indexed by label ({@link #classes()} entries). */
    public int[] labelCounts() {
        int[] counts = new int[classes()];
        for (int l : labels) {
            counts[l]++;
        }
        return counts;
    }

    /**
     * The examples of the given classes, in this dataset's order, relabelled by their position in
     * {@code keep}: examples of class {@code keep[0]} get label 0, of {@code keep[1]} label 1, and so on.
     * The class names follow the same order.
     *
     * @throws IllegalArgumentException if {@code keep} is empty, names a class outside {@code [0, classes())}
     *                                  or names a class twice
     */
    public Dataset filterClasses(int... keep) {
        if (keep.length == 0) {
            throw new IllegalArgumentException("filterClasses needs at least one class to keep");
        }
        int[] newLabel = new int[classes()];
        Arrays.fill(newLabel, -1);
        List<String> names = new ArrayList<>(keep.length);
        for (int k = 0; k < keep.length; k++) {
            int c = keep[k];
            if (c < 0 || c >= classes()) {
                throw new IllegalArgumentException("filterClasses: class " + c + " is outside [0, " + classes()
                        + "): this dataset has " + classes() + " classes");
            }
            if (newLabel[c] >= 0) {
                throw new IllegalArgumentException("filterClasses: class " + c + " (" + classNames.get(c)
                        + ") is given twice, at positions " + newLabel[c] + " and " + k);
            }
            newLabel[c] = k;
            names.add(classNames.get(c));
        }
        int n = 0;
        for (int l : labels) {
            if (newLabel[l] >= 0) n++;
        }
        int[] newRows = new int[n];
        int[] newLabels = new int[n];
        for (int i = 0, j = 0; i < labels.length; i++) {
            if (newLabel[labels[i]] >= 0) {
                newRows[j] = row(i);
                newLabels[j++] = newLabel[labels[i]];
            }
        }
        return new Dataset(imageShape, pixels, newRows, newLabels, List.copyOf(names), normalizations);
    }

    /**
     * The examples at the given indices, in that order; an index may repeat. Labels and classes are unchanged.
     *
     * @throws IllegalArgumentException if an index is outside {@code [0, size())}
     */
    public Dataset subset(int[] indices) {
        for (int k = 0; k < indices.length; k++) {
            if (indices[k] < 0 || indices[k] >= size()) {
                throw new IllegalArgumentException("subset: index " + indices[k] + " (position " + k
                        + ") is outside [0, " + size() + ")");
            }
        }
        return select(indices);
    }

    /** The examples at already-checked indices. */
    private Dataset select(int[] indices) {
        int[] newRows = new int[indices.length];
        int[] newLabels = new int[indices.length];
        for (int k = 0; k < indices.length; k++) {
            newRows[k] = row(indices[k]);
            newLabels[k] = labels[indices[k]];
        }
        return new Dataset(imageShape, pixels, newRows, newLabels, classNames, normalizations);
    }

    private int row(int i) {
        return rows == null ? i : rows[i];
    }

    /**
     * {@code k} examples of every class, drawn without replacement, kept in this dataset's order. The draw is a
     * pure function of {@code seed} and the class: each class has its own seeded stream, so the same seed gives
     * the same examples, on any machine.
     *
     * @throws IllegalArgumentException if {@code k < 1} or a class has fewer than {@code k} examples
     */
    public Dataset samplePerClass(int k, long seed) {
        if (k < 1) {
            throw new IllegalArgumentException("samplePerClass: k = " + k + " must be ≥ 1");
        }
        int[] counts = labelCounts();
        for (int c = 0; c < counts.length; c++) {
            if (counts[c] < k) {
                throw new IllegalArgumentException("samplePerClass: class " + c + " (" + classNames.get(c)
                        + ") has " + counts[c] + " examples, fewer than k = " + k);
            }
        }
        int[][] byClass = new int[counts.length][];
        for (int c = 0; c < counts.length; c++) {
            byClass[c] = new int[counts[c]];
        }
        int[] fill = new int[counts.length];
        for (int i = 0; i < labels.length; i++) {
            byClass[labels[i]][fill[labels[i]]++] = i;
        }
        int[] chosen = new int[k * counts.length];
        for (int c = 0; c < counts.length; c++) {
            int[] idx = byClass[c];
            SplittableRandom rng = Seeds.random(Seeds.SAMPLE, seed, c);
            for (int j = 0; j < k; j++) {            // partial Fisher–Yates: idx[0, k) is a uniform k-sample
                int r = j + rng.nextInt(idx.length - j);
                int t = idx[j];
                idx[j] = idx[r];
                idx[r] = t;
            }
            System.arraycopy(idx, 0, chosen, c * k, k);
        }
        Arrays.sort(chosen);
        return select(chosen);
    }

    /**
     * Two disjoint parts of this dataset, drawn by a seeded shuffle: {@code first} holds
     * {@code round(fraction × size())} examples, {@code second} the rest, each in this dataset's order. The
     * split is not stratified by class.
     *
     * @param first  the examples drawn for the fraction
     * @param second the remaining examples
     */
    public record Split(Dataset first, Dataset second) {
    }

    /**
     * Splits this dataset in two, as a pure function of {@code seed}.
     *
     * @param fraction the share of examples in {@link Split#first()}, in [0, 1]
     * @throws IllegalArgumentException if {@code fraction} is not in [0, 1]
     */
    public Split split(double fraction, long seed) {
        if (!(fraction >= 0 && fraction <= 1)) {
            throw new IllegalArgumentException("split: fraction " + fraction + " is outside [0, 1]");
        }
        int n = size();
        int[] perm = new int[n];
        Arrays.setAll(perm, i -> i);
        Seeds.shuffle(perm, Seeds.random(Seeds.SPLIT, seed));
        int n1 = (int) Math.round(fraction * n);
        int[] a = Arrays.copyOfRange(perm, 0, n1);
        int[] b = Arrays.copyOfRange(perm, n1, n);
        Arrays.sort(a);
        Arrays.sort(b);
        return new Split(select(a), select(b));
    }

    /**
     * This dataset with every image normalized per channel: {@code (x - mean[c]) / std[c]}, computed in float
     * when an image is read (the pixels stay shared). Normalizing a normalized dataset applies both, in order.
     * {@link #channelMeans()} and {@link #channelStds()} of a training set are the usual arguments.
     *
     * @throws IllegalArgumentException if either array's length is not the number of channels, a mean is not
     *                                  finite, or a standard deviation is not finite and positive
     */
    public Dataset normalized(float[] mean, float[] std) {
        int channels = imageShape.dim(0);
        if (mean.length != channels || std.length != channels) {
            throw new IllegalArgumentException("normalized: images " + imageShape + " have " + channels
                    + " channels, but mean has " + mean.length + " values and std " + std.length);
        }
        for (int c = 0; c < channels; c++) {
            if (!Float.isFinite(mean[c])) {
                throw new IllegalArgumentException("normalized: mean[" + c + "] = " + mean[c] + " is not finite");
            }
            if (!(std[c] > 0) || !Float.isFinite(std[c])) {
                throw new IllegalArgumentException("normalized: std[" + c + "] = " + std[c]
                        + " must be finite and > 0");
            }
        }
        List<Normalization> all = new ArrayList<>(normalizations);
        all.add(new Normalization(mean.clone(), std.clone()));
        return new Dataset(imageShape, pixels, rows, labels, classNames, List.copyOf(all));
    }

    /**
     * This dataset with other class names, for example readable names for the digits of an IDX file. The
     * number of names becomes {@link #classes()}.
     *
     * @throws IllegalArgumentException if a label is not below the number of names
     */
    public Dataset withClassNames(List<String> names) {
        List<String> copy = List.copyOf(names);
        int max = -1;
        for (int l : labels) {
            max = Math.max(max, l);
        }
        if (copy.isEmpty() || max >= copy.size()) {
            throw new IllegalArgumentException("withClassNames: " + copy.size() + " names given, but label " + max
                    + " occurs, which needs at least " + (max + 1));
        }
        return new Dataset(imageShape, pixels, rows, labels, copy, normalizations);
    }

    /**
     * The mean of each channel over all pixels of all examples, as read (normalized if this dataset is),
     * accumulated in double.
     *
     * @throws IllegalStateException if the dataset is empty
     */
    public float[] channelMeans() {
        double[] m = means();
        float[] out = new float[m.length];
        for (int c = 0; c < m.length; c++) out[c] = (float) m[c];
        return out;
    }

    /**
     * The population standard deviation of each channel over all pixels of all examples, as read, computed in
     * double from the deviations from {@link #channelMeans()}.
     *
     * @throws IllegalStateException if the dataset is empty
     */
    public float[] channelStds() {
        double[] m = means();
        double[] sq = new double[m.length];
        forEachPixel((c, x) -> sq[c] += (x - m[c]) * (x - m[c]));
        float[] out = new float[m.length];
        double n = (double) size() * (imageSize / m.length);
        for (int c = 0; c < m.length; c++) out[c] = (float) Math.sqrt(sq[c] / n);
        return out;
    }

    private double[] means() {
        if (size() == 0) {
            throw new IllegalStateException("an empty dataset has no channel statistics");
        }
        double[] sum = new double[imageShape.dim(0)];
        forEachPixel((c, x) -> sum[c] += x);
        double n = (double) size() * (imageSize / sum.length);
        for (int c = 0; c < sum.length; c++) sum[c] /= n;
        return sum;
    }

    private interface PixelVisitor {
        void visit(int channel, double value);
    }

    private void forEachPixel(PixelVisitor v) {
        float[] img = new float[imageSize];
        int plane = imageSize / imageShape.dim(0);
        for (int i = 0; i < size(); i++) {
            copyImage(i, img, 0);
            for (int c = 0, j = 0; c < imageShape.dim(0); c++) {
                for (int end = j + plane; j < end; j++) v.visit(c, img[j]);
            }
        }
    }

    /**
     * The batches of one epoch, in a seeded order; see {@link Batches}.
     *
     * @param batchSize the examples per batch, ≥ 1
     * @param shuffle   false: dataset order; true: a permutation that is a pure function of (seed, epoch)
     * @param seed      the run's seed (also seeds the augmentation, if one is added)
     * @param epoch     the epoch, ≥ 0
     * @param dropLast  leave out a last batch smaller than {@code batchSize}
     * @throws IllegalArgumentException if {@code batchSize < 1} or {@code epoch < 0}
     */
    public Batches batches(int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast) {
        return new Batches(this, batchSize, shuffle, seed, epoch, dropLast, Augmentation.none());
    }

    /** For example {@code Dataset(60000 images [1, 28, 28], 10 classes)}. */
    @Override
    public String toString() {
        return "Dataset(" + size() + " images " + imageShape + ", " + classes() + " classes"
                + (normalizations.isEmpty() ? "" : ", normalized") + ")";
    }
}
