package dev.convnet.onednn;

/**
 * What was loaded: oneDNN's version, the CPU instruction set its kernels use, its threading runtime and
 * where the library came from. Immutable.
 *
 * @param major major version (always 3: the loader refuses anything else)
 * @param minor minor version
 * @param patch patch version
 * @param gitHash the commit oneDNN was built from
 * @param effectiveIsa the CPU ISA oneDNN's JIT kernels target on this machine, e.g. {@code avx512_core_bf16}
 * @param cpuRuntime oneDNN's CPU threading runtime, e.g. {@code OpenMP}
 * @param maxThreads how many threads oneDNN would use for a primitive created now from the calling thread
 * @param source which loader rule found the library
 * @param libraryPath the file that was loaded
 */
public record OneDnnInfo(int major, int minor, int patch, String gitHash, String effectiveIsa,
                         String cpuRuntime, int maxThreads, String source, String libraryPath) {

    /** The version as {@code major.minor.patch}. */
    public String version() {
        return major + "." + minor + "." + patch;
    }
}
