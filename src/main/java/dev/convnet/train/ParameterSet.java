package dev.convnet.train;

import dev.convnet.layer.ParameterSpec;
import dev.convnet.net.Graph;
import dev.convnet.net.Network;
import dev.convnet.shape.Shape;

import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Predicate;

/**
 * The named parameters of a graph or network: its state. Values and gradients live off-heap, in one arena that
 * {@link #close()} frees. A training session reads the current values at every forward pass and writes gradients
 * here; an optimizer updates the values in place; {@link #applyTo(Graph)} gives an immutable graph with the
 * current values, to compile for inference or to export.
 *
 * <pre>{@code
 * try (ParameterSet p = ParameterSet.of(graph)) {
 *     p.freeze(name -> name.startsWith("features."));   // transfer learning: train only the head
 *     ... train ...
 *     Graph trained = p.applyTo(graph);
 * }
 * }</pre>
 *
 * <p>Thread-safety: not thread-safe: one trainer (one thread) at a time. Use after {@link #close()} throws
 * {@link IllegalStateException}; closing twice is harmless.
 */
public final class ParameterSet implements AutoCloseable {
    private static final int MAGIC = 0x434E5053; // "CNPS"
    private static final int VERSION = 1;

    private final Arena arena = Arena.ofShared();
    private final Map<String, Parameter> byName = new LinkedHashMap<>();
    private volatile boolean closed;

    private ParameterSet() {
    }

    /** The parameters of every node of {@code graph}, with its current values (copied off-heap). */
    public static ParameterSet of(Graph graph) {
        ParameterSet set = new ParameterSet();
        try {
            for (Graph.NamedParameter p : graph.parameterSpecs()) {
                ParameterSpec s = p.spec();
                set.add(p.name(), p.node(), s.shape(), s.role(), s.fanIn(), s.fanOut()).set(s.values());
            }
            return set;
        } catch (RuntimeException | Error e) {
            set.close();
            throw e;
        }
    }

    /** The parameters of a network's chain graph ({@link Network#toGraph()}): names {@code layer<i>.weight}, …. */
    public static ParameterSet of(Network network) {
        return of(network.toGraph());
    }

    private Parameter add(String name, String node, Shape shape, ParameterSpec.Role role, long fanIn, long fanOut) {
        long bytes = shape.elementCount() * Float.BYTES;
        Parameter p = new Parameter(this, name, node, shape, role, fanIn, fanOut, arena.allocate(bytes, 64),
                arena.allocate(bytes, 64));
        if (byName.putIfAbsent(name, p) != null) throw new IllegalArgumentException("parameter '" + name + "' is listed twice");
        return p;
    }

    void checkOpen() {
        if (closed) throw new IllegalStateException("parameter set is closed");
    }

    /** Every parameter, in the graph's order. */
    public List<Parameter> list() {
        checkOpen();
        return List.copyOf(byName.values());
    }

    /** The names, in order. */
    public List<String> names() {
        checkOpen();
        return List.copyOf(byName.keySet());
    }

    /**
     * The parameter of that name.
     *
     * @throws IllegalArgumentException naming the parameter if there is none
     */
    public Parameter get(String name) {
        checkOpen();
        Parameter p = byName.get(name);
        if (p == null) throw new IllegalArgumentException("no parameter '" + name + "' (the set has " + byName.size() + ": "
                + abbreviated(byName.keySet()) + ")");
        return p;
    }

    /** Whether a parameter of that name exists. */
    public boolean contains(String name) {
        checkOpen();
        return byName.containsKey(name);
    }

    private static String abbreviated(java.util.Collection<String> names) {
        List<String> l = new ArrayList<>(names);
        return l.size() <= 8 ? l.toString() : l.subList(0, 8) + " …";
    }

    /** The number of elements of every parameter. */
    public long elementCount() {
        return list().stream().mapToLong(Parameter::size).sum();
    }

    /** The number of elements an optimizer updates (trainable roles, not frozen). */
    public long trainedElementCount() {
        return list().stream().filter(Parameter::trained).mapToLong(Parameter::size).sum();
    }

    /**
     * Freezes every parameter whose name matches; returns how many it froze.
     *
     * @throws IllegalArgumentException if none matches (a misspelt name is an error, not a no-op)
     */
    public int freeze(Predicate<String> names) {
        return setFrozen(names, true);
    }

    /** Unfreezes every parameter whose name matches; returns how many. As {@link #freeze}, none matching is an error. */
    public int unfreeze(Predicate<String> names) {
        return setFrozen(names, false);
    }

