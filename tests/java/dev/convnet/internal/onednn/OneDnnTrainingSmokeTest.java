package dev.convnet.internal.onednn;

import dev.convnet.net.BackendKind;
import dev.convnet.net.LecturePattern;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;
import dev.convnet.train.ParameterSet;
import dev.convnet.train.TrainingOptions;
import dev.convnet.train.TrainingSession;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

class OneDnnTrainingSmokeTest {
    @Test
    void smoke() {
        Network net = LecturePattern.builder(Shape.of(1, 28, 28)).convsPerBlock(1).blocks(2).blockChannels(32, 64)
                .hiddenLayers(1).hiddenUnits(128).classes(10).seed(1).build();
        Shape in = Shape.of(4, 1, 28, 28);
        SplittableRandom r = new SplittableRandom(1);
        float[] x = new float[(int) in.elementCount()];
        for (int i = 0; i < x.length; i++) x[i] = (float) r.nextDouble(-1, 1);
        float[] dy = new float[40];
        for (int i = 0; i < dy.length; i++) dy[i] = (float) r.nextDouble(-1, 1);
        try (ParameterSet p1 = ParameterSet.of(net); ParameterSet p2 = p1.copy();
             TrainingSession a = TrainingSession.compile(net.toGraph(), p1, in, TrainingOptions.defaults().withBackend(BackendKind.ONEDNN).withThreads(2).withInputGradients(true));
             TrainingSession b = TrainingSession.compile(net.toGraph(), p2, in, TrainingOptions.defaults().withBackend(BackendKind.REFERENCE).withInputGradients(true))) {
            System.out.println(a.plan());
            float[] ya = a.forward(x, true), yb = b.forward(x, true);
            System.out.println("out " + maxDiff(ya, yb));
            a.backward(dy);
            b.backward(dy);
            for (String n : p1.names()) System.out.println(n + " " + maxDiff(p1.get(n).gradientArray(), p2.get(n).gradientArray()));
            System.out.println("dx " + maxDiff(a.inputGradients().get("input"), b.inputGradients().get("input")));
        }
    }

    static String maxDiff(float[] a, float[] b) {
        double m = 0, s = 0;
        for (int i = 0; i < a.length; i++) {
            m = Math.max(m, Math.abs(a[i] - b[i]));
            s = Math.max(s, Math.abs(b[i]));
        }
        return String.format("max|diff| %.3e of max %.3e", m, s);
    }
}
