package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.*;

import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Copying the class path's native files into the cache: naming, reuse, damage, stale folders, threads, mounts. */
class NativeCacheTest {
    private static final String PLATFORM = "linux-x86_64";

    /** A class path that carries three small files for {@code linux-x86_64}, indexed as the build indexes them. */
    private static ClassLoader fakeBundle(Path dir, String... contents) throws IOException {
        Path platformDir = Files.createDirectories(dir.resolve(NativeBundle.ROOT + PLATFORM));
        String[] names = {"libdnnl.so.3", "libgomp.so.1", "libOpenCL.so.1"};
        for (int i = 0; i < names.length; i++) {
            Files.writeString(platformDir.resolve(names[i]), contents.length > i ? contents[i] : "file " + names[i]);
        }
        NativeBundle.main(new String[] {dir.resolve(NativeBundle.ROOT).toString(), "3.8.1", "test:{platform}"});
        return new URLClassLoader(new URL[] {dir.toUri().toURL()}, null);
    }

    private static NativeCache.Root root(Path p) {
        return new NativeCache.Root(p, "test cache", false);
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    @Test
    void theRealFilesAreCopiedOnceIntoAFolderNamedByVersionPlatformAndHash(@TempDir Path cache) throws Exception {
        ClassLoader cl = NativeBundle.loader();
        var index = NativeBundle.index(cl, PLATFORM);
        Path dir = NativeCache.extract(index, cl, root(cache));
        assertEquals(cache.toAbsolutePath().resolve(index.folderName()), dir);
        assertEquals(List.of(index.folderName(), index.folderName() + ".lock"), names(cache));
        assertEquals(List.of("libOpenCL.so.1", "libdnnl.so.3", "libgomp.so.1"), names(dir));
        for (var f : index.files()) {
            Path p = dir.resolve(f.name());
            assertEquals(f.size(), Files.size(p));
            assertEquals(f.sha256(), NativeBundle.sha256(Files.readAllBytes(p)));
            assertFalse(Files.getPosixFilePermissions(p).stream().anyMatch(x -> x.name().endsWith("WRITE")), p + " is read-only");
        }
        var modified = Files.getLastModifiedTime(dir.resolve("libdnnl.so.3"));
        assertEquals(dir, NativeCache.extract(index, cl, root(cache)), "the second JVM start reuses the folder");
        assertEquals(modified, Files.getLastModifiedTime(dir.resolve("libdnnl.so.3")));
    }

    @Test
    void theFolderNameChangesWithTheContents(@TempDir Path a, @TempDir Path b) throws Exception {
        var first = NativeBundle.index(fakeBundle(a, "one"), PLATFORM);
        var second = NativeBundle.index(fakeBundle(b, "two"), PLATFORM);
        assertNotEquals(first.folderName(), second.folderName());
        assertTrue(first.folderName().startsWith("3.8.1-linux-x86_64-"), first.folderName());
        assertNull(first.glibcRequired(), "not ELF files");
    }

    @Test
    void aDamagedCopyIsMovedAsideAndCopiedAgainNeverWrittenInPlace(@TempDir Path bundle, @TempDir Path cache) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var index = NativeBundle.index(cl, PLATFORM);
        Path dir = NativeCache.extract(index, cl, root(cache));
        Path lib = dir.resolve("libdnnl.so.3");
        Object inode = Files.getAttribute(lib, "unix:ino");
        lib.toFile().setWritable(true);
        Files.writeString(lib, "truncated");
        assertEquals("libdnnl.so.3 has 9 bytes, not 17", NativeCache.complete(dir, index));

        assertEquals(dir, NativeCache.extract(index, cl, root(cache)));
        assertEquals("file libdnnl.so.3", Files.readString(lib));
        assertNull(NativeCache.complete(dir, index));
        List<String> entries = names(cache);
        assertEquals(3, entries.size(), entries.toString());
        Path aside = cache.resolve(entries.stream().filter(n -> n.contains(".damaged-")).findFirst().orElseThrow());
        assertEquals("truncated", Files.readString(aside.resolve("libdnnl.so.3")), "the damaged copy is kept aside, untouched");
        assertEquals(inode, Files.getAttribute(aside.resolve("libdnnl.so.3"), "unix:ino"));
    }

