package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import java.lang.foreign.MemorySegment;

/**
 * oneDNN 3.8's quantization attributes as the int8 lowering uses them: scales and zero points given at execution
 * ({@code DNNL_ARG_ATTR_SCALES | arg}, {@code DNNL_ARG_ATTR_ZERO_POINTS | arg}), their masks set on the attribute.
 *
 * <p>Stateless; thread-safe.
 */
final class QuantAttrs {
    private QuantAttrs() {}

    /** {@code DNNL_ARG_ATTR_SCALES}: or-ed with an argument ({@code DNNL_ARG_SRC}...) to pass its scales at execution. */
    static final int ARG_ATTR_SCALES = DNNL_ARG_ATTR_SCALES();
    /** {@code DNNL_ARG_ATTR_ZERO_POINTS}: or-ed with an argument to pass its zero points (s32) at execution. */
    static final int ARG_ATTR_ZERO_POINTS = DNNL_ARG_ATTR_ZERO_POINTS();

    /** Scales of argument {@code arg} given at execution: one per index of the dimensions set in {@code mask} (0: one). */
    static void setScalesMask(MemorySegment attr, int arg, int mask) {
        Dnnl.check("dnnl_primitive_attr_set_scales_mask", dnnl_primitive_attr_set_scales_mask(attr, arg, mask));
    }

    /** Zero points of argument {@code arg} given at execution (s32), with the same mask convention. */
    static void setZeroPointsMask(MemorySegment attr, int arg, int mask) {
        Dnnl.check("dnnl_primitive_attr_set_zero_points_mask", dnnl_primitive_attr_set_zero_points_mask(attr, arg, mask));
    }
}
