package dev.convnet.internal.onednn;

import dev.convnet.internal.onednn.TrainingComparison.Bound;
import dev.convnet.internal.onednn.TrainingComparison.Case;
import dev.convnet.internal.onednn.TrainingComparison.Worst;
import dev.convnet.internal.train.ConvGeometry;
import dev.convnet.internal.train.LayerCases;
import dev.convnet.layer.Activation;
import dev.convnet.layer.AvgPool2d;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.BatchNorm;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Conv1d;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.GlobalPool2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.layer.Softmax;
import dev.convnet.layer.Unary;
import dev.convnet.shape.Shape;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every operation the oneDNN training session lowers to primitives, one node at a time, against the reference
 * backend over random geometries with batch sizes 1–8 and 1–2 threads: outputs, parameter gradients, input gradients
 * and running statistics (see {@link TrainingComparison} for the bound).
 *
 * <p>Term counts n (as for the Java kernels): convolution output {@code C_g·kH·kW + 1}, ∂x {@code O_g·kH·kW}, ∂W and
 * ∂b {@code N·H_out·W_out}; Linear output {@code D + 1}, ∂x {@code K}, ∂W and ∂b {@code N}; pooling
 * {@code kH·kW + 2} (max pooling is exact: it copies); broadcast add: the broadcast multiplicity; concat, ReLU exact.
 * Normwise terms: batch norm {@code 8·γ_m} with m values per channel (mean and variance are float sums of m terms,
 * then a division and a square root); transcendental eltwise functions and their derivatives {@code 2⁻¹⁶} (oneDNN's
 * polynomial approximations are accurate to a few ulp, and derivatives such as {@code 1 − tanh²} lose a few bits to
 * cancellation); softmax and log-softmax {@code 4·γ_K} normwise plus {@code K·(γ_K + 48u)} absolute with K values
 * along the axis (the backward pass subtracts {@code y·Σ∂y}: a float sum of K terms with |∂y| ≤ 1, times oneDNN's
 * exponential; over 400 random cases the error reached {@code 24u·K}).
 */
class OneDnnTrainingLayerTest {
    private static final int MAX_BATCH = 8;

    private interface Generator {
        LayerCases.Spec next(SplittableRandom r, int maxBatch);
    }

    /** Draws {@code count} geometries from {@code gen} and compares each; returns the worst error. */
    private static void layers(String name, long seed, int count, Generator gen) {
        Worst[] worst = {Worst.NONE};
        int valid = TrainingComparison.forEachValid(count, seed, s -> {
            SplittableRandom r = new SplittableRandom(s);
            LayerCases.Spec spec = gen.next(r, MAX_BATCH);
            Layer layer = spec.layer();
            List<Shape> in = spec.inputs();
            Shape out = layer.outputShape(in);
            Case c = TrainingComparison.random(TrainingComparison.single(layer, in.size()), TrainingComparison.shapes(in), s,
                    Set.of());
            worst[0] = worst[0].max(TrainingComparison.compare(c, bound(layer, in, out), spec.maxLike(), r.nextInt(1, 3)));
            return true;
        });
        assertTrue(valid > count / 2, name + ": only " + valid + " of " + count + " random geometries were valid");
        TrainingComparison.report(name, valid, worst[0]);
    }

    private static Bound bound(Layer layer, List<Shape> inputs, Shape out) {
        Shape in = inputs.getFirst();
        return switch (layer) {
            case Conv2d c -> conv(ConvGeometry.of(c, in));
            case Conv1d c -> conv(ConvGeometry.of(c, in));
            case Linear l -> new Bound(l.inFeatures() + 1, l.outFeatures(), in.dim(0), 0);
            case MaxPool2d p -> new Bound(1, p.kernelHeight() * p.kernelWidth(), 1, 0);
            case AvgPool2d p -> new Bound(p.kernelHeight() * p.kernelWidth() + 2, p.kernelHeight() * p.kernelWidth() + 2, 1, 0);
            case GlobalPool2d g -> new Bound(in.elementCount(2) + 2, in.elementCount(2) + 2, 1, 0);
            case BatchNorm b -> {
                long m = in.elementCount() / in.dim(1);
                yield new Bound(m + 2, m + 2, m + 2, 8 * TrainingComparison.gamma(m + 2));
            }
            default -> throw new IllegalArgumentException(layer.toString());
        };
    }

    private static Bound conv(ConvGeometry g) {
        long columns = (long) g.batch() * g.positions();
        return new Bound((long) g.groupIn() * g.kh() * g.kw() + 1, (long) g.groupOut() * g.kh() * g.kw(), columns, 0);
    }

    @Test
    void convolution2d() {
        layers("Conv2d", 201, 250, LayerCases::conv2d);
    }

    @Test
    void convolution1d() {
        // Cross-correlation runs on oneDNN; true (flipped) convolution on the Java kernel: both are checked.
        layers("Conv1d", 202, 120, LayerCases::conv1d);
    }

    @Test
    void linearOnInputsOfRank2To4() {
        layers("Linear", 203, 150, LayerCases::linear);
    }

    @Test
    void pooling() {
        layers("MaxPool2d", 204, 150, LayerCases::maxPool);
        layers("AvgPool2d", 205, 150, LayerCases::avgPool);
        layers("GlobalPool2d", 206, 60, LayerCases::globalPool);
    }

    @Test
    void batchNormalization() {
        layers("BatchNorm", 207, 120, LayerCases::batchNorm);
    }

