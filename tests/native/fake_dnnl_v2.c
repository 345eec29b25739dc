/* A stand-in for an old oneDNN: exports dnnl_version() reporting 2.7.3, so the loader's version check can be
 * tested. LoaderTest compiles it with gcc into a temporary folder. */
typedef struct { int major, minor, patch; const char *hash; unsigned cpu_runtime, gpu_runtime; } dnnl_version_t;
static const dnnl_version_t v = {2, 7, 3, "fake", 2, 0};
const dnnl_version_t *dnnl_version(void) { return &v; }
