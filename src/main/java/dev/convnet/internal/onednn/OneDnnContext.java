package dev.convnet.internal.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

import dev.convnet.internal.exec.StepTimes;
import dev.convnet.internal.onednn.OneDnnPlan.Step;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Everything one run of a {@link OneDnnPlan} needs for itself: a stream, the activation buffers,
 * a scratchpad, staging buffers for {@code float[]} input and output, and per step the memory objects and the
 * {@code dnnl_exec_arg_t} array. Built once, reused by one run at a time (see
 * {@link dev.convnet.internal.exec.ContextPool}); a run allocates nothing.
 *
 * <p>Not thread-safe: one run at a time.
 */
final class OneDnnContext implements AutoCloseable {
    private final NativeScope scope = new NativeScope();
    private final OneDnnPlan plan;
    final MemorySegment stream;
    /** Staging buffers for {@code float[]} inputs and outputs, one per graph input and output. */
    final MemorySegment[] stagingIn;
    final MemorySegment[] stagingOut;
    private final MemorySegment[] buffers;
    /** The address each input's (output's) memory objects point at now: set_data_handle only when it changes. */
    private long[] boundIn;
    private long[] boundOut;
    /** Reused by single-input, single-output runs, so that a run allocates nothing. */
    private final MemorySegment[] oneIn = new MemorySegment[1];
    private final MemorySegment[] oneOut = new MemorySegment[1];
    final MemorySegment[] args;
    final int[] nargs;
    /** Per graph input (resp. output): the memory objects whose data handle is the caller's buffer, set at every run. */
    final MemorySegment[][] inputMemories;
    final MemorySegment[][] outputMemories;
    /** Per Java step, arrays of exactly its inputs' and output's sizes (the kernels' contract); null for oneDNN steps. */
    final float[][][] javaIn;
    final float[][] javaOut;

    /** The time per step when the session profiles, else null. */
    private final StepTimes times;

    OneDnnContext(OneDnnPlan plan, StepTimes times) {
        this.plan = plan;
        this.times = times;
        try {
            stream = scope.stream(plan.engine);
            var arena = scope.arena();
            stagingIn = plan.inputShapes.stream().map(sh -> arena.allocate(sh.elementCount() * Float.BYTES, 64))
                    .toArray(MemorySegment[]::new);
            stagingOut = plan.outputShapes.stream().map(sh -> arena.allocate(sh.elementCount() * Float.BYTES, 64))
                    .toArray(MemorySegment[]::new);
            buffers = new MemorySegment[plan.buffers.size()];
            for (OneDnnPlan.Slot b : plan.buffers) {
                buffers[b.index] = arena.allocate(Math.max(b.bytes, 64), 64);
            }
            MemorySegment scratch = plan.scratchpadBytes == 0 ? MemorySegment.NULL
                    : arena.allocate(plan.scratchpadBytes, 64);
            List<List<MemorySegment>> ins = new ArrayList<>();
            List<List<MemorySegment>> outs = new ArrayList<>();
            for (int k = 0; k < stagingIn.length; k++) ins.add(new ArrayList<>());
            for (int k = 0; k < stagingOut.length; k++) outs.add(new ArrayList<>());
            int n = plan.steps.size();
            args = new MemorySegment[n];
            nargs = new int[n];
            javaIn = new float[n][][];
            javaOut = new float[n][];
            for (int i = 0; i < n; i++) {
                Step st = plan.steps.get(i);
                if (st.isJava()) {
                    javaIn[i] = new float[st.srcCounts.length][];
                    for (int k = 0; k < st.srcCounts.length; k++) javaIn[i][k] = new float[Math.toIntExact(st.srcCounts[k])];
                    javaOut[i] = new float[Math.toIntExact(st.dstElements)];
                    continue;
                }
                List<Object> pairs = new ArrayList<>();
                for (int k = 0; k < st.srcSlots.length; k++) {
                    pairs.add(st.srcArgs[k]);
                    pairs.add(memoryFor(st.srcMds[k], st.srcSlots[k], ins, outs));
                }
                pairs.add(st.primitive.equals("reorder") ? DNNL_ARG_TO() : DNNL_ARG_DST());
                pairs.add(memoryFor(st.dstMd, st.dstSlot, ins, outs));
                for (OneDnnPlan.Constant c : st.constants) {
                    pairs.add(c.arg());
                    pairs.add(c.memory());
                }
                if (st.scratchMd != null) {
                    pairs.add(DNNL_ARG_SCRATCHPAD());
                    pairs.add(scope.memory(st.scratchMd, plan.engine, scratch));
                }
                args[i] = Dnnl.execArgs(arena, pairs.toArray());
                nargs[i] = pairs.size() / 2;
            }
            boundIn = java.util.Arrays.stream(stagingIn).mapToLong(MemorySegment::address).toArray();
            boundOut = java.util.Arrays.stream(stagingOut).mapToLong(MemorySegment::address).toArray();
            inputMemories = ins.stream().map(l -> l.toArray(MemorySegment[]::new)).toArray(MemorySegment[][]::new);
            outputMemories = outs.stream().map(l -> l.toArray(MemorySegment[]::new)).toArray(MemorySegment[][]::new);
        } catch (RuntimeException e) {
            scope.close();
            throw e;
        }
    }

