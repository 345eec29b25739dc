/*
 * peak.c -- machine ceilings for the convnet benchmarks.
 *
 * Measures
 *   - peak FP32 FMA throughput with independent vector FMA chains
 *     (AVX-512: 16 zmm accumulators; AVX2 fallback: 12 ymm accumulators),
 *     on all threads (one per core, pinned) and on a single core;
 *   - memory bandwidth with a STREAM-like triad a[i] = b[i] + s*c[i] over
 *     double arrays much larger than the last-level cache, on all threads.
 *
 * Prints one JSON object on stdout. Diagnostics go to stderr.
 *
 * Usage: peak [--threads T] [--mib M] [--seconds S] [--reps R] [--isa avx2]
 *   --threads T  threads for the "all" runs (default: $PEAK_THREADS, else
 *                online CPUs; one thread per core is the intended setup)
 *   --mib M      size of EACH triad array in MiB (default 256)
 *   --seconds S  target duration of one FMA measurement (default 0.2)
 *   --reps R     repetitions; the best one is reported (default 5)
 *   --isa avx2   force the AVX2 kernel even where AVX-512F is available
 *
 * The file is compiled WITHOUT -mavx512f on purpose: the two kernels carry
 * their own target attributes, so the binary runs (and picks AVX2) on a
 * machine without AVX-512 instead of dying with SIGILL.
 */
#define _GNU_SOURCE
#include <immintrin.h>
#include <omp.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* ---------------------------------------------------------------- FMA -- */

#define ACC512 16 /* independent zmm chains: >= latency(4) x ports(2) */
#define ACC256 12 /* independent ymm chains */

/* acc = acc * m + a with m slightly below 1: bounded, never denormal. */
/* The chains are spelled out as separate variables: at -O2 GCC does not
 * fully unroll a loop over an accumulator array and would keep the array in
 * memory (load+FMA+store per chain), which measures the store path instead. */
#define REP4(X, b) X(b##0) X(b##1) X(b##2) X(b##3)

__attribute__((target("avx512f,fma"), noinline))
static float fma_avx512(int64_t iters) {
    const __m512 m = _mm512_set1_ps(0.999999f);
    const __m512 a = _mm512_set1_ps(1e-6f);
#define DECL(v) __m512 v = _mm512_set1_ps(1.0f + 0.01f * (float)__COUNTER__);
    REP4(DECL, p) REP4(DECL, q) REP4(DECL, r) REP4(DECL, s) /* 16 chains */
#undef DECL
#define STEP(v) v = _mm512_fmadd_ps(v, m, a);
    for (int64_t it = 0; it < iters; it++) {
        REP4(STEP, p) REP4(STEP, q) REP4(STEP, r) REP4(STEP, s)
        /* opaque to the optimiser: no chain can be merged or folded */
#define OPAQUE4(b) __asm__ volatile("" : "+v"(b##0), "+v"(b##1), "+v"(b##2), "+v"(b##3));
        OPAQUE4(p) OPAQUE4(q) OPAQUE4(r) OPAQUE4(s)
    }
#undef STEP
    __m512 t = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(p0, p1), _mm512_add_ps(p2, p3)),
                             _mm512_add_ps(_mm512_add_ps(q0, q1), _mm512_add_ps(q2, q3)));
    __m512 u = _mm512_add_ps(_mm512_add_ps(_mm512_add_ps(r0, r1), _mm512_add_ps(r2, r3)),
                             _mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)));
    return _mm512_reduce_add_ps(_mm512_add_ps(t, u));
}

