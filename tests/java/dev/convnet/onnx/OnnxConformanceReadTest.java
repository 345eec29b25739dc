package dev.convnet.onnx;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Reads every model and every test-data tensor of the ONNX backend test cases that Debian's
 * libonnx-testdata installs (skipped where it is not installed; `make test` installs it).
 */
class OnnxConformanceReadTest {
    static final Path DATA = Path.of("/usr/share/libonnx-testdata/data");
    static final List<String> SUITES = List.of("node", "real", "simple", "pytorch-converted", "pytorch-operator");

    @Test
    void readsEveryConformanceModelAndTensor() throws IOException {
        assumeTrue(Files.isDirectory(DATA.resolve("node")), "libonnx-testdata is not installed (make test installs it)");
        long start = System.nanoTime();
        int models = 0, nodes = 0, tensorsInModels = 0, materialized = 0, notMaterialized = 0;
        int pbFiles = 0, pbNonTensorRefused = 0, pbNonTensorRead = 0, dataQuirks = 0, pbHeld = 0, pbNotHeld = 0;
        List<String> failures = new ArrayList<>();
        for (String suite : SUITES) {
            Path dir = DATA.resolve(suite);
            if (!Files.isDirectory(dir)) continue;
            List<Path> modelFiles;
            try (Stream<Path> s = Files.walk(dir)) {
                modelFiles = s.filter(f -> f.getFileName().toString().endsWith(".onnx")).sorted().toList();
            }
            for (Path f : modelFiles) {
                models++;
                OnnxModel m;
                try {
                    m = OnnxModelReader.read(f);
                } catch (OnnxFormatException e) {
                    failures.add(DATA.relativize(f) + ": " + e.getMessage());
                    continue;
                }
                nodes += m.nodes().size();
                List<OnnxTensor> constants = new ArrayList<>(m.initializers().values());
                for (OnnxNode n : m.nodes()) {
                    for (OnnxAttribute a : n.attributes().values()) {
                        if (a instanceof OnnxAttribute.Tensor(OnnxTensor t)) constants.add(t);
                    }
                }
                for (OnnxTensor t : constants) {
                    tensorsInModels++;
                    if (materialize(t)) materialized++; else notMaterialized++;
                }
                List<Path> pbs;
                try (Stream<Path> s = Files.walk(f.getParent(), 2)) {
                    pbs = s.filter(p -> p.getFileName().toString().matches("(input|output)_\\d+\\.pb")
                            && p.getParent().getFileName().toString().startsWith("test_data_set_")).sorted().toList();
                }
                for (Path pb : pbs) {
                    pbFiles++;
                    String fn = pb.getFileName().toString();
                    int index = Integer.parseInt(fn.substring(fn.indexOf('_') + 1, fn.length() - 3));
                    List<OnnxValueInfo> declared = fn.startsWith("input") ? m.runtimeInputs() : m.outputs();
                    OnnxValueInfo info = index < declared.size() ? declared.get(index) : null;
                    String where = DATA.relativize(pb).toString();
                    if (info == null || !info.tensor()) {
                        // a SequenceProto or OptionalProto: not a tensor; reading it as one may or may not work
                        try {
                            OnnxTensor.read(pb);
                            pbNonTensorRead++;
                        } catch (OnnxFormatException e) {
                            pbNonTensorRefused++;
                        }
                        continue;
                    }
                    try {
                        OnnxTensor t = OnnxTensor.read(pb);
                        if (materialize(t)) pbHeld++; else pbNotHeld++;
                        if (t.dataType() != info.elemType()) {
                            // The test data writes BFLOAT16 values as UINT16 tensors (a quirk of the data itself).
                            if (t.dataType() == OnnxDataType.UINT16 && info.elemType() == OnnxDataType.BFLOAT16) {
                                dataQuirks++;
                            } else {
                                failures.add(where + ": type " + t.dataType() + ", declared " + info.elemType());
                            }
                        }
                        if (info.shape().isPresent() && !dimsFit(t.dims(), info.shape().get())) {
                            // CastLike's second input only gives the type; its data has another shape than declared.
                            if (where.startsWith("node/test_castlike_") && fn.equals("input_1.pb")) {
                                dataQuirks++;
                            } else {
                                failures.add(where + ": dims " + java.util.Arrays.toString(t.dims()) + ", declared " + info.shape().get());
                            }
                        }
                    } catch (OnnxFormatException e) {
                        failures.add(where + ": " + e.getMessage());
                    }
                }
            }
        }
        System.out.printf("ONNX conformance read in %.1f s: %d models, %d nodes, %d initializers and Constant tensors "
                        + "(%d with values held, %d of types whose values are not read); %d test-data .pb files, of which "
                        + "%d tensors (%d with values held, %d of other types), %d hold sequences/optionals (%d refused as tensors, %d read as tensors); %d known type/shape quirks of the data%n",
                (System.nanoTime() - start) / 1e9, models, nodes, tensorsInModels, materialized, notMaterialized,
                pbFiles, pbHeld + pbNotHeld, pbHeld, pbNotHeld, pbNonTensorRefused + pbNonTensorRead, pbNonTensorRefused, pbNonTensorRead, dataQuirks);
        assertTrue(models > 900, "found only " + models + " models");
        assertTrue(pbFiles > 2500, "found only " + pbFiles + " .pb files");
        assertEquals(List.of(), failures);
    }

    static boolean dimsFit(long[] dims, List<OnnxValueInfo.Dim> declared) {
        if (dims.length != declared.size()) return false;
        for (int i = 0; i < dims.length; i++) {
            if (!declared.get(i).isDynamic() && declared.get(i).value() != dims[i]) return false;
        }
        return true;
    }

    /** True if the values are held; checks that the other types refuse cleanly. */
    static boolean materialize(OnnxTensor t) {
        switch (t.dataType()) {
            case FLOAT -> {
                assertEquals(t.elementCount(), t.floats().length);
                assertThrows(OnnxFormatException.class, t::longs);
                return true;
            }
            case INT64, INT32, INT8, UINT8 -> {
                assertEquals(t.elementCount(), t.longs().length);
                assertThrows(OnnxFormatException.class, t::floats);
                return true;
            }
            default -> {
                assertThrows(OnnxFormatException.class, t::floats);
                assertThrows(OnnxFormatException.class, t::longs);
                return false;
            }
        }
    }
}
