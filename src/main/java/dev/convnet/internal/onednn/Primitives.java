package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;

/**
 * Creates oneDNN primitive descriptors for one engine, each owned by a {@link NativeScope}, with every status
 * checked and the layer's name in the error message. f32 only. The forward creators without a propagation kind
 * are for inference; training passes {@code dnnl_forward_training()} and creates each backward descriptor next to
 * its forward one, with that forward descriptor as the hint (oneDNN needs it, and an inference hint can crash it).
 *
 * <p>Used by one thread while a session compiles; not thread-safe.
 */
public final class Primitives {
    /**
     * A convolution's weight dimensions as oneDNN takes them: {@code [O, I, k…]}, or with groups {@code [G, O/G, I/G, k…]}
     * over the same OIHW bytes.
     */
    static long[] convolutionWeightDims(int groups, int oc, int ic, long[] kernel) {
        int sp = kernel.length;
        long[] wDims;
        if (groups == 1) {
            wDims = new long[2 + sp];
            wDims[0] = oc;
            wDims[1] = ic;
            System.arraycopy(kernel, 0, wDims, 2, sp);
        } else {
            wDims = new long[3 + sp];
            wDims[0] = groups;
            wDims[1] = oc / groups;
            wDims[2] = ic / groups;
            System.arraycopy(kernel, 0, wDims, 3, sp);
        }
        return wDims;
    }

    /**
     * An eltwise operation, usable as a primitive or as a post-op; {@link #SUM} stands for oneDNN's sum post-op
     * (the destination's previous contents are added: a residual connection fused into the convolution).
     */
    public record Eltwise(int alg, float alpha, float beta, String name) {
        /** The sum post-op. */
        public static final Eltwise SUM = new Eltwise(-1, 1f, 0f, "sum");

        /**
         * oneDNN's depthwise post-op: a 3×3 depthwise convolution with padding 1 and the given stride applied to the
         * output of a 1×1 convolution, computed tile by tile without writing the 1×1's output out; weights, bias and
         * destination of data type {@code dataType}. Its weights and bias are execution arguments
         * ({@code DNNL_ARG_ATTR_POST_OP_DW | DNNL_ARG_WEIGHTS}, {@code | DNNL_ARG_BIAS}).
         */
        public static Eltwise depthwise(int stride, int dataType) {
            return new Eltwise(-2, stride, dataType, "depthwise 3×3" + (stride == 1 ? "" : " s=" + stride));
        }

        /** True for {@link #depthwise}. */
        public boolean isDepthwise() {
            return alg == -2;
        }
    }

    private final NativeScope scope;
    private final MemorySegment engine;

    public Primitives(NativeScope scope, MemorySegment engine) {
        this.scope = scope;
        this.engine = engine;
    }

    public MemorySegment engine() {
        return engine;
    }

    /** A descriptor that lets the primitive choose the layout ({@code format_tag_any}). */
    public MemorySegment any(long... dims) {
        return scope.memoryDesc(dims, dnnl_format_tag_any());
    }

    /** A descriptor of data type {@code dataType} whose layout the primitive chooses. */
    public MemorySegment anyOf(int dataType, long... dims) {
        return scope.memoryDesc(dims, dnnl_format_tag_any(), dataType);
    }

