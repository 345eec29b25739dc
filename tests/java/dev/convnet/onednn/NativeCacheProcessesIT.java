package dev.convnet.onednn;

import static org.junit.jupiter.api.Assertions.*;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cache as JVMs meet it, through the runnable jar ({@code java -jar convnet-VERSION-cli.jar info}): several
 * JVMs starting at once on one empty cache (as Spark executors do), and cache folders on a {@code noexec} or
 * read-only filesystem (mounted in a user namespace with {@code unshare}; skipped where that is not allowed).
 */
class NativeCacheProcessesIT {
    private static final String FOLDER = NativeBundle.index(NativeBundle.loader(), "linux-x86_64").folderName();

    private static String cliJar() {
        String jar = System.getProperty("convnet.it.cliJar");
        assertNotNull(jar, "convnet.it.cliJar is set by Failsafe (pom.xml)");
        return Path.of(jar).toAbsolutePath().toString();
    }

    /** A java.util.logging configuration that shows the loader's DEBUG (FINE) steps on stderr. */
    private static Path fineLogging(Path dir) throws IOException {
        return Files.writeString(dir.resolve("logging.properties"), """
                handlers=java.util.logging.ConsoleHandler
                java.util.logging.ConsoleHandler.level=FINE
                dev.convnet.onednn.level=FINE
                """);
    }

    private static List<String> info(Path cache, Path logging, String... jvmFlags) {
        List<String> cmd = new ArrayList<>(List.of(ChildProcess.java()));
        if (cache != null) cmd.add("-Dconvnet.onednn.cache=" + cache);
        if (logging != null) cmd.add("-Djava.util.logging.config.file=" + logging);
        cmd.addAll(List.of(jvmFlags));
        cmd.addAll(List.of("-jar", cliJar(), "info"));
        return cmd;
    }

    private static List<String> list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    private static void assertLoadedFrom(Path folder, ChildProcess p) {
        assertEquals(0, p.exitValue(), p.toString());
        assertTrue(p.out().contains("backend:      onednn (chosen automatically: oneDNN loaded)"), p.toString());
        assertTrue(p.out().contains("library:      " + folder.resolve("libdnnl.so.3") + " (natives on the class path)"), p.toString());
        assertFalse(p.err().contains("WARNING"), "no warning: " + p);
    }

    @Test
    void twoJvmsStartingAtOnceOnAnEmptyCacheBothLoadOneDnn(@TempDir Path dir) throws IOException {
        Path cache = dir.resolve("cache");
        ChildProcess a = ChildProcess.start(dir, Map.of(), info(cache, null));
        ChildProcess b = ChildProcess.start(dir, Map.of(), info(cache, null));
        a.await(300);
        b.await(300);
        assertLoadedFrom(cache.resolve(FOLDER), a);
        assertLoadedFrom(cache.resolve(FOLDER), b);
        assertEquals(List.of(FOLDER, FOLDER + ".lock"), list(cache), "one folder, no temporary one left");
    }

