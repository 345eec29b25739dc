package dev.convnet.bench;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.net.BackendKind;
import dev.convnet.net.Network;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * One layer, compiled once, run from and into caller-owned native segments (the zero-copy path). The layer set is
 * the one {@code native/bench/onednn_layers} runs from C, under the same names, so the two can be divided
 * ({@code jvm_vs_c}). Run with {@code make bench}; add {@code -prof gc} to see the allocation per run.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(value = 1, jvmArgsAppend = {"--enable-native-access=ALL-UNNAMED", "--add-modules", "jdk.incubator.vector"})
public class LayerBenchmark {
    @Param({"lecture_conv5x5", "r18_conv3x3_56", "r18_conv3x3_28", "r18_conv3x3_14", "r18_conv3x3_7", "conv1x1_56",
            "dw_conv3x3_56", "maxpool2x2_56", "maxpool3x3_112", "fc_512_1000", "fc_25088_4096", "relu_56"})
    public String layer;

    @Param({"1", "8"})
    public int batch;

    @Param({"ONEDNN", "JAVA"})
    public BackendKind backend;

    /** Threads per run; 0 means every core. */
    @Param({"0"})
    public int threads;

    private Session session;
    private Arena arena;
    private MemorySegment input;
    private MemorySegment output;

    /** The named layer and the shape of one image it takes. */
    static Object[] layer(String name) {
        SplittableRandom r = new SplittableRandom(42);
        return switch (name) {
            case "lecture_conv5x5" -> new Object[] {conv(3, 6, 5, 1, 1, Padding.valid(), r), Shape.of(3, 32, 32)};
            case "r18_conv3x3_56" -> new Object[] {conv(64, 64, 3, 1, 1, Padding.symmetric(1), r), Shape.of(64, 56, 56)};
            case "r18_conv3x3_28" -> new Object[] {conv(128, 128, 3, 1, 1, Padding.symmetric(1), r), Shape.of(128, 28, 28)};
            case "r18_conv3x3_14" -> new Object[] {conv(256, 256, 3, 1, 1, Padding.symmetric(1), r), Shape.of(256, 14, 14)};
            case "r18_conv3x3_7" -> new Object[] {conv(512, 512, 3, 1, 1, Padding.symmetric(1), r), Shape.of(512, 7, 7)};
            case "conv1x1_56" -> new Object[] {conv(64, 256, 1, 1, 1, Padding.valid(), r), Shape.of(64, 56, 56)};
            case "dw_conv3x3_56" -> new Object[] {conv(64, 64, 3, 1, 64, Padding.symmetric(1), r), Shape.of(64, 56, 56)};
            case "maxpool2x2_56" -> new Object[] {MaxPool2d.of(2, 2), Shape.of(64, 56, 56)};
            case "maxpool3x3_112" -> new Object[] {MaxPool2d.builder(3, 3).stride(2, 2).padding(Padding.symmetric(1)).build(),
                Shape.of(64, 112, 112)};
            case "fc_512_1000" -> new Object[] {Linear.random(512, 1000, r), Shape.of(512)};
            case "fc_25088_4096" -> new Object[] {Linear.random(25088, 4096, r), Shape.of(512, 7, 7)};
            case "relu_56" -> new Object[] {Activation.relu(), Shape.of(64, 56, 56)};
            default -> throw new IllegalArgumentException("unknown layer " + name);
        };
    }

    private static Conv2d conv(int in, int out, int k, int s, int groups, Padding p, SplittableRandom r) {
        return Conv2d.builder(in, out, k).stride(s).groups(groups).padding(p).randomWeights(r).build();
    }

    @Setup(Level.Trial)
    public void setUp() {
        Object[] l = layer(layer);
        Shape image = (Shape) l[1];
        Shape in = image.withBatch(batch);
        int t = threads == 0 ? Runtime.getRuntime().availableProcessors() : threads;
        session = Network.of((Layer) l[0]).compile(in, new SessionOptions(backend, t, true));
        arena = Arena.ofShared();
        input = arena.allocate(in.elementCount() * Float.BYTES, 64); // 64-byte aligned, as oneDNN allocates its own
        SplittableRandom r = new SplittableRandom(7);
        for (long i = 0; i < in.elementCount(); i++) input.setAtIndex(ValueLayout.JAVA_FLOAT, i, (float) r.nextDouble(-1, 1));
        output = arena.allocate(session.outputShape().elementCount() * Float.BYTES, 64); // 64-byte aligned, as oneDNN allocates its own
    }

    @Benchmark
    public MemorySegment run() {
        session.run(input, output);
        return output;
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        session.close();
        arena.close();
    }
}