    private MemorySegment memoryFor(MemorySegment md, OneDnnPlan.Slot slot, List<List<MemorySegment>> ins,
                                    List<List<MemorySegment>> outs) {
        if (slot.kind == OneDnnPlan.Slot.USER_IN) {
            MemorySegment m = scope.memory(md, plan.engine, stagingIn[slot.index]);
            ins.get(slot.index).add(m);
            return m;
        }
        if (slot.kind == OneDnnPlan.Slot.USER_OUT) {
            MemorySegment m = scope.memory(md, plan.engine, stagingOut[slot.index]);
            outs.get(slot.index).add(m);
            return m;
        }
        return scope.memory(md, plan.engine, buffers[slot.index]);
    }

    /** The buffer behind an activation slot for this run. */
    MemorySegment slot(OneDnnPlan.Slot slot, MemorySegment[] in, MemorySegment[] out) {
        return switch (slot.kind) {
            case OneDnnPlan.Slot.USER_IN -> in[slot.index];
            case OneDnnPlan.Slot.USER_OUT -> out[slot.index];
            default -> buffers[slot.index];
        };
    }

    /** Runs every step: {@code in} and {@code out} are the caller's (or the staging) buffers, one per graph input/output. */
    void execute(MemorySegment[] in, MemorySegment[] out) {
        omp_set_num_threads(plan.threads);
        for (int k = 0; k < in.length; k++) {
            if (boundIn[k] == in[k].address()) continue; // a caller that reuses its buffers pays no call here
            for (MemorySegment m : inputMemories[k]) {
                Dnnl.check("dnnl_memory_set_data_handle", dnnl_memory_set_data_handle(m, in[k]));
            }
            boundIn[k] = in[k].address();
        }
        for (int k = 0; k < out.length; k++) {
            if (boundOut[k] == out[k].address()) continue;
            for (MemorySegment m : outputMemories[k]) {
                Dnnl.check("dnnl_memory_set_data_handle", dnnl_memory_set_data_handle(m, out[k]));
            }
            boundOut[k] = out[k].address();
        }
        List<Step> steps = plan.steps;
        for (int i = 0; i < steps.size(); i++) {
            long start = times == null ? 0 : System.nanoTime();
            step(i, steps.get(i), in, out);
            if (times != null) {
                Dnnl.check("dnnl_stream_wait", dnnl_stream_wait(stream));
                times.add(i, System.nanoTime() - start);
            }
        }
        Dnnl.check("dnnl_stream_wait", dnnl_stream_wait(stream));
        if (times != null) times.run();
    }

    /** Runs step {@code i}: a primitive on the stream, or a Java kernel on copies of its plain inputs. */
    private void step(int i, Step st, MemorySegment[] in, MemorySegment[] out) {
        if (st.isJava()) {
            Dnnl.check("dnnl_stream_wait", dnnl_stream_wait(stream));
            for (int k = 0; k < st.srcSlots.length; k++) {
                MemorySegment.copy(slot(st.srcSlots[k], in, out), ValueLayout.JAVA_FLOAT, 0, javaIn[i][k], 0,
                        javaIn[i][k].length);
            }
            MemorySegment dst = slot(st.dstSlot, in, out);
            st.javaKernel.forward(javaIn[i], javaOut[i]);
            MemorySegment.copy(javaOut[i], 0, dst, ValueLayout.JAVA_FLOAT, 0, javaOut[i].length);
            return;
        }
        int status = dnnl_primitive_execute(st.handle, stream, nargs[i], args[i]);
        if (status != 0) Dnnl.check("dnnl_primitive_execute", status, st.layer);
    }

    /** Runs every step on the caller's single input and output. */
    void execute(MemorySegment in, MemorySegment out) {
        oneIn[0] = in;
        oneOut[0] = out;
        try {
            execute(oneIn, oneOut);
        } finally {
            oneIn[0] = null; // do not keep the caller's memory reachable
            oneOut[0] = null;
        }
    }

    @Override
    public void close() {
        scope.close();
    }
}
