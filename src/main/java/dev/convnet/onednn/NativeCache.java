package dev.convnet.onednn;

import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.AccessDeniedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.stream.Stream;

/**
 * Copies the oneDNN files of the class path ({@link NativeBundle}) into a per-user cache, once, so that they can
 * be loaded: a shared library cannot be loaded from inside a jar.
 *
 * <p>Layout of a cache folder ({@code ~/.cache/convnet} on Linux, {@code ~/Library/Caches/convnet} on macOS,
 * {@code %LOCALAPPDATA%\convnet\cache} on Windows, else {@code <java.io.tmpdir>/convnet-<user>}; or the folder
 * named by {@value #CACHE_PROPERTY} / {@value #CACHE_ENV}):
 * <pre>
 * 3.8.1-linux-x86_64-9f2c4e0a1b3d5f70/        the files, named by version, platform and a hash of their contents
 * 3.8.1-linux-x86_64-9f2c4e0a1b3d5f70.lock    the lock file two JVMs extracting at once take turns on
 * </pre>
 * Protocol: a complete folder is used as it is (each file's size checked), even in a read-only cache. Otherwise
 * the JVM takes an exclusive lock on the lock file (waiting while another JVM holds it), looks again, copies every
 * file into a temporary folder next to the final one ({@code <name>.tmp-<pid>-<random>}), checks each file's size
 * and SHA-256 against the index, makes the files read-only, and renames the temporary folder to the final name
 * atomically. A folder is never written in place: a damaged one is renamed aside and extracted again, and
 * temporary folders left by a JVM that died are deleted under the lock. So any number of JVMs may start at once
 * on one machine (Spark executors do): one extracts, the others wait and then load the same files. A cache
 * folder that is on a filesystem mounted {@code noexec}, or that is read-only and lacks the files, is refused with
 * that reason, and the loader tries the next one. Thread-safe.
 */
final class NativeCache {
    static final String CACHE_PROPERTY = "convnet.onednn.cache";
    static final String CACHE_ENV = "CONVNET_ONEDNN_CACHE";

    private static final Logger LOG = System.getLogger("dev.convnet.onednn");
    /** One JVM-wide monitor per lock file: file locks are held per JVM, so two threads must not both take one. */
    private static final Map<Path, Object> IN_PROCESS = new ConcurrentHashMap<>();

    private NativeCache() {}

    /**
     * A cache folder to try.
     *
     * @param source which rule chose it
     * @param shared whether it lies in a folder other users can write to ({@code /tmp}): then it is created for
     *     this user only, and refused if someone else owns it
     */
    record Root(Path path, String source, boolean shared) {}

    /**
     * The cache folders to try, in order: the one named by the property, else by the environment variable (then
     * the only one); else the user's cache folder for {@code platform}, then a folder of the user's own under
     * {@code java.io.tmpdir}.
     */
    static List<Root> roots(String property, String env, String platform, Map<String, String> environment,
                            String userHome, String tmpDir, String userName) {
        if (property != null && !property.isBlank()) {
            return List.of(new Root(Path.of(property.strip()), "system property " + CACHE_PROPERTY, false));
        }
        if (env != null && !env.isBlank()) {
            return List.of(new Root(Path.of(env.strip()), "environment variable " + CACHE_ENV, false));
        }
        List<Root> out = new ArrayList<>();
        Path home = userHome == null || userHome.isBlank() || userHome.equals("?") ? null : Path.of(userHome);
        if (platform.startsWith("windows")) {
            String local = environment.get("LOCALAPPDATA");
            if (local != null && !local.isBlank()) out.add(new Root(Path.of(local, "convnet", "cache"), "user cache (%LOCALAPPDATA%)", false));
            else if (home != null) out.add(new Root(home.resolve("AppData/Local/convnet/cache"), "user cache", false));
        } else if (platform.startsWith("macosx")) {
            if (home != null) out.add(new Root(home.resolve("Library/Caches/convnet"), "user cache", false));
        } else {
            String xdg = environment.get("XDG_CACHE_HOME");
            if (xdg != null && Path.of(xdg).isAbsolute()) out.add(new Root(Path.of(xdg, "convnet"), "user cache ($XDG_CACHE_HOME)", false));
            else if (home != null) out.add(new Root(home.resolve(".cache/convnet"), "user cache", false));
        }
        if (tmpDir != null && !tmpDir.isBlank()) {
            String user = userName == null ? "user" : userName.replaceAll("[^A-Za-z0-9._-]", "_");
            out.add(new Root(Path.of(tmpDir, "convnet-" + user), "temporary folder (java.io.tmpdir)", true));
        }
        return out;
    }

    /** The cache folders for this JVM. */
    static List<Root> defaultRoots(String platform) {
        return roots(System.getProperty(CACHE_PROPERTY), System.getenv(CACHE_ENV), platform, System.getenv(),
                System.getProperty("user.home"), System.getProperty("java.io.tmpdir"), System.getProperty("user.name"));
    }

