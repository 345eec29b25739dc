package dev.convnet.train;

import dev.convnet.shape.ShapeException;

/**
 * A loss over a batch of score rows {@code [N, K]} (N examples, K classes or outputs) and its gradient with respect to
 * the scores. Every loss is the mean over the batch.
 * <ul>
 *   <li>{@link #softmaxCrossEntropy()}: {@code −(1/N)·Σ_n log softmax(s_n)[y_n]}; with label smoothing ε the target is
 *       {@code (1 − ε)·onehot(y) + ε/K} (PyTorch's {@code CrossEntropyLoss(label_smoothing=ε)}).</li>
 *   <li>{@link #multiclassHinge()}: the lecture's SVM loss, {@code (1/N)·Σ_n Σ_{j≠y_n} max(0, s_nj − s_ny + Δ)} with
 *       margin Δ = 1 (CS231n's multiclass SVM).</li>
 *   <li>{@link #meanSquaredError()}: {@code (1/(N·K))·Σ (s − t)²} against targets; with class labels the target is
 *       the one-hot vector (PyTorch's {@code MSELoss} with mean reduction).</li>
 * </ul>
 *
 * <p>Thread-safety: immutable.
 */
public final class Loss {
    /** The kinds of loss. */
    public enum Kind {
        /** Softmax cross-entropy. */
        SOFTMAX_CROSS_ENTROPY,
        /** Multiclass hinge (SVM). */
        MULTICLASS_HINGE,
        /** Mean squared error. */
        MEAN_SQUARED_ERROR
    }

    private final Kind kind;
    private final double labelSmoothing;
    private final double margin;

    private Loss(Kind kind, double labelSmoothing, double margin) {
        this.kind = kind;
        this.labelSmoothing = labelSmoothing;
        this.margin = margin;
    }

    /** Softmax cross-entropy, mean over the batch. */
    public static Loss softmaxCrossEntropy() {
        return new Loss(Kind.SOFTMAX_CROSS_ENTROPY, 0, 0);
    }

    /**
     * Softmax cross-entropy with label smoothing ε in [0, 1).
     *
     * @throws IllegalArgumentException if ε is outside [0, 1)
     */
    public static Loss softmaxCrossEntropy(double labelSmoothing) {
        if (!(labelSmoothing >= 0 && labelSmoothing < 1)) {
            throw new IllegalArgumentException("label smoothing ε = " + labelSmoothing + " must be in [0, 1)");
        }
        return new Loss(Kind.SOFTMAX_CROSS_ENTROPY, labelSmoothing, 0);
    }

    /** The multiclass hinge (SVM) loss with margin 1. */
    public static Loss multiclassHinge() {
        return new Loss(Kind.MULTICLASS_HINGE, 0, 1);
    }

    /** Mean squared error against one-hot targets (or explicit targets, {@link #computeTargets}). */
    public static Loss meanSquaredError() {
        return new Loss(Kind.MEAN_SQUARED_ERROR, 0, 0);
    }

    /** The kind. */
    public Kind kind() {
        return kind;
    }