__attribute__((target("avx2,fma"), noinline))
static float fma_avx2(int64_t iters) {
    const __m256 m = _mm256_set1_ps(0.999999f);
    const __m256 a = _mm256_set1_ps(1e-6f);
#define DECL(v) __m256 v = _mm256_set1_ps(1.0f + 0.01f * (float)__COUNTER__);
    REP4(DECL, p) REP4(DECL, q) REP4(DECL, r) /* 12 chains */
#undef DECL
#define STEP(v) v = _mm256_fmadd_ps(v, m, a);
    for (int64_t it = 0; it < iters; it++) {
        REP4(STEP, p) REP4(STEP, q) REP4(STEP, r)
        OPAQUE4(p) OPAQUE4(q) OPAQUE4(r)
    }
#undef STEP
    __m256 t = _mm256_add_ps(_mm256_add_ps(_mm256_add_ps(p0, p1), _mm256_add_ps(p2, p3)),
                             _mm256_add_ps(_mm256_add_ps(q0, q1), _mm256_add_ps(q2, q3)));
    t = _mm256_add_ps(t, _mm256_add_ps(_mm256_add_ps(r0, r1), _mm256_add_ps(r2, r3)));
    float out[8];
    _mm256_storeu_ps(out, t);
    float sum = 0;
    for (int i = 0; i < 8; i++) sum += out[i];
    return sum;
}

static int use_avx512;
static volatile float sink; /* keeps the results alive */

static float fma_kernel(int64_t iters) {
    return use_avx512 ? fma_avx512(iters) : fma_avx2(iters);
}

/* FLOPs done by one kernel call: 2 per lane per FMA. */
static double fma_flops(int64_t iters) {
    return use_avx512 ? 2.0 * 16 * ACC512 * (double)iters
                      : 2.0 * 8 * ACC256 * (double)iters;
}

/* ------------------------------------------------------------ pinning -- */

static int allowed_cpus[CPU_SETSIZE];
static int n_allowed;

static void init_affinity(void) {
    cpu_set_t set;
    n_allowed = 0;
    if (sched_getaffinity(0, sizeof set, &set) == 0) {
        for (int c = 0; c < CPU_SETSIZE; c++)
            if (CPU_ISSET(c, &set)) allowed_cpus[n_allowed++] = c;
    }
}

/* Pin the calling thread to the tid-th allowed CPU (best effort). */
static void pin_self(int tid) {
    if (n_allowed == 0) return;
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(allowed_cpus[tid % n_allowed], &set);
    sched_setaffinity(0, sizeof set, &set);
}

/* Best GFLOP/s over reps runs of `iters` kernel iterations on each of
 * `threads` threads (wall time between two barriers). */
static double fma_gflops(int threads, int64_t iters, int reps) {
    double best = 0;
    for (int r = 0; r < reps; r++) {
        double t0 = 0, t1 = 0;
        float acc = 0;
#pragma omp parallel num_threads(threads) reduction(+ : acc)
        {
            pin_self(omp_get_thread_num());
            acc += fma_kernel(1000); /* warm up clocks and caches */
#pragma omp barrier
#pragma omp master
            t0 = now_s();
#pragma omp barrier
            acc += fma_kernel(iters);
#pragma omp barrier
#pragma omp master
            t1 = now_s();
        }
        sink = acc;
        double g = fma_flops(iters) * threads / (t1 - t0) * 1e-9;
        if (g > best) best = g;
    }
    return best;
}

/* -------------------------------------------------------------- triad -- */

static double triad_gbs(int threads, size_t n, int reps) {
    double *a = aligned_alloc(64, n * sizeof(double));
    double *b = aligned_alloc(64, n * sizeof(double));
    double *c = aligned_alloc(64, n * sizeof(double));
    if (!a || !b || !c) {
        fprintf(stderr, "peak: cannot allocate 3 x %zu MiB\n", (n * sizeof(double)) >> 20);
        exit(1);
    }
    /* first touch with the same static schedule as the timed loop */
#pragma omp parallel num_threads(threads)
    {
        pin_self(omp_get_thread_num());
#pragma omp for schedule(static)
        for (size_t i = 0; i < n; i++) {
            a[i] = 0.0;
            b[i] = 1.0;
            c[i] = 2.0;
        }
    }
    const double s = 3.0;
    double best = 0;
    for (int r = 0; r < reps + 1; r++) { /* rep 0 is a warm-up */
        double t0 = now_s();
#pragma omp parallel for num_threads(threads) schedule(static)
        for (size_t i = 0; i < n; i++) a[i] = b[i] + s * c[i];
        double t1 = now_s();
        /* STREAM convention: 3 arrays moved, write-allocate not counted */
        double g = 3.0 * sizeof(double) * (double)n / (t1 - t0) * 1e-9;
        if (r > 0 && g > best) best = g;
    }
    sink = (float)a[n / 2];
    free(a);
    free(b);
    free(c);
    return best;
}