    /** A dense row-major descriptor ({@code a}, {@code ab}, {@code abc}, ... i.e. x, nc, ncw, nchw), any rank ≤ 12. */
    public MemorySegment plain(long... dims) {
        if (dims.length > DNNL_MAX_NDIMS()) {
            throw new IllegalArgumentException("rank " + dims.length + " exceeds oneDNN's " + DNNL_MAX_NDIMS() + " dimensions");
        }
        long[] strides = new long[dims.length];
        long stride = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            strides[i] = stride;
            stride *= dims[i];
        }
        MemorySegment slot = scope.slot();
        var arena = scope.arena();
        Dnnl.check("dnnl_memory_desc_create_with_strides", dnnl_memory_desc_create_with_strides(slot, dims.length,
                arena.allocateFrom(ValueLayout.JAVA_LONG, dims), dnnl_f32(), arena.allocateFrom(ValueLayout.JAVA_LONG, strides)));
        return scope.own(slot, "dnnl_memory_desc_destroy", h -> dnnl_memory_desc_destroy(h));
    }

    /** {@code md} viewed with other dimensions of the same element count (plain layouts only). */
    public MemorySegment reshape(MemorySegment md, long... dims) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_memory_desc_reshape",
                dnnl_memory_desc_reshape(slot, md, dims.length, scope.arena().allocateFrom(ValueLayout.JAVA_LONG, dims)));
        return scope.own(slot, "dnnl_memory_desc_destroy", h -> dnnl_memory_desc_destroy(h));
    }

    /** Attributes: user-managed scratchpad, plus the given eltwise post-ops in order. */
    public MemorySegment attr(List<Eltwise> postOps) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_primitive_attr_create", dnnl_primitive_attr_create(slot));
        MemorySegment attr = scope.own(slot, "dnnl_primitive_attr_destroy", h -> dnnl_primitive_attr_destroy(h));
        Dnnl.check("dnnl_primitive_attr_set_scratchpad_mode",
                dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user()));
        if (!postOps.isEmpty()) {
            MemorySegment ps = scope.slot();
            Dnnl.check("dnnl_post_ops_create", dnnl_post_ops_create(ps));
            MemorySegment po = scope.own(ps, "dnnl_post_ops_destroy", h -> dnnl_post_ops_destroy(h));
            for (Eltwise e : postOps) {
                if (e == Eltwise.SUM) {
                    Dnnl.check("dnnl_post_ops_append_sum", dnnl_post_ops_append_sum(po, 1f, 0, dnnl_data_type_undef()));
                } else if (e.isDepthwise()) {
                    int dt = (int) e.beta();
                    Dnnl.check("dnnl_post_ops_append_dw", dnnl_post_ops_append_dw(po, dt, dnnl_f32(), dt, 3, (long) e.alpha(), 1));
                } else {
                    Dnnl.check("dnnl_post_ops_append_eltwise", dnnl_post_ops_append_eltwise(po, e.alg(), e.alpha(), e.beta()));
                }
            }
            Dnnl.check("dnnl_primitive_attr_set_post_ops", dnnl_primitive_attr_set_post_ops(attr, po));
        }
        return attr;
    }

    private MemorySegment longs(long... v) {
        return scope.arena().allocateFrom(ValueLayout.JAVA_LONG, v);
    }

    /**
     * Convolution: {@code dilations} are oneDNN's (0 = dense, i.e. the layer's dilation minus one).
     *
     * <p>oneDNN 3.8.1's {@code brg_conv_fwd} kernels fail on two kinds of geometry, found by this project's
     * property tests and reproduced in plain C: with one input channel per group and a stride above 1 they
     * compute wrong outputs (52 of 297 such one-channel 1-D geometries differ from a direct loop; none with 2
     * or more channels), and when the padding on a side reaches the dilated kernel span, so that whole outputs
     * see only padding (the lecture's "same" padding at stride > 1), they can crash the process. For those
     * geometries this skips to oneDNN's next implementation; if there is none, it returns {@code null} and the
     * caller runs the Java kernel instead.
     *
     * @param bias the bias descriptor, or {@link MemorySegment#NULL}
     * @param oneChannelPerGroup whether each group sees exactly one input channel
     * @param kernel the kernel's spatial sizes
     * @return the primitive descriptor, or {@code null} if only the faulty implementation would run it
     */
    public MemorySegment convolution(String layer, MemorySegment src, MemorySegment weights, MemorySegment bias,
                                     MemorySegment dst, long[] strides, long[] dilations, long[] padL, long[] padR,
                                     MemorySegment attr, boolean oneChannelPerGroup, long[] kernel) {
        return convolution(layer, dnnl_forward_inference(), src, weights, bias, dst, strides, dilations, padL, padR, attr,
                oneChannelPerGroup, kernel);
    }

    /** {@link #convolution(String, MemorySegment, MemorySegment, MemorySegment, MemorySegment, long[], long[], long[], long[], MemorySegment, boolean, long[])} with a propagation kind. */
    public MemorySegment convolution(String layer, int propKind, MemorySegment src, MemorySegment weights,
                                     MemorySegment bias, MemorySegment dst, long[] strides, long[] dilations, long[] padL,
                                     long[] padR, MemorySegment attr, boolean oneChannelPerGroup, long[] kernel) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_convolution_forward_primitive_desc_create",
                dnnl_convolution_forward_primitive_desc_create(slot, engine, propKind,
                        dnnl_convolution_direct(), src, weights, bias, dst, longs(strides), longs(dilations),
                        longs(padL), longs(padR), attr), layer);
        MemorySegment pd = scope.primitiveDesc(slot);
        if ((oneChannelPerGroup && strided(strides)) || paddingOnly(kernel, dilations, padL, padR)) {
            return skipImplementations(pd, "brg_conv_fwd", layer);
        }
        return pd;
    }

    private static boolean strided(long[] strides) {
        for (long s : strides) if (s > 1) return true;
        return false;
    }

    /** Whether the padding on some side reaches the dilated kernel span (whole outputs see only padding). */
    private static boolean paddingOnly(long[] kernel, long[] dilations, long[] padL, long[] padR) {
        for (int i = 0; i < kernel.length; i++) {
            long span = (kernel[i] - 1) * (dilations[i] + 1) + 1;
            if (padL[i] >= span || padR[i] >= span) return true;
        }
        return false;
    }

    /**
     * Moves {@code pd} past every implementation whose name contains {@code faulty}; {@code null} if no other
     * implementation is left.
     */
    private MemorySegment skipImplementations(MemorySegment pd, String faulty, String layer) {
        while (implementation(pd).contains(faulty)) {
            int status = dnnl_primitive_desc_next_impl(pd);
            if (status == dnnl_last_impl_reached()) return null;
            Dnnl.check("dnnl_primitive_desc_next_impl", status, layer);
        }
        return pd;
    }

    /** Backward data of a convolution: {@code diff_src} from {@code diff_dst} and the weights. */
    public MemorySegment convolutionBackwardData(String layer, MemorySegment diffSrc, MemorySegment weights,
                                                 MemorySegment diffDst, long[] strides, long[] dilations, long[] padL,
                                                 long[] padR, MemorySegment hint, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_convolution_backward_data_primitive_desc_create",
                dnnl_convolution_backward_data_primitive_desc_create(slot, engine, dnnl_convolution_direct(), diffSrc,
                        weights, diffDst, longs(strides), longs(dilations), longs(padL), longs(padR), hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /**
     * Backward weights of a convolution: {@code diff_weights} (and {@code diff_bias} unless it is
     * {@link MemorySegment#NULL}) from the source and {@code diff_dst}.
     *
     * <p>oneDNN 3.8.1's {@code jit_1x1} backward-weights kernels (AVX2 and AVX-512) index their "reduce to unit
     * stride" workspace with the channel block instead of the channel count when the source is channels-last and has
     * fewer channels than a block (oneDNN issue #6035): wrong weight gradients, hangs or a crash. Here (AVX-512) an
     * NHWC source of {@code mb32 ic4 ih64 oc8}, 1×1, stride 2 crashes the process at 1 and 2 threads. A 1×1 kernel
     * with a stride above 1 and fewer than 16 input channels per group therefore skips {@code jit_1x1} whenever its
     * source is not channel-blocked (blocked sources, which the training forward pass usually chooses, are correct);
     * {@code null} if no other implementation is left.
     *
     * @param channelsPerGroup input channels per group
     */
    public MemorySegment convolutionBackwardWeights(String layer, MemorySegment src, MemorySegment diffWeights,
                                                    MemorySegment diffBias, MemorySegment diffDst, long[] strides,
                                                    long[] dilations, long[] padL, long[] padR, MemorySegment hint,
                                                    MemorySegment attr, long[] kernel, long channelsPerGroup) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_convolution_backward_weights_primitive_desc_create",
                dnnl_convolution_backward_weights_primitive_desc_create(slot, engine, dnnl_convolution_direct(), src,
                        diffWeights, diffBias, diffDst, longs(strides), longs(dilations), longs(padL), longs(padR), hint,
                        attr), layer);
        MemorySegment pd = scope.primitiveDesc(slot);
        boolean oneByOne = true;
        for (long k : kernel) oneByOne &= k == 1;
        if (oneByOne && strided(strides) && channelsPerGroup < UNIT_STRIDE_SAFE_CHANNELS) {
            while (implementation(pd).contains("jit_1x1") && !MemoryFormats.channelBlocked(queryMd(pd, dnnl_query_src_md()))) {
                int status = dnnl_primitive_desc_next_impl(pd);
                if (status == dnnl_last_impl_reached()) return null;
                Dnnl.check("dnnl_primitive_desc_next_impl", status, layer);
            }
        }
        return pd;
    }

    /** Input channels per group from which oneDNN's 1×1 backward-weights kernels are trusted with strides (#6035). */
    static final long UNIT_STRIDE_SAFE_CHANNELS = 16;

    /** Pooling: {@code alg} is {@code dnnl_pooling_max} or one of the two average kinds. */
    public MemorySegment pooling(String layer, int alg, MemorySegment src, MemorySegment dst, long[] strides,
                                 long[] kernel, long[] dilations, long[] padL, long[] padR, MemorySegment attr) {
        return pooling(layer, dnnl_forward_inference(), alg, src, dst, strides, kernel, dilations, padL, padR, attr);
    }

    /** Pooling with a propagation kind (max pooling in training also writes a workspace for the backward pass). */
    public MemorySegment pooling(String layer, int propKind, int alg, MemorySegment src, MemorySegment dst,
                                 long[] strides, long[] kernel, long[] dilations, long[] padL, long[] padR,
                                 MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_pooling_forward_primitive_desc_create",
                dnnl_pooling_forward_primitive_desc_create(slot, engine, propKind, alg, src, dst,
                        longs(strides), longs(kernel), longs(dilations), longs(padL), longs(padR), attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Backward pooling: {@code diff_src} from {@code diff_dst} (and the forward's workspace for max pooling). */
    public MemorySegment poolingBackward(String layer, int alg, MemorySegment diffSrc, MemorySegment diffDst,
                                         long[] strides, long[] kernel, long[] dilations, long[] padL, long[] padR,
                                         MemorySegment hint, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_pooling_backward_primitive_desc_create",
                dnnl_pooling_backward_primitive_desc_create(slot, engine, alg, diffSrc, diffDst, longs(strides),
                        longs(kernel), longs(dilations), longs(padL), longs(padR), hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    public MemorySegment innerProduct(String layer, MemorySegment src, MemorySegment weights, MemorySegment bias,
                                      MemorySegment dst, MemorySegment attr) {
        return innerProduct(layer, dnnl_forward_inference(), src, weights, bias, dst, attr);
    }

    /** Inner product with a propagation kind. */
    public MemorySegment innerProduct(String layer, int propKind, MemorySegment src, MemorySegment weights,
                                      MemorySegment bias, MemorySegment dst, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_inner_product_forward_primitive_desc_create",
                dnnl_inner_product_forward_primitive_desc_create(slot, engine, propKind, src, weights,
                        bias, dst, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Backward data of an inner product. */
    public MemorySegment innerProductBackwardData(String layer, MemorySegment diffSrc, MemorySegment weights,
                                                  MemorySegment diffDst, MemorySegment hint, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_inner_product_backward_data_primitive_desc_create",
                dnnl_inner_product_backward_data_primitive_desc_create(slot, engine, diffSrc, weights, diffDst, hint,
                        attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Backward weights of an inner product ({@code diffBias} may be {@link MemorySegment#NULL}). */
    public MemorySegment innerProductBackwardWeights(String layer, MemorySegment src, MemorySegment diffWeights,
                                                     MemorySegment diffBias, MemorySegment diffDst, MemorySegment hint,
                                                     MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_inner_product_backward_weights_primitive_desc_create",
                dnnl_inner_product_backward_weights_primitive_desc_create(slot, engine, src, diffWeights, diffBias,
                        diffDst, hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    public MemorySegment eltwise(String layer, Eltwise op, MemorySegment src, MemorySegment dst, MemorySegment attr) {
        return eltwise(layer, dnnl_forward_inference(), op, src, dst, attr);
    }

    /** Eltwise with a propagation kind. */
    public MemorySegment eltwise(String layer, int propKind, Eltwise op, MemorySegment src, MemorySegment dst,
                                 MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_eltwise_forward_primitive_desc_create",
                dnnl_eltwise_forward_primitive_desc_create(slot, engine, propKind, op.alg(), src, dst,
                        op.alpha(), op.beta(), attr), layer);
        return scope.primitiveDesc(slot);
    }

    /**
     * Backward eltwise: {@code data} is the forward's source, or its destination for the {@code _use_dst_for_bwd}
     * algorithms.
     */
    public MemorySegment eltwiseBackward(String layer, Eltwise op, MemorySegment diffSrc, MemorySegment diffDst,
                                         MemorySegment data, MemorySegment hint, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_eltwise_backward_primitive_desc_create",
                dnnl_eltwise_backward_primitive_desc_create(slot, engine, op.alg(), diffSrc, diffDst, data, op.alpha(),
                        op.beta(), hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Softmax along {@code axis}; {@code log} selects log-softmax. */
    public MemorySegment softmax(String layer, boolean log, MemorySegment src, MemorySegment dst, int axis, MemorySegment attr) {
        return softmax(layer, dnnl_forward_inference(), log, src, dst, axis, attr);
    }

    /** Softmax with a propagation kind. */
    public MemorySegment softmax(String layer, int propKind, boolean log, MemorySegment src, MemorySegment dst, int axis,
                                 MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_softmax_forward_primitive_desc_create",
                dnnl_softmax_forward_primitive_desc_create(slot, engine, propKind,
                        log ? dnnl_softmax_log() : dnnl_softmax_accurate(), src, dst, axis, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Backward softmax (or log-softmax): {@code diff_src} from {@code diff_dst} and the forward's destination. */
    public MemorySegment softmaxBackward(String layer, boolean log, MemorySegment diffSrc, MemorySegment diffDst,
                                         MemorySegment dst, int axis, MemorySegment hint, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_softmax_backward_primitive_desc_create",
                dnnl_softmax_backward_primitive_desc_create(slot, engine, log ? dnnl_softmax_log() : dnnl_softmax_accurate(),
                        diffSrc, diffDst, dst, axis, hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Batch normalization with the stored mean and variance, scale and shift. */
    public MemorySegment batchNorm(String layer, MemorySegment src, MemorySegment dst, float epsilon, MemorySegment attr) {
        return batchNorm(layer, dnnl_forward_inference(), src, dst, epsilon,
                dnnl_use_global_stats() | dnnl_use_scale() | dnnl_use_shift(), attr);
    }

    /**
     * Batch normalization with a propagation kind and flags: without {@code dnnl_use_global_stats} a training
     * forward computes the batch mean and (biased) variance and writes them to {@code DNNL_ARG_MEAN} and
     * {@code DNNL_ARG_VARIANCE}.
     */
    public MemorySegment batchNorm(String layer, int propKind, MemorySegment src, MemorySegment dst, float epsilon,
                                   int flags, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_batch_normalization_forward_primitive_desc_create",
                dnnl_batch_normalization_forward_primitive_desc_create(slot, engine, propKind, src, dst,
                        epsilon, flags, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /**
     * Backward batch normalization: {@code dnnl_backward} also gives {@code diff_scale} and {@code diff_shift},
     * {@code dnnl_backward_data} only {@code diff_src}.
     */
    public MemorySegment batchNormBackward(String layer, int propKind, MemorySegment diffSrc, MemorySegment diffDst,
                                           MemorySegment src, float epsilon, int flags, MemorySegment hint,
                                           MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_batch_normalization_backward_primitive_desc_create",
                dnnl_batch_normalization_backward_primitive_desc_create(slot, engine, propKind, diffSrc, diffDst, src,
                        epsilon, flags, hint, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** A reduction ({@code dnnl_reduction_sum}, ...) of {@code src} into the smaller {@code dst}. */
    public MemorySegment reduction(String layer, int alg, MemorySegment src, MemorySegment dst, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_reduction_primitive_desc_create",
                dnnl_reduction_primitive_desc_create(slot, engine, alg, src, dst, 0f, 0f, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /**
     * The part of {@code parent} with dimensions {@code dims} starting at {@code offsets}, or {@code null} if oneDNN
     * cannot describe it (an offset inside a block of a blocked layout).
     */
    public MemorySegment submemory(MemorySegment parent, long[] dims, long[] offsets) {
        MemorySegment slot = scope.slot();
        int status = dnnl_memory_desc_create_submemory(slot, parent, longs(dims), longs(offsets));
        if (status == dnnl_invalid_arguments() || status == dnnl_unimplemented()) return null;
        Dnnl.check("dnnl_memory_desc_create_submemory", status);
        return scope.own(slot, "dnnl_memory_desc_destroy", h -> dnnl_memory_desc_destroy(h));
    }

    /**
     * Element-wise {@code alg} ({@code dnnl_binary_add}, {@code dnnl_binary_mul}, ...) of {@code src0} and
     * {@code src1}; {@code src1} may have size 1 on axes where {@code src0} does not (broadcast).
     */
    public MemorySegment binary(String layer, int alg, MemorySegment src0, MemorySegment src1, MemorySegment dst,
                                MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_binary_primitive_desc_create",
                dnnl_binary_primitive_desc_create(slot, engine, alg, src0, src1, dst, attr), layer);
        return scope.primitiveDesc(slot);
    }

    /** Concatenation of {@code srcs} along {@code axis}; the destination layout is oneDNN's choice. */
    public MemorySegment concat(String layer, List<MemorySegment> srcs, int axis, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        MemorySegment array = scope.arena().allocate(ValueLayout.ADDRESS, srcs.size());
        for (int i = 0; i < srcs.size(); i++) array.setAtIndex(ValueLayout.ADDRESS, i, srcs.get(i));
        Dnnl.check("dnnl_concat_primitive_desc_create",
                dnnl_concat_primitive_desc_create(slot, engine, MemorySegment.NULL, srcs.size(), axis, array, attr), layer);
        return scope.primitiveDesc(slot);
    }

    public MemorySegment reorder(String what, MemorySegment src, MemorySegment dst, MemorySegment attr) {
        MemorySegment slot = scope.slot();
        Dnnl.check("dnnl_reorder_primitive_desc_create",
                dnnl_reorder_primitive_desc_create(slot, src, engine, dst, engine, attr), what);
        return scope.primitiveDesc(slot);
    }

    /** The descriptor a primitive descriptor chose for {@code what} (e.g. {@code dnnl_query_src_md()}); owned by {@code pd}. */
    public static MemorySegment queryMd(MemorySegment pd, int what) {
        return dnnl_primitive_desc_query_md(pd, what, 0);
    }

    /** The memory descriptor of execution argument {@code arg} (e.g. a post-op's weights). */
    public static MemorySegment argMd(MemorySegment pd, int arg) {
        return dnnl_primitive_desc_query_md(pd, dnnl_query_exec_arg_md(), arg);
    }

    /** The implementation oneDNN picked, as its verbose mode names it (e.g. {@code brg_conv_fwd:avx512_core}). */
    public String implementation(MemorySegment pd) {
        MemorySegment ptr = scope.slot();
        Dnnl.check("dnnl_primitive_desc_query", dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str(), 0, ptr));
        return ptr.get(ValueLayout.ADDRESS, 0).reinterpret(256).getString(0);
    }

    /** Bytes of scratchpad the primitive needs (0 if none). */
    public static long scratchpadBytes(MemorySegment pd) {
        MemorySegment md = queryMd(pd, dnnl_query_scratchpad_md());
        return md.equals(MemorySegment.NULL) ? 0 : dnnl_memory_desc_get_size(md);
    }
}
