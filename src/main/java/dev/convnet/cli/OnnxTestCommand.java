package dev.convnet.cli;

import dev.convnet.net.Backends;
import dev.convnet.net.Session;
import dev.convnet.net.SessionOptions;
import dev.convnet.onnx.OnnxFormatException;
import dev.convnet.onnx.OnnxGraph;
import dev.convnet.onnx.OnnxImporter;
import dev.convnet.onnx.OnnxModel;
import dev.convnet.onnx.OnnxModelReader;
import dev.convnet.onnx.OnnxTensor;
import dev.convnet.onnx.OnnxUnsupportedException;
import dev.convnet.onnx.OnnxValueInfo;
import dev.convnet.onnx.OnnxDataType;
import dev.convnet.shape.Shape;
import dev.convnet.shape.ShapeException;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code convnet onnx-test PATH...}: runs ONNX backend test cases (a folder with {@code model.onnx} and
 * {@code test_data_set_*}/{@code input_*.pb}, {@code output_*.pb}) and compares every output element:
 * {@code |e − a| ≤ atol + rtol·|e|}. One line per case ({@code PASS}, {@code FAIL} with the largest errors,
 * {@code SKIP} with the unsupported feature), then the counts. Exit status 0 if nothing failed, 1 if a case
 * failed, 2 if a model could not be read at all.
 */
@Command(name = "onnx-test", description = "Run ONNX backend test cases (folders with model.onnx and test_data_set_*) and compare the outputs.")
final class OnnxTestCommand implements Callable<Integer> {
    @Parameters(paramLabel = "PATH", arity = "1..*",
            description = "A test case folder, or a folder of test case folders (such as /usr/share/libonnx-testdata/data/node).")
    List<Path> paths;

    @Mixin
    BackendOption backend;

    @Option(names = "--rtol", defaultValue = "1e-3", description = "Relative tolerance (default ${DEFAULT-VALUE}).")
    double rtol;

    @Option(names = "--atol", defaultValue = "1e-7", description = "Absolute tolerance (default ${DEFAULT-VALUE}).")
    double atol;

    @Option(names = "--threads", description = "Threads per run (default: all cores).")
    Integer threads;

    @Spec
    CommandSpec spec;

    /** The outcome of one case. */
    enum Status { PASS, FAIL, SKIP, MALFORMED }

    /** One case's outcome and its reason. */
    record Result(Status status, String reason) {
        static Result pass() {
            return new Result(Status.PASS, "");
        }
    }

    @Override
    public Integer call() throws IOException {
        PrintWriter out = spec.commandLine().getOut();
        List<Path> cases = new ArrayList<>();
        for (Path p : paths) cases.addAll(cases(p));
        SessionOptions options = SessionOptions.defaults().withBackend(backend.resolve().kind())
                .withThreads(threads == null ? Runtime.getRuntime().availableProcessors() : threads);
        int passed = 0, failed = 0, skipped = 0, malformed = 0;
        for (Path c : cases) {
            String name = c.getFileName().toString();
            Result r = runCase(c, options, rtol, atol);
            switch (r.status()) {
                case PASS -> {
                    passed++;
                    out.println("PASS " + name);
                }
                case FAIL -> {
                    failed++;
                    out.println("FAIL " + name + ": " + r.reason());
                }
                case MALFORMED -> {
                    failed++;
                    malformed++;
                    out.println("FAIL " + name + ": malformed model: " + r.reason());
                }
                case SKIP -> {
                    skipped++;
                    out.println("SKIP " + name + ": " + r.reason());
                }
            }
            out.flush();
        }
        out.println(passed + " passed, " + failed + " failed, " + skipped + " skipped");
        out.flush();
        return malformed > 0 ? 2 : failed > 0 ? 1 : 0;
    }

    /** The case folders under {@code p}: itself if it holds model.onnx, else its sub-folders that do. */
    static List<Path> cases(Path p) throws IOException {
        if (Files.isRegularFile(p.resolve("model.onnx"))) return List.of(p);
        if (!Files.isDirectory(p)) throw new IllegalArgumentException(p + " is not a folder");
        List<Path> found;
        try (Stream<Path> s = Files.list(p)) {
            found = s.filter(d -> Files.isRegularFile(d.resolve("model.onnx"))).sorted().toList();
        }
        if (found.isEmpty()) throw new IllegalArgumentException("no ONNX test case (a folder with model.onnx) in " + p);
        return found;
    }

    /** Runs every data set of one case. */
    static Result runCase(Path dir, SessionOptions options, double rtol, double atol) {
        OnnxModel model;
        try {
            model = OnnxModelReader.read(dir.resolve("model.onnx"));
        } catch (OnnxUnsupportedException e) {
            return new Result(Status.SKIP, e.getMessage());
        } catch (OnnxFormatException e) {
            return new Result(Status.MALFORMED, e.getMessage());
        } catch (IOException e) {
            return new Result(Status.FAIL, "cannot read model.onnx: " + e.getMessage());
        }
        List<Path> sets;
        try (Stream<Path> s = Files.list(dir)) {
            sets = s.filter(d -> Files.isDirectory(d) && d.getFileName().toString().startsWith("test_data_set_")).sorted().toList();
        } catch (IOException e) {
            return new Result(Status.FAIL, e.getMessage());
        }
        if (sets.isEmpty()) return new Result(Status.SKIP, "no test_data_set_* folder");
        for (Path set : sets) {
            Result r = runSet(model, set, options, rtol, atol);
            if (r.status() != Status.PASS) {
                return new Result(r.status(), (sets.size() > 1 ? set.getFileName() + ": " : "") + r.reason());
            }
        }
        return Result.pass();
    }

