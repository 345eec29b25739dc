package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The loader's search order, its platform and C library checks, and its failure messages. */
class OneDnnLoaderTest {
    private static final Path BUILD = OneDnnLoader.buildDir();
    private static final String PLATFORM = "linux-x86_64";

    /** Settings with no explicit path, this JVM's class path, the given cache folders, build folder and system folders. */
    private static OneDnnLoader.Settings settings(String platform, String libc, List<Path> cacheRoots, Path build, List<Path> sys) {
        return new OneDnnLoader.Settings(null, null, platform, libc, NativeBundle.loader(),
                cacheRoots.stream().map(p -> new NativeCache.Root(p, "test cache", false)).toList(), build, sys);
    }

    private static List<String> sources(List<OneDnnLoader.Candidate> c) {
        return c.stream().map(OneDnnLoader.Candidate::source).toList();
    }

    @Test
    void buildRecordsWhereItUnpackedOneDnn() {
        assertNotNull(BUILD, "build-native.properties must name the unpacked folder");
        assertTrue(Files.isRegularFile(BUILD.resolve("libdnnl.so.3")), BUILD.toString());
        assertTrue(Files.isRegularFile(BUILD.resolve("libgomp.so.1")));
        assertTrue(Files.isRegularFile(BUILD.resolve("libOpenCL.so.1")), "libdnnl.so.3 needs libOpenCL.so.1 beside it");
    }

    @Test
    void explicitPropertyIsTheOnlyCandidate() {
        var s = new OneDnnLoader.Settings("/x/libdnnl.so.3", "/y/libdnnl.so.3", PLATFORM, null, NativeBundle.loader(),
                List.of(), BUILD, List.of(Path.of("/usr/lib")));
        var c = OneDnnLoader.candidates(s);
        assertEquals(List.of(OneDnnLoader.SOURCE_PROPERTY), sources(c));
        assertEquals("/x/libdnnl.so.3", c.get(0).location());
    }

    @Test
    void environmentComesWhenNoProperty() {
        var s = new OneDnnLoader.Settings(" ", "/y/libdnnl.so.3", PLATFORM, null, NativeBundle.loader(), List.of(), BUILD, List.of());
        assertEquals(List.of(OneDnnLoader.SOURCE_ENV), sources(OneDnnLoader.candidates(s)));
    }

