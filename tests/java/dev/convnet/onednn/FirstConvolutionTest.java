package dev.convnet.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.internal.onednn.Dnnl;
import dev.convnet.internal.onednn.NativeScope;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** A first real primitive: a small convolution run through the generated bindings, checked against numbers worked by hand. */
class FirstConvolutionTest {
    @Test
    void threeByThreeConvolutionOnAFourByFourImage() {
        OneDnn.require();
        try (NativeScope s = new NativeScope()) {
            MemorySegment engine = s.cpuEngine();
            MemorySegment stream = s.stream(engine);
            // Input 1×1×4×4 holding 1..16 row by row.
            float[] src = new float[16];
            for (int i = 0; i < 16; i++) src[i] = i + 1;
            // Two 3×3 kernels: all ones (window sums), and the centre tap alone (the window's middle pixel).
            float[] weights = new float[18];
            for (int i = 0; i < 9; i++) weights[i] = 1;
            weights[9 + 4] = 1;
            float[] bias = {0.5f, -1f};

            MemorySegment srcMd = s.memoryDesc(new long[] {1, 1, 4, 4}, dnnl_nchw());
            MemorySegment wMd = s.memoryDesc(new long[] {2, 1, 3, 3}, dnnl_oihw());
            MemorySegment bMd = s.memoryDesc(new long[] {2}, dnnl_x());
            MemorySegment dstMd = s.memoryDesc(new long[] {1, 2, 2, 2}, dnnl_nchw());
            MemorySegment ones = s.arena().allocateFrom(ValueLayout.JAVA_LONG, 1, 1);
            MemorySegment zeros = s.arena().allocateFrom(ValueLayout.JAVA_LONG, 0, 0);

            MemorySegment pdSlot = s.slot();
            Dnnl.check("dnnl_convolution_forward_primitive_desc_create",
                    dnnl_convolution_forward_primitive_desc_create(pdSlot, engine, dnnl_forward_inference(),
                            dnnl_convolution_direct(), srcMd, wMd, bMd, dstMd, ones, zeros, zeros, zeros, MemorySegment.NULL));
            MemorySegment pd = s.primitiveDesc(pdSlot);
            MemorySegment conv = s.primitive(pd);

            MemorySegment srcBuf = s.arena().allocateFrom(ValueLayout.JAVA_FLOAT, src);
            MemorySegment wBuf = s.arena().allocateFrom(ValueLayout.JAVA_FLOAT, weights);
            MemorySegment bBuf = s.arena().allocateFrom(ValueLayout.JAVA_FLOAT, bias);
            MemorySegment dstBuf = s.arena().allocate(ValueLayout.JAVA_FLOAT, 8);
            MemorySegment args = Dnnl.execArgs(s.arena(),
                    DNNL_ARG_SRC(), s.memory(srcMd, engine, srcBuf),
                    DNNL_ARG_WEIGHTS(), s.memory(wMd, engine, wBuf),
                    DNNL_ARG_BIAS(), s.memory(bMd, engine, bBuf),
                    DNNL_ARG_DST(), s.memory(dstMd, engine, dstBuf));
            Dnnl.executeAndWait(conv, stream, args, "first convolution");

            // Window sums: 1+2+3+5+6+7+9+10+11 = 54, then 63, 90, 99; plus bias 0.5.
            // Centre taps: 6, 7, 10, 11; plus bias -1.
            float[] expected = {54.5f, 63.5f, 90.5f, 99.5f, 5f, 6f, 9f, 10f};
            assertArrayEquals(expected, dstBuf.toArray(ValueLayout.JAVA_FLOAT));
        }
    }
}
