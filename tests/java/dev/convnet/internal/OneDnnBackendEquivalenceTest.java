package dev.convnet.internal;

import dev.convnet.net.BackendKind;

/**
 * oneDNN against the reference, as benchdnn checks it: integer-valued cases compared exactly (every sum is
 * exact in float, so any summation order gives the same bits), real-valued cases within Higham's worst-case
 * bound {@code γ_n·Σ|x·w| + u·|ref|} for an accumulation of length n. oneDNN's exp, tanh and erf are its own
 * vectorized approximations, so element-wise layers are held to {@code 2⁻¹⁸·|ref| + 2⁻²¹·max(1, |x|)}
 * (a few dozen ulps relative, plus an absolute term for GELU, {@code x·Φ(x)}, whose error is |x| times the
 * absolute error of oneDNN's erf, about 1e-7) instead of bitwise equality.
 */
class OneDnnBackendEquivalenceTest extends BackendEquivalenceTestBase {
    @Override
    protected BackendKind backend() {
        return BackendKind.ONEDNN;
    }

    @Override
    protected double elementwiseTolerance(double x, double ref) {
        return 0x1p-18 * Math.abs(ref) + 0x1p-21 * Math.max(1, Math.abs(x));
    }
}
