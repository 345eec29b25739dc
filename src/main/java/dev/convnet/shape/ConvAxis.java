package dev.convnet.shape;

/**
 * The resolved geometry of one spatial axis of a convolution or pooling window: everything a
 * kernel needs to map output index {@code o} to input indices
 * {@code o·stride − padBefore + i·dilation} for {@code 0 ≤ i < kernel}.
 *
 * <p>Created by {@link SizeEquations#axis}, which validates it; immutable.
 *
 * @param input     input size M
 * @param kernel    kernel size N (before dilation)
 * @param stride    stride s ≥ 1
 * @param dilation  dilation d ≥ 1
 * @param padBefore padding before the input
 * @param padAfter  padding after the input
 * @param output    output size L (Eq. 6 / Eq. 8)
 */
public record ConvAxis(int input, int kernel, int stride, int dilation, int padBefore, int padAfter, int output) {
    /** The span of the dilated kernel, {@code d·(N − 1) + 1}. */
    public int effectiveKernel() {
        return dilation * (kernel - 1) + 1;
    }
}
