package dev.convnet.onednn;

import static dev.convnet.onednn.bindings.dnnl_h.*;

/** Names of oneDNN's {@code dnnl_cpu_isa_t} values, as oneDNN's documentation spells them. */
final class CpuIsa {
    private CpuIsa() {}

    static String name(int isa) {
        // Most specific first. Where two names share a value (avx10_1_512 == avx512_core_fp16), the avx512 one is used.
        if (isa == dnnl_cpu_isa_avx10_1_512_amx_fp16()) return "avx512_core_amx_fp16";
        if (isa == dnnl_cpu_isa_avx10_1_512_amx()) return "avx512_core_amx";
        if (isa == dnnl_cpu_isa_avx10_1_512()) return "avx512_core_fp16";
        if (isa == dnnl_cpu_isa_avx512_core_bf16()) return "avx512_core_bf16";
        if (isa == dnnl_cpu_isa_avx512_core_vnni()) return "avx512_core_vnni";
        if (isa == dnnl_cpu_isa_avx512_core()) return "avx512_core";
        if (isa == dnnl_cpu_isa_avx2_vnni_2()) return "avx2_vnni_2";
        if (isa == dnnl_cpu_isa_avx2_vnni()) return "avx2_vnni";
        if (isa == dnnl_cpu_isa_avx2()) return "avx2";
        if (isa == dnnl_cpu_isa_avx()) return "avx";
        if (isa == dnnl_cpu_isa_sse41()) return "sse41";
        if (isa == dnnl_cpu_isa_default()) return "default";
        return "isa 0x" + Integer.toHexString(isa);
    }
}
