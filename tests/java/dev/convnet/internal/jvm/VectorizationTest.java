package dev.convnet.internal.jvm;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.System.Logger.Level;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * {@link Vectorization}: the decision for each input (property, module present or not, C2 or not), and, in JVMs of
 * their own, the choice that a real JVM makes, what it logs (one line) and what {@code describe} says.
 */
class VectorizationTest {
    private static final String HOTSPOT = "mixed mode, sharing";

    private static Optional<Module> vectorModule() {
        return ModuleLayer.boot().findModule(Vectorization.MODULE);
    }

    @Test
    void thePropertyFalseChoosesScalarAndSaysSo() {
        for (String value : new String[] {"false", " FALSE "}) {
            Vectorization.Choice c = Vectorization.decide(value, vectorModule(), HOTSPOT);
            assertSame(ScalarKernels.INSTANCE, c.kernels());
            assertEquals(Level.INFO, c.level());
            assertEquals("Java kernels: scalar loops (auto-vectorized by C2): disabled by the system property "
                    + "convnet.vectorization=" + value.strip(), c.message());
        }
    }

    @Test
    void anotherPropertyValueIsRefusedWithTheRule() {
        Vectorization.Choice c = Vectorization.decide("yes", vectorModule(), HOTSPOT);
        assertNull(c.kernels());
        assertEquals("system property convnet.vectorization: expected true or false, got 'yes'", c.reason());
    }

    @Test
    void withoutTheModuleTheScalarKernelsRunAndTheWarningSaysHowToFixIt() {
        for (String value : new String[] {null, "", "true"}) {
            Vectorization.Choice c = Vectorization.decide(value, Optional.empty(), HOTSPOT);
            assertSame(ScalarKernels.INSTANCE, c.kernels());
            assertEquals(Level.WARNING, c.level());
            assertTrue(c.reason().startsWith("module jdk.incubator.vector is not loaded; start the JVM with --add-modules "
                    + "jdk.incubator.vector"), c.reason());
        }
    }

    @Test
    void withoutC2TheScalarKernelsRun() {
        FloatKernelsTest.vector(); // skips without the module (its absence is reported first)
        Vectorization.Choice c = Vectorization.decide(null, vectorModule(), "interpreted mode");
        assertSame(ScalarKernels.INSTANCE, c.kernels());
        assertEquals(Level.WARNING, c.level());
        assertTrue(c.reason().startsWith("the JVM runs without C2 (interpreted mode)"), c.reason());
    }

    @Test
    void withTheModuleTheVectorKernelsRun() {
        FloatKernelsTest.vector(); // skips without the module
        for (String value : new String[] {null, "true", " True"}) {
            Vectorization.Choice c = Vectorization.decide(value, vectorModule(), HOTSPOT);
            assertInstanceOf(VectorKernels.class, c.kernels());
            assertEquals(Level.INFO, c.level());
            assertEquals("Java kernels: " + c.kernels().description() + ": module jdk.incubator.vector is loaded",
                    c.message());
        }
    }

    @Test
    void thisJvmsChoiceFollowsItsFlags() {
        boolean off = "false".equalsIgnoreCase(String.valueOf(System.getProperty(Vectorization.PROPERTY)).strip());
        boolean vector = vectorModule().isPresent() && !off;
        assertEquals(vector, Vectorization.kernels() instanceof VectorKernels, Vectorization.describe());
        assertTrue(Vectorization.describe().startsWith(Vectorization.kernels().description() + " ("), Vectorization.describe());
    }

    private record Run(String out, String err) {
        long logLines() {
            return err.lines().filter(l -> l.contains("Java kernels: ")).count();
        }
    }

    private static Run child(String... flags) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(flags));
        cmd.add(VectorizationChild.class.getName());
        Process p = new ProcessBuilder(cmd).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out + err);
        return new Run(out.strip(), err);
    }

    @Test
    void aJvmWithTheModuleUsesTheVectorKernelsAndLogsItOnce() throws Exception {
        FloatKernelsTest.vector();
        Run r = child("--add-modules", "jdk.incubator.vector");
        assertTrue(r.out().startsWith("kernels=Vector API, "), r.toString());
        assertTrue(r.out().matches("kernels=Vector API, .* \\(module jdk.incubator.vector is loaded; compiled by the JIT "
                + "in \\d+ ms\\)"), r.toString());
        assertEquals(1, r.logLines(), r.err());
        assertTrue(r.err().contains("INFO: Java kernels: Vector API, "), r.err());
    }

    @Test
    void aJvmWithoutTheModuleWarnsOnceAndRunsScalar() throws Exception {
        Run r = child();
        assertTrue(r.out().startsWith("kernels=scalar loops (auto-vectorized by C2) (module jdk.incubator.vector is not "
                + "loaded;"), r.toString());
        assertEquals(1, r.logLines(), r.err());
        assertTrue(r.err().contains("WARNING: Java kernels: scalar loops (auto-vectorized by C2): module "
                + "jdk.incubator.vector is not loaded; start the JVM with --add-modules jdk.incubator.vector"), r.err());
    }

    @Test
    void thePropertyTurnsTheVectorKernelsOffInARealJvm() throws Exception {
        Run r = child("--add-modules", "jdk.incubator.vector", "-Dconvnet.vectorization=false");
        assertEquals("kernels=scalar loops (auto-vectorized by C2) (disabled by the system property "
                + "convnet.vectorization=false)", r.out(), r.toString());
        assertEquals(1, r.logLines(), r.err());
        assertTrue(r.err().contains("INFO: Java kernels: scalar loops (auto-vectorized by C2): disabled by the system "
                + "property convnet.vectorization=false"), r.err());
    }

    @Test
    void aBadPropertyFailsTheFirstJavaKernelWithTheRule() throws Exception {
        Run r = child("-Dconvnet.vectorization=fast");
        assertEquals("error=system property convnet.vectorization: expected true or false, got 'fast'", r.out(),
                r.toString());
        assertEquals(0, r.logLines(), r.err());
    }
}
