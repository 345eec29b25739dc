/**
 * Reading ONNX files into a neutral, immutable model, before any mapping to layers; mapping models to graphs of
 * layers ({@link dev.convnet.onnx.OnnxImporter}) and graphs back to models ({@link dev.convnet.onnx.OnnxExporter}).
 *
 * <ul>
 *   <li>{@link dev.convnet.onnx.OnnxModelReader} reads a {@code .onnx} file (or its bytes) into an
 *       {@link dev.convnet.onnx.OnnxModel}: opset imports, graph inputs and outputs
 *       ({@link dev.convnet.onnx.OnnxValueInfo}), initializers ({@link dev.convnet.onnx.OnnxTensor}) and
 *       nodes ({@link dev.convnet.onnx.OnnxNode} with {@link dev.convnet.onnx.OnnxAttribute}s) in a
 *       topological order.</li>
 *   <li>{@link dev.convnet.onnx.OnnxTensor#read} and {@link dev.convnet.onnx.OnnxTensor#write} read and write
 *       single serialized {@code TensorProto} files, such as the backend tests' {@code input_0.pb}.</li>
 *   <li>{@link dev.convnet.onnx.OnnxImporter} maps a model to a {@code Graph} for fixed input shapes, one converter per
 *       operation (internal, registered by operation and opset range); {@link dev.convnet.onnx.OnnxModelSession} runs
 *       one loaded model at any input shapes (any batch size), compiling and caching a session per shape, with the
 *       weights shared between them.</li>
 *   <li>{@link dev.convnet.onnx.OnnxExporter} writes a {@code Graph} as an opset-13 model with a symbolic batch,
 *       through a temporary file renamed over the target.</li>
 *   <li>Every malformed or unsupported input ends in an {@link dev.convnet.onnx.OnnxFormatException}; the
 *       checks and the external-data policy (only files inside the model's folder) are listed on
 *       {@link dev.convnet.onnx.OnnxModelReader}.</li>
 * </ul>
 * The protobuf classes underneath, in {@code dev.convnet.onnx.proto}, are generated at build time from
 * {@code src/main/proto/onnx_subset.proto}; they are not part of this package's API.
 *
 * <p>Everything here is immutable or stateless, and thread-safe; {@link dev.convnet.onnx.OnnxModelSession} holds native
 * memory, is thread-safe and {@code AutoCloseable}.
 */
package dev.convnet.onnx;
