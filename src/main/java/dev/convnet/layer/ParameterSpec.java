package dev.convnet.layer;

import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;

import java.util.Objects;

/**
 * One parameter a layer declares: its local name ({@code weight}, {@code bias}, {@code running_mean}, …), shape,
 * role, fan-in and fan-out (for initializers) and the layer's current values (row-major). A network's parameters
 * are these specs, named per node ({@code <node>.<name>}, or an imported model's initializer names), collected
 * into a {@code dev.convnet.train.ParameterSet} that training updates in place.
 *
 * @param name   the local name, unique within the layer
 * @param shape  the shape (e.g. OIHW for convolution weights)
 * @param role   what the values mean; decides whether the parameter is trained
 * @param fanIn  inputs per output unit (e.g. {@code C_in/groups·kH·kW}); 1 where it has no meaning
 * @param fanOut outputs per input unit (e.g. {@code C_out/groups·kH·kW}); 1 where it has no meaning
 * @param values the layer's values (not copied by the record: layers hand over a copy)
 *
 * <p>Thread-safety: immutable as far as the record goes; the values array is the caller's copy.
 */
public record ParameterSpec(String name, Shape shape, Role role, long fanIn, long fanOut, float[] values) {
    /** What a parameter is. */
    public enum Role {
        /** Multiplicative weights (convolution kernels, FC matrices): trained. */
        WEIGHT,
        /** Additive biases: trained. */
        BIAS,
        /** Batch-norm scale γ: trained. */
        SCALE,
        /** Batch-norm shift β: trained. */
        SHIFT,
        /** Batch-norm running mean: a statistic updated by training-mode forward passes, never by gradients. */
        RUNNING_MEAN,
        /** Batch-norm running variance: a statistic, as {@link #RUNNING_MEAN}. */
        RUNNING_VARIANCE;

        /** Whether gradients update parameters of this role. */
        public boolean trainable() {
            return this != RUNNING_MEAN && this != RUNNING_VARIANCE;
        }
    }

    /** Checks the values' length against the shape. */
    public ParameterSpec {
        Objects.requireNonNull(name, "name");
        Objects.requireNonNull(shape, "shape");
        Objects.requireNonNull(role, "role");
        Objects.requireNonNull(values, "values");
        if (values.length != shape.elementCount()) {
            throw new ShapeException("parameter '" + name + "': shape " + shape + " has " + shape.elementCount()
                    + " elements, got " + values.length + " values");
        }
    }
}