/* --------------------------------------------------------------- misc -- */

static void cpu_model(char *out, size_t len) {
    snprintf(out, len, "unknown");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return;
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            if (!p) break;
            p++;
            while (*p == ' ' || *p == '\t') p++;
            p[strcspn(p, "\n")] = 0;
            snprintf(out, len, "%s", p);
            break;
        }
    }
    fclose(f);
}

static void json_string(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\') printf("\\%c", ch);
        else if (ch < 0x20) printf("\\u%04x", ch);
        else putchar(ch);
    }
    putchar('"');
}

static void usage(void) {
    fprintf(stderr, "usage: peak [--threads T] [--mib M] [--seconds S] [--reps R] [--isa avx2]\n");
    exit(2);
}

int main(int argc, char **argv) {
    int threads = 0, reps = 5, force_avx2 = 0;
    long mib = 256;
    double seconds = 0.2;
    const char *env = getenv("PEAK_THREADS");
    if (env) threads = atoi(env);
    for (int i = 1; i < argc; i++) {
        if (i + 1 >= argc) usage();
        if (!strcmp(argv[i], "--threads")) threads = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--mib")) mib = atol(argv[++i]);
        else if (!strcmp(argv[i], "--seconds")) seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--reps")) reps = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--isa")) {
            if (strcmp(argv[++i], "avx2")) usage();
            force_avx2 = 1;
        }
        else usage();
    }
    int online = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (threads <= 0) threads = online > 0 ? online : 1;
    if (mib <= 0 || reps <= 0 || seconds <= 0) usage();

    __builtin_cpu_init();
    use_avx512 = !force_avx2 && __builtin_cpu_supports("avx512f");
    if (!use_avx512 && !(__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))) {
        fprintf(stderr, "peak: neither AVX-512F nor AVX2+FMA available\n");
        return 1;
    }
    init_affinity();

    /* calibrate on one core: iterations for ~`seconds` */
    int64_t iters = 1 << 20;
    for (;;) {
        double t0 = now_s();
        sink = fma_kernel(iters);
        double dt = now_s() - t0;
        if (dt > 0.05) {
            iters = (int64_t)((double)iters * seconds / dt);
            break;
        }
        iters *= 4;
    }
    if (iters < 1000) iters = 1000;

    double one = fma_gflops(1, iters, reps);
    double all = fma_gflops(threads, iters, reps);
    size_t n = (size_t)mib * 1024 * 1024 / sizeof(double);
    double bw = triad_gbs(threads, n, reps);

    char model[256];
    cpu_model(model, sizeof model);
    printf("{\"isa\":\"%s\",\"threads\":%d,\"online_cpus\":%d,"
           "\"fma_gflops_all\":%.1f,\"fma_gflops_one\":%.1f,"
           "\"fma_accumulators\":%d,\"vector_lanes\":%d,"
           "\"triad_gbs\":%.2f,\"triad_array_mib\":%ld,\"cpu_model\":",
           use_avx512 ? "avx512" : "avx2", threads, online, all, one,
           use_avx512 ? ACC512 : ACC256, use_avx512 ? 16 : 8, bw, mib);
    json_string(model);
    printf("}\n");
    return 0;
}
