package dev.convnet.internal.train;

import dev.convnet.layer.Activation;
import dev.convnet.layer.AxisSoftmax;
import dev.convnet.layer.Binary;
import dev.convnet.layer.Concat;
import dev.convnet.layer.Dropout;
import dev.convnet.layer.Pad;
import dev.convnet.layer.Reduce;
import dev.convnet.layer.Reshape;
import dev.convnet.layer.Slice;
import dev.convnet.layer.Transpose;
import dev.convnet.layer.Unary;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Graph;
import dev.convnet.shape.Shape;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;
import org.junit.jupiter.api.Test;

import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * A small graph of operations without parameters, trained end to end through {@link TrainingSession}: its input
 * gradients must match central finite differences of the session's own training-mode forward pass. The input feeds
 * three nodes and {@code t} two, and a residual Add and a Concat of a split (two Slices) join the branches, so this
 * also checks the executor's summation of gradients over fan-out; there are two outputs, each with its own
 * ∂L/∂output.
 */
class OpTrainingSessionTest {
    private static final Shape INPUT = Shape.of(2, 3, 4, 4);

    private static Graph graph() {
        return Graph.builder().input("x")
                .node("t", Activation.tanh(), "x")
                .node("m", Binary.mul(), "t", "x")
                .node("s", Binary.add(), "m", "x")                                     // residual
                .node("lo", Slice.range(1, 0, 2), "s")                                 // split of s into 2 + 1 channels
                .node("hi", Slice.range(1, 2, 3), "s")
                .node("c", Concat.of(1), "hi", "t", "lo")                              // [2, 6, 4, 4]
                .node("p", Pad.of(new int[] {0, 0, 1, 1}, new int[] {0, 0, 1, 1}, Pad.Mode.REFLECT, 0), "c")
                .node("d", Dropout.of(0.25), "p")
                .node("q", Transpose.of(0, 2, 3, 1), "d")
                .node("f", Reshape.to(0, -1, 6), "q")                                  // [2, 36, 6]
                .node("e", Unary.of(Unary.Function.ERF), "f")
                .node("y", AxisSoftmax.logSoftmax(-1), "e")
                .node("z", Reduce.mean(new int[] {2, 3}, false), "c")                  // [2, 6]
                .output("y", "z")
                .build();
    }

    private static TrainingSession compile(ParameterSet p, BackendKind backend) {
        return TrainingSession.compile(graph(), p, Map.of("x", INPUT),
                TrainingOptions.defaults().withBackend(backend).withInputGradients(true).withThreads(2).withSeed(7));
    }

    private static double loss(TrainingSession s, float[] x, float[] ry, float[] rz) {
        Map<String, float[]> out = s.forward(Map.of("x", x), true);
        double l = 0;
        for (int i = 0; i < ry.length; i++) l += (double) ry[i] * out.get("y")[i];
        for (int i = 0; i < rz.length; i++) l += (double) rz[i] * out.get("z")[i];
        return l;
    }

    @Test
    void inputGradientsMatchFiniteDifferencesOfTheSession() {
        SplittableRandom r = new SplittableRandom(3);
        float[] x = GradientHarness.uniform(r, (int) INPUT.elementCount());
        float[] ry = GradientHarness.uniform(r, 2 * 216);
        float[] rz = GradientHarness.uniform(r, 2 * 6);
        try (ParameterSet p = ParameterSet.of(graph()); TrainingSession s = compile(p, BackendKind.REFERENCE)) {
            s.forward(Map.of("x", x), true);
            s.backward(Map.of("y", ry, "z", rz));
            float[] dx = s.inputGradients().get("x");
            double h = 5e-3;
            double worst = 0;
            double worstRatio = 0;
            for (int i = 0; i < x.length; i++) {
                float[] plus = x.clone();
                float[] minus = x.clone();
                plus[i] += (float) h;
                minus[i] -= (float) h;
                double fd = (loss(s, plus, ry, rz) - loss(s, minus, ry, rz)) / ((double) plus[i] - minus[i]);
                double err = Math.abs(fd - dx[i]);
                double tolerance = 2e-4 + 2e-3 * Math.abs(fd);
                worst = Math.max(worst, err);
                worstRatio = Math.max(worstRatio, err / tolerance);
                if (!(err <= tolerance)) {
                    fail("∂L/∂x[" + i + "] = " + dx[i] + ", finite difference " + fd);
                }
            }
            System.out.printf("OpTrainingSessionTest: largest |∂L/∂x − finite difference| %.2e (%.3f of the tolerance) over %d inputs%n",
                    worst, worstRatio, x.length);

            // the same step on the Java backend gives the same outputs and gradients
            try (TrainingSession java = compile(p, BackendKind.JAVA)) {
                Map<String, float[]> ref = s.forward(Map.of("x", x), true);
                Map<String, float[]> got = java.forward(Map.of("x", x), true);
                assertArrayEquals(ref.get("y"), got.get("y"), 1e-6f);
                assertArrayEquals(ref.get("z"), got.get("z"), 1e-6f);
                s.backward(Map.of("y", ry, "z", rz));
                java.backward(Map.of("y", ry, "z", rz));
                assertArrayEquals(s.inputGradients().get("x"), java.inputGradients().get("x"), 1e-6f);
            }
        }
    }

    @Test
    void aGradientOnOneOutputOnlyLeavesTheOtherOut() {
        SplittableRandom r = new SplittableRandom(4);
        float[] x = GradientHarness.uniform(r, (int) INPUT.elementCount());
        float[] rz = GradientHarness.uniform(r, 2 * 6);
        try (ParameterSet p = ParameterSet.of(graph()); TrainingSession s = compile(p, BackendKind.REFERENCE)) {
            s.forward(Map.of("x", x), true);
            s.backward(Map.of("z", rz));
            float[] dx = s.inputGradients().get("x");
            // z = mean over H, W of c = concat(s[2], tanh x, s[0:2]); s = tanh(x)·x + x
            for (int n = 0; n < 2; n++) {
                for (int ch = 0; ch < 3; ch++) {
                    int zs = ch < 2 ? 3 + 1 + ch : 0;  // channel of c holding s[ch]
                    int zt = 1 + ch;                   // channel of c holding tanh x[ch]
                    for (int k = 0; k < 16; k++) {
                        int i = (n * 3 + ch) * 16 + k;
                        double t = Math.tanh(x[i]);
                        double dt = 1 - t * t;
                        double expected = (rz[n * 6 + zs] * (dt * x[i] + t + 1) + rz[n * 6 + zt] * dt) / 16;
                        assertEquals(expected, dx[i], 1e-6, "∂L/∂x[" + i + "]");
                    }
                }
            }
        }
    }
}
