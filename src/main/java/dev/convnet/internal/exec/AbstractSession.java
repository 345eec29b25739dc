package dev.convnet.internal.exec;

import dev.convnet.net.BackendKind;
import dev.convnet.net.GraphSummary;
import dev.convnet.net.Session;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import dev.convnet.tensor.Tensor;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * What every backend's {@link Session} shares: the names and shapes from the plan, every {@code run} overload with
 * its argument checks (names, sizes, segments, one input and one output where required), and the lifecycle (runs
 * counted in and out by a {@link RunGuard}; {@link #close()} waits for them, then calls {@link #release()} once).
 * A backend provides only the runs themselves: {@link #execute(float[][], float[][])} on arrays and
 * {@link #execute(MemorySegment, MemorySegment)} on the caller's native segments, both given checked arguments
 * inside a counted run. Internal: sessions come from {@code Network.compile} and {@code Graph.compile}.
 *
 * <p>Thread-safety: as {@link Session}; subclasses make both {@code execute} methods safe to call from several
 * threads at once.
 */
public abstract class AbstractSession implements Session {
    private final GraphSummary summary;
    private final BackendKind backend;
    private final List<String> inputNames;
    private final List<String> outputNames;
    private final Shape[] inputShapes;
    private final Shape[] outputShapes;
    private final RunGuard guard = new RunGuard("session");
    /** The one-element argument arrays of {@link #run(float[], float[])}, so that it allocates nothing. */
    private final ContextPool<float[][][]> single = new ContextPool<>(Math.max(4, 2 * Runtime.getRuntime().availableProcessors()),
            () -> new float[][][] {new float[1][], new float[1][]}, a -> {});

    /** A session for the graph {@code summary} planned, run by {@code backend}. */
    protected AbstractSession(GraphSummary summary, BackendKind backend) {
        this.summary = Objects.requireNonNull(summary, "summary");
        this.backend = Objects.requireNonNull(backend, "backend");
        this.inputNames = List.copyOf(summary.inputShapes().keySet());
        this.outputNames = List.copyOf(summary.outputShapes().keySet());
        this.inputShapes = summary.inputShapes().values().toArray(Shape[]::new);
        this.outputShapes = summary.outputShapes().values().toArray(Shape[]::new);
    }

    /**
     * Runs on {@code inputs} (one array per input, in {@link #inputNames()} order, each of exactly its shape's element
     * count, in the caller's layout; only read) and writes every output into {@code outputs} (likewise, in
     * {@link #outputNames()} order). Called inside a counted run, with checked arguments.
     */
    protected abstract void execute(float[][] inputs, float[][] outputs);

    /**
     * Runs a session with one input and one output from the caller's native, 4-byte aligned segment {@code input}
     * into the writable {@code output}, each of exactly its shape's bytes, in the caller's layout. Called inside a
     * counted run, with checked arguments. Steady-state runs should allocate nothing.
     */
    protected abstract void execute(MemorySegment input, MemorySegment output);

    /** Frees what the session holds; called once, by the first {@link #close()}, after every run has left. */
    protected abstract void release();

    @Override
    public final BackendKind backend() {
        return backend;
    }

    @Override
    public final GraphSummary summary() {
        return summary;
    }

    @Override
    public final List<String> inputNames() {
        return inputNames;
    }

    @Override
    public final List<String> outputNames() {
        return outputNames;
    }

    @Override
    public final Map<String, Shape> inputShapes() {
        return summary.inputShapes();
    }

    @Override
    public final Map<String, Shape> outputShapes() {
        return summary.outputShapes();
    }

    @Override
    public final Shape inputShape() {
        if (inputShapes.length != 1) {
            throw new IllegalStateException("this session has inputs " + inputNames + ": use inputShapes()");
        }
        return inputShapes[0];
    }

    @Override
    public final Shape outputShape() {
        if (outputShapes.length != 1) {
            throw new IllegalStateException("this session has outputs " + outputNames + ": use outputShapes()");
        }
        return outputShapes[0];
    }

    /** The shape of input {@code k}, in {@link #inputNames()} order. */
    protected final Shape inputShape(int k) {
        return inputShapes[k];
    }

    /** The shape of output {@code k}, in {@link #outputNames()} order. */
    protected final Shape outputShape(int k) {
        return outputShapes[k];
    }

    /** Checks that the session has one input and one output, for the single-tensor {@code run} methods. */
    private void requireSingle() {
        if (inputShapes.length != 1 || outputShapes.length != 1) {
            throw new IllegalStateException("this session has inputs " + inputNames + " and outputs " + outputNames
                    + ": use run(Map)");
        }
    }

    @Override
    public final Map<String, float[]> run(Map<String, float[]> inputs) {
        float[][] in = orderedInputs(inputs, inputNames, List.of(inputShapes));
        float[][] out = new float[outputShapes.length][];
        for (int k = 0; k < out.length; k++) out[k] = new float[Math.toIntExact(outputShapes[k].elementCount())];
        guard.enter();
        try {
            execute(in, out);
        } finally {
            guard.exit();
        }
        Map<String, float[]> result = new LinkedHashMap<>();
        for (int k = 0; k < out.length; k++) result.put(outputNames.get(k), out[k]);
        return result;
    }

    @Override
    public final float[] run(float[] input) {
        requireSingle();
        float[] output = new float[Math.toIntExact(outputShapes[0].elementCount())];
        run(input, output);
        return output;
    }

    @Override
    public final void run(float[] input, float[] output) {
        requireSingle();
        checkArray("input", input, inputShapes[0]);
        checkArray("output", output, outputShapes[0]);
        guard.enter();
        float[][][] args = single.acquire();
        try {
            args[0][0] = input;
            args[1][0] = output;
            execute(args[0], args[1]);
        } finally {
            args[0][0] = null; // keep no caller array reachable
            args[1][0] = null;
            single.release(args);
            guard.exit();
        }
    }

    @Override
    public final void run(MemorySegment input, MemorySegment output) {
        requireSingle();
        checkSegment("input", input, inputShapes[0]);
        checkSegment("output", output, outputShapes[0]);
        guard.enter();
        try {
            execute(input, output);
        } finally {
            guard.exit();
        }
    }

    /** Runs through the tensors' segments when the input is native memory, through arrays when it wraps one. */
    @Override
    public final Tensor run(Tensor input) {
        requireSingle();
        if (!input.shape().equals(inputShapes[0])) {
            throw new ShapeException("input shape " + input.shape() + " differs from the session's input " + inputShapes[0]);
        }
        Tensor out = Tensor.allocate(outputShapes[0]);
        try (Tensor.Pin in = input.pin(); Tensor.Pin o = out.pin()) {
            if (in.segment().isNative()) {
                run(in.segment(), o.segment());
            } else {
                float[] y = run(in.segment().toArray(ValueLayout.JAVA_FLOAT));
                MemorySegment.copy(y, 0, o.segment(), ValueLayout.JAVA_FLOAT, 0, y.length);
            }
        } catch (RuntimeException | Error e) {
            out.close();
            throw e;
        }
        return out;
    }

    @Override
    public final void close() {
        if (guard.close()) release();
    }

    /**
     * The arrays of {@code inputs} in the order of {@code names}, checked: exactly those names, each array of its
     * shape's element count. Shared by every session type (inference and training).
     *
     * @throws IllegalArgumentException if the names differ or an array is missing
     * @throws ShapeException if an array's length differs from its shape's element count
     */
    public static float[][] orderedInputs(Map<String, float[]> inputs, List<String> names, List<Shape> shapes) {
        Objects.requireNonNull(inputs, "inputs");
        if (!new HashSet<>(names).equals(inputs.keySet())) {
            throw new IllegalArgumentException("inputs are given for " + inputs.keySet() + ", the session's inputs are " + names);
        }
        float[][] in = new float[names.size()][];
        for (int k = 0; k < in.length; k++) {
            in[k] = inputs.get(names.get(k));
            checkArray("input '" + names.get(k) + "'", in[k], shapes.get(k));
        }
        return in;
    }

    private static void checkArray(String what, float[] a, Shape shape) {
        if (a == null) throw new IllegalArgumentException(what + " is missing");
        if (a.length != shape.elementCount()) {
            throw new ShapeException(what + " has " + a.length + " elements; the session's " + what + " " + shape
                    + " needs " + shape.elementCount());
        }
    }

    private static void checkSegment(String what, MemorySegment s, Shape shape) {
        long bytes = shape.elementCount() * Float.BYTES;
        if (s.byteSize() != bytes) {
            throw new ShapeException(what + " segment has " + s.byteSize() + " bytes; the session's " + what + " " + shape
                    + " needs " + shape.elementCount() + " floats = " + bytes + " bytes");
        }
        if (!s.isNative()) {
            throw new IllegalArgumentException(what + " segment must be native (off-heap) memory; wrap heap arrays with run(float[], float[])");
        }
        if (s.address() % Float.BYTES != 0) {
            throw new IllegalArgumentException(what + " segment address " + s.address() + " is not 4-byte aligned");
        }
        if (s.isReadOnly() && what.equals("output")) {
            throw new IllegalArgumentException("output segment is read-only");
        }
    }
}