    /** Freezes the parameters with any of the given name prefixes (e.g. a node name followed by a dot). */
    public int freezePrefixes(String... prefixes) {
        return freeze(n -> java.util.Arrays.stream(prefixes).anyMatch(n::startsWith));
    }

    /** Unfreezes the parameters with any of the given name prefixes. */
    public int unfreezePrefixes(String... prefixes) {
        return unfreeze(n -> java.util.Arrays.stream(prefixes).anyMatch(n::startsWith));
    }

    private int setFrozen(Predicate<String> names, boolean frozen) {
        int count = 0;
        for (Parameter p : list()) {
            if (names.test(p.name())) {
                p.setFrozen(frozen);
                count++;
            }
        }
        if (count == 0) throw new IllegalArgumentException("no parameter name matches (the set has " + byName.size() + ": "
                + abbreviated(byName.keySet()) + ")");
        return count;
    }

    /**
     * Draws new values with {@code seed}: weights with {@code weights}, biases with {@code biases}, batch-norm scale 1,
     * shift 0, running mean 0, running variance 1. Frozen parameters are left alone. The draws depend only on the
     * seed and the parameters' order, names and shapes.
     */
    public void initialize(Initializer weights, Initializer biases, long seed) {
        SplittableRandom random = new SplittableRandom(seed);
        for (Parameter p : list()) {
            if (p.frozen()) continue;
            float[] v = new float[p.size()];
            Initializer init = switch (p.role()) {
                case WEIGHT -> weights;
                case BIAS -> biases;
                case SCALE, RUNNING_VARIANCE -> Initializer.ONES;
                case SHIFT, RUNNING_MEAN -> Initializer.ZEROS;
            };
            init.fill(v, p.fanIn(), p.fanOut(), random.split());
            p.set(v);
        }
    }

    /** The current values by name (copies). */
    public Map<String, float[]> values() {
        Map<String, float[]> m = new LinkedHashMap<>();
        for (Parameter p : list()) m.put(p.name(), p.toArray());
        return Collections.unmodifiableMap(m);
    }

    /**
     * {@code graph} with this set's current values for the parameters it declares (every node's parameters must be
     * in this set).
     *
     * @throws IllegalArgumentException if the graph declares a parameter this set lacks
     */
    public Graph applyTo(Graph graph) {
        Map<String, float[]> v = new LinkedHashMap<>();
        for (Graph.NamedParameter p : graph.parameterSpecs()) v.put(p.name(), get(p.name()).toArray());
        return graph.withParameterValues(v);
    }

    /** A new set with the same names, shapes, roles, values and frozen flags (gradients zero). */
    public ParameterSet copy() {
        ParameterSet c = new ParameterSet();
        for (Parameter p : list()) {
            Parameter q = c.add(p.name(), p.node(), p.shape(), p.role(), p.fanIn(), p.fanOut());
            MemorySegment.copy(p.values(), 0, q.values(), 0, p.values().byteSize());
            q.setFrozen(p.frozen());
        }
        return c;
    }

    /**
     * Copies the values of every parameter of {@code other} into the parameter of the same name here.
     *
     * @throws IllegalArgumentException if a name is missing here or a shape differs
     */
    public void copyValuesFrom(ParameterSet other) {
        for (Parameter p : other.list()) {
            Parameter q = get(p.name());
            if (!q.shape().equals(p.shape())) {
                throw new IllegalArgumentException("parameter '" + p.name() + "': shape " + p.shape() + " differs from " + q.shape());
            }
            MemorySegment.copy(p.values(), 0, q.values(), 0, p.values().byteSize());
        }
    }

    /** Writes names, shapes, roles, frozen flags and values to {@code file} (temporary name, then renamed). */
    public void save(Path file) throws IOException {
        AtomicFiles.write(file, this::write);
    }

    /** Writes this set (as {@link #save}) to a stream. */
    public void write(OutputStream stream) throws IOException {
        DataOutputStream out = new DataOutputStream(stream);
        out.writeInt(MAGIC);
        out.writeInt(VERSION);
        List<Parameter> all = list();
        out.writeInt(all.size());
        for (Parameter p : all) {
            out.writeUTF(p.name());
            out.writeUTF(p.node());
            out.writeByte(p.role().ordinal());
            out.writeBoolean(p.frozen());
            out.writeLong(p.fanIn());
            out.writeLong(p.fanOut());
            int[] dims = p.shape().dims();
            out.writeInt(dims.length);
            for (int d : dims) out.writeInt(d);
            writeFloats(out, p.values());
        }
        out.flush();
    }

