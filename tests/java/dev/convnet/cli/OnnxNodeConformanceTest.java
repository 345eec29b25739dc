package dev.convnet.cli;

import dev.convnet.net.BackendKind;
import dev.convnet.net.SessionOptions;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Every ONNX backend node test case of Debian's libonnx-testdata, imported and run on every backend (oneDNN, Java,
 * reference): no case may FAIL (a case whose operators or types convnet does not support is a SKIP with a reason).
 * Skipped as a whole where the data is not installed ({@code make test} installs it).
 */
class OnnxNodeConformanceTest {
    static final Path NODE = Path.of("/usr/share/libonnx-testdata/data/node");

    @ParameterizedTest
    @EnumSource(BackendKind.class)
    void everyNodeCasePassesOrIsSkippedWithAReason(BackendKind backend) throws IOException {
        assumeTrue(Files.isDirectory(NODE), "libonnx-testdata is not installed (make test installs it)");
        SessionOptions options = SessionOptions.defaults().withBackend(backend).withThreads(2);
        int passed = 0, skipped = 0;
        List<String> failures = new ArrayList<>();
        for (Path c : OnnxTestCommand.cases(NODE)) {
            OnnxTestCommand.Result r = OnnxTestCommand.runCase(c, options, 1e-3, 1e-7);
            switch (r.status()) {
                case PASS -> passed++;
                case SKIP -> {
                    skipped++;
                    assertTrue(!r.reason().isBlank(), c + " skipped without a reason");
                }
                default -> failures.add(c.getFileName() + ": " + r.reason());
            }
        }
        System.out.printf("ONNX node conformance on %s: %d passed, %d failed, %d skipped%n", backend, passed, failures.size(), skipped);
        assertTrue(failures.isEmpty(), failures.size() + " failures:\n" + String.join("\n", failures));
        assertTrue(passed >= 300, "only " + passed + " cases passed");
    }
}
