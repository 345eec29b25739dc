package dev.convnet.cli;

import dev.convnet.data.Batch;
import dev.convnet.data.Batches;
import dev.convnet.data.Dataset;
import dev.convnet.layer.QuantParams;
import dev.convnet.layer.QuantizeLinear;
import dev.convnet.net.Graph;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxExporter;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.quant.PostTrainingQuantizer;
import dev.convnet.quant.QuantizedGraph;
import dev.convnet.shape.Shape;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code convnet quantize MODEL --data … --output OUT}: post-training static quantization of an ONNX classifier
 * ({@link PostTrainingQuantizer}), calibrated on images of the training split, written as a QDQ ONNX model (to a
 * temporary file in the same folder, then renamed). With {@code --evaluate} it also prints the float and the
 * quantized model's accuracy on the test split.
 */
@Command(name = "quantize", description = "Calibrate an ONNX classifier on a dataset and write it as a QDQ (int8) ONNX model.")
final class QuantizeCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "The float .onnx classifier (input [N, C, H, W]).")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "OUT", description = "The QDQ .onnx file to write.")
    Path output;

    @Mixin
    DataOptions data;

    @Option(names = "--method", defaultValue = "minmax", paramLabel = "minmax|percentile",
            description = "Calibration: the observed min/max, or percentiles of a histogram (default ${DEFAULT-VALUE}).")
    String method;

    @Option(names = "--percentile", defaultValue = "99.99", description = "The percentile of --method percentile (default ${DEFAULT-VALUE}).")
    double percentile;

    @Option(names = "--activations", defaultValue = "uint8", paramLabel = "uint8|int8",
            description = "The activations' integer type (default ${DEFAULT-VALUE}); weights are per-channel symmetric int8.")
    String activations;

    @Option(names = "--calibration", defaultValue = "512", description = "Calibration images from the training split (default ${DEFAULT-VALUE}).")
    int calibration;

    @Option(names = "--batch", defaultValue = "64", description = "Images per calibration run (default ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--evaluate", description = "Also print the float and the quantized model's accuracy on the test split.")
    boolean evaluate;

    @Mixin
    BackendOption backend;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        if (!Files.isRegularFile(model)) throw new NoSuchFileException(model.toString(), null, "no such file");
        if (calibration < 1) throw new IllegalArgumentException("--calibration " + calibration + " must be ≥ 1");
        if (batch < 1) throw new IllegalArgumentException("--batch " + batch + " must be ≥ 1");
        PrintWriter out = spec.commandLine().getOut();
        SessionOptions options = SessionOptions.defaults().withBackend(backend.resolve().kind());
        PostTrainingQuantizer quantizer = switch (method.toLowerCase(Locale.ROOT)) {
            case "minmax" -> PostTrainingQuantizer.minMax();
            case "percentile" -> PostTrainingQuantizer.percentile(percentile);
            default -> throw new IllegalArgumentException("--method " + method + ": expected minmax or percentile");
        };
        quantizer = quantizer.withOptions(options).withActivationType(switch (activations.toLowerCase(Locale.ROOT)) {
            case "uint8" -> QuantParams.Type.UINT8;
            case "int8" -> QuantParams.Type.INT8;
            default -> throw new IllegalArgumentException("--activations " + activations + ": expected uint8 or int8");
        });
        Dataset train = data.load(true);
        int size = Math.min(batch, Math.min(calibration, train.size()));
        String input = TrainCommand.onlyInput(model);
        Shape shape = TrainCommand.batchShape(size, train.imageShape());
        Graph graph = OnnxImporter.load(model, Map.of(input, shape)).graph();
        // whole batches of one shape (the model was imported for it), from a seeded shuffle of the training split
        Batches batches = train.batches(size, true, 0, 0, true);
        List<float[]> images = new ArrayList<>();
        for (int b = 0; b < batches.count() && images.size() * size < calibration; b++) images.add(batches.batch(b).images());
        QuantizedGraph q = quantizer.quantize(graph, shape, images);
        OnnxExporter.save(q.graph(), Map.of(input, shape), output);
        long pairs = q.graph().nodes().stream().filter(n -> n.layer() instanceof QuantizeLinear).count();
        out.printf(Locale.ROOT, "calibrated %d activations on %d images (%s, %s activations); wrote %s (%d QuantizeLinear/DequantizeLinear pairs)%n",
                q.ranges().size(), images.size() * size, quantizer.method() == PostTrainingQuantizer.Method.MIN_MAX ? "min/max"
                        : "percentile " + quantizer.percentile(), quantizer.activationType(), output, pairs);
        if (evaluate) {
            Dataset test = data.load(false);
            out.printf(Locale.ROOT, "test accuracy: float %.4f, quantized %.4f%n",
                    accuracy(graph, input, test, size, options), accuracy(q.graph(), input, test, size, options));
        }
        out.flush();
        return 0;
    }

    /** Top-1 accuracy over the whole batches of {@code data} (the graph was imported for batches of {@code size}). */
    private static double accuracy(Graph g, String input, Dataset data, int size, SessionOptions options) {
        long correct = 0, seen = 0;
        try (Session s = g.compile(Map.of(input, TrainCommand.batchShape(size, data.imageShape())), options)) {
            String out = g.outputNames().getFirst();
            for (Batch b : data.batches(size, false, 0, 0, true)) {
                float[] y = s.run(Map.of(input, b.images())).get(out);
                int k = y.length / b.size();
                for (int i = 0; i < b.size(); i++) {
                    int best = 0;
                    for (int c = 1; c < k; c++) if (y[i * k + c] > y[i * k + best]) best = c;
                    if (best == b.labels()[i]) correct++;
                    seen++;
                }
            }
        }
        return seen == 0 ? Double.NaN : (double) correct / seen;
    }
}
