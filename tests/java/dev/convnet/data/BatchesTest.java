package dev.convnet.data;

import static dev.convnet.data.DatasetTest.indexed;
import static dev.convnet.data.DatasetTest.origin;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.convnet.shape.Shape;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;

class BatchesTest {

    /** The dataset examples of an epoch, in the order its batches hold them; checks each batch's consistency. */
    static List<Integer> visit(Dataset d, Batches batches) {
        List<Integer> seen = new ArrayList<>();
        for (Batch b : batches) {
            assertEquals(Shape.of(b.size(), 1, 2, 2), b.shape());
            for (int k = 0; k < b.size(); k++) {
                int i = origin(b.images(), k * 4);
                assertArrayEquals(d.image(i), Arrays.copyOfRange(b.images(), k * 4, k * 4 + 4));
                assertEquals(d.label(i), b.labels()[k]);
                seen.add(i);
            }
        }
        return seen;
    }

    @Test
    void everyExampleOncePerEpochIncludingTheLastPartialBatch() {
        Dataset d = indexed(23, 3);
        Batches b = d.batches(5, true, 7, 0, false);
        assertEquals(5, b.count());
        List<Integer> sizes = new ArrayList<>();
        for (Batch batch : b) sizes.add(batch.size());
        assertEquals(List.of(5, 5, 5, 5, 3), sizes);
        List<Integer> seen = visit(d, b);
        assertEquals(23, seen.size());
        assertEquals(23, seen.stream().distinct().count());
        assertEquals(Arrays.stream(b.order()).boxed().toList(), seen);
    }

    @Test
    void dropLastDropsThePartialBatch() {
        Dataset d = indexed(23, 3);
        Batches b = d.batches(5, true, 7, 0, true);
        assertEquals(4, b.count());
        List<Integer> seen = visit(d, b);
        assertEquals(20, seen.size());
        assertEquals(Arrays.stream(b.order()).limit(20).boxed().toList(), seen, "same order, last 3 left out");
        assertEquals(0, d.batches(30, false, 0, 0, true).count());
        assertEquals(1, d.batches(30, false, 0, 0, false).count());
        assertEquals(1, d.batches(23, false, 0, 0, true).count(), "a full last batch is kept");
    }

    @Test
    void orderIsAPureFunctionOfSeedAndEpoch() {
        Dataset d = indexed(100, 10);
        List<Integer> e3 = visit(d, d.batches(8, true, 11, 3, false));
        // a "resumed" run: a new Batches (and a view of the same data) for the same (seed, epoch)
        assertEquals(e3, visit(d, d.subset(java.util.stream.IntStream.range(0, 100).toArray())
                .batches(8, true, 11, 3, false)));
        assertFalse(e3.equals(visit(d, d.batches(8, true, 11, 4, false))), "epochs differ");
        assertFalse(e3.equals(visit(d, d.batches(8, true, 12, 3, false))), "seeds differ");
        // the order does not depend on the batch size
        assertEquals(e3, visit(d, d.batches(13, true, 11, 3, false)));
        // no shuffling: dataset order
        assertEquals(java.util.stream.IntStream.range(0, 100).boxed().toList(),
                visit(d, d.batches(8, false, 11, 3, false)));
    }

    @Test
    void batchByIndexFillAndIteratorAgree() {
        Dataset d = indexed(10, 2);
        Batches b = d.batches(4, true, 5, 2, false);
        float[] images = new float[4 * 4];
        int[] labels = new int[4];
        Arrays.fill(images, -1);
        Iterator<Batch> it = b.iterator();
        for (int i = 0; i < b.count(); i++) {
            Batch fromIterator = it.next();
            Batch direct = b.batch(i);
            assertArrayEquals(direct.images(), fromIterator.images());
            assertArrayEquals(direct.labels(), fromIterator.labels());
            int n = b.fill(i, images, labels);
            assertEquals(direct.size(), n);
            assertEquals(b.size(i), n);
            assertArrayEquals(direct.images(), Arrays.copyOf(images, n * 4));
            assertArrayEquals(direct.labels(), Arrays.copyOf(labels, n));
        }
        assertFalse(it.hasNext());
        assertThrows(NoSuchElementException.class, it::next);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> b.fill(0, new float[15], new int[4]));
        assertEquals("batch 0 has 4 images of [1, 2, 2]: needs 16 floats and 4 labels, the arrays hold 15 and 4",
                e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> b.batch(3));
    }

    @Test
    void rejectsBadArguments() {
        Dataset d = indexed(4, 2);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.batches(0, false, 0, 0, false));
        assertEquals("batches: batch size 0 must be ≥ 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.batches(2, false, 0, -1, false));
        assertEquals("batches: epoch -1 must be ≥ 0", e.getMessage());
        assertThrows(IllegalArgumentException.class,
                () -> new Batch(new float[3], new int[1], Shape.of(1, 1, 2, 2)));
    }

    @Test
    void augmentedBatchesAreReproducibleAndKeepLabels() {
        // 16 images [1, 4, 4] with distinct pixels, so crops and flips show
        int n = 16;
        float[] px = new float[n * 16];
        for (int i = 0; i < px.length; i++) px[i] = i + 1;
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) labels[i] = i % 2;
        Dataset d = Dataset.of(Shape.of(1, 4, 4), px, labels, List.of("a", "b"));
        Augmentation aug = Augmentation.randomCrop(1).thenHorizontalFlip();
        Batches plain = d.batches(4, true, 3, 1, false);
        Batches a = plain.augmented(aug), b = d.batches(4, true, 3, 1, false).augmented(aug);
        boolean changed = false;
        for (int i = 0; i < a.count(); i++) {
            assertArrayEquals(a.batch(i).images(), b.batch(i).images());
            assertArrayEquals(plain.batch(i).labels(), a.batch(i).labels());
            changed |= !Arrays.equals(plain.batch(i).images(), a.batch(i).images());
        }
        assertTrue(changed, "the augmentation changed something");
        // in dataset order, only the augmentation's seed differs between epochs
        assertFalse(Arrays.equals(d.batches(4, false, 3, 1, false).augmented(aug).batch(0).images(),
                d.batches(4, false, 3, 2, false).augmented(aug).batch(0).images()), "another epoch, another draw");
    }
}
