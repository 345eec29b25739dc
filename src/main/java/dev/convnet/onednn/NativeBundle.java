package dev.convnet.onednn;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Properties;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The oneDNN files convnet's jar carries, as class-path resources, and their index.
 *
 * <p>Layout inside the jar (written by the build, see {@link #main}):
 * <pre>
 * dev/convnet/onednn/native/platforms.properties          platforms=linux-x86_64[,...]
 * dev/convnet/onednn/native/linux-x86_64/files.properties  version, source artifacts, glibc needed, size and SHA-256 of each file
 * dev/convnet/onednn/native/linux-x86_64/libdnnl.so.3      oneDNN, and its neighbours libgomp.so.1 and libOpenCL.so.1
 * </pre>
 * ({@code native} is a Java keyword, so these folders are never a package: the resources are readable from any
 * module.) The files are copied out by {@link NativeCache} into a folder named by {@link Index#folderName()}.
 * Immutable values and stateless methods; thread-safe.
 */
final class NativeBundle {
    static final String ROOT = "dev/convnet/onednn/native/";
    static final String PLATFORMS = "platforms.properties";
    static final String INDEX = "files.properties";

    private NativeBundle() {}

    /** One native file: its name, size in bytes and SHA-256 (lower-case hex). */
    record FileEntry(String name, long size, String sha256) {}

    /**
     * A platform's index.
     *
     * @param platform the platform id ({@link NativePlatform#id()})
     * @param onednnVersion oneDNN's version, e.g. {@code 3.8.1}
     * @param source the Maven artifacts the files were taken from
     * @param glibcRequired the newest {@code GLIBC_} symbol version the files need, or null (not ELF)
     * @param files every file, sorted by name
     */
    record Index(String platform, String onednnVersion, String source, String glibcRequired, List<FileEntry> files) {
        Index {
            files = files.stream().sorted(Comparator.comparing(FileEntry::name)).toList();
        }

        /** The cache folder's name: version, platform and a hash of every file's name, size and SHA-256. */
        String folderName() {
            StringBuilder sb = new StringBuilder();
            for (FileEntry f : files) sb.append(f.name()).append(' ').append(f.size()).append(' ').append(f.sha256()).append('\n');
            return onednnVersion + "-" + platform + "-" + sha256(sb.toString().getBytes(StandardCharsets.UTF_8)).substring(0, 16);
        }

        long totalBytes() {
            return files.stream().mapToLong(FileEntry::size).sum();
        }

        FileEntry file(String name) {
            return files.stream().filter(f -> f.name().equals(name)).findFirst().orElse(null);
        }
    }

    /** The platforms whose files are on the class path (from {@value #PLATFORMS}), empty if none. */
    static List<String> platformsOnClassPath(ClassLoader loader) {
        Properties p = load(loader, ROOT + PLATFORMS);
        if (p == null) return List.of();
        return Stream.of(p.getProperty("platforms", "").split(",")).map(String::strip).filter(s -> !s.isEmpty()).toList();
    }

    /** The index of {@code platform} on the class path, or null if the class path has none. */
    static Index index(ClassLoader loader, String platform) {
        Properties p = load(loader, ROOT + platform + "/" + INDEX);
        return p == null ? null : parse(p);
    }

    static Index parse(Properties p) {
        List<FileEntry> files = new ArrayList<>();
        for (String name : p.getProperty("files", "").split(" ")) {
            if (name.isBlank()) continue;
            String size = p.getProperty(name + ".size"), sha = p.getProperty(name + ".sha256");
            if (size == null || sha == null) throw new IllegalArgumentException(INDEX + ": no size or sha256 for " + name);
            files.add(new FileEntry(name, Long.parseLong(size), sha));
        }
        return new Index(p.getProperty("platform"), p.getProperty("onednn.version"), p.getProperty("source"),
                p.getProperty("glibc.required"), files);
    }

    /** Opens the resource of {@code platform}'s file {@code name}, or returns null if absent. */
    static InputStream open(ClassLoader loader, String platform, String name) {
        return loader.getResourceAsStream(ROOT + platform + "/" + name);
    }

    /** The class loader that holds convnet's own resources. */
    static ClassLoader loader() {
        ClassLoader l = NativeBundle.class.getClassLoader();
        return l != null ? l : ClassLoader.getSystemClassLoader();
    }

    private static Properties load(ClassLoader loader, String resource) {
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            return p;
        } catch (IOException e) {
            throw new UncheckedIOException("cannot read " + resource + " from the class path", e);
        }
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("this JVM has no SHA-256", e);
        }
    }

    // ----------------------------------------------------------------------------------------------------------
    // Build time

    /**
     * Writes the indexes, at build time ({@code process-classes}, see pom.xml):
     * {@code NativeBundle <root> <oneDNN version> <artifact>...}, where {@code root} is
     * {@code target/classes/dev/convnet/onednn/native}, holding one folder per platform, and each artifact is a
     * Maven coordinate with {@code {platform}} for the classifier, optionally followed by the platforms it serves in
     * brackets ({@code org.bytedeco:javacpp:1.5.12:{platform}[windows]}). A platform whose index is newer than its
     * files is left alone.
     */
    static void main(String[] args) throws IOException {
        if (args.length < 3) {
            throw new IllegalArgumentException("usage: NativeBundle <root> <oneDNN version> <artifact, {platform} for the classifier>...");
        }
        Path root = Path.of(args[0]);
        List<String> platforms = new ArrayList<>();
        if (Files.isDirectory(root)) {
            try (Stream<Path> dirs = Files.list(root)) {
                for (Path dir : dirs.filter(Files::isDirectory).sorted().toList()) {
                    String platform = dir.getFileName().toString();
                    writeIndex(dir, platform, args[1], sources(platform, List.of(args).subList(2, args.length)));
                    platforms.add(platform);
                }
            }
        }
        Files.createDirectories(root);
        try (Writer w = Files.newBufferedWriter(root.resolve(PLATFORMS))) {
            w.write("# The platforms whose oneDNN files this jar carries (written by the build: dev.convnet.onednn.NativeBundle)\n");
            w.write("platforms=" + String.join(",", platforms) + "\n");
        }
    }

    /** The artifacts that serve {@code platform}, joined, with the classifier filled in. */
    static String sources(String platform, List<String> artifacts) {
        List<String> out = new ArrayList<>();
        for (String a : artifacts) {
            int bracket = a.indexOf('[');
            if (bracket >= 0) {
                List<String> families = List.of(a.substring(bracket + 1, a.length() - 1).split(","));
                if (families.stream().noneMatch(f -> platform.startsWith(f.strip()))) continue;
                a = a.substring(0, bracket);
            }
            out.add(a.strip().replace("{platform}", platform));
        }
        return String.join(", ", out);
    }

    static void writeIndex(Path dir, String platform, String onednnVersion, String source) throws IOException {
        Path index = dir.resolve(INDEX);
        List<Path> files;
        try (Stream<Path> s = Files.list(dir)) {
            files = s.filter(Files::isRegularFile).filter(f -> !f.getFileName().toString().equals(INDEX)).sorted().toList();
        }
        if (Files.exists(index) && upToDate(index, files)) return;
        StringBuilder sb = new StringBuilder();
        sb.append("# The oneDNN files for ").append(platform).append(" (written by the build: dev.convnet.onednn.NativeBundle)\n");
        sb.append("platform=").append(platform).append('\n');
        sb.append("onednn.version=").append(onednnVersion).append('\n');
        sb.append("source=").append(source).append('\n');
        String glibc = null;
        List<String> names = new ArrayList<>();
        StringBuilder entries = new StringBuilder();
        for (Path f : files) {
            byte[] bytes = Files.readAllBytes(f);
            String name = f.getFileName().toString();
            names.add(name);
            entries.append(name).append(".size=").append(bytes.length).append('\n');
            entries.append(name).append(".sha256=").append(sha256(bytes)).append('\n');
            String g = newestGlibc(bytes);
            if (g != null && (glibc == null || NativePlatform.compareVersions(g, glibc) > 0)) glibc = g;
        }
        if (glibc != null) sb.append("glibc.required=").append(glibc).append('\n');
        sb.append("files=").append(String.join(" ", names)).append('\n').append(entries);
        Files.writeString(index, sb);
    }

    private static boolean upToDate(Path index, List<Path> files) throws IOException {
        Properties p = new Properties();
        try (InputStream in = Files.newInputStream(index)) {
            p.load(in);
        }
        List<String> listed = List.of(p.getProperty("files", "").split(" "));
        if (!listed.equals(files.stream().map(f -> f.getFileName().toString()).toList())) return false;
        var written = Files.getLastModifiedTime(index);
        for (Path f : files) {
            if (Files.getLastModifiedTime(f).compareTo(written) > 0) return false;
        }
        return true;
    }

    private static final Pattern GLIBC = Pattern.compile("GLIBC_(\\d+\\.\\d+(?:\\.\\d+)?)");

    /** The newest {@code GLIBC_x.y} version an ELF file names (its symbol version needs), or null. */
    static String newestGlibc(byte[] elf) {
        if (elf.length < 4 || elf[0] != 0x7f || elf[1] != 'E' || elf[2] != 'L' || elf[3] != 'F') return null;
        Matcher m = GLIBC.matcher(new String(elf, StandardCharsets.ISO_8859_1));
        String newest = null;
        while (m.find()) {
            if (newest == null || NativePlatform.compareVersions(m.group(1), newest) > 0) newest = m.group(1);
        }
        return newest;
    }
}
