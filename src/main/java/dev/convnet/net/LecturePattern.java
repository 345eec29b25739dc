package dev.convnet.net;

import dev.convnet.layer.Activation;
import dev.convnet.layer.Conv2d;
import dev.convnet.layer.Flatten;
import dev.convnet.layer.Layer;
import dev.convnet.layer.Linear;
import dev.convnet.layer.MaxPool2d;
import dev.convnet.shape.Padding;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.random.RandomGenerator;
import java.util.random.RandomGeneratorFactory;

/**
 * Builds the lecture's layer pattern (Sec. 2.3, bracket fixed per the errata):
 * <pre>INPUT → [[CONV → RELU]*N → POOL?]*M → [FC → RELU]*K → FC</pre>
 * with random weights from an explicit, seedable generator. Block {@code b} (0 ≤ b &lt; M) has N
 * convolutions producing {@code blockChannels[b]} channels each; the K hidden FC layers have
 * {@code hiddenUnits[k]} outputs; a {@link Flatten} precedes the first FC.
 *
 * <pre>{@code
 * Network net = LecturePattern.builder(Shape.of(3, 32, 32))
 *         .convsPerBlock(2).blocks(2).blockChannels(16, 32)
 *         .hiddenLayers(1).hiddenUnits(64).classes(10)
 *         .seed(42).build();
 * }</pre>
 *
 * <p>Thread-safety: the builder is not thread-safe; the networks it builds are immutable.
 */
public final class LecturePattern {
    private final Shape imageShape;
    private int convsPerBlock;
    private int blocks;
    private int hiddenLayers;
    private int[] blockChannels = new int[0];
    private int[] hiddenUnits = new int[0];
    private int classes = 10;
    private int kernelSize = 3;
    private Padding convPadding = Padding.same();
    private MaxPool2d pool = MaxPool2d.of(2, 2);
    private boolean[] poolAfterBlock;
    private RandomGenerator random;

    private LecturePattern(Shape imageShape) {
        this.imageShape = Objects.requireNonNull(imageShape, "imageShape");
        if (imageShape.rank() != 3) {
            throw new ShapeException("the lecture pattern takes an image shape [C, H, W], got " + imageShape);
        }
    }

    /** A builder for images of shape {@code [C, H, W]} (no batch). */
    public static LecturePattern builder(Shape imageShape) {
        return new LecturePattern(imageShape);
    }

    /**
     * The whole pattern in one call.
     *
     * @param imageShape    {@code [C, H, W]}
     * @param n             convolutions per block (N ≥ 0)
     * @param m             blocks (M ≥ 0)
     * @param k             hidden FC layers (K ≥ 0)
     * @param blockChannels output channels of each block's convolutions (length M)
     * @param hiddenUnits   outputs of each hidden FC layer (length K)
     * @param classes       outputs of the final FC layer
     * @param random        source of the random weights
     */
    public static Network build(Shape imageShape, int n, int m, int k, int[] blockChannels, int[] hiddenUnits,
                                int classes, RandomGenerator random) {
        return builder(imageShape).convsPerBlock(n).blocks(m).hiddenLayers(k).blockChannels(blockChannels)
                .hiddenUnits(hiddenUnits).classes(classes).random(random).build();
    }

    /** N: [CONV → RELU] repetitions per block. */
    public LecturePattern convsPerBlock(int n) {
        this.convsPerBlock = n;
        return this;
    }

    /** M: number of blocks. */
    public LecturePattern blocks(int m) {
        this.blocks = m;
        return this;
    }

    /** K: number of hidden [FC → RELU] layers. */
    public LecturePattern hiddenLayers(int k) {
        this.hiddenLayers = k;
        return this;
    }

    /** Output channels of every convolution in each block (one entry per block). */
    public LecturePattern blockChannels(int... channels) {
        this.blockChannels = channels.clone();
        return this;
    }

