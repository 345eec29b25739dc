package dev.convnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.convnet.shape.Shape;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The real Fashion-MNIST from Debian's dataset-fashion-mnist; skipped where it is not installed. */
class FashionMnistTest {

    static void assumeInstalled() {
        assumeTrue(Files.isDirectory(FashionMnist.DEFAULT_DIR), FashionMnist.DEFAULT_DIR
                + " is absent: install Debian's dataset-fashion-mnist to run this test");
    }

    static void checkCommon(Dataset d) {
        assertEquals(Shape.of(1, 28, 28), d.imageShape());
        assertEquals(10, d.classes());
        assertEquals(FashionMnist.CLASS_NAMES, d.classNames());
        float min = Float.MAX_VALUE, max = -Float.MAX_VALUE;
        float[] img = new float[784];
        for (int i = 0; i < d.size(); i += 97) {
            d.copyImage(i, img, 0);
            for (float v : img) {
                min = Math.min(min, v);
                max = Math.max(max, v);
            }
        }
        assertEquals(0f, min);
        assertEquals(1f, max);
    }

    @Test
    void trainingSet() throws IOException {
        assumeInstalled();
        Dataset train = FashionMnist.train();
        assertEquals(60_000, train.size());
        checkCommon(train);
        int[] perClass = new int[10];
        Arrays.fill(perClass, 6000);
        assertArrayEquals(perClass, train.labelCounts());
        assertEquals("Ankle boot", train.classNames().get(train.label(0)), "the first training image");
        // the whole pipeline on real data: two classes, balanced sample, normalized, augmented batches
        Dataset two = train.filterClasses(7, 9).samplePerClass(50, 1);
        Dataset norm = two.normalized(two.channelMeans(), two.channelStds());
        int seen = 0;
        for (Batch b : norm.batches(32, true, 1, 0, false).augmented(Augmentation.randomCrop(2).thenHorizontalFlip())) {
            assertEquals(Shape.of(b.size(), 1, 28, 28), b.shape());
            seen += b.size();
        }
        assertEquals(100, seen);
    }

    @Test
    void testSet() throws IOException {
        assumeInstalled();
        Dataset test = FashionMnist.test();
        assertEquals(10_000, test.size());
        checkCommon(test);
        int[] perClass = new int[10];
        Arrays.fill(perClass, 1000);
        assertArrayEquals(perClass, test.labelCounts());
    }

    @Test
    void missingFolderSaysWhatToInstall(@TempDir Path dir) {
        Path absent = dir.resolve("fashion-mnist");
        DatasetException e = assertThrows(DatasetException.class, () -> FashionMnist.read(absent, true));
        assertTrue(e.getMessage().startsWith(absent + ": no such folder; install Debian's dataset-fashion-mnist"),
                e.getMessage());
    }
}