    @Test
    void anExplicitFolderMeansThePlatformsLibraryInIt() throws Exception {
        var s = new OneDnnLoader.Settings(BUILD.toString(), null, PLATFORM, null, NativeBundle.loader(), List.of(), null, List.of());
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(s), false);
        assertTrue(outcome.ok(), outcome.failures().toString());
        assertEquals(BUILD.resolve("libdnnl.so.3"), outcome.library());
        assertEquals("dnnl.dll", OneDnnLoader.libraryName("windows-x86_64"));
        assertEquals("libdnnl.3.dylib", OneDnnLoader.libraryName("macosx-arm64"));
    }

    @Test
    void defaultOrderIsClassPathPerCacheFolderThenBuildThenSystem(@TempDir Path dir) throws IOException {
        Path sys = Files.createDirectories(dir.resolve("sys"));
        Files.copy(BUILD.resolve("libdnnl.so.3"), sys.resolve("libdnnl.so.3"));
        var c = OneDnnLoader.candidates(settings(PLATFORM, null, List.of(dir.resolve("a"), dir.resolve("b")), BUILD,
                List.of(dir.resolve("empty"), sys)));
        assertEquals(List.of(OneDnnLoader.SOURCE_CLASS_PATH, OneDnnLoader.SOURCE_CLASS_PATH, OneDnnLoader.SOURCE_BUILD,
                OneDnnLoader.SOURCE_SYSTEM), sources(c));
        assertTrue(c.get(0).location().contains(dir.resolve("a").toString()), c.get(0).location());
        assertTrue(c.get(1).location().contains(dir.resolve("b").toString()), c.get(1).location());
        assertEquals(sys.resolve("libdnnl.so.3").toString(), c.get(3).location());
    }

    @Test
    void theClassPathCandidateCopiesTheFilesAndLoadsFromTheCopy(@TempDir Path dir) {
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(settings(PLATFORM, null, List.of(dir), BUILD, List.of())), false);
        assertTrue(outcome.ok(), outcome.failures().toString());
        assertEquals(OneDnnLoader.SOURCE_CLASS_PATH, outcome.source());
        String folder = NativeBundle.index(NativeBundle.loader(), PLATFORM).folderName();
        assertEquals(dir.toAbsolutePath().resolve(folder).resolve("libdnnl.so.3"), outcome.library());
        assertEquals(List.of(3, 8, 1), List.of(outcome.major(), outcome.minor(), outcome.patch()));
        assertEquals(List.of(), outcome.failures());
    }

    @Test
    void anUnusableCacheFolderIsSkippedWithItsReasonAndTheNextIsUsed(@TempDir Path dir) throws IOException {
        Path notAFolder = Files.writeString(dir.resolve("file"), "a file where the cache folder should be");
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(
                settings(PLATFORM, null, List.of(notAFolder, dir.resolve("good")), null, List.of())), false);
        assertTrue(outcome.ok(), outcome.failures().toString());
        assertTrue(outcome.library().startsWith(dir.resolve("good")), outcome.library().toString());
        assertEquals(1, outcome.failures().size());
        LoadAttempt a = outcome.failures().get(0);
        assertEquals(OneDnnLoader.SOURCE_CLASS_PATH, a.source());
        assertTrue(a.location().contains(notAFolder.toString()), a.toString());
        assertEquals("not a folder", a.failure());
    }

    @Test
    void aPlatformTheJarHasNoFilesForIsNamedWithTheOnesItHas() {
        var c = OneDnnLoader.candidates(settings("macosx-arm64", null, List.of(Path.of("/never")), null, List.of()));
        var outcome = OneDnnLoader.search(c, false);
        assertFalse(outcome.ok());
        assertEquals("the class path carries oneDNN for linux-x86_64, not for this platform, macosx-arm64"
                + " (org.bytedeco:dnnl has no build for it)", outcome.failures().get(0).failure());
        assertEquals("libdnnl.3.dylib", outcome.failures().get(1).location());
    }

    @Test
    void aCLibraryTheBundledFilesCannotUseSkipsThemWithTheReason() {
        String musl = NativePlatform.libcProblem(null, true, "2.34");
        var c = OneDnnLoader.candidates(settings(PLATFORM, musl, List.of(Path.of("/never")), BUILD, List.of()));
        var outcome = OneDnnLoader.search(c, false);
        assertFalse(outcome.ok());
        assertEquals(List.of(OneDnnLoader.SOURCE_CLASS_PATH, OneDnnLoader.SOURCE_BUILD, OneDnnLoader.SOURCE_SYSTEM),
                outcome.failures().stream().map(LoadAttempt::source).toList());
        assertEquals(musl, outcome.failures().get(0).failure());
        assertEquals(musl, outcome.failures().get(1).failure());
        String message = new NativeLibraryException(outcome.failures()).getMessage();
        assertTrue(message.contains("tried 3 places"), message);
        assertTrue(message.contains("musl"), message);
    }

    @Test
    void cLibraryChecks() {
        assertEquals("this system's C library is musl (Alpine?), and the bundled oneDNN is built for glibc 2.34 or newer:"
                + " use a glibc-based image (Debian, Ubuntu, UBI) or name a oneDNN built for this system with"
                + " -Dconvnet.onednn.library", NativePlatform.libcProblem(null, true, "2.34"));
        assertTrue(NativePlatform.libcProblem(null, false, "2.34").startsWith("this system's C library is not glibc"));
        assertEquals("glibc 2.31 is older than 2.34, which the bundled oneDNN needs (Debian 12, Ubuntu 22.04, RHEL 9 and newer have it)",
                NativePlatform.libcProblem("2.31", false, "2.34"));
        assertNull(NativePlatform.libcProblem("2.34", false, "2.34"));
        assertNull(NativePlatform.libcProblem("2.36", false, "2.34"));
        assertTrue(NativePlatform.compareVersions("2.4", "2.34") < 0);
        assertTrue(NativePlatform.compareVersions("2.34.1", "2.34") > 0);
        String here = NativePlatform.glibcVersion();
        assertNotNull(here, "this Linux has glibc");
        assertNull(NativePlatform.libcProblem(here, NativePlatform.muslPresent(),
                NativeBundle.index(NativeBundle.loader(), PLATFORM).glibcRequired()), "oneDNN loads here, so the check must pass");
    }

    @Test
    void platformIdsFollowTheMavenClassifiers() {
        assertEquals("linux-x86_64", NativePlatform.id("Linux", "amd64"));
        assertEquals("linux-arm64", NativePlatform.id("Linux", "aarch64"));
        assertEquals("macosx-x86_64", NativePlatform.id("Mac OS X", "x86_64"));
        assertEquals("macosx-arm64", NativePlatform.id("Mac OS X", "aarch64"));
        assertEquals("windows-x86_64", NativePlatform.id("Windows 11", "amd64"));
        assertEquals("linux-x86_64", NativePlatform.current());
        assertEquals(List.of("libiomp5.dylib"), NativePlatform.of("macosx-x86_64").orElseThrow().preload());
        assertTrue(NativePlatform.of("macosx-arm64").isEmpty());
    }

    @Test
    void theIndexDescribesTheFilesOnTheClassPath() {
        var index = NativeBundle.index(NativeBundle.loader(), PLATFORM);
        assertEquals(List.of("libOpenCL.so.1", "libdnnl.so.3", "libgomp.so.1"),
                index.files().stream().map(NativeBundle.FileEntry::name).toList());
        assertEquals("3.8.1", index.onednnVersion());
        assertEquals("2.34", index.glibcRequired());
        assertTrue(index.source().contains("org.bytedeco:dnnl:3.8.1-1.5.12:linux-x86_64"), index.source());
        assertTrue(index.folderName().matches("3\\.8\\.1-linux-x86_64-[0-9a-f]{16}"), index.folderName());
        assertEquals(List.of(PLATFORM), NativeBundle.platformsOnClassPath(NativeBundle.loader()));
        for (var f : index.files()) {
            assertEquals(f.size(), BUILD.resolve(f.name()).toFile().length(), f.name());
        }
    }

    @Test
    void systemLibraryNotFoundSaysWhereItLooked(@TempDir Path dir) {
        var s = new OneDnnLoader.Settings(null, null, PLATFORM, null, ClassLoader.getPlatformClassLoader(), List.of(), null, List.of(dir));
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(s), false);
        assertFalse(outcome.ok());
        assertEquals(2, outcome.failures().size());
        assertTrue(outcome.failures().get(0).failure().startsWith("no oneDNN files on the class path"), outcome.failures().toString());
        assertTrue(outcome.failures().get(1).failure().contains(dir.toString()), outcome.failures().toString());
    }

    @Test
    void firstGoodCandidateWinsAndEarlierFailuresAreKept(@TempDir Path dir) {
        var c = List.of(OneDnnLoader.Candidate.file("first", dir.resolve("libdnnl.so.3")),
                OneDnnLoader.Candidate.file("second", BUILD.resolve("libdnnl.so.3")));
        var outcome = OneDnnLoader.search(c, false);
        assertTrue(outcome.ok());
        assertEquals("second", outcome.source());
        assertEquals(List.of(3, 8, 1), List.of(outcome.major(), outcome.minor(), outcome.patch()));
        assertEquals(1, outcome.failures().size());
        assertEquals("no such file", outcome.failures().get(0).failure());
    }

    @Test
    void missingPathIsNamedInTheException() {
        var s = new OneDnnLoader.Settings("/missing/libdnnl.so.3", null, PLATFORM, null, NativeBundle.loader(), List.of(), BUILD, List.of());
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(s), false);
        assertFalse(outcome.ok());
        String msg = new NativeLibraryException(outcome.failures()).getMessage();
        assertTrue(msg.contains("system property convnet.onednn.library: /missing/libdnnl.so.3: no such file"), msg);
        assertTrue(msg.contains("tried 1 place"), msg);
    }

    @Test
    void aFileThatIsNotALibraryIsRefusedInTheDynamicLoadersWords(@TempDir Path dir) throws IOException {
        Path notLib = Files.writeString(dir.resolve("libdnnl.so.3"), "this is text, not ELF\n");
        String why = OneDnnLoader.probe(notLib, List.of(), new int[3]);
        assertNotNull(why);
        assertTrue(why.startsWith("not a loadable shared library: "), why);
        assertTrue(why.contains("invalid ELF header") || why.contains("too short"), why);
    }

    @Test
    void aFolderIsRefused(@TempDir Path dir) {
        assertEquals("not a regular file", OneDnnLoader.probe(dir, List.of(), new int[3]));
    }

    @Test
    void aLibraryThatIsNotOneDnnIsRefused() {
        String why = OneDnnLoader.probe(BUILD.resolve("libgomp.so.1"), List.of(), new int[3]);
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
        String why = OneDnnLoader.probe(lib, List.of(), v);
        assertEquals("oneDNN 2.7.3 has the wrong major version: convnet needs 3.x (built against 3.8.1)", why);
        var s = new OneDnnLoader.Settings(null, dir.toString(), PLATFORM, null, NativeBundle.loader(), List.of(), BUILD, List.of());
        var outcome = OneDnnLoader.search(OneDnnLoader.candidates(s), false);
        assertFalse(outcome.ok());
        assertEquals(OneDnnLoader.SOURCE_ENV, outcome.failures().get(0).source());
    }

    @Test
    void theBuildsLibraryIsOneDnn381() {
        int[] v = new int[3];
        assertNull(OneDnnLoader.probe(BUILD.resolve("libdnnl.so.3"), List.of(), v));
        assertArrayEquals(new int[] {3, 8, 1}, v);
    }

    @Test
    void thisJvmLoadedTheNativesFromTheClassPath() {
        OneDnnInfo info = OneDnn.require();
        assertEquals("3.8.1", info.version());
        assertEquals(OneDnnLoader.SOURCE_CLASS_PATH, info.source());
        String folder = NativeBundle.index(NativeBundle.loader(), PLATFORM).folderName();
        assertTrue(info.libraryPath().endsWith("/" + folder + "/libdnnl.so.3"), info.libraryPath());
        assertEquals("OpenMP", info.cpuRuntime());
        assertTrue(info.maxThreads() >= 1);
        assertFalse(info.effectiveIsa().startsWith("isa 0x"), info.effectiveIsa());
    }
}
