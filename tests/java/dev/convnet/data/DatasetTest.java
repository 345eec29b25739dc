package dev.convnet.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.convnet.shape.Shape;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DatasetTest {

    /**
     * {@code n} images of [1, 2, 2] whose pixels are {@code 10·i + p} (so an image names its example), labels
     * {@code i % classes}.
     */
    static Dataset indexed(int n, int classes) {
        float[] px = new float[n * 4];
        int[] labels = new int[n];
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < 4; p++) px[i * 4 + p] = 10 * i + p;
            labels[i] = i % classes;
        }
        List<String> names = java.util.stream.IntStream.range(0, classes).mapToObj(c -> "c" + c).toList();
        return Dataset.of(Shape.of(1, 2, 2), px, labels, names);
    }

    /** The example an image of {@link #indexed} came from. */
    static int origin(float[] images, int offset) {
        return (int) (images[offset] / 10);
    }

    @Test
    void ofCopiesAndValidates() {
        float[] px = {1, 2, 3, 4};
        Dataset d = Dataset.of(Shape.of(1, 2, 2), px, new int[] {0}, List.of("a", "b"));
        px[0] = 99;
        assertArrayEquals(new float[] {1, 2, 3, 4}, d.image(0));
        assertEquals(2, d.classes());
        assertEquals(4, d.imageSize());

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(Shape.of(1, 2, 2), new float[7], new int[] {0, 1}, List.of("a", "b")));
        assertEquals("images hold 7 floats, but 2 labels of images [1, 2, 2] (4 floats each) need 8", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(Shape.of(1, 2, 2), new float[8], new int[] {0, 2}, List.of("a", "b")));
        assertEquals("label 2 of example 1 is outside [0, 2): there are 2 class names", e.getMessage());
        e = assertThrows(IllegalArgumentException.class,
                () -> Dataset.of(Shape.of(2, 2), new float[4], new int[] {0}, List.of("a")));
        assertTrue(e.getMessage().contains("must be [channels, height, width]"), e.getMessage());
        assertThrows(IndexOutOfBoundsException.class, () -> d.image(1));
        assertThrows(IndexOutOfBoundsException.class, () -> d.copyImage(0, new float[5], 2));
    }

    @Test
    void filterClassesRenumbersInTheGivenOrder() {
        Dataset d = indexed(12, 4);                    // labels 0 1 2 3 0 1 2 3 0 1 2 3
        Dataset f = d.filterClasses(3, 1);
        assertEquals(List.of("c3", "c1"), f.classNames());
        assertEquals(2, f.classes());
        assertEquals(6, f.size());
        // dataset order kept: examples 1, 3, 5, 7, 9, 11; class 3 → 0, class 1 → 1
        int[] expectedOrigin = {1, 3, 5, 7, 9, 11};
        int[] expectedLabel = {1, 0, 1, 0, 1, 0};
        for (int i = 0; i < f.size(); i++) {
            assertEquals(expectedOrigin[i], origin(f.image(i), 0));
            assertEquals(expectedLabel[i], f.label(i));
        }
        assertArrayEquals(new int[] {3, 3}, f.labelCounts());
        // a view of a view
        Dataset g = f.filterClasses(1);
        assertArrayEquals(new int[] {0, 0, 0}, g.labels());
        assertEquals(5, origin(g.image(1), 0));
    }

    @Test
    void filterClassesRejectsBadClasses() {
        Dataset d = indexed(8, 4);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.filterClasses(0, 4));
        assertEquals("filterClasses: class 4 is outside [0, 4): this dataset has 4 classes", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.filterClasses(-1));
        assertEquals("filterClasses: class -1 is outside [0, 4): this dataset has 4 classes", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.filterClasses(2, 0, 2));
        assertEquals("filterClasses: class 2 (c2) is given twice, at positions 0 and 2", e.getMessage());
        assertThrows(IllegalArgumentException.class, d::filterClasses);
    }

    @Test
    void subsetKeepsOrderAndRepeats() {
        Dataset d = indexed(6, 3);
        Dataset s = d.subset(new int[] {5, 0, 5});
        assertEquals(3, s.size());
        assertEquals(5, origin(s.image(0), 0));
        assertEquals(0, origin(s.image(1), 0));
        assertArrayEquals(new int[] {2, 0, 2}, s.labels());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.subset(new int[] {0, 6}));
        assertEquals("subset: index 6 (position 1) is outside [0, 6)", e.getMessage());
    }

    @Test
    void samplePerClassIsDeterministicAndBalanced() {
        Dataset d = indexed(300, 3).filterClasses(0, 1, 2);       // a view, to sample through row indices
        Dataset a = d.samplePerClass(7, 42);
        Dataset b = d.samplePerClass(7, 42);
        assertArrayEquals(new int[] {7, 7, 7}, a.labelCounts());
        int[] originsA = origins(a), originsB = origins(b);
        assertArrayEquals(originsA, originsB);
        assertEquals(21, Arrays.stream(originsA).distinct().count(), "drawn without replacement");
        for (int i = 0; i < a.size(); i++) {
            assertEquals(originsA[i] % 3, a.label(i), "label follows the example");
            if (i > 0) assertTrue(originsA[i] > originsA[i - 1], "kept in dataset order");
        }
        assertFalse(Arrays.equals(originsA, origins(d.samplePerClass(7, 43))), "another seed, another sample");
        // the whole class when k equals its size
        assertEquals(300, d.samplePerClass(100, 1).size());
    }

    @Test
    void sourceIndicesNameTheOriginalExamples() {
        Dataset d = indexed(30, 3);
        assertArrayEquals(java.util.stream.IntStream.range(0, 30).toArray(), d.sourceIndices());
        Dataset derived = d.filterClasses(2, 0).samplePerClass(4, 7).split(0.5, 3).second()
                .normalized(new float[] {1}, new float[] {2});
        int[] src = derived.sourceIndices();
        assertEquals(derived.size(), src.length);
        for (int i = 0; i < src.length; i++) {
            assertArrayEquals(d.normalized(new float[] {1}, new float[] {2}).image(src[i]), derived.image(i), "example " + i);
            assertEquals(src[i] % 3 == 2 ? 0 : 1, derived.label(i), "relabelled class of source " + src[i]);
        }
        Dataset repeated = d.subset(new int[] {5, 5, 1});
        assertArrayEquals(new int[] {5, 5, 1}, repeated.sourceIndices());
        assertArrayEquals(new int[] {1, 5}, repeated.subset(new int[] {2, 0}).sourceIndices());
        src[0] = -1;
        assertNotEquals(-1, derived.sourceIndices()[0], "a copy each call");
    }

    @Test
    void samplePerClassRejectsTooMany() {
        Dataset d = indexed(10, 3);                    // classes hold 4, 3, 3
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.samplePerClass(4, 1));
        assertEquals("samplePerClass: class 1 (c1) has 3 examples, fewer than k = 4", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.samplePerClass(0, 1));
        assertEquals("samplePerClass: k = 0 must be ≥ 1", e.getMessage());
    }

    static int[] origins(Dataset d) {
        int[] o = new int[d.size()];
        for (int i = 0; i < o.length; i++) o[i] = origin(d.image(i), 0);
        return o;
    }

    @Test
    void splitIsDisjointCompleteAndSeeded() {
        Dataset d = indexed(50, 5);
        Dataset.Split s = d.split(0.8, 9);
        assertEquals(40, s.first().size());
        assertEquals(10, s.second().size());
        Set<Integer> all = new HashSet<>();
        for (int o : origins(s.first())) all.add(o);
        for (int o : origins(s.second())) assertTrue(all.add(o), "example " + o + " in both parts");
        assertEquals(50, all.size());
        assertArrayEquals(origins(s.first()), origins(d.split(0.8, 9).first()));
        assertNotEquals(Arrays.toString(origins(s.first())), Arrays.toString(origins(d.split(0.8, 10).first())));
        assertEquals(0, d.split(0, 1).first().size());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> d.split(1.5, 1));
        assertEquals("split: fraction 1.5 is outside [0, 1]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> d.split(Double.NaN, 1));
    }

    @Test
    void normalizedAppliesPerChannel() {
        // one image [2, 1, 2]: channel 0 = {1, 3}, channel 1 = {10, 30}
        Dataset d = Dataset.of(Shape.of(2, 1, 2), new float[] {1, 3, 10, 30}, new int[] {0}, List.of("x"));
        Dataset n = d.normalized(new float[] {1, 10}, new float[] {2, 4});
        assertArrayEquals(new float[] {0, 1, 0, 5}, n.image(0));
        assertArrayEquals(new float[] {1, 3, 10, 30}, d.image(0), "the original is unchanged");
        // twice: both stages, in order
        assertArrayEquals(new float[] {-1, 0, -1, 4}, n.normalized(new float[] {1, 1}, new float[] {1, 1}).image(0));
        // a view of a normalized dataset stays normalized
        assertArrayEquals(new float[] {0, 1, 0, 5}, n.subset(new int[] {0}).image(0));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.normalized(new float[] {0}, new float[] {1}));
        assertEquals("normalized: images [2, 1, 2] have 2 channels, but mean has 1 values and std 1", e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> d.normalized(new float[] {0, 0}, new float[] {1, 0}));
        assertEquals("normalized: std[1] = 0.0 must be finite and > 0", e.getMessage());
    }

    @Test
    void channelStatisticsThenNormalizationGiveZeroMeanUnitStd() {
        Dataset d = indexed(20, 2);
        float[] mean = d.channelMeans(), std = d.channelStds();
        // pixels 10·i + p, i < 20, p < 4: mean 10·9.5 + 1.5 = 96.5
        assertEquals(96.5f, mean[0], 1e-4f);
        Dataset n = d.normalized(mean, std);
        assertEquals(0f, n.channelMeans()[0], 1e-5f);
        assertEquals(1f, n.channelStds()[0], 1e-5f);
        assertThrows(IllegalStateException.class, () -> d.subset(new int[0]).channelMeans());
    }

    @Test
    void withClassNamesChecksTheLabels() {
        Dataset d = indexed(5, 3);
        assertEquals(List.of("x", "y", "z", "w"), d.withClassNames(List.of("x", "y", "z", "w")).classNames());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> d.withClassNames(List.of("x", "y")));
        assertEquals("withClassNames: 2 names given, but label 2 occurs, which needs at least 3", e.getMessage());
    }
}