    /** A random activation-sized input: rank 2 to 4, batch 1–8. */
    private static Shape anyShape(SplittableRandom r) {
        int n = r.nextInt(1, MAX_BATCH + 1);
        return switch (r.nextInt(3)) {
            case 0 -> Shape.of(n, r.nextInt(1, 20));
            case 1 -> Shape.of(n, r.nextInt(1, 5), r.nextInt(1, 9));
            default -> Shape.of(n, r.nextInt(1, 5), r.nextInt(1, 7), r.nextInt(1, 7));
        };
    }

    @Test
    void eltwiseFunctions() {
        List<Layer> exact = List.of(Activation.relu(), Activation.leakyRelu(0.01f), Activation.leakyRelu(0.3f),
                Unary.of(Unary.Function.ABS), Unary.of(Unary.Function.NEG));
        List<Layer> approximate = List.of(Activation.sigmoid(), Activation.tanh(), Activation.elu(1.0f), Activation.elu(0.5f),
                Activation.gelu(), Unary.of(Unary.Function.EXP));
        List<Layer> all = new ArrayList<>(exact);
        all.addAll(approximate);
        for (Layer f : all) {
            double rel = exact.contains(f) ? 0 : 0x1p-16;
            Worst[] worst = {Worst.NONE};
            int valid = TrainingComparison.forEachValid(30, 208 + all.indexOf(f), s -> {
                SplittableRandom r = new SplittableRandom(s);
                Shape in = anyShape(r);
                // after a producer (so the eltwise may run in place) or straight on the input
                Case c = TrainingComparison.random(TrainingComparison.single(f, 1), TrainingComparison.shapes(List.of(in)), s, Set.of());
                worst[0] = worst[0].max(TrainingComparison.compare(c, new Bound(2, 2, 1, rel), false, r.nextInt(1, 3)));
                return true;
            });
            TrainingComparison.report(f.toString(), valid, worst[0]);
        }
    }

    @Test
    void softmaxAndLogSoftmax() {
        Worst[] worst = {Worst.NONE};
        int valid = TrainingComparison.forEachValid(100, 220, s -> {
            SplittableRandom r = new SplittableRandom(s);
            Shape in = anyShape(r);
            Layer l = switch (r.nextInt(3)) {
                case 0 -> new Softmax();
                case 1 -> AxisSoftmax.logSoftmax(r.nextInt(1, in.rank()));
                default -> AxisSoftmax.of(AxisSoftmax.Function.SOFTMAX, -1, false);
            };
            int axis = l instanceof AxisSoftmax a ? a.axis(in.rank()) : 1;
            long k = in.dim(axis);
            Case c = TrainingComparison.random(TrainingComparison.single(l, 1), TrainingComparison.shapes(List.of(in)), s, Set.of());
            Bound b = new Bound(1, 1, 1, 4 * TrainingComparison.gamma(k + 8), k * (TrainingComparison.gamma(k) + 48 * TrainingComparison.U));
            worst[0] = worst[0].max(TrainingComparison.compare(c, b, false, r.nextInt(1, 3)));
            return true;
        });
        TrainingComparison.report("Softmax/LogSoftmax", valid, worst[0]);
    }

    @Test
    void residualAddWithBroadcastOperands() {
        Worst[] worst = {Worst.NONE};
        int valid = TrainingComparison.forEachValid(80, 221, s -> {
            SplittableRandom r = new SplittableRandom(s);
            Shape a = anyShape(r);
            // the second operand: the same shape, or a broadcast one (1s on random axes, or fewer leading axes)
            int[] d = a.dims();
            int kind = r.nextInt(3);
            if (kind == 1) for (int i = 0; i < d.length; i++) if (r.nextBoolean()) d[i] = 1;
            if (kind == 2) d = java.util.Arrays.copyOfRange(d, r.nextInt(1, d.length), d.length);
            Shape b = Shape.of(d);
            long multiplicity = a.elementCount() / b.elementCount();
            List<Shape> in = r.nextBoolean() ? List.of(a, b) : List.of(b, a);
            Case c = TrainingComparison.random(TrainingComparison.single(Binary.add(), 2), TrainingComparison.shapes(in), s, Set.of());
            worst[0] = worst[0].max(TrainingComparison.compare(c, new Bound(1, multiplicity + 1, 1, 0), false, r.nextInt(1, 3)));
            return true;
        });
        TrainingComparison.report("Add (broadcast)", valid, worst[0]);
    }

    @Test
    void concatenation() {
        Worst[] worst = {Worst.NONE};
        int valid = TrainingComparison.forEachValid(60, 222, s -> {
            SplittableRandom r = new SplittableRandom(s);
            Shape base = anyShape(r);
            int axis = r.nextInt(0, base.rank());
            int parts = r.nextInt(1, 4);
            List<Shape> in = new ArrayList<>();
            for (int i = 0; i < parts; i++) {
                int[] d = base.dims();
                d[axis] = r.nextInt(1, 6);
                in.add(Shape.of(d));
            }
            Case c = TrainingComparison.random(TrainingComparison.single(Concat.of(axis), parts), TrainingComparison.shapes(in), s, Set.of());
            worst[0] = worst[0].max(TrainingComparison.compare(c, Bound.exact(), false, r.nextInt(1, 3)));
            return true;
        });
        TrainingComparison.report("Concat", valid, worst[0]);
    }
}
