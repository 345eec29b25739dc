package dev.convnet.onednn;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.lang.System.Logger;
import java.lang.System.Logger.Level;
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
 *   <li>an explicit file or folder: the system property {@value #PATH_PROPERTY}, else the environment variable
 *       {@value #PATH_ENV}. When one is given it is the only candidate: a wrong explicit path is an error, never
 *       silently replaced by another library;</li>
 *   <li>the natives on the class path: convnet's jar carries oneDNN (with {@code libgomp.so.1} and
 *       {@code libOpenCL.so.1}, or the platform's equivalents) under {@code dev/convnet/onednn/native/<platform>/};
 *       they are copied once into a per-user cache folder ({@link NativeCache}: the user's cache, then a folder
 *       under {@code java.io.tmpdir}; or the one named by {@value NativeCache#CACHE_PROPERTY}) and loaded from
 *       there. The glibc-built Linux files are not tried on musl or on a glibc older than they need;</li>
 *   <li>the library unpacked by the build ({@code target/native/<platform>/}, recorded in the
 *       {@code build-native.properties} resource of a development build; the jar does not carry it);</li>
 *   <li>the system's {@code libdnnl.so.3} ({@code libdnnl.3.dylib}, {@code dnnl.dll}), looked up in
 *       {@code LD_LIBRARY_PATH}, {@code java.library.path} and the usual library folders.</li>
 * </ol>
 * Each candidate is opened on its own first ({@link SymbolLookup#libraryLookup(Path, Arena)}, its neighbours
 * before it where the platform needs that, see {@link NativePlatform}) and must export {@code dnnl_version}
 * reporting major version 3; only then is it loaded for the generated bindings with {@link System#load(String)}.
 * Every step is logged at DEBUG (java.util.logging's FINE) on the logger {@code dev.convnet.onednn}; what failed
 * is returned, and {@link OneDnn} reports it. Package-private: callers use {@link OneDnn}.
 */
final class OneDnnLoader {
    static final String PATH_PROPERTY = "convnet.onednn.library";
    static final String PATH_ENV = "CONVNET_ONEDNN_LIBRARY";
    static final int REQUIRED_MAJOR = 3;

    static final String SOURCE_PROPERTY = "system property " + PATH_PROPERTY;
    static final String SOURCE_ENV = "environment variable " + PATH_ENV;
    static final String SOURCE_CLASS_PATH = "natives on the class path";
    static final String SOURCE_BUILD = "library unpacked by the build";
    static final String SOURCE_SYSTEM = "system library";

    private static final Logger LOG = System.getLogger("dev.convnet.onednn");

    private OneDnnLoader() {}

    /** Why a candidate cannot be used, found before anything was opened. */
    static final class Unavailable extends Exception {
        private static final long serialVersionUID = 1L;

        Unavailable(String reason) {
            super(reason, null, false, false);
        }
    }

    /** Produces a candidate's library file, doing whatever that takes (copying it out of a jar). */
    @FunctionalInterface
    interface Preparation {
        Path library() throws Unavailable;
    }

    /** A place to try: which rule produced it, where (for messages), and how to get the file. */
    record Candidate(String source, String location, Preparation preparation) {
        static Candidate file(String source, Path library) {
            return new Candidate(source, library.toString(), () -> library);
        }

        static Candidate unavailable(String source, String location, String reason) {
            return new Candidate(source, location, () -> {
                throw new Unavailable(reason);
            });
        }
    }

    /**
     * Everything the search depends on, so that tests can pass their own.
     *
     * @param property value of {@value #PATH_PROPERTY}, or null
     * @param env value of {@value #PATH_ENV}, or null
     * @param platform this JVM's platform id ({@link NativePlatform#current()})
     * @param libcProblem why the bundled Linux files cannot load here (musl, old glibc), or null
     * @param classPath where to look for the bundled files
     * @param cacheRoots where to copy them, in order
     * @param buildDir the folder the build unpacked oneDNN into, or null if this is not a development build
     * @param systemDirs folders to search for the system library
     */
    record Settings(String property, String env, String platform, String libcProblem, ClassLoader classPath,
                    List<NativeCache.Root> cacheRoots, Path buildDir, List<Path> systemDirs) {
        Settings {
            cacheRoots = List.copyOf(cacheRoots);
            systemDirs = List.copyOf(systemDirs);
        }

        /** This JVM's settings: system properties, environment, class path, build resource, system folders. */
        static Settings ofThisJvm() {
            String platform = NativePlatform.current();
            String property = System.getProperty(PATH_PROPERTY), env = System.getenv(PATH_ENV);
            boolean explicit = !isBlank(property) || !isBlank(env);
            String libc = null;
            if (!explicit && platform.startsWith("linux-")) {
                NativeBundle.Index index = NativeBundle.index(NativeBundle.loader(), platform);
                libc = NativePlatform.libcProblem(NativePlatform.glibcVersion(), NativePlatform.muslPresent(),
                        index == null ? null : index.glibcRequired());
            }
            return new Settings(property, env, platform, libc, NativeBundle.loader(), NativeCache.defaultRoots(platform),
                    OneDnnLoader.buildDir(), OneDnnLoader.systemDirs(platform));
        }
    }

    /** The outcome of a search: the library that loaded (and which rule found it), or every attempt that failed. */
    record Outcome(String source, Path library, int major, int minor, int patch, List<LoadAttempt> failures) {
        Outcome {
            failures = List.copyOf(failures);
        }

        boolean ok() {
            return library != null;
        }
    }

    /** The candidates in search order. */
    static List<Candidate> candidates(Settings s) {
        String libraryName = libraryName(s.platform());
        if (!isBlank(s.property())) return List.of(Candidate.file(SOURCE_PROPERTY, fileOrFolder(s.property(), libraryName)));
        if (!isBlank(s.env())) return List.of(Candidate.file(SOURCE_ENV, fileOrFolder(s.env(), libraryName)));
        List<Candidate> out = new ArrayList<>(classPathCandidates(s));
        if (s.buildDir() != null) {
            Path lib = s.buildDir().resolve(libraryName);
            out.add(s.libcProblem() == null ? Candidate.file(SOURCE_BUILD, lib)
                    : Candidate.unavailable(SOURCE_BUILD, lib.toString(), s.libcProblem()));
        }
        Optional<Path> system = s.systemDirs().stream().map(d -> d.resolve(libraryName)).filter(Files::isRegularFile).findFirst();
        out.add(system.map(p -> Candidate.file(SOURCE_SYSTEM, p))
                .orElse(Candidate.unavailable(SOURCE_SYSTEM, libraryName, "not found in " + s.systemDirs())));
        return out;
    }

    private static List<Candidate> classPathCandidates(Settings s) {
        String where = NativeBundle.ROOT + s.platform() + "/";
        Optional<NativePlatform> platform = NativePlatform.of(s.platform());
        NativeBundle.Index index = platform.isEmpty() ? null : NativeBundle.index(s.classPath(), s.platform());
        if (index == null) {
            List<String> carried = NativeBundle.platformsOnClassPath(s.classPath());
            String reason = carried.isEmpty()
                    ? "no oneDNN files on the class path (convnet's jar carries them; is it a jar built without them?)"
                    : "the class path carries oneDNN for " + String.join(", ", carried) + ", not for this platform, "
                            + s.platform() + (platform.isEmpty() ? " (org.bytedeco:dnnl has no build for it)" : "");
            return List.of(Candidate.unavailable(SOURCE_CLASS_PATH, where, reason));
        }
        if (s.libcProblem() != null) return List.of(Candidate.unavailable(SOURCE_CLASS_PATH, where, s.libcProblem()));
        if (s.cacheRoots().isEmpty()) {
            return List.of(Candidate.unavailable(SOURCE_CLASS_PATH, where, "no cache folder to copy the files to (no user.home,"
                    + " no java.io.tmpdir); name one with -D" + NativeCache.CACHE_PROPERTY));
        }
        String library = platform.get().library();
        return s.cacheRoots().stream()
                .map(root -> new Candidate(SOURCE_CLASS_PATH, "cache folder " + root.path() + " (" + root.source() + ")",
                        () -> NativeCache.extract(index, s.classPath(), root).resolve(library)))
                .toList();
    }

    /** {@code value} as the library file: a folder means the platform's library inside it. */
    static Path fileOrFolder(String value, String libraryName) {
        Path p = Path.of(value.strip());
        return Files.isDirectory(p) ? p.resolve(libraryName) : p;
    }

    /** oneDNN's file name on {@code platform}. */
    static String libraryName(String platform) {
        return NativePlatform.of(platform).map(NativePlatform::library)
                .orElse(platform.startsWith("windows") ? "dnnl.dll" : platform.startsWith("macosx") ? "libdnnl.3.dylib" : "libdnnl.so.3");
    }

    /** The folder the build unpacked oneDNN into (development builds), or null. */
    static Path buildDir() {
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

    static List<Path> systemDirs(String platform) {
        Set<Path> dirs = new LinkedHashSet<>();
        String env = platform.startsWith("macosx") ? "DYLD_LIBRARY_PATH" : platform.startsWith("windows") ? "PATH" : "LD_LIBRARY_PATH";
        for (String var : new String[] {System.getenv(env), System.getProperty("java.library.path")}) {
            if (var == null) continue;
            for (String s : var.split(File.pathSeparator)) {
                if (!s.isBlank()) dirs.add(Path.of(s));
            }
        }
        if (platform.startsWith("linux")) {
            String multiarch = platform.endsWith("arm64") ? "aarch64-linux-gnu" : "x86_64-linux-gnu";
            for (String s : new String[] {"/usr/local/lib", "/usr/lib/" + multiarch, "/lib/" + multiarch, "/usr/lib64", "/usr/lib"}) {
                dirs.add(Path.of(s));
            }
        } else if (platform.startsWith("macosx")) {
            dirs.add(Path.of("/usr/local/lib"));
            dirs.add(Path.of("/opt/homebrew/lib"));
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
            LOG.log(Level.DEBUG, () -> "oneDNN: trying the " + c.source() + ": " + c.location());
            Path lib;
            try {
                lib = c.preparation().library();
            } catch (Unavailable u) {
                fail(failures, c.source(), c.location(), u.getMessage());
                continue;
            }
            List<Path> preload = neighboursToPreload(lib);
            int[] version = new int[3];
            String failure = probe(lib, preload, version);
            if (failure != null) {
                fail(failures, c.source(), lib.toString(), failure);
                continue;
            }
            if (load) {
                try {
                    for (Path p : preload) System.load(p.toAbsolutePath().toString());
                    System.load(lib.toAbsolutePath().toString());
                } catch (UnsatisfiedLinkError | SecurityException e) {
                    fail(failures, c.source(), lib.toString(), "System.load failed: " + e.getMessage());
                    continue;
                }
            }
            LOG.log(Level.DEBUG, () -> "oneDNN: " + (load ? "loaded " : "usable: ") + lib + " (" + c.source() + ")");
            return new Outcome(c.source(), lib, version[0], version[1], version[2], failures);
        }
        return new Outcome(null, null, 0, 0, 0, failures);
    }

    private static void fail(List<LoadAttempt> failures, String source, String location, String why) {
        LoadAttempt a = new LoadAttempt(source, location, why);
        LOG.log(Level.DEBUG, () -> "oneDNN: not usable: " + a);
        failures.add(a);
    }

    /** The files this platform loads before oneDNN that lie next to {@code library}. */
    static List<Path> neighboursToPreload(Path library) {
        Path dir = library.toAbsolutePath().getParent();
        return NativePlatform.of(NativePlatform.current()).map(NativePlatform::preload).orElse(List.of()).stream()
                .map(dir::resolve).filter(Files::isRegularFile).toList();
    }

    /**
     * Opens {@code path} on its own (after {@code preload}) and checks that it is oneDNN of major version
     * {@value #REQUIRED_MAJOR}.
     *
     * @param version receives major, minor, patch when the library answers {@code dnnl_version}
     * @return null if it is usable, else why not
     */
    static String probe(Path path, List<Path> preload, int[] version) {
        if (!Files.exists(path)) return "no such file";
        if (!Files.isRegularFile(path)) return "not a regular file";
        if (!Files.isReadable(path)) return "not readable";
        try (Arena arena = Arena.ofConfined()) {
            for (Path p : preload) {
                try {
                    SymbolLookup.libraryLookup(p, arena);
                } catch (IllegalArgumentException e) {
                    return "its neighbour " + p.getFileName() + " does not load: " + openError(p, e);
                }
            }
            SymbolLookup lib;
            try {
                lib = SymbolLookup.libraryLookup(path, arena);
            } catch (IllegalArgumentException e) {
                return "not a loadable shared library: " + openError(path, e);
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

    /**
     * Why {@code path} does not open: the dynamic loader's own words where {@code dlerror} can give them (a
     * missing {@code GLIBC_2.34}, a {@code noexec} mount), else the JDK's message.
     */
    static String openError(Path path, IllegalArgumentException e) {
        String why = dlopenError(path);
        if (why == null) return e.getMessage();
        if (why.contains("failed to map segment")) {
            why += " (its folder is on a filesystem mounted noexec?)";
        }
        return why;
    }

    /** dlopen's error for {@code path} (POSIX systems), or null if it opens or dlopen cannot be called. */
    private static String dlopenError(Path path) {
        try (Arena arena = Arena.ofConfined()) {
            Linker linker = Linker.nativeLinker();
            SymbolLookup std = linker.defaultLookup();
            Optional<MemorySegment> open = std.find("dlopen"), error = std.find("dlerror"), close = std.find("dlclose");
            if (open.isEmpty() || error.isEmpty() || close.isEmpty()) return null;
            MethodHandle dlopen = linker.downcallHandle(open.get(), FunctionDescriptor.of(ValueLayout.ADDRESS, ValueLayout.ADDRESS, ValueLayout.JAVA_INT));
            MethodHandle dlerror = linker.downcallHandle(error.get(), FunctionDescriptor.of(ValueLayout.ADDRESS));
            MethodHandle dlclose = linker.downcallHandle(close.get(), FunctionDescriptor.of(ValueLayout.JAVA_INT, ValueLayout.ADDRESS));
            final int rtldLazy = 1;
            MemorySegment handle = (MemorySegment) dlopen.invokeExact(arena.allocateFrom(path.toAbsolutePath().toString()), rtldLazy);
            if (!handle.equals(MemorySegment.NULL)) {
                int ignored = (int) dlclose.invokeExact(handle);
                return null;
            }
            MemorySegment message = (MemorySegment) dlerror.invokeExact();
            return message.equals(MemorySegment.NULL) ? null : message.reinterpret(4096).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    private static boolean isBlank(String s) {
        return s == null || s.isBlank();
    }
}
