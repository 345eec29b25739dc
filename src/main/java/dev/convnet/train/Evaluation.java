package dev.convnet.train;

import java.util.List;
import java.util.Locale;

/**
 * The result of {@link Trainer#evaluate}: mean loss, accuracy and the confusion matrix (rows: true class, columns:
 * predicted class; prediction = the highest score, the first on ties).
 *
 * @param loss      mean loss over the examples
 * @param accuracy  fraction predicted right
 * @param confusion counts {@code [true][predicted]}
 *
 * <p>Thread-safety: immutable after construction (the matrix is not copied on access; do not modify it).
 */
public record Evaluation(double loss, double accuracy, int[][] confusion) {
    /** The number of examples evaluated. */
    public long count() {
        long n = 0;
        for (int[] row : confusion) for (int c : row) n += c;
        return n;
    }

    /** The confusion matrix as a table with the given class names (or indices when null). */
    public String confusionTable(List<String> classNames) {
        int k = confusion.length;
        String[] names = new String[k];
        for (int i = 0; i < k; i++) names[i] = classNames != null && i < classNames.size() ? classNames.get(i) : Integer.toString(i);
        int w = 5;
        for (String n : names) w = Math.max(w, n.length());
        for (int[] row : confusion) for (int c : row) w = Math.max(w, Integer.toString(c).length());
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%-" + w + "s", "true\\pred"));
        for (String n : names) sb.append(String.format(Locale.ROOT, " %" + w + "s", n));
        sb.append('\n');
        for (int i = 0; i < k; i++) {
            sb.append(String.format(Locale.ROOT, "%-" + w + "s", names[i]));
            for (int c : confusion[i]) sb.append(String.format(Locale.ROOT, " %" + w + "d", c));
            sb.append('\n');
        }
        return sb.toString();
    }
}
