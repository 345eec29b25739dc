package dev.convnet.internal.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicIntegerArray;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@link Parallel}: every task runs once, from any number of callers and nested calls; failures reach the caller. */
class ParallelTest {
    @Test
    void everyTaskRunsExactlyOnce() {
        for (int threads = 1; threads <= 4; threads++) {
            try (Parallel p = new Parallel(threads, ScalarKernels.INSTANCE)) {
                for (int count = 0; count < 40; count++) {
                    AtomicIntegerArray runs = new AtomicIntegerArray(count);
                    p.forEach(count, runs::incrementAndGet);
                    for (int i = 0; i < count; i++) {
                        assertEquals(1, runs.get(i), "threads " + threads + ", count " + count + ", task " + i);
                    }
                }
            }
        }
    }

    @Test
    void concurrentAndNestedCallsEachRunAllTheirTasks() throws Exception {
        try (Parallel p = new Parallel(3, ScalarKernels.INSTANCE)) {
            ExecutorService callers = Executors.newFixedThreadPool(4);
            try {
                List<Future<AtomicIntegerArray>> results = new ArrayList<>();
                for (int c = 0; c < 16; c++) {
                    results.add(callers.submit(() -> {
                        AtomicIntegerArray runs = new AtomicIntegerArray(7 * 5);
                        p.forEach(7, outer -> p.forEach(5, inner -> runs.incrementAndGet(outer * 5 + inner)));
                        return runs;
                    }));
                }
                for (Future<AtomicIntegerArray> f : results) {
                    AtomicIntegerArray runs = f.get();
                    for (int i = 0; i < runs.length(); i++) {
                        assertEquals(1, runs.get(i), "task " + i);
                    }
                }
            } finally {
                callers.shutdown();
            }
        }
    }

    @Test
    void theFirstFailureReachesTheCallerAfterTheRunningTasksFinish() {
        try (Parallel p = new Parallel(2, ScalarKernels.INSTANCE)) {
            IllegalArgumentException boom = new IllegalArgumentException("task 3");
            AtomicIntegerArray runs = new AtomicIntegerArray(50);
            IllegalArgumentException thrown = assertThrows(IllegalArgumentException.class, () -> p.forEach(50, i -> {
                runs.incrementAndGet(i);
                if (i == 3) {
                    throw boom;
                }
            }));
            assertSame(boom, thrown);
            for (int i = 0; i < 50; i++) {
                assertEquals(true, runs.get(i) <= 1, "task " + i + " ran " + runs.get(i) + " times");
            }
            // the pool still works afterwards
            AtomicIntegerArray again = new AtomicIntegerArray(10);
            p.forEach(10, again::incrementAndGet);
            for (int i = 0; i < 10; i++) {
                assertEquals(1, again.get(i));
            }
        }
    }
}
