package dev.convnet.net;

/**
 * The number format a session computes in between the network's edges. Inputs and outputs are always FP32 arrays.
 *
 * <p>Thread-safety: an enum.
 */
public enum Precision {
    /** IEEE single precision everywhere (the default, and the only format of the Java and reference backends). */
    FP32,
    /**
     * bfloat16 (8 exponent bits, 8 significant bits) on oneDNN: weights converted once when the session is compiled,
     * activations stored in bf16 between layers, products accumulated in FP32, FP32 at the network's input and output
     * and around any step that runs on a Java kernel. Needs a CPU with native bf16 instructions ({@code avx512_bf16},
     * oneDNN's {@code avx512_core_bf16} ISA or later). The error this adds: every activation and weight is rounded to
     * 8 significant bits (relative error ≤ 2⁻⁹ each), so a layer's output moves by at most about
     * 2⁻⁸·Σ|x·w| plus its own rounding; top-1 classes almost always agree with FP32.
     */
    BF16
}
