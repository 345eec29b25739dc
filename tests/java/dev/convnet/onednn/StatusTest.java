package dev.convnet.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;
import static org.junit.jupiter.api.Assertions.*;

import dev.convnet.internal.onednn.Dnnl;
import dev.convnet.internal.onednn.NativeScope;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** oneDNN status codes become Java exceptions that name the function and the status's meaning. */
class StatusTest {
    @Test
    void everyCodeMapsToItsEnumerator() {
        String[] names = {"dnnl_success", "dnnl_out_of_memory", "dnnl_invalid_arguments", "dnnl_unimplemented",
                "dnnl_last_impl_reached", "dnnl_runtime_error", "dnnl_not_required", "dnnl_invalid_graph",
                "dnnl_invalid_graph_op", "dnnl_invalid_shape", "dnnl_invalid_data_type"};
        for (int code = 0; code < names.length; code++) {
            assertEquals(names[code], DnnlStatus.of(code).cName());
            assertEquals(code, DnnlStatus.of(code).code());
        }
        assertEquals(DnnlStatus.UNKNOWN, DnnlStatus.of(42));
        assertEquals(DnnlStatus.UNKNOWN, DnnlStatus.of(-1));
    }

    @Test
    void enumAgreesWithTheHeader() {
        OneDnn.require();
        assertEquals(dnnl_success(), DnnlStatus.SUCCESS.code());
        assertEquals(dnnl_out_of_memory(), DnnlStatus.OUT_OF_MEMORY.code());
        assertEquals(dnnl_invalid_arguments(), DnnlStatus.INVALID_ARGUMENTS.code());
        assertEquals(dnnl_unimplemented(), DnnlStatus.UNIMPLEMENTED.code());
        assertEquals(dnnl_runtime_error(), DnnlStatus.RUNTIME_ERROR.code());
        assertEquals(dnnl_invalid_data_type(), DnnlStatus.INVALID_DATA_TYPE.code());
        for (DnnlStatus s : DnnlStatus.values()) {
            if (s == DnnlStatus.UNKNOWN) continue;
            String fromLibrary = dnnl_status2str(s.code()).reinterpret(64).getString(0);
            assertTrue(s.cName().endsWith(fromLibrary), s + " vs dnnl_status2str: " + fromLibrary);
        }
    }

    @Test
    void messageNamesFunctionStatusAndMeaning() {
        var e = assertThrows(OneDnnException.class, () -> Dnnl.check("dnnl_primitive_create", 3, "layer conv1"));
        assertEquals("dnnl_primitive_create", e.function());
        assertEquals(DnnlStatus.UNIMPLEMENTED, e.status());
        assertTrue(e.getMessage().startsWith("dnnl_primitive_create failed: dnnl_unimplemented (3): the requested functionality is not implemented"), e.getMessage());
        assertTrue(e.getMessage().contains("[layer conv1]"));
        assertTrue(e.getMessage().contains("ONEDNN_VERBOSE=all"));
        assertTrue(new OneDnnException("f", 99, null).getMessage().contains("status 99"));
        assertDoesNotThrow(() -> Dnnl.check("dnnl_anything", 0));
    }

    @Test
    void aRealFailingCallBecomesAnException() {
        OneDnn.require();
        try (NativeScope scope = new NativeScope()) {
            MemorySegment slot = scope.slot();
            MemorySegment dims = scope.arena().allocateFrom(ValueLayout.JAVA_LONG, 2, 3);
            // 13 dimensions: more than DNNL_MAX_NDIMS (12), so oneDNN answers dnnl_invalid_arguments.
            int status = dnnl_memory_desc_create_with_tag(slot, DNNL_MAX_NDIMS() + 1, dims, dnnl_f32(), dnnl_nchw());
            var e = assertThrows(OneDnnException.class, () -> Dnnl.check("dnnl_memory_desc_create_with_tag", status));
            assertEquals(DnnlStatus.INVALID_ARGUMENTS, e.status());
            assertTrue(e.getMessage().contains("dnnl_memory_desc_create_with_tag failed: dnnl_invalid_arguments"));
        }
    }

    @Test
    void closedScopeThrowsAndDoubleCloseIsHarmless() {
        NativeScope scope = new NativeScope();
        scope.cpuEngine();
        scope.close();
        scope.close();
        assertThrows(IllegalStateException.class, scope::slot);
    }
}