    @Test
    void whileOneJvmHoldsTheLockTheOthersWaitThenOneCopiesAndAllLoad(@TempDir Path dir) throws Exception {
        Path cache = Files.createDirectories(dir.resolve("cache"));
        Path logging = fineLogging(dir);
        List<ChildProcess> jvms = new ArrayList<>();
        try (FileChannel channel = FileChannel.open(cache.resolve(FOLDER + ".lock"), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
             FileLock held = channel.lock()) {
            for (int i = 0; i < 3; i++) jvms.add(ChildProcess.start(dir, Map.of(), info(cache, logging)));
            for (ChildProcess p : jvms) {
                assertTrue(p.awaitErrLine(l -> l.contains("waiting for " + cache.toAbsolutePath().resolve(FOLDER + ".lock")), 120),
                        "each JVM waits for the lock: " + p);
            }
            assertEquals(List.of(FOLDER + ".lock"), list(cache), "nothing is copied while the lock is held");
        }
        for (ChildProcess p : jvms) p.await(300);
        for (ChildProcess p : jvms) assertLoadedFrom(cache.resolve(FOLDER), p);
        long copied = jvms.stream().filter(p -> p.err().contains("oneDNN: copied to " + cache.resolve(FOLDER))).count();
        long reused = jvms.stream().filter(p -> p.err().contains("another JVM copied the files to " + cache.resolve(FOLDER))).count();
        assertEquals(1, copied, "exactly one JVM copies: " + jvms);
        assertEquals(2, reused, "the others use its copy: " + jvms);
        assertEquals(List.of(FOLDER, FOLDER + ".lock"), list(cache));
    }

    @Test
    void aCacheFolderThatAlreadyHoldsTheFilesIsUsedEvenReadOnly(@TempDir Path dir) throws Exception {
        Path cache = dir.resolve("cache");
        assertLoadedFrom(cache.resolve(FOLDER), ChildProcess.run(dir, Map.of(), 300, info(cache, null)));
        assumeTrue(unshareWorks(dir), "no user namespaces here (unshare --user --map-root-user --mount)");
        // bind the filled cache read-only over itself: the next JVM finds the files and needs to write nothing
        ChildProcess p = ChildProcess.run(dir, Map.of(), 300, inNamespace(
                "mount --bind \"$0\" \"$0\" && mount -o remount,bind,ro \"$0\" && exec \"$@\"", cache, info(cache, null)));
        assertLoadedFrom(cache.resolve(FOLDER), p);
    }

    @Test
    void aUserCacheOnANoexecFilesystemIsSkippedWithTheReason(@TempDir Path dir) throws Exception {
        assumeTrue(unshareWorks(dir), "no user namespaces here (unshare --user --map-root-user --mount)");
        Path home = Files.createDirectories(dir.resolve("home"));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        ChildProcess p = ChildProcess.run(dir, Map.of("HOME", home.toString()), 300, inNamespace(
                "mount -t tmpfs -o noexec,size=1m none \"$0\" && exec \"$@\"", home,
                info(null, null, "-Duser.home=" + home, "-Djava.io.tmpdir=" + tmp)));
        Path folder = tmp.resolve(list(tmp).getFirst()).resolve(FOLDER);
        assertLoadedFrom(folder, p);
        assertTrue(p.out().contains("passed over:  natives on the class path: cache folder "
                + home.resolve(".cache/convnet") + " (user cache): on a filesystem mounted noexec (" + home + ")"), p.toString());
    }

    @Test
    void aUserCacheOnAReadOnlyFilesystemIsSkippedWithTheReason(@TempDir Path dir) throws Exception {
        assumeTrue(unshareWorks(dir), "no user namespaces here (unshare --user --map-root-user --mount)");
        Path home = Files.createDirectories(dir.resolve("home"));
        Path tmp = Files.createDirectories(dir.resolve("tmp"));
        ChildProcess p = ChildProcess.run(dir, Map.of("HOME", home.toString()), 300, inNamespace(
                "mount -t tmpfs -o ro,size=1m none \"$0\" && exec \"$@\"", home,
                info(null, null, "-Duser.home=" + home, "-Djava.io.tmpdir=" + tmp)));
        assertLoadedFrom(tmp.resolve(list(tmp).getFirst()).resolve(FOLDER), p);
        assertTrue(p.out().contains("cache folder " + home.resolve(".cache/convnet") + " (user cache): cannot create the folder:"
                + " Read-only file system"), p.toString());
    }

    @Test
    void theExplicitCacheFolderOnNoexecIsTheOnlyOneSoTheJavaBackendRunsAndSaysWhy(@TempDir Path dir) throws Exception {
        assumeTrue(unshareWorks(dir), "no user namespaces here (unshare --user --map-root-user --mount)");
        Path cache = Files.createDirectories(dir.resolve("cache"));
        ChildProcess p = ChildProcess.run(dir, Map.of(), 300, inNamespace(
                "mount -t tmpfs -o noexec,size=1m none \"$0\" && exec \"$@\"", cache, info(cache, null)));
        assertEquals(0, p.exitValue(), p.toString());
        assertTrue(p.out().contains("backend:      java (chosen automatically: oneDNN is not available)"), p.toString());
        assertTrue(p.err().contains("WARNING: oneDNN is not available, using the Java backend. oneDNN (major version 3) could not be"
                + " loaded; tried 2 places:"), p.toString());
        assertTrue(p.err().contains("1. natives on the class path: cache folder " + cache
                + " (system property convnet.onednn.cache): on a filesystem mounted noexec (" + cache + ")"), p.toString());
        assertTrue(p.err().contains("2. system library: libdnnl.so.3: not found in"), p.toString());
    }

    /** {@code command} run by {@code sh -c script dir command...} in a new user and mount namespace. */
    private static List<String> inNamespace(String script, Path dir, List<String> command) {
        List<String> cmd = new ArrayList<>(List.of("unshare", "--user", "--map-root-user", "--mount", "sh", "-c", script, dir.toString()));
        cmd.addAll(command);
        return cmd;
    }

    private static boolean unshareWorks(Path dir) {
        try {
            return ChildProcess.run(dir, Map.of(), 30, List.of("unshare", "--user", "--map-root-user", "--mount",
                    "sh", "-c", "mount -t tmpfs none \"$0\"", dir.toString())).exitValue() == 0;
        } catch (RuntimeException e) {
            return false;
        }
    }
}