    /** Outputs of each hidden FC layer (one entry per hidden layer). */
    public LecturePattern hiddenUnits(int... units) {
        this.hiddenUnits = units.clone();
        return this;
    }

    /** Outputs of the final FC layer (default 10). */
    public LecturePattern classes(int classes) {
        this.classes = classes;
        return this;
    }

    /** Square kernel size of every convolution (default 3, Sec. 2.3 "Layer Sizing"). */
    public LecturePattern kernelSize(int kernelSize) {
        this.kernelSize = kernelSize;
        return this;
    }

    /** Padding of every convolution (default {@link Padding#same()}). */
    public LecturePattern convPadding(Padding padding) {
        this.convPadding = Objects.requireNonNull(padding, "padding");
        return this;
    }

    /** The pooling layer used after blocks (default 2×2 max pooling, stride 2). */
    public LecturePattern pool(MaxPool2d pool) {
        this.pool = Objects.requireNonNull(pool, "pool");
        return this;
    }

    /** Which blocks end with POOL (one entry per block); default: every block. */
    public LecturePattern poolAfterBlock(boolean... pools) {
        this.poolAfterBlock = pools.clone();
        return this;
    }

    /** The generator for the weights. */
    public LecturePattern random(RandomGenerator random) {
        this.random = Objects.requireNonNull(random, "random");
        return this;
    }

    /** Weights from an {@code L64X128MixRandom} generator seeded with {@code seed}. */
    public LecturePattern seed(long seed) {
        return random(RandomGeneratorFactory.of("L64X128MixRandom").create(seed));
    }

    /**
     * Builds the network and validates it for a batch-1 input.
     *
     * @throws ShapeException        if the counts or channel lists do not match, or a layer does
     *                               not fit (e.g. too many pools for the image)
     * @throws IllegalStateException if no random generator was set
     */
    public Network build() {
        if (convsPerBlock < 0 || blocks < 0 || hiddenLayers < 0) {
            throw new ShapeException("Sec. 2.3: N = " + convsPerBlock + ", M = " + blocks + ", K = " + hiddenLayers
                    + " must all be ≥ 0");
        }
        if (blockChannels.length != blocks) {
            throw new ShapeException("Sec. 2.3: M = " + blocks + " blocks need " + blocks + " channel counts, got "
                    + Arrays.toString(blockChannels));
        }
        if (hiddenUnits.length != hiddenLayers) {
            throw new ShapeException("Sec. 2.3: K = " + hiddenLayers + " hidden FC layers need " + hiddenLayers
                    + " sizes, got " + Arrays.toString(hiddenUnits));
        }
        if (poolAfterBlock != null && poolAfterBlock.length != blocks) {
            throw new ShapeException("Sec. 2.3: M = " + blocks + " blocks need " + blocks + " POOL? flags, got "
                    + poolAfterBlock.length);
        }
        if (random == null) {
            throw new IllegalStateException("no random generator: call random(RandomGenerator) or seed(long)");
        }
        List<Layer> layers = new ArrayList<>();
        int channels = imageShape.dim(0);
        for (int b = 0; b < blocks; b++) {
            for (int i = 0; i < convsPerBlock; i++) {
                layers.add(Conv2d.builder(channels, blockChannels[b], kernelSize).padding(convPadding)
                        .randomWeights(random).build());
                layers.add(Activation.relu());
                channels = blockChannels[b];
            }
            if (poolAfterBlock == null || poolAfterBlock[b]) {
                layers.add(pool);
            }
        }
        layers.add(new Flatten());
        Shape flat = Network.of(layers).plan(imageShape.withBatch(1)).outputShape();
        int features = flat.dim(1);
        for (int k = 0; k < hiddenLayers; k++) {
            layers.add(Linear.random(features, hiddenUnits[k], random));
            layers.add(Activation.relu());
            features = hiddenUnits[k];
        }
        layers.add(Linear.random(features, classes, random));
        Network network = Network.of(layers);
        network.plan(imageShape.withBatch(1));
        return network;
    }
}