    static void writeFloats(DataOutputStream out, MemorySegment values) throws IOException {
        byte[] chunk = new byte[1 << 16];
        long n = values.byteSize();
        for (long off = 0; off < n; off += chunk.length) {
            int len = (int) Math.min(chunk.length, n - off);
            MemorySegment.copy(values, ValueLayout.JAVA_BYTE, off, chunk, 0, len);
            if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) swap(chunk, len);
            out.write(chunk, 0, len);
        }
    }

    static void readFloats(DataInputStream in, MemorySegment values) throws IOException {
        byte[] chunk = new byte[1 << 16];
        long n = values.byteSize();
        for (long off = 0; off < n; off += chunk.length) {
            int len = (int) Math.min(chunk.length, n - off);
            in.readFully(chunk, 0, len);
            if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) swap(chunk, len);
            MemorySegment.copy(chunk, 0, values, ValueLayout.JAVA_BYTE, off, len);
        }
    }

    private static void swap(byte[] b, int len) {
        ByteBuffer bb = ByteBuffer.wrap(b, 0, len);
        for (int i = 0; i + 3 < len; i += 4) bb.putInt(i, Integer.reverseBytes(bb.getInt(i)));
    }

    /**
     * Reads a set written by {@link #save}.
     *
     * @throws IOException naming the file if it is not such a file or is truncated
     */
    public static ParameterSet load(Path file) throws IOException {
        try (InputStream in = java.nio.file.Files.newInputStream(file)) {
            return read(in, file.toString());
        }
    }

    /** Reads a set written by {@link #write} from a stream; {@code source} names it in errors. */
    public static ParameterSet read(InputStream stream, String source) throws IOException {
        DataInputStream in = new DataInputStream(stream);
        ParameterSet set = new ParameterSet();
        try {
            int magic = in.readInt();
            if (magic != MAGIC) throw new IOException(source + ": not a convnet parameter file (magic 0x" + Integer.toHexString(magic) + ")");
            int version = in.readInt();
            if (version != VERSION) throw new IOException(source + ": parameter file version " + version + ", this library reads " + VERSION);
            int count = in.readInt();
            if (count < 0 || count > 1_000_000) throw new IOException(source + ": implausible parameter count " + count);
            ParameterSpec.Role[] roles = ParameterSpec.Role.values();
            for (int i = 0; i < count; i++) {
                String name = in.readUTF();
                String node = in.readUTF();
                int role = in.readUnsignedByte();
                if (role >= roles.length) throw new IOException(source + ": parameter '" + name + "': unknown role " + role);
                boolean frozen = in.readBoolean();
                long fanIn = in.readLong();
                long fanOut = in.readLong();
                int rank = in.readInt();
                if (rank < 0 || rank > 8) throw new IOException(source + ": parameter '" + name + "': implausible rank " + rank);
                int[] dims = new int[rank];
                for (int d = 0; d < rank; d++) dims[d] = in.readInt();
                Shape shape;
                try {
                    shape = Shape.of(dims);
                } catch (RuntimeException e) {
                    throw new IOException(source + ": parameter '" + name + "': " + e.getMessage(), e);
                }
                if (shape.elementCount() > Integer.MAX_VALUE - 8) throw new IOException(source + ": parameter '" + name + "' too large");
                Parameter p = set.add(name, node, shape, roles[role], fanIn, fanOut);
                p.setFrozen(frozen);
                readFloats(in, p.values());
            }
            return set;
        } catch (java.io.EOFException e) {
            set.close();
            throw new IOException(source + ": truncated parameter file", e);
        } catch (IOException | RuntimeException | Error e) {
            set.close();
            throw e;
        }
    }

    /**
     * Overwrites this set's values with those saved in {@code file}: every parameter here must be there with the
     * same shape (frozen flags are kept as they are here).
     *
     * @throws IOException if the file cannot be read
     * @throws IllegalArgumentException naming the parameter if one is missing or its shape differs
     */
    public void loadValues(Path file) throws IOException {
        try (ParameterSet saved = load(file)) {
            for (Parameter p : list()) {
                if (!saved.contains(p.name())) throw new IllegalArgumentException(file + " has no parameter '" + p.name() + "'");
            }
            copyValuesFrom(saved);
        }
    }

    /** Frees the off-heap memory. Idempotent. */
    @Override
    public void close() {
        if (closed) return;
        closed = true;
        arena.close();
    }

    @Override
    public String toString() {
        return closed ? "ParameterSet(closed)" : "ParameterSet(" + byName.size() + " parameters, " + elementCount() + " values)";
    }
}
