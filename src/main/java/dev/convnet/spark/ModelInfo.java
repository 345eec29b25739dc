package dev.convnet.spark;

import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxValueInfo;

import java.util.Arrays;
import java.util.List;

/**
 * What the driver needs to know about a model before any task runs: its one input (name and declared dimensions) and
 * its outputs. Read once from the model's bytes; checks the shapes and names a job asks for, so that mistakes fail on
 * the driver, before the job starts.
 *
 * @param sha256      the bytes' SHA-256 (hex)
 * @param inputName   the model's one runtime input
 * @param inputDims   its declared dimensions, batch first
 * @param outputNames the model's outputs, in order
 */
record ModelInfo(String sha256, String inputName, List<OnnxValueInfo.Dim> inputDims, List<String> outputNames) {

    /**
     * Reads the model.
     *
     * @throws dev.convnet.onnx.OnnxFormatException if the bytes are not a model convnet can read
     * @throws IllegalArgumentException             if the model has more than one input or no declared input shape
     */
    static ModelInfo of(byte[] bytes) {
        OnnxModel model = OnnxModelReader.read(bytes);
        List<OnnxValueInfo> inputs = model.runtimeInputs();
        if (inputs.size() != 1) {
            throw new IllegalArgumentException("the model has inputs " + inputs.stream().map(OnnxValueInfo::name).toList()
                    + "; a Spark job feeds one input per row");
        }
        OnnxValueInfo in = inputs.getFirst();
        List<OnnxValueInfo.Dim> dims = in.shape().orElseThrow(() -> new IllegalArgumentException(
                "the model's input '" + in.name() + "' declares no shape"));
        if (dims.size() < 2) {
            throw new IllegalArgumentException("the model's input '" + in.name() + "' has dimensions " + dims
                    + "; expected a batch axis and at least one more");
        }
        return new ModelInfo(Sha256.hex(bytes), in.name(), dims, model.outputs().stream().map(OnnxValueInfo::name).toList());
    }

    /**
     * The shape of one row's input (the dimensions after the batch): {@code requested} if given (checked against the
     * static sizes the model declares), else the model's own, which must then be static.
     *
     * @param requested the shape asked for, empty for the model's
     * @throws IllegalArgumentException if the shape is needed and missing, or contradicts the model
     */
    int[] sampleShape(int[] requested) {
        List<OnnxValueInfo.Dim> sample = inputDims.subList(1, inputDims.size());
        if (requested == null || requested.length == 0) {
            int[] dims = new int[sample.size()];
            for (int i = 0; i < dims.length; i++) {
                OnnxValueInfo.Dim d = sample.get(i);
                if (d.isDynamic()) {
                    throw new IllegalArgumentException("the model's input '" + inputName + "' has dimensions " + inputDims
                            + ": axis " + (i + 1) + " is dynamic; set the input shape (the dimensions after the batch)");
                }
                dims[i] = Math.toIntExact(d.value());
            }
            return dims;
        }
        if (requested.length != sample.size()) {
            throw new IllegalArgumentException("input shape " + Arrays.toString(requested) + " has " + requested.length
                    + " dimension(s); the model's input '" + inputName + "' " + inputDims + " has " + sample.size() + " after the batch");
        }
        for (int i = 0; i < requested.length; i++) {
            OnnxValueInfo.Dim d = sample.get(i);
            if (requested[i] < 1 || (!d.isDynamic() && d.value() != requested[i])) {
                throw new IllegalArgumentException("input shape " + Arrays.toString(requested) + " does not fit the model's input '"
                        + inputName + "' " + inputDims + ": axis " + (i + 1) + " must be " + (d.isDynamic() ? "≥ 1" : d.value()));
            }
        }
        return requested.clone();
    }

    /**
     * The output to read: {@code requested} if given, else the model's first.
     *
     * @throws IllegalArgumentException if the model has no output of that name
     */
    String output(String requested) {
        if (requested == null || requested.isEmpty()) return outputNames.getFirst();
        if (!outputNames.contains(requested)) {
            throw new IllegalArgumentException("the model has no output '" + requested + "'; its outputs are " + outputNames);
        }
        return requested;
    }
}
