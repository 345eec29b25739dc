package dev.convnet.cli;

import static org.junit.jupiter.api.Assertions.*;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** {@code convnet info}, in this JVM and, where the loader's once-per-JVM choice matters, in a child JVM. */
class InfoCommandTest {
    private static String[] run(String... args) {
        PrintStream out = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = ConvnetCommand.execute(args);
        } finally {
            System.setOut(out);
        }
        return new String[] {String.valueOf(code), buf.toString(StandardCharsets.UTF_8)};
    }

    @Test
    void executeWithWritersSendsOutputAndErrorsThere() {
        java.io.StringWriter out = new java.io.StringWriter();
        java.io.StringWriter err = new java.io.StringWriter();
        assertEquals(0, ConvnetCommand.execute(new java.io.PrintWriter(out), new java.io.PrintWriter(err), "info", "--backend", "java"));
        assertTrue(out.toString().contains("backend:      java (forced by --backend)"), out.toString());
        assertEquals(2, ConvnetCommand.execute(new java.io.PrintWriter(out), new java.io.PrintWriter(err), "transfer", "--pretrained",
                "/no/such/model.onnx", "--data", "fashion-mnist", "--strategy", "scratch"));
        assertTrue(err.toString().startsWith("convnet: no such file: /no/such/model.onnx"), err.toString());
    }

    @Test
    void infoOnOneDnnShowsVersionIsaAndLibrary() {
        String[] r = run("info", "--backend", "onednn");
        assertEquals("0", r[0], r[1]);
        assertTrue(r[1].contains("backend:      onednn (forced by --backend)"), r[1]);
        assertTrue(r[1].contains("oneDNN:       3.8.1"), r[1]);
        assertTrue(r[1].contains("CPU ISA:"), r[1]);
        assertTrue(r[1].contains("CPU runtime:  OpenMP"), r[1]);
        assertTrue(r[1].contains("libdnnl.so.3 (natives on the class path)"), r[1]);
    }

    @Test
    void infoOnJavaShowsTheFallback() {
        String[] r = run("info", "--backend", "java");
        assertEquals("0", r[0], r[1]);
        assertTrue(r[1].contains("backend:      java (forced by --backend)"), r[1]);
        assertTrue(r[1].contains("kernels:      pure Java (im2col + blocked SGEMM), "
                + dev.convnet.internal.jvm.Vectorization.describe()), r[1]);
        assertTrue(r[1].contains("oneDNN:       not used"), r[1]);
    }

    @Test
    void unknownBackendIsABadArgument() {
        assertEquals("2", run("info", "--backend", "cuda")[0]);
    }

    private static Process child(String property, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "--enable-native-access=ALL-UNNAMED", "-cp", System.getProperty("java.class.path")));
        if (property != null) cmd.add(property);
        cmd.add(ConvnetCommand.class.getName());
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().remove("CONVNET_ONEDNN_LIBRARY");
        pb.environment().remove("CONVNET_BACKEND");
        Process p = pb.start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        return p;
    }

    @Test
    void demandingOneDnnFromAMissingPathFailsAndNamesIt() throws Exception {
        Process p = child("-Dconvnet.onednn.library=/missing/libdnnl.so.3", "info", "--backend", "onednn");
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(1, p.exitValue(), err);
        assertTrue(err.contains("system property convnet.onednn.library: /missing/libdnnl.so.3: no such file"), err);
    }

    @Test
    void theSameMissingPathWithTheJavaBackendWorks() throws Exception {
        Process p = child("-Dconvnet.onednn.library=/missing/libdnnl.so.3", "info", "--backend", "java");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("backend:      java"), out);
    }

    @Test
    void withoutOneDnnTheAutomaticChoiceFallsBackToJava() throws Exception {
        Process p = child("-Dconvnet.onednn.library=/missing/libdnnl.so.3", "info");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out + err);
        assertTrue(out.contains("backend:      java (chosen automatically: oneDNN is not available)"), out);
        assertTrue(err.contains("oneDNN is not available, using the Java backend"), "warned once: " + err);
        assertEquals(err.indexOf("oneDNN is not available"), err.lastIndexOf("oneDNN is not available"), err);
    }
}