    /**
     * Makes sure {@code index}'s files are in {@code root} and returns the folder that holds them.
     *
     * @throws OneDnnLoader.Unavailable why this cache folder cannot be used
     */
    static Path extract(NativeBundle.Index index, ClassLoader loader, Root root) throws OneDnnLoader.Unavailable {
        Path base = root.path().toAbsolutePath().normalize();
        String name = index.folderName();
        Path dir = base.resolve(name);
        String noexec = noexecMount(base);
        if (noexec != null) {
            throw new OneDnnLoader.Unavailable("on a filesystem mounted noexec (" + noexec + "), from which libraries cannot be"
                    + " loaded; name another folder with -D" + CACHE_PROPERTY);
        }
        if (root.shared() && Files.isDirectory(base)) refuseForeignOwner(base);     // before trusting what is in it
        if (complete(dir, index) == null) {
            LOG.log(Level.DEBUG, () -> "oneDNN: using the files already copied to " + dir);
            return dir;
        }
        prepareRoot(base, root.shared());
        Path lockFile = base.resolve(name + ".lock");
        synchronized (IN_PROCESS.computeIfAbsent(lockFile, k -> new Object())) {
            try (FileChannel channel = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
                 FileLock lock = acquire(channel, lockFile)) {
                String damage = complete(dir, index);
                if (damage == null) {
                    LOG.log(Level.DEBUG, () -> "oneDNN: another JVM copied the files to " + dir + " meanwhile");
                    return dir;
                }
                if (Files.exists(dir)) moveAside(dir, damage);
                deleteStaleTemporaries(base, name);
                copy(index, loader, base, dir);
                return dir;
            } catch (IOException e) {
                throw new OneDnnLoader.Unavailable(reason(e));
            }
        }
    }

    /** Null if {@code dir} holds every file of the index with its size, else what is wrong. */
    static String complete(Path dir, NativeBundle.Index index) {
        if (!Files.isDirectory(dir)) return "no folder " + dir;
        for (NativeBundle.FileEntry f : index.files()) {
            Path p = dir.resolve(f.name());
            try {
                long size = Files.size(p);
                if (size != f.size()) return f.name() + " has " + size + " bytes, not " + f.size();
            } catch (IOException e) {
                return f.name() + " is missing";
            }
        }
        return null;
    }

    private static void prepareRoot(Path base, boolean shared) throws OneDnnLoader.Unavailable {
        if (Files.exists(base) && !Files.isDirectory(base)) throw new OneDnnLoader.Unavailable("not a folder");
        try {
            if (!Files.isDirectory(base)) {
                Files.createDirectories(base);
                if (shared) restrictToOwner(base);
            }
        } catch (IOException e) {
            throw new OneDnnLoader.Unavailable("cannot create the folder: " + reason(e));
        }
        if (!Files.isWritable(base)) {
            throw new OneDnnLoader.Unavailable("read-only: the files are not there yet and cannot be written");
        }
        if (shared) refuseForeignOwner(base);
    }

    private static void refuseForeignOwner(Path base) throws OneDnnLoader.Unavailable {
        String owner = foreignOwner(base);
        if (owner != null) {
            throw new OneDnnLoader.Unavailable("belongs to " + owner + ", not to this user: libraries from a folder another"
                    + " user can write to are not loaded");
        }
    }

    private static FileLock acquire(FileChannel channel, Path lockFile) throws IOException {
        FileLock lock;
        try {
            lock = channel.tryLock();
        } catch (OverlappingFileLockException e) {
            lock = null;
        }
        if (lock != null) return lock;
        LOG.log(Level.DEBUG, () -> "oneDNN: waiting for " + lockFile + ": another JVM is copying the files");
        return channel.lock();
    }

