package dev.convnet.cli;

import dev.convnet.net.GraphSummary;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.shape.Shape;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/** {@code convnet inspect MODEL}: the imported graph, per node its operation, output shape, parameters and FLOPs. */
@Command(name = "inspect", description = "Import an ONNX model and print per node: operation, output shape, parameters and FLOPs; then the totals.")
final class InspectCommand implements Callable<Integer> {
    @Parameters(paramLabel = "MODEL", description = "The .onnx file.")
    Path model;

    @Option(names = "--shape", paramLabel = "NAME=DxDx…",
            description = "The shape of an input, e.g. input=1x3x224x224 (default: as declared, dynamic sizes 1). Repeatable.")
    List<String> shapes;

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        OnnxModel m = OnnxModelReader.read(model);
        OnnxGraph g = OnnxImporter.importModel(m, parseShapes(shapes), Map.of());
        out.printf("model:    %s (IR %d, opset %d, producer '%s')%n", model.getFileName(), m.irVersion(), g.opset(), m.producerName());
        out.printf("inputs:   %s%n", g.inputShapes());
        out.printf("outputs:  %s%n", g.outputShapes());
        GraphSummary plan = g.plan();
        out.printf("nodes:    %d (from %d ONNX nodes after folding constants and dropping no-ops)%n", plan.rows().size(), m.nodes().size());
        out.println();
        out.print(plan.table());
        out.printf(Locale.ROOT, "%nparameters: %,d (%.1f MB as float32); FLOPs per run: %,d (%.3f GFLOPs)%n", plan.totalParameters(),
                plan.totalParameters() * 4 / 1e6, plan.totalFlops(), plan.totalFlops() / 1e9);
        out.flush();
        return 0;
    }

    /** {@code name=1x3x224x224} entries as shapes. */
    static Map<String, Shape> parseShapes(List<String> entries) {
        Map<String, Shape> m = new LinkedHashMap<>();
        if (entries == null) return m;
        for (String e : entries) {
            int eq = e.lastIndexOf('=');
            if (eq <= 0) throw new IllegalArgumentException("--shape " + e + ": expected NAME=DxDx…");
            String[] parts = e.substring(eq + 1).split("[x,×]");
            int[] dims = new int[parts.length];
            try {
                for (int i = 0; i < parts.length; i++) dims[i] = Integer.parseInt(parts[i].strip());
            } catch (NumberFormatException x) {
                throw new IllegalArgumentException("--shape " + e + ": sizes must be integers");
            }
            m.put(e.substring(0, eq), Shape.of(dims));
        }
        return m;
    }
}
