package dev.convnet.internal.kernels;

import dev.convnet.net.BackendKind;
import dev.convnet.net.NetworkSummary;
import dev.convnet.net.Session;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.locks.ReentrantReadWriteLock;

/**
 * A {@link Session} that runs one {@link LayerKernel} per layer on heap float arrays; used by
 * the Java and reference backends. Internal: obtain sessions through
 * {@code Network.compile}.
 *
 * <p>Thread-safety: as {@link Session}: runs are concurrent (each allocates its own
 * intermediate arrays); close waits for them through a read-write lock.
 */
public final class KernelSession implements Session {
    private static final long MAX_ARRAY = Integer.MAX_VALUE - 8;

    private final NetworkSummary plan;
    private final BackendKind backend;
    private final KernelFactory factory;
    private final List<LayerKernel> kernels;
    private final int[] sizes;
    private final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private boolean closed;
    private final boolean channelsLast;

    /** NHWC ↔ NCHW for a 4-D shape [n, c, h, w]; {@code toChannelsFirst} picks the direction. */
    private static float[] transpose(float[] x, Shape s, boolean toChannelsFirst) {
        int n = s.dim(0), c = s.dim(1), hw = s.dim(2) * s.dim(3);
        float[] y = new float[x.length];
        for (int b = 0; b < n; b++) {
            int base = b * c * hw;
            for (int ch = 0; ch < c; ch++) {
                for (int p = 0; p < hw; p++) {
                    int nchw = base + ch * hw + p;
                    int nhwc = base + p * c + ch;
                    if (toChannelsFirst) y[nchw] = x[nhwc]; else y[nhwc] = x[nchw];
                }
            }
        }
        return y;
    }

    private KernelSession(NetworkSummary plan, BackendKind backend, KernelFactory factory, List<LayerKernel> kernels,
                          int[] sizes, boolean channelsLast) {
        this.channelsLast = channelsLast;
        this.plan = plan;
        this.backend = backend;
        this.factory = factory;
        this.kernels = kernels;
        this.sizes = sizes;
    }

    /**
     * Prepares every layer of {@code plan} with {@code factory}; the session owns the factory
     * and closes it (also when preparation fails).
     *
     * @throws ShapeException if a tensor of the plan is larger than a Java array
     */
    public static KernelSession open(NetworkSummary plan, BackendKind backend, KernelFactory factory) {
        return open(plan, backend, factory, false);
    }

    /**
     * As {@link #open(NetworkSummary, BackendKind, KernelFactory)}; with {@code channelsLast}, 4-D inputs and outputs
     * are NHWC in the caller's memory and are transposed to and from the kernels' NCHW.
     */
    public static KernelSession open(NetworkSummary plan, BackendKind backend, KernelFactory factory, boolean channelsLast) {
        try {
            int[] sizes = new int[plan.rows().size() + 1];
            sizes[0] = arraySize("input", plan.inputShape());
            List<LayerKernel> kernels = new ArrayList<>();
            for (NetworkSummary.Row row : plan.rows()) {
                sizes[row.index()] = arraySize("layer " + row.index() + " " + row.layer() + " output", row.outputShape());
                kernels.add(factory.create(row));
            }
            return new KernelSession(plan, backend, factory, List.copyOf(kernels), sizes, channelsLast);
        } catch (RuntimeException | Error e) {
            factory.close();
            throw e;
        }
    }

    private static int arraySize(String what, Shape shape) {
        if (shape.elementCount() > MAX_ARRAY) {
            throw new ShapeException(what + " " + shape + " has " + shape.elementCount()
                    + " elements, more than the " + MAX_ARRAY + " a Java array holds (Java and reference backends)");
        }
        return (int) shape.elementCount();
    }

    @Override
    public BackendKind backend() {
        return backend;
    }

    @Override
    public NetworkSummary summary() {
        return plan;
    }

    @Override
    public Shape inputShape() {
        return plan.inputShape();
    }

    @Override
    public Shape outputShape() {
        return plan.outputShape();
    }

    @Override
    public Tensor run(Tensor input) {
        if (!input.shape().equals(plan.inputShape())) {
            throw new ShapeException("input shape " + input.shape() + " differs from the compiled input shape "
                    + plan.inputShape());
        }
        float[] out = run(input.toArray());
        return Tensor.of(plan.outputShape(), out);
    }

    @Override
    public float[] run(float[] input) {
        if (input.length != sizes[0]) {
            throw new ShapeException("input of " + input.length + " floats differs from the compiled input shape "
                    + plan.inputShape() + " (" + sizes[0] + " floats)");
        }
        ReentrantReadWriteLock.ReadLock read = lock.readLock();
        read.lock();
        try {
            if (closed) {
                throw new IllegalStateException("session is closed");
            }
            float[] current = channelsLast && plan.inputShape().rank() == 4 ? transpose(input, plan.inputShape(), true) : input;
            for (int i = 0; i < kernels.size(); i++) {
                float[] next = new float[sizes[i + 1]];
                kernels.get(i).forward(current, next);
                current = next;
            }
            if (channelsLast && plan.outputShape().rank() == 4) return transpose(current, plan.outputShape(), false);
            return current == input ? input.clone() : current;
        } finally {
            read.unlock();
        }
    }

    @Override
    public void run(float[] input, float[] output) {
        if (output.length != sizes[sizes.length - 1]) {
            throw new ShapeException("output of " + output.length + " floats differs from the compiled output shape "
                    + plan.outputShape() + " (" + sizes[sizes.length - 1] + " floats)");
        }
        float[] result = run(input);
        System.arraycopy(result, 0, output, 0, output.length);
    }

    @Override
    public void run(MemorySegment input, MemorySegment output) {
        long in = (long) sizes[0] * Float.BYTES;
        long out = (long) sizes[sizes.length - 1] * Float.BYTES;
        if (input.byteSize() != in || output.byteSize() != out) {
            throw new ShapeException("segments of " + input.byteSize() + " and " + output.byteSize()
                    + " bytes differ from the compiled shapes " + plan.inputShape() + " (" + in + " bytes) and "
                    + plan.outputShape() + " (" + out + " bytes)");
        }
        if (output.isReadOnly()) {
            throw new IllegalArgumentException("output segment is read-only");
        }
        float[] result = run(input.toArray(ValueLayout.JAVA_FLOAT));
        MemorySegment.copy(result, 0, output, ValueLayout.JAVA_FLOAT, 0, result.length);
    }

    @Override
    public String plan() {
        StringBuilder sb = new StringBuilder(backend == BackendKind.JAVA
                ? "Java backend plan (im2col + blocked SGEMM for convolutions, parallel kernels elsewhere)"
                : "reference backend plan (the lecture's equations as direct loops, double accumulation)");
        sb.append(" for input ").append(plan.inputShape()).append(" → output ").append(plan.outputShape())
                .append(channelsLast ? " (channels-last input and output)" : "").append('\n');
        for (NetworkSummary.Row row : plan.rows()) {
            sb.append(String.format("%-3d %-44s %s → %s%n", row.index(), row.layer(), row.inputShape(), row.outputShape()));
        }
        return sb.toString();
    }

    @Override
    public void close() {
        ReentrantReadWriteLock.WriteLock write = lock.writeLock();
        write.lock();
        try {
            if (closed) {
                return;
            }
            closed = true;
        } finally {
            write.unlock();
        }
        factory.close();
    }

    @Override
    public String toString() {
        return "Session(" + backend + ", " + plan.inputShape() + " → " + plan.outputShape() + ")";
    }
}
