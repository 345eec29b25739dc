package dev.convnet.train;

import dev.convnet.layer.ParameterSpec;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * One named parameter of a {@link ParameterSet}: its values and gradient in off-heap memory (row-major, the layer's
 * plain layout, e.g. OIHW), its role, and whether it is frozen. A parameter is trained when its role is trainable
 * (weights, biases, batch-norm scale and shift; not running statistics) and it is not frozen.
 *
 * <p>Thread-safety: not thread-safe; it belongs to its set (see {@link ParameterSet}).
 */
public final class Parameter {
    private final String name;
    private final String node;
    private final Shape shape;
    private final ParameterSpec.Role role;
    private final long fanIn;
    private final long fanOut;
    private final MemorySegment values;
    private final MemorySegment gradient;
    private final ParameterSet owner;
    private boolean frozen;

    Parameter(ParameterSet owner, String name, String node, Shape shape, ParameterSpec.Role role, long fanIn, long fanOut,
              MemorySegment values, MemorySegment gradient) {
        this.owner = owner;
        this.name = name;
        this.node = node;
        this.shape = shape;
        this.role = role;
        this.fanIn = fanIn;
        this.fanOut = fanOut;
        this.values = values;
        this.gradient = gradient;
    }

    /** The global name, e.g. {@code conv1.weight} or an imported model's initializer name. */
    public String name() {
        return name;
    }

    /** The name of the graph node that declares it. */
    public String node() {
        return node;
    }

    /** The shape. */
    public Shape shape() {
        return shape;
    }

    /** The number of elements. */
    public int size() {
        return (int) shape.elementCount();
    }

    /** What the parameter is. */
    public ParameterSpec.Role role() {
        return role;
    }

    /** Inputs per output unit (for initializers). */
    public long fanIn() {
        return fanIn;
    }

    /** Outputs per input unit (for initializers). */
    public long fanOut() {
        return fanOut;
    }

    /** Whether it is frozen (never changed by an optimizer). */
    public boolean frozen() {
        return frozen;
    }

    /** Freezes or unfreezes it. Training sessions read the flag when they are compiled. */
    public void setFrozen(boolean frozen) {
        owner.checkOpen();
        this.frozen = frozen;
    }

    /** Whether an optimizer updates it: a trainable role and not frozen. */
    public boolean trained() {
        return role.trainable() && !frozen;
    }

    /** The values (off-heap, row-major floats); valid until the set is closed. */
    public MemorySegment values() {
        owner.checkOpen();
        return values;
    }

    /** The gradient of the last backward pass (off-heap, same layout as the values); zero until one ran. */
    public MemorySegment gradient() {
        owner.checkOpen();
        return gradient;
    }

    /** A copy of the values. */
    public float[] toArray() {
        return values().toArray(ValueLayout.JAVA_FLOAT);
    }

    /** A copy of the gradient. */
    public float[] gradientArray() {
        return gradient().toArray(ValueLayout.JAVA_FLOAT);
    }

    /**
     * Overwrites the values.
     *
     * @throws ShapeException if the length differs from the shape's element count
     */
    public void set(float[] v) {
        if (v.length != size()) {
            throw new ShapeException("parameter '" + name + "' " + shape + " holds " + size() + " values, got " + v.length);
        }
        MemorySegment.copy(v, 0, values(), ValueLayout.JAVA_FLOAT, 0, v.length);
    }

    @Override
    public String toString() {
        return name + " " + shape + " " + role + (frozen ? " (frozen)" : "");
    }
}
