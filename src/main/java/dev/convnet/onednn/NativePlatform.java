package dev.convnet.onednn;

import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * A platform convnet carries oneDNN for, named as the Maven classifiers of {@code org.bytedeco:dnnl} name it, with
 * the file that is oneDNN and the neighbours that must be loaded before it (in order).
 *
 * <p>On Linux none: {@code libdnnl.so.3} has RUNPATH {@code $ORIGIN} and finds {@code libgomp.so.1} and
 * {@code libOpenCL.so.1} in its own folder. On macOS {@code libdnnl.3.dylib} refers to {@code @rpath/libiomp5.dylib}
 * but carries no rpath, so the OpenMP runtime is loaded first and matched by its install name. On Windows the
 * loader does not search the DLL's own folder, so the MSVC runtime, its OpenMP runtime and {@code OpenCL.dll} are
 * loaded first. Immutable.
 *
 * @param id the classifier, e.g. {@code linux-x86_64}
 * @param library oneDNN's file name on this platform
 * @param preload files of the same folder to load before {@code library}, in order
 */
record NativePlatform(String id, String library, List<String> preload) {
    /** The platforms of {@code org.bytedeco:dnnl:3.8.1-1.5.12} on Maven Central (there is no macosx-arm64 build). */
    static final List<NativePlatform> KNOWN = List.of(
            new NativePlatform("linux-x86_64", "libdnnl.so.3", List.of()),
            new NativePlatform("linux-arm64", "libdnnl.so.3", List.of()),
            new NativePlatform("macosx-x86_64", "libdnnl.3.dylib", List.of("libiomp5.dylib")),
            new NativePlatform("windows-x86_64", "dnnl.dll",
                    List.of("vcruntime140.dll", "vcruntime140_1.dll", "msvcp140.dll", "vcomp140.dll", "OpenCL.dll")));

    NativePlatform {
        preload = List.copyOf(preload);
    }

    /** This JVM's platform id (which may be one convnet has no natives for, e.g. {@code macosx-arm64}). */
    static String current() {
        return id(System.getProperty("os.name", ""), System.getProperty("os.arch", ""));
    }

    /** The platform id for Java's {@code os.name} and {@code os.arch}, in JavaCPP's spelling. */
    static String id(String osName, String osArch) {
        String os = osName.toLowerCase(Locale.ROOT);
        String family = os.startsWith("linux") ? "linux"
                : os.startsWith("mac") || os.startsWith("darwin") ? "macosx"
                : os.startsWith("windows") ? "windows"
                : os.replaceAll("[^a-z0-9]", "");
        String arch = switch (osArch.toLowerCase(Locale.ROOT)) {
            case "amd64", "x86_64", "x86-64", "em64t" -> "x86_64";
            case "aarch64", "arm64" -> "arm64";
            case "x86", "i386", "i486", "i586", "i686" -> "x86";
            case "ppc64le" -> "ppc64le";
            default -> osArch.toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "");
        };
        return family + "-" + arch;
    }

    /** The platform named {@code id}, if convnet knows its file names. */
    static Optional<NativePlatform> of(String id) {
        return KNOWN.stream().filter(p -> p.id.equals(id)).findFirst();
    }

    boolean isLinux() {
        return id.startsWith("linux-");
    }

    /**
     * Why the glibc-built Linux binaries cannot load on a system with this C library, or null if they can.
     *
     * @param glibcVersion the running glibc's version ({@code gnu_get_libc_version()}), or null if the C library is
     *     not glibc
     * @param musl whether the system has musl's dynamic loader ({@code /lib/ld-musl-*})
     * @param required the newest {@code GLIBC_x.y} symbol version the binaries need, or null if unknown
     */
    static String libcProblem(String glibcVersion, boolean musl, String required) {
        String needs = required == null ? "glibc" : "glibc " + required + " or newer";
        if (glibcVersion == null) {
            return (musl ? "this system's C library is musl (Alpine?)" : "this system's C library is not glibc")
                    + ", and the bundled oneDNN is built for " + needs
                    + ": use a glibc-based image (Debian, Ubuntu, UBI) or name a oneDNN built for this system with -D"
                    + OneDnnLoader.PATH_PROPERTY;
        }
        if (required != null && compareVersions(glibcVersion, required) < 0) {
            return "glibc " + glibcVersion + " is older than " + required
                    + ", which the bundled oneDNN needs (Debian 12, Ubuntu 22.04, RHEL 9 and newer have it)";
        }
        return null;
    }

    /** The running glibc's version, or null if the C library is not glibc. */
    static String glibcVersion() {
        Linker linker = Linker.nativeLinker();
        Optional<MemorySegment> fn = linker.defaultLookup().find("gnu_get_libc_version");
        if (fn.isEmpty()) return null;
        try {
            MemorySegment s = (MemorySegment) linker.downcallHandle(fn.get(), FunctionDescriptor.of(ValueLayout.ADDRESS))
                    .invokeExact();
            return s.reinterpret(64).getString(0);
        } catch (Throwable t) {
            return null;
        }
    }

    /** Whether musl's dynamic loader is installed ({@code /lib/ld-musl-<arch>.so.1}). */
    static boolean muslPresent() {
        try (var files = Files.list(Path.of("/lib"))) {
            return files.anyMatch(f -> f.getFileName().toString().startsWith("ld-musl-"));
        } catch (Exception e) {
            return false;
        }
    }

    /** Compares dotted numeric versions ({@code 2.34} &lt; {@code 2.36} &lt; {@code 2.36.1}). */
    static int compareVersions(String a, String b) {
        int[] x = numbers(a), y = numbers(b);
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(i < x.length ? x[i] : 0, i < y.length ? y[i] : 0);
            if (c != 0) return c;
        }
        return 0;
    }

    private static int[] numbers(String v) {
        return Arrays.stream(v.split("\\.")).mapToInt(s -> {
            String digits = s.replaceAll("\\D.*", "");
            return digits.isEmpty() ? 0 : Integer.parseInt(digits);
        }).toArray();
    }
}