    /**
     * The mean loss of a batch with class labels, writing ∂loss/∂scores into {@code gradient} (same length as
     * {@code scores}; may be null when only the value is wanted).
     *
     * @param scores   {@code [N, K]} row-major
     * @param labels   N labels in [0, K)
     * @param classes  K
     * @param gradient {@code [N, K]} output, or null
     * @throws ShapeException           if the lengths do not fit N and K
     * @throws IllegalArgumentException naming the example if a label is outside [0, K)
     * @throws ArithmeticException      naming the example if a score is NaN or infinite
     */
    public double compute(float[] scores, int[] labels, int classes, float[] gradient) {
        int n = labels.length;
        checkSizes(scores, n, classes, gradient);
        for (int i = 0; i < n; i++) {
            if (labels[i] < 0 || labels[i] >= classes) {
                throw new IllegalArgumentException("label " + labels[i] + " of example " + i + " is outside the class range [0, "
                        + classes + ")");
            }
        }
        checkFinite(scores, classes);
        double total = 0;
        for (int i = 0; i < n; i++) {
            int off = i * classes;
            int y = labels[i];
            switch (kind) {
                case SOFTMAX_CROSS_ENTROPY -> {
                    double max = Double.NEGATIVE_INFINITY;
                    for (int k = 0; k < classes; k++) max = Math.max(max, scores[off + k]);
                    double sum = 0;
                    for (int k = 0; k < classes; k++) sum += Math.exp(scores[off + k] - max);
                    double logSum = Math.log(sum) + max;
                    double eps = labelSmoothing;
                    for (int k = 0; k < classes; k++) {
                        double target = (k == y ? 1 - eps : 0) + eps / classes;
                        double logP = scores[off + k] - logSum;
                        total -= target * logP;
                        if (gradient != null) gradient[off + k] = (float) ((Math.exp(logP) - target) / n);
                    }
                }
                case MULTICLASS_HINGE -> {
                    double sy = scores[off + y];
                    int violations = 0;
                    for (int k = 0; k < classes; k++) {
                        if (k == y) continue;
                        double m = scores[off + k] - sy + margin;
                        if (m > 0) {
                            total += m;
                            violations++;
                            if (gradient != null) gradient[off + k] = (float) (1.0 / n);
                        } else if (gradient != null) {
                            gradient[off + k] = 0f;
                        }
                    }
                    if (gradient != null) gradient[off + y] = (float) (-violations / (double) n);
                }
                case MEAN_SQUARED_ERROR -> {
                    for (int k = 0; k < classes; k++) {
                        double d = scores[off + k] - (k == y ? 1.0 : 0.0);
                        total += d * d / classes;
                        if (gradient != null) gradient[off + k] = (float) (2 * d / ((double) n * classes));
                    }
                }
            }
        }
        return total / n;
    }

    /**
     * Mean squared error against explicit targets (same length as the scores); the mean over all elements.
     *
     * @throws IllegalStateException if this loss is not mean squared error
     */
    public double computeTargets(float[] scores, float[] targets, float[] gradient) {
        if (kind != Kind.MEAN_SQUARED_ERROR) throw new IllegalStateException(kind + " takes class labels, not targets");
        if (targets.length != scores.length || (gradient != null && gradient.length != scores.length)) {
            throw new ShapeException("scores (" + scores.length + "), targets (" + targets.length + ") and gradient must have equal lengths");
        }
        checkFinite(scores, scores.length);
        double total = 0;
        for (int i = 0; i < scores.length; i++) {
            double d = scores[i] - (double) targets[i];
            total += d * d;
            if (gradient != null) gradient[i] = (float) (2 * d / scores.length);
        }
        return total / scores.length;
    }

    private static void checkSizes(float[] scores, int n, int classes, float[] gradient) {
        if (classes < 1) throw new ShapeException("classes = " + classes + " must be ≥ 1");
        if (scores.length != (long) n * classes) {
            throw new ShapeException("scores hold " + scores.length + " floats, " + n + " labels × " + classes + " classes need "
                    + (long) n * classes);
        }
        if (gradient != null && gradient.length != scores.length) {
            throw new ShapeException("gradient holds " + gradient.length + " floats, the scores " + scores.length);
        }
    }

    private static void checkFinite(float[] scores, int classes) {
        for (int i = 0; i < scores.length; i++) {
            if (!Float.isFinite(scores[i])) {
                throw new ArithmeticException("score " + scores[i] + " of example " + i / classes + " (class " + i % classes
                        + ") is not finite: the network diverged (lower the learning rate?)");
            }
        }
    }

    @Override
    public String toString() {
        return switch (kind) {
            case SOFTMAX_CROSS_ENTROPY -> "softmax cross-entropy" + (labelSmoothing > 0 ? " (label smoothing " + labelSmoothing + ")" : "");
            case MULTICLASS_HINGE -> "multiclass hinge (margin " + margin + ")";
            case MEAN_SQUARED_ERROR -> "mean squared error";
        };
    }
}
