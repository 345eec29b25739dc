package dev.convnet.cli;

import dev.convnet.data.Dataset;
import dev.convnet.data.FashionMnist;
import dev.convnet.data.IdxFiles;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Path;

/**
 * The data options shared by {@code train}, {@code eval} and {@code transfer}: {@code --data fashion-mnist|DIR} (DIR holds
 * the four standard IDX files, raw or .gz), {@code --classes} (kept labels, renumbered in the order given), and
 * {@code --mean}/{@code --std} (per-channel normalization after scaling pixels to [0, 1]; none by default).
 */
final class DataOptions {
    @Option(names = "--data", required = true, paramLabel = "fashion-mnist|DIR",
            description = "fashion-mnist (Debian's dataset-fashion-mnist) or a folder with train-images-idx3-ubyte, "
                    + "train-labels-idx1-ubyte, t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte (each raw or .gz).")
    String data;

    @Option(names = "--classes", split = ",", paramLabel = "C,...",
            description = "Keep only these labels, renumbered 0, 1, 2, … in the order given (train and test alike).")
    int[] classes;

    @Option(names = "--mean", split = ",", paramLabel = "M,...", description = "Per-channel mean subtracted after scaling to [0, 1].")
    float[] mean;

    @Option(names = "--std", split = ",", paramLabel = "S,...", description = "Per-channel standard deviation divided by after the mean.")
    float[] std;

    /** The training or the test split, filtered and normalized as the options say. */
    Dataset load(boolean train) throws IOException {
        Dataset d = data.equals("fashion-mnist") ? (train ? FashionMnist.train() : FashionMnist.test())
                : IdxFiles.readDirectory(Path.of(data), train);
        if (classes != null) d = d.filterClasses(classes);
        if ((mean == null) != (std == null)) throw new IllegalArgumentException("--mean and --std go together");
        if (mean != null) d = d.normalized(mean, std);
        return d;
    }
}