    private static void moveAside(Path dir, String damage) throws IOException {
        Path aside = dir.resolveSibling(dir.getFileName() + ".damaged-" + System.currentTimeMillis());
        LOG.log(Level.WARNING, () -> "oneDNN: the copy in " + dir + " is damaged (" + damage + "); moved to " + aside
                + " and copied again");
        Files.move(dir, aside, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void deleteStaleTemporaries(Path base, String name) throws IOException {
        try (Stream<Path> s = Files.list(base)) {
            for (Path p : s.filter(p -> p.getFileName().toString().startsWith(name + ".tmp-")).toList()) {
                LOG.log(Level.DEBUG, () -> "oneDNN: deleting " + p + ", left by a JVM that stopped while copying");
                deleteRecursively(p);
            }
        }
    }

    private static void copy(NativeBundle.Index index, ClassLoader loader, Path base, Path dir)
            throws IOException, OneDnnLoader.Unavailable {
        Path tmp = base.resolve(dir.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + Long.toHexString(ThreadLocalRandom.current().nextLong()));
        LOG.log(Level.DEBUG, () -> "oneDNN: copying " + index.files().size() + " files (" + index.totalBytes() / (1 << 20)
                + " MiB) from the class path to " + tmp);
        Files.createDirectory(tmp);
        boolean done = false;
        try {
            for (NativeBundle.FileEntry f : index.files()) {
                Path target = tmp.resolve(f.name());
                MessageDigest md = NativeBundle.digest();
                try (InputStream in = NativeBundle.open(loader, index.platform(), f.name())) {
                    if (in == null) {
                        throw new OneDnnLoader.Unavailable("the class path's index lists " + f.name() + " but the file is"
                                + " not there: the jar is damaged");
                    }
                    Files.copy(new DigestInputStream(in, md), target);
                }
                String sha = HexFormat.of().formatHex(md.digest());
                long size = Files.size(target);
                if (size != f.size() || !sha.equals(f.sha256())) {
                    throw new OneDnnLoader.Unavailable("the class path's " + f.name() + " does not match its index (" + size
                            + " bytes, SHA-256 " + sha + "; expected " + f.size() + " bytes, " + f.sha256() + "): the jar is damaged");
                }
                if (!target.toFile().setWritable(false, false)) {
                    throw new IOException("cannot make " + target + " read-only");
                }
            }
            try {
                Files.move(tmp, dir, StandardCopyOption.ATOMIC_MOVE);
            } catch (FileAlreadyExistsException | DirectoryNotEmptyException e) {
                if (complete(dir, index) != null) throw e;           // someone ignored the lock; use theirs if complete
                deleteRecursively(tmp);
            }
            done = true;
            LOG.log(Level.DEBUG, () -> "oneDNN: copied to " + dir);
        } finally {
            if (!done) deleteRecursively(tmp);
        }
    }

    private static void restrictToOwner(Path dir) {
        try {
            Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        } catch (UnsupportedOperationException | IOException e) {
            // not a POSIX filesystem: its own access rules apply
        }
    }

    /** The owner of {@code dir} if it is not this process's user, else null (also when it cannot be told). */
    private static String foreignOwner(Path dir) {
        try {
            Path self = Path.of("/proc/self");
            if (Files.exists(self)) {
                Object mine = Files.getAttribute(self, "unix:uid");
                Object theirs = Files.getAttribute(dir, "unix:uid");
                return mine.equals(theirs) ? null : "uid " + theirs;
            }
            String owner = Files.getOwner(dir).getName();
            String user = System.getProperty("user.name");
            return user == null || owner.equals(user) ? null : owner;
        } catch (IOException | UnsupportedOperationException | IllegalArgumentException e) {
            return null;
        }
    }

    static void deleteRecursively(Path p) {
        if (!Files.exists(p)) return;
        try (Stream<Path> walk = Files.walk(p)) {
            for (Path q : walk.sorted(Comparator.reverseOrder()).toList()) {
                q.toFile().setWritable(true, true);
                Files.deleteIfExists(q);
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, () -> "oneDNN: could not delete " + p + ": " + e);
        }
    }

    /** An I/O failure in words: the operating system's reason where it gives one ("Read-only file system"). */
    static String reason(IOException e) {
        if (e instanceof AccessDeniedException) return "permission denied: " + e.getMessage();
        if (e instanceof NoSuchFileException) return "no such file or folder: " + e.getMessage();
        if (e instanceof FileSystemException fse && fse.getReason() != null) {
            return fse.getReason() + " (" + fse.getFile() + ")";
        }
        return e.toString();
    }

    // ----------------------------------------------------------------------------------------------------------
    // noexec

    /** The mount point of {@code dir} if its filesystem is mounted {@code noexec} (Linux), else null. */
    static String noexecMount(Path dir) {
        Path mountinfo = Path.of("/proc/self/mountinfo");
        if (!Files.isReadable(mountinfo)) return null;
        try {
            return noexecMount(existingRealPath(dir), Files.readAllLines(mountinfo));
        } catch (IOException e) {
            return null;
        }
    }

    /**
     * The mount point that holds {@code realDir} if its mount options (per {@code /proc/self/mountinfo}) include
     * {@code noexec}, else null. The longest mount point that contains the folder wins.
     */
    static String noexecMount(Path realDir, List<String> mountinfo) {
        String best = null;
        boolean noexec = false;
        for (String line : mountinfo) {
            String[] f = line.split(" ");
            if (f.length < 6) continue;
            String mountPoint = unescape(f[4]);
            if (!realDir.startsWith(Path.of(mountPoint))) continue;
            if (best == null || mountPoint.length() >= best.length()) {
                best = mountPoint;
                noexec = List.of(f[5].split(",")).contains("noexec");
            }
        }
        return noexec ? best : null;
    }

    /** {@code dir}'s real path, resolved through its nearest existing ancestor. */
    private static Path existingRealPath(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        Path existing = abs;
        while (existing != null && !Files.exists(existing)) existing = existing.getParent();
        if (existing == null) return abs;
        return existing.toRealPath().resolve(existing.relativize(abs));
    }

    /** Undoes mountinfo's octal escapes ({@code \040} for a space). */
    private static String unescape(String s) {
        if (s.indexOf('\\') < 0) return s;
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length() && s.substring(i + 1, i + 4).matches("[0-7]{3}")) {
                sb.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                sb.append(c);
            }
        }
        return sb.toString();
    }
}
