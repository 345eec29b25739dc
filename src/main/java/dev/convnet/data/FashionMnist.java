package dev.convnet.data;

import dev.convnet.shape.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * Zalando's Fashion-MNIST: 28×28 grayscale images of clothing in 10 classes, 60,000 for training (6,000 per
 * class) and 10,000 for testing, read with {@link IdxFiles} from a folder holding
 * {@code train-images-idx3-ubyte(.gz)}, {@code train-labels-idx1-ubyte(.gz)}, {@code t10k-images-idx3-ubyte(.gz)}
 * and {@code t10k-labels-idx1-ubyte(.gz)}. Pixels are in [0, 1], images {@code [1, 28, 28]}, the classes named
 * by {@link #CLASS_NAMES}.
 *
 * <p>Thread-safety: stateless; all methods may be called concurrently.
 */
public final class FashionMnist {
    /** Where Debian's {@code dataset-fashion-mnist} package installs the files. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");

    /** The class names, indexed by label. */
    public static final List<String> CLASS_NAMES = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
            "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot");

    private static final Shape IMAGE = Shape.of(1, 28, 28);

    private FashionMnist() {
    }

    /** The 60,000 training images from {@link #DEFAULT_DIR}; see {@link #read}. */
    public static Dataset train() throws IOException {
        return read(DEFAULT_DIR, true);
    }

    /** The 10,000 test images from {@link #DEFAULT_DIR}; see {@link #read}. */
    public static Dataset test() throws IOException {
        return read(DEFAULT_DIR, false);
    }

    /**
     * Reads the training or test set from {@code dir}.
     *
     * @param train true for the training set, false for the test set
     * @throws DatasetException if the folder is missing (the message says how to install it), a file is missing
     *                          or malformed, or the images are not 28×28 with labels 0..9
     * @throws IOException      if reading fails for another reason
     */
    public static Dataset read(Path dir, boolean train) throws IOException {
        if (!Files.isDirectory(dir)) {
            throw new DatasetException(dir + ": no such folder; install Debian's dataset-fashion-mnist package "
                    + "(apt-get install dataset-fashion-mnist, which fills " + DEFAULT_DIR + "), or pass a folder "
                    + "holding the four IDX files of Fashion-MNIST");
        }
        Dataset d = IdxFiles.readDirectory(dir, train);
        if (!d.imageShape().equals(IMAGE)) {
            throw new DatasetException(dir + ": images are " + d.imageShape() + "; Fashion-MNIST's are " + IMAGE);
        }
        if (d.classes() > CLASS_NAMES.size()) {
            throw new DatasetException(dir + ": label " + (d.classes() - 1) + " occurs; Fashion-MNIST has "
                    + CLASS_NAMES.size() + " classes (0.." + (CLASS_NAMES.size() - 1) + ")");
        }
        return d.withClassNames(CLASS_NAMES);
    }
}
