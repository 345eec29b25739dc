package dev.convnet.onednn;

import java.io.IOException;
import java.io.InputStream;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.SymbolLookup;
import java.lang.foreign.ValueLayout;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * The one place that decides where oneDNN comes from.
 *
 * <p>Search order:
 * <ol>
 *   <li>an explicit path: the system property {@value #PATH_PROPERTY}, else the environment variable
 *       {@value #PATH_ENV}. When one is given it is the only candidate: a wrong explicit path is an error,
 *       never silently replaced by another library;</li>
 *   <li>the library the build unpacked from Maven Central ({@code target/native/linux-x86_64/libdnnl.so.3},
 *       recorded in the {@code build-native.properties} resource at build time);</li>
 *   <li>the system's {@code libdnnl.so.3}, looked up in {@code LD_LIBRARY_PATH}, {@code java.library.path}
 *       and the usual library folders.</li>
 * </ol>
 * Each candidate is opened on its own first ({@link SymbolLookup#libraryLookup(Path, Arena)}) and must export
 * {@code dnnl_version} reporting major version 3; only then is it loaded for the generated bindings with
 * {@link System#load(String)}. Package-private: callers use {@link OneDnn}.
 */
final class OneDnnLoader {
    static final String PATH_PROPERTY = "convnet.onednn.library";
    static final String PATH_ENV = "CONVNET_ONEDNN_LIBRARY";
    static final String LIBRARY_FILE = "libdnnl.so.3";
    static final int REQUIRED_MAJOR = 3;

    static final String SOURCE_PROPERTY = "system property " + PATH_PROPERTY;
    static final String SOURCE_ENV = "environment variable " + PATH_ENV;
    static final String SOURCE_BUNDLED = "library unpacked by the build";
    static final String SOURCE_SYSTEM = "system library";

    private OneDnnLoader() {}

    /** A place to try. */
    record Candidate(String source, Path path, String failureIfAbsent) {}

    /** The outcome of a search: the library that loaded, or every attempt that failed. */
    record Outcome(Candidate loaded, int major, int minor, int patch, List<LoadAttempt> failures) {
        boolean ok() { return loaded != null; }
    }

    /**
     * The candidates in search order, computed from the given settings (so tests can pass their own).
     *
     * @param property value of {@value #PATH_PROPERTY}, or null
     * @param env value of {@value #PATH_ENV}, or null
     * @param bundledDir the folder the build unpacked oneDNN into, or null if unknown
     * @param systemDirs folders to search for the system library
     */
    static List<Candidate> candidates(String property, String env, Path bundledDir, List<Path> systemDirs) {
        if (property != null && !property.isBlank()) {
            return List.of(new Candidate(SOURCE_PROPERTY, Path.of(property.strip()), null));
        }
        if (env != null && !env.isBlank()) {
            return List.of(new Candidate(SOURCE_ENV, Path.of(env.strip()), null));
        }
        List<Candidate> out = new ArrayList<>();
        if (bundledDir != null) {
            out.add(new Candidate(SOURCE_BUNDLED, bundledDir.resolve(LIBRARY_FILE), null));
        } else {
            out.add(new Candidate(SOURCE_BUNDLED, Path.of("target/native/linux-x86_64", LIBRARY_FILE),
                    "this build of convnet records no unpacked library (build-native.properties missing); run `make build`"));
        }
        Optional<Path> system = systemDirs.stream().map(d -> d.resolve(LIBRARY_FILE)).filter(Files::isRegularFile).findFirst();
        out.add(system.map(p -> new Candidate(SOURCE_SYSTEM, p, null))
                .orElse(new Candidate(SOURCE_SYSTEM, Path.of(LIBRARY_FILE),
                        "not found in " + systemDirs)));
        return out;
    }

    /** The candidates for this process: system property, environment, build resource, system folders. */
    static List<Candidate> defaultCandidates() {
        return candidates(System.getProperty(PATH_PROPERTY), System.getenv(PATH_ENV), bundledDir(), systemDirs());
    }

    static Path bundledDir() {
        try (InputStream in = OneDnnLoader.class.getResourceAsStream("build-native.properties")) {
            if (in == null) return null;
            Properties p = new Properties();
            p.load(in);
            String dir = p.getProperty("native.dir");
            return dir == null || dir.contains("${") ? null : Path.of(dir);
        } catch (IOException e) {
            return null;
        }
    }

    static List<Path> systemDirs() {
        Set<Path> dirs = new LinkedHashSet<>();
        for (String var : new String[] {System.getenv("LD_LIBRARY_PATH"), System.getProperty("java.library.path")}) {
            if (var == null) continue;
            for (String s : var.split(":")) {
                if (!s.isBlank()) dirs.add(Path.of(s));
            }
        }
        for (String s : new String[] {"/usr/local/lib", "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib"}) {
            dirs.add(Path.of(s));
        }
        return List.copyOf(dirs);
    }

    /**
     * Tries the candidates in order and loads the first that passes {@link #probe}; stops at the first success.
     *
     * @param load whether to {@link System#load} the winner (tests probe without loading)
     */
    static Outcome search(List<Candidate> candidates, boolean load) {
        List<LoadAttempt> failures = new ArrayList<>();
        for (Candidate c : candidates) {
            if (c.failureIfAbsent() != null) {
                failures.add(new LoadAttempt(c.source(), c.path().toString(), c.failureIfAbsent()));
                continue;
            }
            int[] version = new int[3];
            String failure = probe(c.path(), version);
            if (failure != null) {
                failures.add(new LoadAttempt(c.source(), c.path().toString(), failure));
                continue;
            }
            if (load) {
                try {
                    System.load(c.path().toAbsolutePath().toString());
                } catch (UnsatisfiedLinkError | SecurityException e) {
                    failures.add(new LoadAttempt(c.source(), c.path().toString(), "System.load failed: " + e.getMessage()));
                    continue;
                }
            }
            return new Outcome(c, version[0], version[1], version[2], failures);
        }
        return new Outcome(null, 0, 0, 0, failures);
    }

    /**
     * Opens {@code path} on its own and checks that it is oneDNN of major version {@value #REQUIRED_MAJOR}.
     *
     * @param version receives major, minor, patch when the library answers {@code dnnl_version}
     * @return null if it is usable, else why not
     */
    static String probe(Path path, int[] version) {
        if (!Files.exists(path)) return "no such file";
        if (!Files.isRegularFile(path)) return "not a regular file";
        if (!Files.isReadable(path)) return "not readable";
        try (Arena arena = Arena.ofConfined()) {
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(path, arena);
            } catch (IllegalArgumentException e) {
                return "not a loadable shared library: " + e.getMessage();
            }
            Optional<MemorySegment> versionFn = lib.find("dnnl_version");
            if (versionFn.isEmpty()) {
                return "a shared library, but not oneDNN: it has no symbol dnnl_version";
            }
            MethodHandle mh = Linker.nativeLinker().downcallHandle(versionFn.get(), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MemorySegment v;
            try {
                v = ((MemorySegment) mh.invokeExact()).reinterpret(3 * Integer.BYTES);
            } catch (Throwable t) {
                return "dnnl_version() failed: " + t;
            }
            if (v.equals(MemorySegment.NULL)) return "dnnl_version() returned NULL";
            version[0] = v.get(ValueLayout.JAVA_INT, 0);
            version[1] = v.get(ValueLayout.JAVA_INT, 4);
            version[2] = v.get(ValueLayout.JAVA_INT, 8);
            if (version[0] != REQUIRED_MAJOR) {
                return "oneDNN " + version[0] + "." + version[1] + "." + version[2]
                        + " has the wrong major version: convnet needs " + REQUIRED_MAJOR + ".x (built against 3.8.1)";
            }
            for (String required : new String[] {"dnnl_get_effective_cpu_isa", "dnnl_primitive_execute", "omp_get_max_threads"}) {
                if (lib.find(required).isEmpty()) {
                    return "oneDNN " + version[0] + "." + version[1] + "." + version[2] + " lacks symbol " + required
                            + " (convnet needs the OpenMP CPU build)";
                }
            }
            return null;
        }
    }
}
