package dev.convnet.cli;

import dev.convnet.net.BackendKind;
import dev.convnet.net.Backends;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxDataType;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxTensor;
import dev.convnet.onnx.OnnxValueInfo;
import dev.convnet.shape.Shape;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.IntStream;
import javax.imageio.ImageIO;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code convnet run MODEL --input FILE [--output FILE]}: one inference. The input is a TensorProto {@code .pb} or an
 * image (PNG, JPEG, … via javax.imageio) resized to the model's H×W, scaled to [0, 1], normalized per RGB channel
 * with {@code --mean} and {@code --std} (ImageNet's by default), NCHW. With {@code --output} the first output is
 * written as a TensorProto; a classifier's ({@code [1, K]}) top-5 classes are printed.
 */
@Command(name = "run", description = "Run an ONNX model on a TensorProto .pb or an image; print a classifier's top 5; with --output write the first output as a .pb.")
final class RunCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "The .onnx file.")
    Path model;

    @Option(names = "--input", required = true, paramLabel = "FILE", description = "A TensorProto .pb, or an image (PNG, JPEG).")
    Path input;

    @Option(names = "--output", paramLabel = "FILE",
            description = "Where to write the first output (TensorProto .pb); without it, only a classifier's top classes are printed.")
    Path output;

    @Mixin
    BackendOption backend;

    @Mixin
    PrecisionOption precision;

    @Option(names = "--mean", split = ",", defaultValue = "0.485,0.456,0.406",
            description = "Per-channel mean (RGB) subtracted from images scaled to [0, 1] (default ${DEFAULT-VALUE}).")
    float[] mean;

    @Option(names = "--std", split = ",", defaultValue = "0.229,0.224,0.225",
            description = "Per-channel standard deviation (RGB) images are divided by (default ${DEFAULT-VALUE}).")
    float[] std;

    @Option(names = "--top", defaultValue = "5", description = "How many classes to print for a classifier (default ${DEFAULT-VALUE}).")
    int top;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        OnnxModel m = OnnxModelReader.read(model);
        List<OnnxValueInfo> inputs = m.runtimeInputs();
        if (inputs.size() != 1) {
            throw new IllegalArgumentException("convnet run feeds one input; the model has " + inputs.size() + ": "
                    + inputs.stream().map(OnnxValueInfo::name).toList());
        }
        String inputName = inputs.getFirst().name();
        Shape shape;
        float[] x;
        if (input.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".pb")) {
            OnnxTensor t = OnnxTensor.read(input);
            if (t.dataType() != OnnxDataType.FLOAT) throw new IllegalArgumentException(input + " holds " + t.dataType() + ", not FLOAT");
            shape = OnnxTestCommand.shape(t);
            x = t.floats();
        } else {
            Shape declared = OnnxImporter.importModel(m, Map.of(), Map.of()).inputShapes().get(inputName);
            if (declared.rank() != 4 || declared.dim(1) != 3) {
                throw new IllegalArgumentException("an image input needs a model input [N, 3, H, W], '" + inputName + "' is " + declared);
            }
            shape = Shape.of(1, 3, declared.dim(2), declared.dim(3));
            x = image(input, declared.dim(2), declared.dim(3), mean, std);
        }
        OnnxGraph g = OnnxImporter.importModel(m, Map.of(inputName, shape), Map.of());
        Backends.Choice choice = backend.resolve();
        SessionOptions options = SessionOptions.defaults().withBackend(choice.kind());
        options = precision.applyTo(options);
        Session s = compile(g, options, choice);
        String outName = g.graph().outputNames().getFirst();
        Shape outShape = g.outputShapes().get(outName);
        float[] y;
        long t0 = System.nanoTime();
        try (s) {
            y = s.run(Map.of(inputName, x)).get(outName);
        }
        long dt = System.nanoTime() - t0;
        if (output != null) {
            long[] dims = Arrays.stream(outShape.dims()).asLongStream().toArray();
            OnnxTensor.ofFloats(outName, dims, y).write(output);
        }
        out.printf(Locale.ROOT, "%s: %s → %s %s on %s in %.1f ms%s%n", model.getFileName(), shape, outName, outShape,
                s.backend().name().toLowerCase(Locale.ROOT), dt / 1e6, output == null ? "" : "; written to " + output);
        if (outShape.dim(0) == 1 && outShape.elementCount() == outShape.dim(outShape.rank() == 4 ? 1 : outShape.rank() - 1)
                && outShape.elementCount() > 1) {
            int k = Math.min(top, y.length);
            int[] best = IntStream.range(0, y.length).boxed().sorted(Comparator.comparingDouble(i -> -y[i])).limit(k)
                    .mapToInt(Integer::intValue).toArray();
            out.println("top " + k + ":");
            for (int i : best) out.printf(Locale.ROOT, "  %6d  %.6g%n", i, y[i]);
        }
        out.flush();
        return 0;
    }

    private Session compile(OnnxGraph g, SessionOptions options, Backends.Choice choice) {
        try {
            return g.compile(options);
        } catch (UnsupportedOperationException e) {
            if (choice.forced() || choice.kind() != BackendKind.ONEDNN) throw new IllegalArgumentException(e.getMessage(), e);
            spec.commandLine().getErr().println("convnet: oneDNN cannot run this graph yet (" + e.getMessage() + "); using the Java backend");
            return g.compile(options.withBackend(BackendKind.JAVA));
        }
    }

    /** The image resized to h×w (bilinear), RGB in [0, 1], normalized, as NCHW floats. */
    static float[] image(Path file, int h, int w, float[] mean, float[] std) throws IOException {
        if (mean.length != 3 || std.length != 3) throw new IllegalArgumentException("--mean and --std need 3 values (R, G, B)");
        if (!Files.isRegularFile(file)) throw new java.nio.file.NoSuchFileException(file.toString());
        BufferedImage img = ImageIO.read(file.toFile());
        if (img == null) throw new IllegalArgumentException(file + " is neither a .pb tensor nor an image javax.imageio can read");
        BufferedImage scaled = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = scaled.createGraphics();
        g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
        g.drawImage(img, 0, 0, w, h, null);
        g.dispose();
        float[] x = new float[3 * h * w];
        for (int yy = 0; yy < h; yy++) {
            for (int xx = 0; xx < w; xx++) {
                int rgb = scaled.getRGB(xx, yy);
                int[] c = {(rgb >> 16) & 0xff, (rgb >> 8) & 0xff, rgb & 0xff};
                for (int ch = 0; ch < 3; ch++) x[(ch * h + yy) * w + xx] = (c[ch] / 255f - mean[ch]) / std[ch];
            }
        }
        return x;
    }
}
