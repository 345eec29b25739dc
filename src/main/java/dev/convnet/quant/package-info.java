/**
 * Post-training static quantization: {@link dev.convnet.quant.PostTrainingQuantizer} calibrates a float graph on
 * batches the caller gives (min/max or percentile ranges of the activations) and returns it in Q/DQ form
 * ({@link dev.convnet.layer.QuantizeLinear} → {@link dev.convnet.layer.DequantizeLinear} pairs on the activations that
 * feed convolutions and fully connected layers, and on the outputs of their conv(+ReLU) chains; weights replaced by
 * per-output-channel symmetric INT8 values, {@link dev.convnet.quant.PerChannelWeights}). That graph runs on every
 * backend as written (fake quantization) and exports to ONNX as a QDQ model.
 */
package dev.convnet.quant;
