package dev.convnet.quant;

import dev.convnet.layer.QuantParams;

/**
 * One calibrated activation: the values observed over the calibration batches, the range chosen from them (equal to
 * the observed one for min/max calibration, clipped for percentile calibration) and the parameters of its
 * QuantizeLinear / DequantizeLinear pair (that range extended to include 0).
 *
 * <p>Thread-safety: immutable.
 *
 * @param observedMin the smallest value seen
 * @param observedMax the largest value seen
 * @param min         the lower end of the chosen range
 * @param max         the upper end of the chosen range
 * @param params      the per-tensor quantization parameters
 */
public record ActivationRange(float observedMin, float observedMax, float min, float max, QuantParams params) {
}
