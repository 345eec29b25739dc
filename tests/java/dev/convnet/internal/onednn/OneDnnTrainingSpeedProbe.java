package dev.convnet.internal.onednn;

import dev.convnet.net.BackendKind;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;

import java.util.SplittableRandom;

/** Manual probe: ms per step of the benchmark network (not a test). */
public class OneDnnTrainingSpeedProbe {
    public static void main(String[] args) {
        int batch = args.length > 0 ? Integer.parseInt(args[0]) : 64;
        int steps = args.length > 1 ? Integer.parseInt(args[1]) : 50;
        Network net = LecturePattern.builder(Shape.of(1, 28, 28)).convsPerBlock(1).blocks(2).blockChannels(32, 64)
                .hiddenLayers(1).hiddenUnits(128).classes(10).seed(1).build();
        Shape in = Shape.of(batch, 1, 28, 28);
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble(-1, 1);
        float[] dy = new float[batch * 10];
        for (int i = 0; i < dy.length; i++) dy[i] = (float) r.nextDouble(-1, 1) / batch;
        try (ParameterSet p = ParameterSet.of(net);
             TrainingSession s = TrainingSession.compile(net.toGraph(), p, in, TrainingOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(2))) {
            if (args.length > 2) System.out.println(s.plan());
            double[] t = new double[steps];
            for (int i = 0; i < steps; i++) {
                long t0 = System.nanoTime();
                s.forward(x, true);
                s.backward(dy);
                t[i] = (System.nanoTime() - t0) / 1e6;
            }
            double[] sorted = t.clone();
            java.util.Arrays.sort(sorted);
            double med = sorted[steps / 2];
            System.out.printf("batch %d: median %.2f ms/step, min %.2f ms; %.0f images/s%n", batch, med, sorted[0], batch * 1000 / med);
        }
    }
}