    @Test
    void temporaryFoldersLeftByAJvmThatDiedAreDeleted(@TempDir Path bundle, @TempDir Path cache) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var index = NativeBundle.index(cl, PLATFORM);
        Path stale = Files.createDirectories(cache.resolve(index.folderName() + ".tmp-4242-deadbeef"));
        Files.writeString(stale.resolve("libdnnl.so.3"), "half");
        NativeCache.extract(index, cl, root(cache));
        assertEquals(List.of(index.folderName(), index.folderName() + ".lock"), names(cache));
    }

    @Test
    void aFileThatDoesNotMatchItsIndexIsRefusedAndNothingIsLeft(@TempDir Path bundle, @TempDir Path cache) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var index = NativeBundle.index(cl, PLATFORM);
        Files.writeString(bundle.resolve(NativeBundle.ROOT + PLATFORM + "/libgomp.so.1"), "file libgomp.so.X");  // same size
        var e = assertThrows(OneDnnLoader.Unavailable.class, () -> NativeCache.extract(index, cl, root(cache)));
        assertTrue(e.getMessage().startsWith("the class path's libgomp.so.1 does not match its index (17 bytes, SHA-256 "), e.getMessage());
        assertTrue(e.getMessage().endsWith("): the jar is damaged"), e.getMessage());
        assertEquals(List.of(index.folderName() + ".lock"), names(cache));
    }

    @Test
    void aFileTheIndexListsButTheClassPathLacksIsRefused(@TempDir Path bundle, @TempDir Path cache) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var index = NativeBundle.index(cl, PLATFORM);
        Files.delete(bundle.resolve(NativeBundle.ROOT + PLATFORM + "/libOpenCL.so.1"));
        var e = assertThrows(OneDnnLoader.Unavailable.class, () -> NativeCache.extract(index, cl, root(cache)));
        assertEquals("the class path's index lists libOpenCL.so.1 but the file is not there: the jar is damaged", e.getMessage());
    }

    @Test
    void threadsOfOneJvmCopyingAtOnceGetOneFolder(@TempDir Path bundle, @TempDir Path cache) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var index = NativeBundle.index(cl, PLATFORM);
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Path>> results = new ArrayList<>();
            for (int i = 0; i < 8; i++) results.add(pool.submit(() -> NativeCache.extract(index, cl, root(cache))));
            for (Future<Path> f : results) assertEquals(cache.toAbsolutePath().resolve(index.folderName()), f.get());
        } finally {
            pool.shutdownNow();
        }
        assertEquals(List.of(index.folderName(), index.folderName() + ".lock"), names(cache));
    }

    @Test
    void aSharedTemporaryFolderOwnedBySomeoneElseIsRefused(@TempDir Path bundle, @TempDir Path tmp) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        Path theirs = Files.createDirectories(tmp.resolve("convnet-someone"));
        try {
            Files.setAttribute(theirs, "unix:uid", 4242);
        } catch (IOException | UnsupportedOperationException e) {
            org.junit.jupiter.api.Assumptions.abort("cannot change the owner here: " + e);
        }
        var index = NativeBundle.index(cl, PLATFORM);
        var root = new NativeCache.Root(theirs, "temporary folder (java.io.tmpdir)", true);
        var e = assertThrows(OneDnnLoader.Unavailable.class, () -> NativeCache.extract(index, cl, root));
        assertTrue(e.getMessage().startsWith("belongs to uid 4242, not to this user"), e.getMessage());
        NativeCache.extract(index, cl, new NativeCache.Root(tmp.resolve("mine"), "test cache", false));
        Files.move(tmp.resolve("mine").resolve(index.folderName()), theirs.resolve(index.folderName()));
        e = assertThrows(OneDnnLoader.Unavailable.class, () -> NativeCache.extract(index, cl, root));
        assertTrue(e.getMessage().startsWith("belongs to uid 4242"), "files planted by someone else are not trusted: " + e.getMessage());
    }

    @Test
    void aNewSharedTemporaryFolderIsTheUsersAlone(@TempDir Path bundle, @TempDir Path tmp) throws Exception {
        ClassLoader cl = fakeBundle(bundle);
        var root = new NativeCache.Root(tmp.resolve("convnet-me"), "temporary folder (java.io.tmpdir)", true);
        NativeCache.extract(NativeBundle.index(cl, PLATFORM), cl, root);
        assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(root.path())));
    }

    @Test
    void cacheFoldersInOrder() {
        Map<String, String> none = Map.of();
        assertEquals(List.of(Path.of("/c")), paths(NativeCache.roots("/c", "/e", PLATFORM, none, "/home/u", "/tmp", "u")),
                "the property is the only cache folder");
        assertEquals(List.of(Path.of("/e")), paths(NativeCache.roots(null, "/e", PLATFORM, none, "/home/u", "/tmp", "u")));
        var defaults = NativeCache.roots(null, null, PLATFORM, none, "/home/u", "/tmp", "u");
        assertEquals(List.of(Path.of("/home/u/.cache/convnet"), Path.of("/tmp/convnet-u")), paths(defaults));
        assertEquals(List.of(false, true), defaults.stream().map(NativeCache.Root::shared).toList());
        assertEquals(List.of(Path.of("/xdg/convnet"), Path.of("/tmp/convnet-u")),
                paths(NativeCache.roots(null, "", PLATFORM, Map.of("XDG_CACHE_HOME", "/xdg"), "/home/u", "/tmp", "u")));
        assertEquals(List.of(Path.of("/tmp/convnet-_")), paths(NativeCache.roots(null, null, PLATFORM, none, "?", "/tmp", "?")),
                "no home: only the temporary folder");
        assertEquals(List.of(Path.of("/Users/u/Library/Caches/convnet"), Path.of("/tmp/convnet-u")),
                paths(NativeCache.roots(null, null, "macosx-x86_64", none, "/Users/u", "/tmp", "u")));
        assertEquals(Path.of("C:\\Users\\u\\AppData\\Local", "convnet", "cache"),
                NativeCache.roots(null, null, "windows-x86_64", Map.of("LOCALAPPDATA", "C:\\Users\\u\\AppData\\Local"),
                        "C:\\Users\\u", "/tmp", "u").get(0).path());
    }

    private static List<Path> paths(List<NativeCache.Root> roots) {
        return roots.stream().map(NativeCache.Root::path).toList();
    }

    @Test
    void noexecMountsAreFoundInMountinfo() {
        List<String> mountinfo = List.of(
                "27 1 254:0 / / rw,relatime - ext4 /dev/vda rw",
                "30 27 0:27 / /tmp rw,nosuid,nodev,noexec,relatime - tmpfs tmpfs rw",
                "31 30 0:28 / /tmp/exec\\040ok rw,relatime - tmpfs tmpfs rw",
                "32 27 0:29 / /home/u/.cache rw,noexec - tmpfs tmpfs rw");
        assertEquals("/tmp", NativeCache.noexecMount(Path.of("/tmp/convnet-u"), mountinfo));
        assertNull(NativeCache.noexecMount(Path.of("/tmp/exec ok/convnet"), mountinfo), "a deeper mount without noexec wins");
        assertEquals("/home/u/.cache", NativeCache.noexecMount(Path.of("/home/u/.cache/convnet"), mountinfo));
        assertNull(NativeCache.noexecMount(Path.of("/home/u/.cachex"), mountinfo), "path components, not string prefixes");
        assertNull(NativeCache.noexecMount(Path.of("/work"), mountinfo));
    }

    @Test
    void theIndexWriterRecordsSizesHashesAndTheGlibcNeeded(@TempDir Path dir) throws Exception {
        byte[] elf = "\u007fELF....GLIBC_2.17..GLIBC_2.34..GLIBC_2.4..".getBytes(StandardCharsets.ISO_8859_1);
        Path p = Files.createDirectories(dir.resolve("linux-arm64"));
        Files.write(p.resolve("libx.so"), elf);
        NativeBundle.main(new String[] {dir.toString(), "3.8.1", "org.example:x:1:{platform}"});
        var props = new java.util.Properties();
        try (var in = Files.newInputStream(p.resolve(NativeBundle.INDEX))) {
            props.load(in);
        }
        var index = NativeBundle.parse(props);
        assertEquals("2.34", index.glibcRequired());
        assertEquals("org.example:x:1:linux-arm64", index.source());
        assertEquals(List.of(new NativeBundle.FileEntry("libx.so", elf.length, NativeBundle.sha256(elf))), index.files());
        assertEquals("platforms=linux-arm64", Files.readAllLines(dir.resolve(NativeBundle.PLATFORMS)).get(1));
        List<String> artifacts = List.of("g:dnnl:1:{platform}", "g:opencl:1:{platform}[linux,windows]", "g:msvc:1:{platform}[windows]");
        assertEquals("g:dnnl:1:macosx-x86_64", NativeBundle.sources("macosx-x86_64", artifacts));
        assertEquals("g:dnnl:1:linux-arm64, g:opencl:1:linux-arm64", NativeBundle.sources("linux-arm64", artifacts));
        assertEquals("g:dnnl:1:windows-x86_64, g:opencl:1:windows-x86_64, g:msvc:1:windows-x86_64",
                NativeBundle.sources("windows-x86_64", artifacts));
    }
}
