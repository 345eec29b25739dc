package dev.convnet.internal.train;

import dev.convnet.internal.jvm.JavaGradients;
import dev.convnet.internal.jvm.JavaKernels;
import dev.convnet.internal.reference.ReferenceGradients;
import dev.convnet.internal.reference.ReferenceKernels;
import dev.convnet.internal.train.GradientHarness.Case;
import dev.convnet.internal.train.GradientHarness.Errors;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.opentest4j.AssertionFailedError;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.function.DoubleUnaryOperator;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * The training kernels of the operations without parameters, on both backends:
 * <ul>
 *   <li>the reference backward pass against central finite differences of the reference forward pass (step
 *       {@link #H}, tolerance {@code ATOL + RTOL·|fd|}), over random shapes of rank 2–4 with batch 1–4, inputs moved
 *       at least {@link #MARGIN} away from every kink (so the step never crosses one);</li>
 *   <li>the Java forward and backward passes against the reference on random shapes with batch 1–8: both compute each
 *       element as one rounding of the same double expression and sum in the same order, so they agree to
 *       {@code JAVA_ATOL + JAVA_RTOL·|ref|} (in practice bitwise);</li>
 *   <li>on every case, the training forward pass of both backends bitwise equal to the inference kernels;</li>
 *   <li>the values at kinks (PyTorch's conventions), ties, zeros of a product, and dropout's mask.</li>
 * </ul>
 * The largest errors seen per family are printed after the run.
 */
class OpGradientTest {
    /** Finite-difference step: large enough that float rounding of the outputs stays ~1e-5 of the difference. */
    private static final double H = 1e-2;
    private static final double RTOL = 2e-3;
    private static final double ATOL = 2e-4;
    private static final double JAVA_RTOL = 1e-6;
    private static final double JAVA_ATOL = 1e-7;
    /** Distance kept from kinks, five steps. */
    private static final double MARGIN = 0.05;
    private static final int MAX_PER_TENSOR = 40;

    private static final Map<String, Errors> FD_ERRORS = new TreeMap<>();
    private static final Map<String, Errors> JAVA_ERRORS = new TreeMap<>();
    private static final Map<String, Integer> CASES = new TreeMap<>();
    private static JavaKernels javaKernels;
    private static JavaGradients javaGradients;

    @BeforeAll
    static void open() {
        javaKernels = new JavaKernels(2);
        javaGradients = new JavaGradients(2);
    }

    @AfterAll
    static void close() {
        javaKernels.close();
        javaGradients.close();
        StringBuilder sb = new StringBuilder("OpGradientTest: largest |error| (and error/tolerance) per family\n");
        for (String f : CASES.keySet()) {
            Errors fd = FD_ERRORS.getOrDefault(f, Errors.NONE);
            Errors jv = JAVA_ERRORS.getOrDefault(f, Errors.NONE);
            sb.append(String.format("  %-28s %4d cases  finite differences %.2e (%.3f)  Java vs reference %.2e (%.3f)%n",
                    f, CASES.get(f), fd.maxAbs(), fd.maxRatio(), jv.maxAbs(), jv.maxRatio()));
        }
        System.out.print(sb);
    }

    /** Makes one random case with a batch of at most {@code maxBatch}. */
    @FunctionalInterface
    private interface Maker {
        Case make(SplittableRandom r, int maxBatch);
    }

    /** {@code fdCases} finite-difference checks (batch ≤ 4) and {@code javaCases} Java checks (batch ≤ 8) per maker. */
    private static void check(String family, long seed, int fdCases, int javaCases, List<Maker> makers) {
        SplittableRandom r = new SplittableRandom(seed);
        for (Maker m : makers) {
            for (int i = 0; i < fdCases; i++) {
                Case c = m.make(r, 4);
                assertTrainingForwardIsInference(c);
                String key = family + "/" + c.layer().kind();
                FD_ERRORS.merge(key, GradientHarness.finiteDifferences(c, H, RTOL, ATOL, MAX_PER_TENSOR).errors(), Errors::max);
                CASES.merge(key, 1, Integer::sum);
            }
            for (int i = 0; i < javaCases; i++) {
                Case c = m.make(r, 8);
                assertTrainingForwardIsInference(c);
                String key = family + "/" + c.layer().kind();
                JAVA_ERRORS.merge(key, GradientHarness.javaAgainstReference(c, JAVA_RTOL, JAVA_ATOL), Errors::max);
                CASES.merge(key, 1, Integer::sum);
            }
        }
    }

    /** Both backends' training forward passes compute exactly what their inference kernels compute. */
    private static void assertTrainingForwardIsInference(Case c) {
        boolean training = !(c.layer() instanceof Dropout);
        int n = (int) c.output().elementCount();
        float[] expected = new float[n];
        float[] actual = new float[n];
        new ReferenceKernels().create(c.layer(), c.inputs(), c.output()).forward(GradientHarness.copy(c.x()), expected);
        new ReferenceGradients().create(c.layer(), c.inputs(), c.output()).forward(GradientHarness.copy(c.x()), new float[0][], actual, training);
        assertArrayEquals(expected, actual, c.layer() + " on " + c.inputs() + ": reference training forward");
        javaKernels.create(c.layer(), c.inputs(), c.output()).forward(GradientHarness.copy(c.x()), expected);
        javaGradients.create(c.layer(), c.inputs(), c.output()).forward(GradientHarness.copy(c.x()), new float[0][], actual, training);
        assertArrayEquals(expected, actual, c.layer() + " on " + c.inputs() + ": Java training forward");
    }

    // ---------------------------------------------------------------- shapes and values

    /** Batch in [1, maxBatch], other sizes in [1, maxDim]. */
    private static Shape shape(SplittableRandom r, int maxBatch, int rank, int maxDim) {
        int[] d = new int[rank];
        d[0] = r.nextInt(1, maxBatch + 1);
        for (int i = 1; i < rank; i++) d[i] = r.nextInt(1, maxDim + 1);
        return Shape.of(d);
    }

    private static Shape shape(SplittableRandom r, int maxBatch) {
        return shape(r, maxBatch, r.nextInt(2, 5), 4);
    }

    private static Case single(Layer layer, Shape in, SplittableRandom r) {
        return GradientHarness.random(layer, List.of(in), r.nextLong());
    }

    private static void map(float[] v, DoubleUnaryOperator f) {
        for (int i = 0; i < v.length; i++) v[i] = (float) f.applyAsDouble(v[i]);
    }

    /** Moves every value at least {@link #MARGIN} away from each kink. */
    private static void awayFrom(float[] v, double... kinks) {
        for (int i = 0; i < v.length; i++) {
            for (double k : kinks) {
                if (Math.abs(v[i] - k) < MARGIN) v[i] = (float) (v[i] >= k ? k + MARGIN : k - MARGIN);
            }
        }
    }

    /** Distinct values {@code step} apart in random order, centred on 0. */
    private static void spaced(float[] v, SplittableRandom r, double step) {
        int[] perm = new int[v.length];
        for (int i = 0; i < perm.length; i++) perm[i] = i;
        for (int i = perm.length - 1; i > 0; i--) {
            int j = r.nextInt(i + 1);
            int t = perm[i];
            perm[i] = perm[j];
            perm[j] = t;
        }
        for (int i = 0; i < v.length; i++) v[i] = (float) ((perm[i] - v.length / 2) * step);
    }

    // ---------------------------------------------------------------- element-wise

    private static Maker elementwise(Layer layer, double scale, DoubleUnaryOperator domain, double... kinks) {
        return (r, maxBatch) -> {
            Case c = single(layer, shape(r, maxBatch), r);
            map(c.x()[0], v -> domain.applyAsDouble(v * scale));
            awayFrom(c.x()[0], kinks);
            return c;
        };
    }

    private static Maker elementwise(Layer layer, double scale, double... kinks) {
        return elementwise(layer, scale, v -> v, kinks);
    }

    @Test
    void activations() {
        check("Activation", 1, 3, 4, List.of(
                elementwise(Activation.relu(), 3, 0),
                elementwise(Activation.leakyRelu(0.01f), 3, 0),
                elementwise(Activation.leakyRelu(0.2f), 3, 0),
                elementwise(Activation.sigmoid(), 4),
                elementwise(Activation.tanh(), 3),
                elementwise(Activation.elu(1f), 3, 0),
                elementwise(Activation.elu(0.5f), 3, 0),
                elementwise(Activation.gelu(), 4)));
    }

    @Test
    void unaryFunctions() {
        DoubleUnaryOperator positive = v -> 0.5 + Math.abs(v);
        DoubleUnaryOperator awayFromZero = v -> Math.copySign(0.5 + Math.abs(v), v);
        List<Maker> makers = new ArrayList<>(List.of(
                elementwise(Unary.clip(-0.5f, 0.6f), 1, -0.5, 0.6),
                elementwise(Unary.clip(0, 6), 8, 0, 6),                      // ReLU6
                elementwise(Unary.hardSigmoid(0.2f, 0.5f), 4, -2.5, 2.5),
                elementwise(Unary.hardSigmoid(1 / 6f, 0.5f), 5, -3, 3),
                elementwise(Unary.hardSwish(), 5, -3, 3),
                elementwise(Unary.of(Unary.Function.ABS), 1, 0),
                elementwise(Unary.of(Unary.Function.NEG), 1),
                elementwise(Unary.of(Unary.Function.EXP), 2),
                elementwise(Unary.of(Unary.Function.LOG), 2, positive),
                elementwise(Unary.of(Unary.Function.SQRT), 2, positive),
                elementwise(Unary.of(Unary.Function.RECIPROCAL), 1, awayFromZero),
                elementwise(Unary.of(Unary.Function.FLOOR), 3, -3, -2, -1, 0, 1, 2, 3),
                elementwise(Unary.of(Unary.Function.CEIL), 3, -3, -2, -1, 0, 1, 2, 3),
                elementwise(Unary.of(Unary.Function.ERF), 2),
                elementwise(Unary.of(Unary.Function.SOFTPLUS), 4),
                elementwise(Unary.of(Unary.Function.SOFTSIGN), 3, 0),                 // f'' jumps at 0
                elementwise(Unary.of(Unary.Function.SELU, 1.6732632f, 1.050701f), 3, 0),
                elementwise(Unary.of(Unary.Function.THRESHOLDED_RELU, 0.3f, 0), 1, 0.3)));
        assertEquals(Unary.Function.values().length + 2, makers.size(), "every unary function is checked");
        check("Unary", 2, 3, 4, makers);
    }

    @Test
    void dropoutGradients() {
        List<Maker> makers = new ArrayList<>();
        for (double ratio : new double[] {0, 0.1, 0.5, 0.8}) makers.add((r, b) -> single(Dropout.of(ratio), shape(r, b), r));
        check("Dropout", 3, 3, 4, makers);
    }

    // ---------------------------------------------------------------- data movement

    @Test
    void reshapes() {
        check("Reshape", 4, 30, 30, List.of((r, maxBatch) -> {
            Shape in = shape(r, maxBatch);
            int rank = in.rank();
            int[] d = in.dims();
            Layer layer = switch (r.nextInt(8)) {
                case 0 -> new Flatten();
                case 1 -> Reshape.flatten(r.nextInt(-rank, rank + 1));
                case 2 -> Reshape.to(0, -1);
                case 3 -> Reshape.to(-1);
                case 4 -> {
                    int[] rev = new int[rank];
                    for (int i = 0; i < rank; i++) rev[i] = d[rank - 1 - i];
                    yield Reshape.to(rev);
                }
                case 5 -> Reshape.unsqueeze(r.nextInt(-rank - 1, rank + 1));
                case 6 -> {
                    int[] ones = java.util.stream.IntStream.range(0, rank).filter(i -> d[i] == 1).toArray();
                    yield ones.length == 0 || ones.length == rank ? Reshape.squeeze() : Reshape.squeeze(ones[0]);
                }
                default -> Reshape.identity();
            };
            return single(layer, in, r);
        }));
    }

    @Test
    void transposes() {
        check("Transpose", 5, 20, 20, List.of((r, maxBatch) -> {
            Shape in = shape(r, maxBatch);
            int[] perm = new int[in.rank()];
            for (int i = 0; i < perm.length; i++) perm[i] = i;
            for (int i = perm.length - 1; i > 0; i--) {
                int j = r.nextInt(i + 1);
                int t = perm[i];
                perm[i] = perm[j];
                perm[j] = t;
            }
            return single(r.nextInt(4) == 0 ? Transpose.of() : Transpose.of(perm), in, r);
        }));
    }

    @Test
    void pads() {
        check("Pad", 6, 40, 40, List.of((r, maxBatch) -> {
            while (true) {
                Shape in = shape(r, maxBatch);
                Pad.Mode mode = Pad.Mode.values()[r.nextInt(3)];
                int[] before = new int[in.rank()];
                int[] after = new int[in.rank()];
                for (int k = 0; k < in.rank(); k++) {
                    int limit = mode == Pad.Mode.REFLECT ? in.dim(k) - 1 : 3;
                    before[k] = Math.min(r.nextInt(-1, 4), limit);
                    after[k] = Math.min(r.nextInt(-1, 4), limit);
                }
                Pad p = Pad.of(before, after, mode, (float) r.nextDouble(-1, 1));
                try {
                    p.outputShape(in);
                } catch (ShapeException e) {
                    continue;
                }
                return single(p, in, r);
            }
        }));
    }

    @Test
    void slices() {
        check("Slice", 7, 40, 40, List.of((r, maxBatch) -> {
            while (true) {
                Shape in = shape(r, maxBatch, r.nextInt(2, 5), 6);
                int rank = in.rank();
                int count = r.nextInt(1, rank + 1);
                int[] axes = new int[count];
                long[] starts = new long[count];
                long[] ends = new long[count];
                long[] steps = new long[count];
                boolean[] used = new boolean[rank];
                for (int i = 0; i < count; i++) {
                    int a;
                    do a = r.nextInt(rank); while (used[a]);
                    used[a] = true;
                    axes[i] = r.nextBoolean() ? a : a - rank;
                    int d = in.dim(a);
                    steps[i] = new long[] {1, 1, 2, 3, -1, -2}[r.nextInt(6)];
                    starts[i] = r.nextInt(-d - 2, d + 3);
                    ends[i] = r.nextInt(8) == 0 ? (steps[i] > 0 ? Long.MAX_VALUE : Long.MIN_VALUE) : r.nextInt(-d - 2, d + 3);
                }
                Slice s = Slice.of(axes, starts, ends, steps);
                try {
                    s.outputShape(in);
                } catch (ShapeException e) {
                    continue;
                }
                return single(s, in, r);
            }
        }));
    }

    @Test
    void concats() {
        check("Concat", 8, 30, 30, List.of((r, maxBatch) -> {
            Shape base = shape(r, maxBatch);
            int rank = base.rank();
            int axis = r.nextInt(-rank, rank);
            int a = axis < 0 ? axis + rank : axis;
            List<Shape> inputs = new ArrayList<>();
            int count = r.nextInt(1, 5);
            for (int i = 0; i < count; i++) {
                int[] d = base.dims();
                d[a] = r.nextInt(1, 4);
                inputs.add(Shape.of(d));
            }
            return GradientHarness.random(Concat.of(axis), inputs, r.nextLong());
        }));
    }

    // ---------------------------------------------------------------- binary with broadcasting

    /**
     * Two operand shapes and their broadcast output: equal, a scalar, per-channel {@code [C, 1, …]} or
     * {@code [1, C, 1, …]}, a random mask of size-1 axes, a suffix of the axes, {@code [N, C, 1, …]}, or both operands
     * broadcast on different axes; either operand may be the smaller one.
     */
    private static List<Shape> broadcastPair(SplittableRandom r, int maxBatch) {
        Shape out = shape(r, maxBatch, r.nextInt(2, 5), 4);
        int rank = out.rank();
        int[] d = out.dims();
        int[] small = d.clone();
        int[] big = d.clone();
        switch (r.nextInt(7)) {
            case 0 -> {
            }
            case 1 -> small = new int[] {1};
            case 2 -> {
                for (int k = 0; k < rank; k++) if (k != 1) small[k] = 1;
                if (r.nextBoolean()) small = Arrays.copyOfRange(small, 1, rank);
            }
            case 3 -> {
                for (int k = 0; k < rank; k++) if (r.nextBoolean()) small[k] = 1;
            }
            case 4 -> small = Arrays.copyOfRange(d, r.nextInt(1, rank), rank);
            case 5 -> {
                for (int k = 2; k < rank; k++) small[k] = 1;
            }
            default -> {
                for (int k = 0; k < rank; k++) {
                    switch (r.nextInt(3)) {
                        case 0 -> small[k] = 1;
                        case 1 -> big[k] = 1;
                        default -> {
                        }
                    }
                }
            }
        }
        Shape a = Shape.of(big);
        Shape b = Shape.of(small);
        return r.nextBoolean() ? List.of(a, b) : List.of(b, a);
    }

    private static Maker binary(Binary.Op op) {
        return (r, maxBatch) -> {
            Case c = GradientHarness.random(Binary.of(op), broadcastPair(r, maxBatch), r.nextLong());
            float[] a = c.x()[0];
            float[] b = c.x()[1];
            switch (op) {
                case DIV -> map(b, v -> Math.copySign(0.5 + 0.7 * Math.abs(v), v));
                case POW -> {
                    map(a, v -> 0.5 + Math.abs(v));
                    map(b, v -> 1.5 * v);
                }
                case MAX, MIN -> { // every a is at least 0.05 from every b
                    map(a, v -> Math.round(v * 10) / 10.0 + 0.05);
                    map(b, v -> Math.round(v * 10) / 10.0);
                }
                case PRELU -> awayFrom(a, 0);
                default -> {
                }
            }
            return c;
        };
    }

    @Test
    void binaryWithBroadcasting() {
        List<Maker> makers = Arrays.stream(Binary.Op.values()).map(OpGradientTest::binary).toList();
        check("Binary", 9, 8, 10, makers);
    }

    // ---------------------------------------------------------------- softmax and reductions

    @Test
    void softmaxes() {
        check("Softmax", 10, 20, 20, List.of((r, maxBatch) -> {
            Shape in = shape(r, maxBatch);
            int rank = in.rank();
            if (r.nextInt(4) == 0) {
                Case c = single(new Softmax(), in, r);
                map(c.x()[0], v -> 3 * v);
                return c;
            }
            AxisSoftmax.Function f = AxisSoftmax.Function.values()[r.nextInt(3)];
            boolean coerce = r.nextBoolean();
            AxisSoftmax s = AxisSoftmax.of(f, r.nextInt(-rank, rank), coerce);
            Case c = single(s, in, r);
            if (f == AxisSoftmax.Function.HARDMAX) spaced(c.x()[0], r, MARGIN);
            else map(c.x()[0], v -> 3 * v);
            return c;
        }));
    }

    private static Maker reduce(Reduce.Kind kind) {
        return (r, maxBatch) -> {
            boolean prod = kind == Reduce.Kind.PROD;
            Shape in = shape(r, maxBatch, r.nextInt(2, prod ? 4 : 5), prod ? 3 : 4);
            int rank = in.rank();
            List<Integer> axes = new ArrayList<>();
            if (r.nextInt(5) > 0) {
                for (int k = 0; k < rank; k++) if (r.nextBoolean()) axes.add(r.nextBoolean() ? k : k - rank);
            }
            Reduce layer = Reduce.of(kind, axes.stream().mapToInt(Integer::intValue).toArray(), r.nextBoolean());
            Case c = single(layer, in, r);
            float[] x = c.x()[0];
            switch (kind) {
                case MAX, MIN -> spaced(x, r, MARGIN);
                case PROD -> map(x, v -> Math.copySign(0.8 + 0.4 * Math.abs(v), v));
                case L1 -> awayFrom(x, 0);
                case LOG_SUM -> map(x, v -> 0.5 + Math.abs(v));
                default -> {
                }
            }
            return c;
        };
    }

    @Test
    void reductions() {
        List<Maker> makers = Arrays.stream(Reduce.Kind.values()).map(OpGradientTest::reduce).toList();
        check("Reduce", 11, 6, 8, makers);
    }

    // ---------------------------------------------------------------- large tensors: the parallel paths

    private static Case large(Layer layer, long seed, Shape... inputs) {
        return GradientHarness.random(layer, List.of(inputs), seed);
    }

    /**
     * Tensors of 2^16 elements and more, so that the Java kernels split their work into several parallel tasks (the
     * small random cases fit in one), against the reference.
     */
    @Test
    void javaMatchesTheReferenceOnLargeTensors() {
        Shape x = Shape.of(4, 16, 32, 32);
        List<Case> cases = new ArrayList<>(List.of(
                large(Activation.gelu(), 1, x),
                large(Activation.relu(), 2, x),
                large(Activation.leakyRelu(0.1f), 3, x),
                large(Unary.hardSwish(), 4, x),
                large(Binary.mul(), 5, x, Shape.of(1, 16, 1, 1)),
                large(Binary.add(), 6, Shape.of(1), x),
                large(Binary.of(Binary.Op.SUB), 7, Shape.of(4, 1, 32, 32), Shape.of(1, 16, 1, 32)),
                large(Binary.of(Binary.Op.SUB), 8, x, x),
                large(Binary.of(Binary.Op.MAX), 9, x, Shape.of(32)),
                large(Pad.of(new int[] {0, 0, 2, 1}, new int[] {0, 0, 1, 2}, Pad.Mode.REFLECT, 0), 10, x),
                large(Pad.of(new int[] {0, 1, 3, 0}, new int[] {1, 0, 0, 3}, Pad.Mode.EDGE, 0), 11, x),
                large(Pad.of(new int[] {0, 0, -1, 2}, new int[] {0, -2, 1, -3}, Pad.Mode.CONSTANT, 0.5f), 12, x),
                large(Slice.of(new int[] {2, 3}, new long[] {1, -1}, new long[] {Long.MAX_VALUE, Long.MIN_VALUE}, new long[] {2, -3}), 13, x),
                large(Concat.of(1), 14, x, Shape.of(4, 3, 32, 32), x),
                large(Concat.of(-1), 15, x, Shape.of(4, 16, 32, 5)),
                large(Transpose.of(0, 2, 3, 1), 16, x),
                large(Reduce.mean(new int[] {2, 3}, true), 17, x),
                large(Reduce.of(Reduce.Kind.SUM, new int[0], false), 18, x),
                large(Reduce.of(Reduce.Kind.LOG_SUM_EXP, new int[] {1}, false), 19, x),
                large(new Softmax(), 20, x),
                large(AxisSoftmax.logSoftmax(-1), 21, x),
                large(Dropout.of(0.5), 22, x),
                large(Reshape.to(0, -1), 23, x)));
        Case max = large(Reduce.of(Reduce.Kind.MAX, new int[] {1}, false), 24, x);
        spaced(max.x()[0], new SplittableRandom(1), 0.01);
        cases.add(max);
        for (Case c : cases) {
            assertTrainingForwardIsInference(c);
            String key = "Large/" + c.layer().kind();
            JAVA_ERRORS.merge(key, GradientHarness.javaAgainstReference(c, JAVA_RTOL, JAVA_ATOL), Errors::max);
            CASES.merge(key, 1, Integer::sum);
        }
    }

    // ---------------------------------------------------------------- kinks, ties, zeros: exact values

    /** The input gradient of a one-input layer at {@code x} for ∂L/∂y = 1, on both backends (which must agree exactly). */
    private static float[] gradientAt(Layer layer, float[] x) {
        Shape s = Shape.of(1, x.length);
        Case c = new Case(layer, List.of(s), layer.outputShape(s), new float[][] {x}, new float[0][], ones(x.length));
        GradientHarness.Gradients ref = GradientHarness.run(new ReferenceGradients().create(layer, c.inputs(), c.output()), c);
        GradientHarness.Gradients java = GradientHarness.run(javaGradients.create(layer, c.inputs(), c.output()), c);
        assertArrayEquals(ref.inputs()[0], java.inputs()[0], layer + ": Java and reference");
        return ref.inputs()[0];
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        Arrays.fill(v, 1f);
        return v;
    }

    @Test
    void derivativesAtKinksFollowPyTorch() {
        assertArrayEquals(new float[] {0, 0, 1}, gradientAt(Activation.relu(), new float[] {-1, 0, 1}));
        assertArrayEquals(new float[] {0.1f, 0.1f, 1}, gradientAt(Activation.leakyRelu(0.1f), new float[] {-1, 0, 1}));
        assertArrayEquals(new float[] {0.5f, 1}, gradientAt(Activation.elu(0.5f), new float[] {0, 1}));
        // torch.clamp: 1 on the closed interval [min, max]
        assertArrayEquals(new float[] {0, 1, 1, 1, 0}, gradientAt(Unary.clip(0, 6), new float[] {-1, 0, 3, 6, 7}));
        // hardsigmoid: α on the open interval
        assertArrayEquals(new float[] {0, 0.2f, 0, 0}, gradientAt(Unary.hardSigmoid(0.2f, 0.5f), new float[] {-2.5f, 0, 2.5f, 3}));
        // hardswish_backward: 0 below −3, x/3 + ½ on [−3, 3], 1 above
        assertArrayEquals(new float[] {0, -0.5f, 0.5f, 1.5f, 1}, gradientAt(Unary.hardSwish(), new float[] {-4, -3, 0, 3, 4}));
        assertArrayEquals(new float[] {-1, 0, 1}, gradientAt(Unary.of(Unary.Function.ABS), new float[] {-2, 0, 2}));
        assertArrayEquals(new float[] {0, 0, 1}, gradientAt(Unary.of(Unary.Function.THRESHOLDED_RELU, 0.5f, 0), new float[] {0, 0.5f, 1}));
        assertArrayEquals(new float[] {0, 0}, gradientAt(Unary.of(Unary.Function.FLOOR), new float[] {1, 1.5f}));
    }

    /** ∂L/∂a and ∂L/∂b of a binary operation on equal shapes for ∂L/∂y = 1, on both backends. */
    private static float[][] binaryGradientAt(Binary.Op op, float[] a, float[] b) {
        Layer layer = Binary.of(op);
        Shape s = Shape.of(1, a.length);
        Case c = new Case(layer, List.of(s, s), s, new float[][] {a, b}, new float[0][], ones(a.length));
        GradientHarness.Gradients ref = GradientHarness.run(new ReferenceGradients().create(layer, c.inputs(), c.output()), c);
        GradientHarness.Gradients java = GradientHarness.run(javaGradients.create(layer, c.inputs(), c.output()), c);
        assertArrayEquals(ref.inputs()[0], java.inputs()[0], op + ": Java and reference, ∂a");
        assertArrayEquals(ref.inputs()[1], java.inputs()[1], op + ": Java and reference, ∂b");
        return ref.inputs();
    }

    @Test
    void binaryTiesAndKinksFollowPyTorch() {
        float[][] max = binaryGradientAt(Binary.Op.MAX, new float[] {1, 2, 3}, new float[] {2, 2, 2});
        assertArrayEquals(new float[] {0, 0.5f, 1}, max[0]);
        assertArrayEquals(new float[] {1, 0.5f, 0}, max[1]);
        float[][] min = binaryGradientAt(Binary.Op.MIN, new float[] {1, 2, 3}, new float[] {2, 2, 2});
        assertArrayEquals(new float[] {1, 0.5f, 0}, min[0]);
        assertArrayEquals(new float[] {0, 0.5f, 1}, min[1]);
        // PRelu: slope b at a = 0; ∂b = a where a ≤ 0
        float[][] prelu = binaryGradientAt(Binary.Op.PRELU, new float[] {-2, 0, 3}, new float[] {0.25f, 0.25f, 0.25f});
        assertArrayEquals(new float[] {0.25f, 0.25f, 1}, prelu[0]);
        assertArrayEquals(new float[] {-2, 0, 0}, prelu[1]);
        // Pow: ∂b = 0 at a = 0, b ≥ 0; ∂a = 0 where b = 0
        float[][] pow = binaryGradientAt(Binary.Op.POW, new float[] {0, 2, 5}, new float[] {2, 3, 0});
        assertArrayEquals(new float[] {0, 12, 0}, pow[0]);
        assertEquals(0f, pow[1][0]);
        assertEquals(8 * Math.log(2), pow[1][1], 1e-5);
    }

    @Test
    void reductionTiesAndZerosFollowPyTorch() {
        // amax/amin: ties share the gradient equally
        assertArrayEquals(new float[] {0, 0.5f, 0.5f, 0}, gradientAt(Reduce.of(Reduce.Kind.MAX, new int[] {1}, false), new float[] {1, 3, 3, 2}));
        assertArrayEquals(new float[] {1 / 3f, 1 / 3f, 0, 1 / 3f}, gradientAt(Reduce.of(Reduce.Kind.MIN, new int[] {1}, false), new float[] {1, 1, 3, 1}));
        // prod: a single zero gets the product of the others; two zeros: all 0
        assertArrayEquals(new float[] {0, 6, 0}, gradientAt(Reduce.of(Reduce.Kind.PROD, new int[] {1}, false), new float[] {2, 0, 3}));
        assertArrayEquals(new float[] {0, 0, 0}, gradientAt(Reduce.of(Reduce.Kind.PROD, new int[] {1}, false), new float[] {2, 0, 0}));
        assertArrayEquals(new float[] {3, 2}, gradientAt(Reduce.of(Reduce.Kind.PROD, new int[] {1}, false), new float[] {2, 3}));
        // L1: sgn, 0 at 0; L2 of a zero vector: 0
        assertArrayEquals(new float[] {-1, 0, 1}, gradientAt(Reduce.of(Reduce.Kind.L1, new int[] {1}, false), new float[] {-2, 0, 2}));
        assertArrayEquals(new float[] {0, 0}, gradientAt(Reduce.of(Reduce.Kind.L2, new int[] {1}, false), new float[] {0, 0}));
        // hardmax: no gradient
        assertArrayEquals(new float[] {0, 0, 0}, gradientAt(AxisSoftmax.of(AxisSoftmax.Function.HARDMAX, 1, false), new float[] {1, 3, 2}));
    }

    // ---------------------------------------------------------------- dropout

    private static float[] forward(GradKernel k, float[] x, long seed, boolean training) {
        float[] y = new float[x.length];
        k.reseed(seed);
        k.forward(new float[][] {x}, new float[0][], y, training);
        return y;
    }

    @Test
    void dropoutMasks() {
        int n = 200_000;
        float ratio = 0.3f;
        Dropout layer = Dropout.of(ratio);
        Shape s = Shape.of(4, n / 4);
        float[] x = GradientHarness.uniform(new SplittableRandom(5), n);
        for (int i = 0; i < n; i++) if (x[i] == 0) x[i] = 1;
        float scale = (float) (1.0 / (1.0 - ratio));
        GradKernel ref = new ReferenceGradients().create(layer, List.of(s), s);
        GradKernel java = javaGradients.create(layer, List.of(s), s);

        float[] y = forward(ref, x, 11, true);
        int dropped = 0;
        for (int i = 0; i < n; i++) {
            if (y[i] == 0) dropped++;
            else assertEquals(x[i] * scale, y[i], "kept elements are scaled by 1/(1 − ratio)");
        }
        // the dropped fraction is Binomial(n, 0.3)/n: standard deviation 1.0e-3, allow 5
        assertEquals(ratio, dropped / (double) n, 5e-3, "fraction dropped");

        assertArrayEquals(y, forward(ref, x, 11, true), "same seed, same mask");
        assertArrayEquals(y, forward(java, x, 11, true), "the Java backend draws the same mask");
        float[] other = forward(ref, x, 12, true);
        assertFalse(Arrays.equals(y, other), "another seed, another mask");
        int differ = 0;
        for (int i = 0; i < n; i++) if ((y[i] == 0) != (other[i] == 0)) differ++;
        assertEquals(2 * ratio * (1 - ratio), differ / (double) n, 1e-2, "independent masks differ in 2p(1 − p) of the places");

        // backward: dx = dy·mask·scale, on both backends
        float[] dy = GradientHarness.uniform(new SplittableRandom(6), n);
        for (GradKernel k : List.of(ref, java)) {
            float[] yk = forward(k, x, 11, true);
            float[][] dx = {new float[n]};
            k.backward(new float[][] {x}, yk, dy, new float[0][], dx, new float[0][]);
            for (int i = 0; i < n; i++) assertEquals(dy[i] * (yk[i] == 0 ? 0f : scale), dx[0][i], "dx[" + i + "]");
        }

        // without a reseed, the next training step draws a new mask
        ref.reseed(11);
        float[] first = new float[n];
        float[] second = new float[n];
        ref.forward(new float[][] {x}, new float[0][], first, true);
        ref.forward(new float[][] {x}, new float[0][], second, true);
        assertFalse(Arrays.equals(first, second), "consecutive steps draw different masks");

        // inference: identity, and so is a backward pass after it
        for (GradKernel k : List.of(ref, java)) {
            assertArrayEquals(x, forward(k, x, 11, false), "inference is the identity");
            float[][] dx = {new float[n]};
            k.backward(new float[][] {x}, x, dy, new float[0][], dx, new float[0][]);
            assertArrayEquals(dy, dx[0]);
        }
    }

    @Test
    void dropoutOfRatioZeroIsTheIdentityInTraining() {
        Shape s = Shape.of(2, 50);
        float[] x = GradientHarness.uniform(new SplittableRandom(7), 100);
        assertArrayEquals(x, forward(new ReferenceGradients().create(Dropout.of(0), List.of(s), s), x, 1, true));
        assertArrayEquals(x, forward(javaGradients.create(Dropout.of(0), List.of(s), s), x, 1, true));
    }

    // ---------------------------------------------------------------- the tests can fail

    /** The reference kernel with its largest input-gradient element scaled by {@code factor}. */
    private static GradKernel perturbed(Case c, float factor) {
        float[] g = GradientHarness.run(new ReferenceGradients().create(c.layer(), c.inputs(), c.output()), c).inputs()[0];
        int largest = 0;
        for (int i = 0; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[largest])) largest = i;
        int element = largest;
        GradKernel k = new ReferenceGradients().create(c.layer(), c.inputs(), c.output());
        return new GradKernel() {
            @Override
            public void forward(float[][] inputs, float[][] params, float[] output, boolean training) {
                k.forward(inputs, params, output, training);
            }

            @Override
            public void backward(float[][] inputs, float[] output, float[] dOutput, float[][] params, float[][] dInputs,
                                 float[][] dParams) {
                k.backward(inputs, output, dOutput, params, dInputs, dParams);
                dInputs[0][element] *= factor;
            }
        };
    }

    @Test
    void aGradientOffByTwoPercentFailsTheCheck() {
        for (Layer layer : List.of(Activation.tanh(), Unary.of(Unary.Function.EXP), Reduce.mean(new int[] {1}, true),
                AxisSoftmax.of(AxisSoftmax.Function.LOG_SOFTMAX, 1, false))) {
            Case c = GradientHarness.random(layer, List.of(Shape.of(2, 3)), 3);
            GradientHarness.finiteDifferences(perturbed(c, 1f), c, H, RTOL, ATOL, MAX_PER_TENSOR);
            assertThrows(AssertionFailedError.class,
                    () -> GradientHarness.finiteDifferences(perturbed(c, 1.02f), c, H, RTOL, ATOL, MAX_PER_TENSOR), layer.toString());
        }
    }
}
