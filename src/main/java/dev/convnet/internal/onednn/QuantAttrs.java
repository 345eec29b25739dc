package dev.convnet.internal.onednn;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;

/**
 * The oneDNN 3.8 quantization attributes that the generated bindings ({@code native/dnnl-symbols.txt}) do not list:
 * {@code dnnl_primitive_attr_set_scales_mask}, {@code dnnl_primitive_attr_set_zero_points_mask} and the argument
 * flags {@code DNNL_ARG_ATTR_SCALES} / {@code DNNL_ARG_ATTR_ZERO_POINTS} (macros, values from {@code dnnl_types.h}).
 * Written by hand as FFM downcalls on the library the loader already loaded (the same
 * {@link SymbolLookup#loaderLookup()} the bindings use); regenerating the bindings with these symbols in the list
 * would replace this class.
 *
 * <p>Stateless; thread-safe.
 */
final class QuantAttrs {
    private QuantAttrs() {}

    /** {@code DNNL_ARG_ATTR_SCALES}: or-ed with an argument ({@code DNNL_ARG_SRC}...) to pass its scales at execution. */
    static final int ARG_ATTR_SCALES = 4096;
    /** {@code DNNL_ARG_ATTR_ZERO_POINTS}: or-ed with an argument to pass its zero points (s32) at execution. */
    static final int ARG_ATTR_ZERO_POINTS = 8192;

    private static final class Handles {
        static final MethodHandle SET_SCALES_MASK = downcall("dnnl_primitive_attr_set_scales_mask");
        static final MethodHandle SET_ZERO_POINTS_MASK = downcall("dnnl_primitive_attr_set_zero_points_mask");

        private static MethodHandle downcall(String name) {
            // dnnl_status_t f(dnnl_primitive_attr_t attr, int arg, int mask)
            MemorySegment address = SymbolLookup.loaderLookup().findOrThrow(name);
            return Linker.nativeLinker().downcallHandle(address,
                    FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS, ValueLayout.JAVA_INT, ValueLayout.JAVA_INT));
        }
    }

    /** Scales of argument {@code arg} given at execution: one per index of the dimensions set in {@code mask} (0: one). */
    static void setScalesMask(MemorySegment attr, int arg, int mask) {
        Dnnl.check("dnnl_primitive_attr_set_scales_mask", invoke(Handles.SET_SCALES_MASK, attr, arg, mask));
    }

    /** Zero points of argument {@code arg} given at execution (s32), with the same mask convention. */
    static void setZeroPointsMask(MemorySegment attr, int arg, int mask) {
        Dnnl.check("dnnl_primitive_attr_set_zero_points_mask", invoke(Handles.SET_ZERO_POINTS_MASK, attr, arg, mask));
    }

    private static int invoke(MethodHandle h, MemorySegment attr, int arg, int mask) {
        try {
            return (int) h.invokeExact(attr, arg, mask);
        } catch (RuntimeException | Error e) {
            throw e;
        } catch (Throwable t) {
            throw new IllegalStateException(t);
        }
    }
}
