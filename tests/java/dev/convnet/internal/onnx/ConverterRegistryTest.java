package dev.convnet.internal.onnx;

import dev.convnet.onnx.OnnxUnsupportedException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The converter table: lookup by (operation, opset), the messages for what is missing, overlapping ranges refused. */
class ConverterRegistryTest {
    private static final Converter OLD = cx -> { };
    private static final Converter NEW = cx -> { };

    @Test
    void theRangeThatHoldsTheOpsetIsPicked() {
        ConverterRegistry r = new ConverterRegistry.Builder().add("Clip", 6, 10, OLD).add("Clip", 11, NEW).build();
        assertSame(OLD, r.find("Clip", 6, "node 'c'"));
        assertSame(OLD, r.find("Clip", 10, "node 'c'"));
        assertSame(NEW, r.find("Clip", 11, "node 'c'"));
        assertSame(NEW, r.find("Clip", 21, "node 'c'"));
        OnnxUnsupportedException e = assertThrows(OnnxUnsupportedException.class, () -> r.find("Clip", 5, "node 'c'"));
        assertEquals("Clip at opset 5 is not supported (node 'c'); convnet converts Clip at opsets 6–10, 11+", e.getMessage());
        e = assertThrows(OnnxUnsupportedException.class, () -> r.find("Upsample", 9, "node #3"));
        assertEquals("Upsample at opset 9 is not supported (node #3); convnet has no converter for Upsample", e.getMessage());
    }

    @Test
    void overlappingRangesAreRefused() {
        ConverterRegistry.Builder b = new ConverterRegistry.Builder().add("Pad", 2, 10, OLD);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.add("Pad", 10, NEW));
        assertTrue(e.getMessage().contains("overlap 2–10"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> b.add("Pad", 0, 1, NEW));
    }

    @Test
    void theStandardTableCoversTheDocumentedOperations() {
        List<String> at13 = ConverterRegistry.standard().operations(13);
        for (String op : List.of("Conv", "MaxPool", "AveragePool", "GlobalAveragePool", "Gemm", "MatMul", "BatchNormalization", "Relu",
                "Clip", "Softmax", "LogSoftmax", "Add", "Concat", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Pad",
                "ReduceMean", "Slice", "Split", "Gather", "Constant", "Dropout", "Identity", "Shape", "Cast", "Expand", "Range")) {
            assertTrue(at13.contains(op), op + " has no converter at opset 13");
        }
        // Every operation is converted at every opset from 1 on (ranges split where the operation's meaning changed),
        // except the quantization operators, which ONNX introduced at opset 10.
        List<String> quantization = List.of("DequantizeLinear", "QLinearConv", "QLinearMatMul", "QuantizeLinear");
        assertTrue(at13.containsAll(quantization));
        List<String> before10 = at13.stream().filter(op -> !quantization.contains(op)).toList();
        for (long opset = 1; opset <= 21; opset++) {
            assertEquals(opset < 10 ? before10 : at13, ConverterRegistry.standard().operations(opset), "opset " + opset);
        }
    }
}
