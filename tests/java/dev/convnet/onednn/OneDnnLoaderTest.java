package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loader's search order and its failure messages. */
class OneDnnLoaderTest {
    private static final Path BUNDLED = OneDnnLoader.bundledDir();

    @Test
    void buildRecordsWhereItUnpackedOneDnn() {
        assertNotNull(BUNDLED, "build-native.properties must name the unpacked folder");
        assertTrue(Files.isRegularFile(BUNDLED.resolve("libdnnl.so.3")), BUNDLED.toString());
        assertTrue(Files.isRegularFile(BUNDLED.resolve("libgomp.so.1")));
        assertTrue(Files.isRegularFile(BUNDLED.resolve("libOpenCL.so.1")), "libdnnl.so.3 needs libOpenCL.so.1 beside it");
    }

    @Test
    void explicitPropertyIsTheOnlyCandidate() {
        var c = OneDnnLoader.candidates("/x/libdnnl.so.3", "/y/libdnnl.so.3", BUNDLED, List.of(Path.of("/usr/lib")));
        assertEquals(1, c.size());
        assertEquals(OneDnnLoader.SOURCE_PROPERTY, c.get(0).source());
        assertEquals(Path.of("/x/libdnnl.so.3"), c.get(0).path());
    }

    @Test
    void environmentComesWhenNoProperty() {
        var c = OneDnnLoader.candidates(null, "/y/libdnnl.so.3", BUNDLED, List.of());
        assertEquals(List.of(OneDnnLoader.SOURCE_ENV), c.stream().map(OneDnnLoader.Candidate::source).toList());
    }

    @Test
    void defaultOrderIsBundledThenSystem(@TempDir Path dir) throws IOException {
        Path sys = Files.createDirectories(dir.resolve("sys"));
        Files.copy(BUNDLED.resolve("libdnnl.so.3"), sys.resolve("libdnnl.so.3"));
        var c = OneDnnLoader.candidates(null, "", BUNDLED, List.of(dir.resolve("empty"), sys));
        assertEquals(List.of(OneDnnLoader.SOURCE_BUNDLED, OneDnnLoader.SOURCE_SYSTEM),
                c.stream().map(OneDnnLoader.Candidate::source).toList());
        assertEquals(sys.resolve("libdnnl.so.3"), c.get(1).path());
    }

    @Test
    void systemLibraryNotFoundSaysWhereItLooked(@TempDir Path dir) {
        var c = OneDnnLoader.candidates(null, null, null, List.of(dir));
        var outcome = OneDnnLoader.search(c, false);
        assertFalse(outcome.ok());
        assertEquals(2, outcome.failures().size());
        assertTrue(outcome.failures().get(0).failure().contains("make build"), outcome.failures().toString());
        assertTrue(outcome.failures().get(1).failure().contains(dir.toString()), outcome.failures().toString());
    }

    @Test
    void firstGoodCandidateWinsAndEarlierFailuresAreKept(@TempDir Path dir) {
        var c = List.of(new OneDnnLoader.Candidate("first", dir.resolve("libdnnl.so.3"), null),
                new OneDnnLoader.Candidate("second", BUNDLED.resolve("libdnnl.so.3"), null));
        var outcome = OneDnnLoader.search(c, false);
        assertTrue(outcome.ok());
        assertEquals("second", outcome.loaded().source());
        assertEquals(List.of(3, 8, 1), List.of(outcome.major(), outcome.minor(), outcome.patch()));
        assertEquals(1, outcome.failures().size());
        assertEquals("no such file", outcome.failures().get(0).failure());
    }

    @Test
    void missingPathIsNamedInTheException() {
        var c = OneDnnLoader.candidates("/missing/libdnnl.so.3", null, BUNDLED, List.of());
        var outcome = OneDnnLoader.search(c, false);
        assertFalse(outcome.ok());
        String msg = new NativeLibraryException(outcome.failures()).getMessage();
        assertTrue(msg.contains("system property convnet.onednn.library: /missing/libdnnl.so.3: no such file"), msg);
        assertTrue(msg.contains("tried 1 place"), msg);
    }

    @Test
    void aFileThatIsNotALibraryIsRefused(@TempDir Path dir) throws IOException {
        Path notLib = Files.writeString(dir.resolve("libdnnl.so.3"), "this is text, not ELF\n");
        String why = OneDnnLoader.probe(notLib, new int[3]);
        assertNotNull(why);
        assertTrue(why.startsWith("not a loadable shared library"), why);
    }

    @Test
    void aFolderIsRefused(@TempDir Path dir) {
        assertEquals("not a regular file", OneDnnLoader.probe(dir, new int[3]));
    }

    @Test
    void aLibraryThatIsNotOneDnnIsRefused() {
        String why = OneDnnLoader.probe(BUNDLED.resolve("libgomp.so.1"), new int[3]);
        assertEquals("a shared library, but not oneDNN: it has no symbol dnnl_version", why);
    }

    @Test
    void aOneDnnOfTheWrongMajorVersionIsRefused(@TempDir Path dir) throws Exception {
        Path src = Path.of("tests/native/fake_dnnl_v2.c").toAbsolutePath();
        Path lib = dir.resolve("libdnnl.so.3");
        Process gcc = new ProcessBuilder("gcc", "-shared", "-fPIC", "-Wl,-z,noexecstack", "-o", lib.toString(), src.toString())
                .redirectErrorStream(true).start();
        assertTrue(gcc.waitFor(60, TimeUnit.SECONDS));
        assertEquals(0, gcc.exitValue(), new String(gcc.getInputStream().readAllBytes()));
        int[] v = new int[3];
        String why = OneDnnLoader.probe(lib, v);
        assertEquals("oneDNN 2.7.3 has the wrong major version: convnet needs 3.x (built against 3.8.1)", why);
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(null, lib.toString(), BUNDLED, List.of()), false);
        assertFalse(outcome.ok());
        assertEquals(OneDnnLoader.SOURCE_ENV, outcome.failures().get(0).source());
    }

    @Test
    void theBundledLibraryIsOneDnn381() {
        int[] v = new int[3];
        assertNull(OneDnnLoader.probe(BUNDLED.resolve("libdnnl.so.3"), v));
        assertArrayEquals(new int[] {3, 8, 1}, v);
    }

    @Test
    void thisJvmLoadedTheBundledLibrary() {
        OneDnnInfo info = OneDnn.require();
        assertEquals("3.8.1", info.version());
        assertEquals(OneDnnLoader.SOURCE_BUNDLED, info.source());
        assertEquals(BUNDLED.resolve("libdnnl.so.3").toAbsolutePath().toString(), info.libraryPath());
        assertEquals("OpenMP", info.cpuRuntime());
        assertTrue(info.maxThreads() >= 1);
        assertFalse(info.effectiveIsa().startsWith("isa 0x"), info.effectiveIsa());
    }
}
