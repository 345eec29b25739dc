/*
 * The one header jextract reads to generate bindings/ (see `make bindings`).
 * It pulls in oneDNN 3.8.1's C API as shipped in org.bytedeco:dnnl:3.8.1-1.5.12
 * and declares the two OpenMP calls the library uses for thread control; they are
 * resolved from libgomp.so.1, which the same artifact ships next to libdnnl.so.3.
 */
#include <oneapi/dnnl/dnnl.h>
#include <oneapi/dnnl/dnnl_debug.h>

int omp_get_max_threads(void);
void omp_set_num_threads(int num_threads);