    private static Result runSet(OnnxModel model, Path set, SessionOptions options, double rtol, double atol) {
        Map<String, OnnxTensor> values = new HashMap<>();
        Map<String, Shape> shapes = new HashMap<>();
        List<OnnxValueInfo> inputs = model.runtimeInputs();
        List<OnnxTensor> expected = new ArrayList<>();
        try {
            for (int i = 0; Files.exists(set.resolve("input_" + i + ".pb")); i++) {
                if (i >= inputs.size()) return new Result(Status.FAIL, "input_" + i + ".pb has no model input");
                OnnxTensor t = OnnxTensor.read(set.resolve("input_" + i + ".pb"));
                String name = inputs.get(i).name();
                values.put(name, t);
                if (carriedAsFloats(t.dataType())) shapes.put(name, shape(t));
            }
            for (int i = 0; Files.exists(set.resolve("output_" + i + ".pb")); i++) {
                expected.add(OnnxTensor.read(set.resolve("output_" + i + ".pb")));
            }
        } catch (OnnxUnsupportedException e) {
            return new Result(Status.SKIP, e.getMessage());
        } catch (OnnxFormatException e) {
            return new Result(Status.SKIP, "test data that is not a tensor: " + e.getMessage());
        } catch (IOException e) {
            return new Result(Status.FAIL, e.getMessage());
        }
        for (OnnxTensor t : expected) {
            if (!carriedAsFloats(t.dataType())) return new Result(Status.SKIP, "an output of element type " + t.dataType());
            if (t.elementCount() == 0) {
                return new Result(Status.SKIP, "an empty output " + Arrays.toString(t.dims()) + " (zero-sized tensors are not supported)");
            }
        }
        OnnxGraph g;
        try {
            g = OnnxImporter.importModel(model, shapes, values);
        } catch (OnnxUnsupportedException e) {
            return new Result(Status.SKIP, e.getMessage());
        } catch (OnnxFormatException | ShapeException e) {
            return new Result(Status.FAIL, "import: " + e.getMessage());
        } catch (RuntimeException e) {
            return new Result(Status.FAIL, "import: " + e);
        }
        Map<String, float[]> results;
        try (Session s = g.compile(options)) {
            Map<String, float[]> feed = new HashMap<>();
            for (String in : s.inputNames()) feed.put(in, values.get(in).toFloats());
            results = s.run(feed);
        } catch (UnsupportedOperationException e) {
            return new Result(Status.SKIP, e.getMessage());
        } catch (RuntimeException e) {
            return new Result(Status.FAIL, e.getClass().getSimpleName() + ": " + e.getMessage());
        }
        List<OnnxValueInfo> outputs = model.outputs();
        if (expected.size() != outputs.size()) {
            return new Result(Status.FAIL, expected.size() + " expected outputs for " + outputs.size() + " model outputs");
        }
        for (int i = 0; i < expected.size(); i++) {
            String name = outputs.get(i).name();
            OnnxTensor e = expected.get(i);
            Shape got = g.outputShapes().get(name);
            Shape want;
            try {
                want = shape(e);
            } catch (OnnxUnsupportedException x) {
                return new Result(Status.SKIP, x.getMessage());
            }
            if (!got.equals(want)) {
                return new Result(Status.FAIL, "output '" + name + "' has shape " + got + ", expected " + want);
            }
            String mismatch = compare(e.toFloats(), results.get(name), rtol, atol);
            if (mismatch != null) return new Result(Status.FAIL, "output '" + name + "': " + mismatch);
        }
        return Result.pass();
    }

    /** Element types a session carries as floats: FLOAT, and INT8 and UINT8 (quantized values, exact). */
    static boolean carriedAsFloats(OnnxDataType t) {
        return t == OnnxDataType.FLOAT || t == OnnxDataType.INT8 || t == OnnxDataType.UINT8;
    }

    /** The tensor's shape, rank 0 as [1]. */
    static Shape shape(OnnxTensor t) {
        long[] d = t.dims();
        if (d.length == 0) return Shape.of(1);
        int[] dims = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            if (d[i] < 1) throw new OnnxUnsupportedException("a zero-sized tensor " + Arrays.toString(d) + " is not supported");
            dims[i] = Math.toIntExact(d[i]);
        }
        return Shape.of(dims);
    }

    /** Null if every element is within {@code atol + rtol·|e|}, else a description with the largest errors. */
    static String compare(float[] expected, float[] actual, double rtol, double atol) {
        double maxAbs = 0, maxRel = 0;
        int bad = 0, first = -1;
        for (int i = 0; i < expected.length; i++) {
            double e = expected[i];
            double a = actual[i];
            if (Double.isNaN(e) && Double.isNaN(a) || e == a) continue;
            double err = Math.abs(e - a);
            if (Double.isNaN(err)) err = Double.POSITIVE_INFINITY;
            maxAbs = Math.max(maxAbs, err);
            if (e != 0) maxRel = Math.max(maxRel, err / Math.abs(e));
            if (!(err <= atol + rtol * Math.abs(e))) {
                bad++;
                if (first < 0) first = i;
            }
        }
        if (bad == 0) return null;
        return String.format(Locale.ROOT, "%d of %d elements differ; max abs error %.3g, max rel error %.3g; first at %d: expected %s, got %s",
                bad, expected.length, maxAbs, maxRel, first, expected[first], actual[first]);
    }
}
