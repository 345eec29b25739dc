/*
 * layers.c -- oneDNN C-API baseline for single layers (binary: onednn_layers).
 *
 * Runs each layer the way a careful C caller would:
 *   engine -> memory descs with format_tag_any (bias: x) -> forward_inference
 *   primitive desc with user scratchpad mode -> query the chosen formats ->
 *   reorder user weights (and the input) into them once, outside the timed
 *   loop -> primitive -> W warm-up runs -> N timed runs, each one
 *   dnnl_primitive_execute + dnnl_stream_wait, timed with CLOCK_MONOTONIC.
 *
 * Prints one JSON object per (layer, batch) on stdout; diagnostics on stderr.
 *
 * Usage: onednn_layers [--threads T] [--iters N] [--warmup W]
 *                      [--batch B ...] [--only name,name] [--act-fmt conv|plain]
 *
 * Pooling and eltwise take an explicit source layout (format_tag_any is not
 * allowed for their source). By default (--act-fmt conv) it is the layout a
 * 3x3 convolution producing that tensor picks for its destination, i.e. what
 * the layer would receive inside a network (each layer's source descriptor
 * is the previous layer's destination descriptor); --act-fmt plain uses nchw.
 */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "oneapi/dnnl/dnnl.h"
#include "oneapi/dnnl/dnnl_debug.h"

/* From libgomp (the copy shipped beside libdnnl); declared here so that the
 * file does not depend on <omp.h> or -fopenmp. */
int omp_get_max_threads(void);
void omp_set_num_threads(int);

/* One check for every oneDNN call: prints the function name and the status. */
#define CHECK(call)                                                            \
    do {                                                                       \
        dnnl_status_t s_ = (call);                                             \
        if (s_ != dnnl_success) {                                              \
            fprintf(stderr, "%s:%d: %.*s failed: %s\n", __FILE__, __LINE__,    \
                    (int)strcspn(#call, "("), #call, dnnl_status2str(s_));     \
            exit(2);                                                           \
        }                                                                      \
    } while (0)

static void die(const char *msg) {
    fprintf(stderr, "onednn_layers: %s\n", msg);
    exit(2);
}

/* ------------------------------------------------------------ layers -- */

typedef enum { L_CONV, L_POOL, L_IP, L_RELU } lkind_t;

typedef struct {
    const char *name;
    lkind_t kind;
    int ic, oc, g;  /* channels, groups (conv); IP: ic = input channels */
    int ih, iw;     /* IP: spatial extent of the source (1x1 -> 2D src) */
    int kh, kw, sh, sw, ph, pw; /* conv/pool; padding_l = ph/pw, padding_r derived */
} layer_t;

static const layer_t LAYERS[] = {
    {"lecture_conv5x5", L_CONV, 3, 6, 1, 32, 32, 5, 5, 1, 1, 0, 0},
    {"r18_conv3x3_56", L_CONV, 64, 64, 1, 56, 56, 3, 3, 1, 1, 1, 1},
    {"r18_conv3x3_28", L_CONV, 128, 128, 1, 28, 28, 3, 3, 1, 1, 1, 1},
    {"r18_conv3x3_14", L_CONV, 256, 256, 1, 14, 14, 3, 3, 1, 1, 1, 1},
    {"r18_conv3x3_7", L_CONV, 512, 512, 1, 7, 7, 3, 3, 1, 1, 1, 1},
    {"conv1x1_56", L_CONV, 64, 256, 1, 56, 56, 1, 1, 1, 1, 0, 0},
    {"dw_conv3x3_56", L_CONV, 64, 64, 64, 56, 56, 3, 3, 1, 1, 1, 1},
    {"maxpool2x2_56", L_POOL, 64, 64, 1, 56, 56, 2, 2, 2, 2, 0, 0},
    {"maxpool3x3_112", L_POOL, 64, 64, 1, 112, 112, 3, 3, 2, 2, 1, 1},
    {"fc_512_1000", L_IP, 512, 1000, 1, 1, 1, 1, 1, 1, 1, 0, 0},
    /* src [N,512,7,7], weights [4096,512,7,7] (as after VGG's last pool) */
    {"fc_25088_4096", L_IP, 512, 4096, 1, 7, 7, 7, 7, 1, 1, 0, 0},
    {"relu_56", L_RELU, 64, 64, 1, 56, 56, 1, 1, 1, 1, 0, 0},
};
#define N_LAYERS ((int)(sizeof LAYERS / sizeof LAYERS[0]))

static const char *kind_name(lkind_t k) {
    switch (k) {
    case L_CONV: return "conv";
    case L_POOL: return "pooling";
    case L_IP: return "inner_product";
    default: return "eltwise";
    }
}

static int out_size(int in, int k, int s, int p) { return (in + 2 * p - k) / s + 1; }

/* padding_r such that the last window ends exactly at the padded edge */
static int pad_r(int in, int out, int k, int s, int p) { return (out - 1) * s + k - in - p; }

/* Number of (output position, kernel tap) pairs along one axis whose input
 * position lies inside the image (taps on padding are not counted). */
static int64_t valid_pairs(int in, int out, int k, int s, int p) {
    int64_t n = 0;
    for (int o = 0; o < out; o++)
        for (int t = 0; t < k; t++) {
            int i = o * s - p + t;
            if (i >= 0 && i < in) n++;
        }
    return n;
}

/* ----------------------------------------------------------- helpers -- */

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float frand(void) { /* uniform in [-1, 1) */
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (float)((rng_state >> 40) * (1.0 / 8388608.0) - 1.0);
}

static int64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static dnnl_memory_desc_t md_tag(int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag) {
    dnnl_memory_desc_t md;
    CHECK(dnnl_memory_desc_create_with_tag(&md, ndims, dims, dnnl_f32, tag));
    return md;
}

/* Library-allocated memory for md, zeroed (pages touched before timing). */
static dnnl_memory_t mem_new(const_dnnl_memory_desc_t md, dnnl_engine_t eng) {
    dnnl_memory_t m;
    void *p;
    CHECK(dnnl_memory_create(&m, md, eng, DNNL_MEMORY_ALLOCATE));
    CHECK(dnnl_memory_get_data_handle(m, &p));
    size_t sz = dnnl_memory_desc_get_size(md);
    if (p && sz) memset(p, 0, sz);
    return m;
}

/* Plain user memory filled with uniform values in [-scale, scale). */
static dnnl_memory_t mem_user(int ndims, const dnnl_dims_t dims, dnnl_format_tag_t tag,
                              float scale, dnnl_engine_t eng) {
    dnnl_memory_desc_t md = md_tag(ndims, dims, tag);
    dnnl_memory_t m = mem_new(md, eng);
    CHECK(dnnl_memory_desc_destroy(md));
    const_dnnl_memory_desc_t cmd;
    float *p;
    CHECK(dnnl_memory_get_memory_desc(m, &cmd));
    CHECK(dnnl_memory_get_data_handle(m, (void **)&p));
    size_t n = dnnl_memory_desc_get_size(cmd) / sizeof(float);
    for (size_t i = 0; i < n; i++) p[i] = scale * frand();
    return m;
}

/* Returns memory in layout `want` holding the data of `user`; takes
 * ownership of `user` (returned as is when the layouts already match,
 * otherwise reordered once and destroyed). */
static dnnl_memory_t reorder_into(dnnl_memory_t user, const_dnnl_memory_desc_t want,
                                  dnnl_engine_t eng, dnnl_stream_t stream) {
    const_dnnl_memory_desc_t have;
    CHECK(dnnl_memory_get_memory_desc(user, &have));
    if (dnnl_memory_desc_equal(have, want)) return user;
    dnnl_memory_t out = mem_new(want, eng);
    dnnl_primitive_desc_t rpd;
    dnnl_primitive_t r;
    CHECK(dnnl_reorder_primitive_desc_create(&rpd, have, eng, want, eng, NULL));
    CHECK(dnnl_primitive_create(&r, rpd));
    dnnl_exec_arg_t args[2] = {{DNNL_ARG_FROM, user}, {DNNL_ARG_TO, out}};
    CHECK(dnnl_primitive_execute(r, stream, 2, args));
    CHECK(dnnl_stream_wait(stream));
    CHECK(dnnl_primitive_destroy(r));
    CHECK(dnnl_primitive_desc_destroy(rpd));
    CHECK(dnnl_memory_destroy(user));
    return out;
}

/* Layout of md in oneDNN's verbose notation ("abcd", "aBcd16b",
 * "ABcd16b16a", ...), as oneDNN's own md2fmt_tag_str builds it: one letter
 * per dimension ordered by decreasing outer stride (upper case when the
 * dimension is blocked), then the inner blocks. Non-blocked kinds give
 * "any", "opaque", "undef", ... */
static void fmt_str(const_dnnl_memory_desc_t md, char *out, size_t len) {
    if (!md) {
        snprintf(out, len, "none");
        return;
    }
    dnnl_format_kind_t kind;
    CHECK(dnnl_memory_desc_query(md, dnnl_query_format_kind, &kind));
    if (kind != dnnl_blocked) {
        snprintf(out, len, "%s", kind == dnnl_format_kind_any ? "any" : dnnl_fmt_kind2str(kind));
        return;
    }
    int ndims = 0, nblks = 0;
    const dnnl_dims_t *strides, *padded, *blks, *idxs;
    CHECK(dnnl_memory_desc_query(md, dnnl_query_ndims_s32, &ndims));
    CHECK(dnnl_memory_desc_query(md, dnnl_query_strides, &strides));
    CHECK(dnnl_memory_desc_query(md, dnnl_query_padded_dims, &padded));
    CHECK(dnnl_memory_desc_query(md, dnnl_query_inner_nblks_s32, &nblks));
    CHECK(dnnl_memory_desc_query(md, dnnl_query_inner_blks, &blks));
    CHECK(dnnl_memory_desc_query(md, dnnl_query_inner_idxs, &idxs));

    dnnl_dim_t block[DNNL_MAX_NDIMS], outer[DNNL_MAX_NDIMS], stride[DNNL_MAX_NDIMS];
    char letter[DNNL_MAX_NDIMS];
    for (int d = 0; d < ndims; d++) block[d] = 1;
    for (int b = 0; b < nblks; b++) block[(*idxs)[b]] *= (*blks)[b];
    for (int d = 0; d < ndims; d++) {
        letter[d] = (char)((block[d] == 1 ? 'a' : 'A') + d);
        outer[d] = (*padded)[d] / block[d];
        stride[d] = (*strides)[d];
    }
    /* stable bubble sort: stride descending, ties by outer size descending */
    for (int i = 0; i < ndims - 1; i++)
        for (int j = 0; j < ndims - 1 - i; j++) {
            int swap = stride[j] < stride[j + 1]
                    || (stride[j] == stride[j + 1] && outer[j] < outer[j + 1]);
            if (swap) {
                dnnl_dim_t t = stride[j]; stride[j] = stride[j + 1]; stride[j + 1] = t;
                t = outer[j]; outer[j] = outer[j + 1]; outer[j + 1] = t;
                char c = letter[j]; letter[j] = letter[j + 1]; letter[j + 1] = c;
            }
        }
    size_t pos = (size_t)snprintf(out, len, "%.*s", ndims, letter);
    for (int b = 0; b < nblks && pos < len; b++)
        pos += (size_t)snprintf(out + pos, len - pos, "%d%c", (int)(*blks)[b],
                                (char)('a' + (*idxs)[b]));
}

static void print_dims(const char *key, int nd, const dnnl_dims_t d) {
    printf(",\"%s\":[", key);
    for (int i = 0; i < nd; i++) printf("%s%lld", i ? "," : "", (long long)d[i]);
    printf("]");
}

static void json_str(const char *key, const char *s) {
    printf(",\"%s\":\"", key);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') printf("\\%c", c);
        else if (c < 0x20) printf("\\u%04x", c);
        else putchar(c);
    }
    putchar('"');
}

static int cmp_i64(const void *a, const void *b) {
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Destination layout a 3x3/s1/p1 convolution with format_tag_any picks for
 * an N x C x H x W activation: the layout pooling/eltwise would be fed in a
 * network. Returned descriptor is a clone owned by the caller. */
static dnnl_memory_desc_t conv_act_md(dnnl_engine_t eng, int n, int c, int h, int w) {
    dnnl_dims_t act = {n, c, h, w}, wd = {c, c, 3, 3};
    dnnl_dims_t s = {1, 1}, dl = {0, 0}, p = {1, 1};
    dnnl_memory_desc_t a = md_tag(4, act, dnnl_format_tag_any);
    dnnl_memory_desc_t wmd = md_tag(4, wd, dnnl_format_tag_any);
    dnnl_primitive_desc_t pd;
    CHECK(dnnl_convolution_forward_primitive_desc_create(&pd, eng, dnnl_forward_inference,
            dnnl_convolution_direct, a, wmd, NULL, a, s, dl, p, p, NULL));
    dnnl_memory_desc_t out;
    CHECK(dnnl_memory_desc_clone(&out, dnnl_primitive_desc_query_md(pd, dnnl_query_dst_md, 0)));
    CHECK(dnnl_primitive_desc_destroy(pd));
    CHECK(dnnl_memory_desc_destroy(a));
    CHECK(dnnl_memory_desc_destroy(wmd));
    return out;
}

/* pd's descriptor for `what`, or NULL when the primitive has no such
 * argument (oneDNN answers an absent one with a zero descriptor). */
static const_dnnl_memory_desc_t pd_md(const_dnnl_primitive_desc_t pd, dnnl_query_t what) {
    const_dnnl_memory_desc_t md = dnnl_primitive_desc_query_md(pd, what, 0);
    int nd = 0;
    if (md) CHECK(dnnl_memory_desc_query(md, dnnl_query_ndims_s32, &nd));
    return nd > 0 ? md : NULL;
}

/* ------------------------------------------------------------- bench -- */

typedef struct {
    int threads, iters, warmup, act_plain;
} opts_t;

static void bench(const layer_t *L, int mb, const opts_t *o, dnnl_engine_t eng,
                  dnnl_stream_t stream) {
    const int oh = L->kind == L_IP ? 1 : out_size(L->ih, L->kh, L->sh, L->ph);
    const int ow = L->kind == L_IP ? 1 : out_size(L->iw, L->kw, L->sw, L->pw);
    dnnl_dims_t strides = {L->sh, L->sw}, dil = {0, 0}, kern = {L->kh, L->kw};
    dnnl_dims_t pl = {L->ph, L->pw};
    dnnl_dims_t pr = {pad_r(L->ih, oh, L->kh, L->sh, L->ph),
                      pad_r(L->iw, ow, L->kw, L->sw, L->pw)};

    dnnl_dims_t src_d, wei_d, bia_d = {L->oc}, dst_d;
    int src_nd = 4, wei_nd = 0, dst_nd = 4;
    dnnl_format_tag_t src_tag = dnnl_nchw, wei_tag = dnnl_oihw;
    double flops = 0;
    int64_t dst_elems = (int64_t)mb * L->oc * oh * ow;

    src_d[0] = mb; src_d[1] = L->ic; src_d[2] = L->ih; src_d[3] = L->iw;
    dst_d[0] = mb; dst_d[1] = L->oc; dst_d[2] = oh; dst_d[3] = ow;
    switch (L->kind) {
    case L_CONV:
        if (L->g > 1) {
            wei_nd = 5; wei_tag = dnnl_goihw;
            wei_d[0] = L->g; wei_d[1] = L->oc / L->g; wei_d[2] = L->ic / L->g;
            wei_d[3] = L->kh; wei_d[4] = L->kw;
        } else {
            wei_nd = 4;
            wei_d[0] = L->oc; wei_d[1] = L->ic; wei_d[2] = L->kh; wei_d[3] = L->kw;
        }
        flops = 2.0 * mb * L->oc * (L->ic / L->g)
              * (double)valid_pairs(L->ih, oh, L->kh, L->sh, L->ph)
              * (double)valid_pairs(L->iw, ow, L->kw, L->sw, L->pw);
        break;
    case L_IP:
        dst_nd = 2;
        if (L->ih == 1 && L->iw == 1) {
            src_nd = 2; src_tag = dnnl_nc;
            wei_nd = 2; wei_tag = dnnl_oi;
            wei_d[0] = L->oc; wei_d[1] = L->ic;
        } else {
            wei_nd = 4;
            wei_d[0] = L->oc; wei_d[1] = L->ic; wei_d[2] = L->ih; wei_d[3] = L->iw;
        }
        flops = 2.0 * mb * L->oc * (double)L->ic * L->ih * L->iw;
        break;
    default: break; /* pooling, eltwise: flops reported as 0 */
    }

    /* attributes: user-managed scratchpad */
    dnnl_primitive_attr_t attr;
    CHECK(dnnl_primitive_attr_create(&attr));
    CHECK(dnnl_primitive_attr_set_scratchpad_mode(attr, dnnl_scratchpad_mode_user));

    dnnl_primitive_desc_t pd;
    dnnl_memory_desc_t src_md, wei_md = NULL, bia_md = NULL;
    dnnl_memory_desc_t dst_any = md_tag(dst_nd, dst_d, dnnl_format_tag_any);
    if (L->kind == L_CONV || L->kind == L_IP) {
        src_md = md_tag(src_nd, src_d, dnnl_format_tag_any);
        wei_md = md_tag(wei_nd, wei_d, dnnl_format_tag_any);
        bia_md = md_tag(1, bia_d, dnnl_x);
        if (L->kind == L_CONV)
            CHECK(dnnl_convolution_forward_primitive_desc_create(&pd, eng,
                    dnnl_forward_inference, dnnl_convolution_direct, src_md, wei_md,
                    bia_md, dst_any, strides, dil, pl, pr, attr));
        else
            CHECK(dnnl_inner_product_forward_primitive_desc_create(&pd, eng,
                    dnnl_forward_inference, src_md, wei_md, bia_md, dst_any, attr));
    } else {
        src_md = o->act_plain ? md_tag(4, src_d, dnnl_nchw)
                              : conv_act_md(eng, mb, L->ic, L->ih, L->iw);
        if (L->kind == L_POOL)
            CHECK(dnnl_pooling_forward_primitive_desc_create(&pd, eng,
                    dnnl_forward_inference, dnnl_pooling_max, src_md, dst_any, strides,
                    kern, dil, pl, pr, attr));
        else
            CHECK(dnnl_eltwise_forward_primitive_desc_create(&pd, eng,
                    dnnl_forward_inference, dnnl_eltwise_relu, src_md, dst_any, 0.f, 0.f,
                    attr));
    }
    CHECK(dnnl_memory_desc_destroy(dst_any));
    CHECK(dnnl_memory_desc_destroy(src_md));
    if (wei_md) CHECK(dnnl_memory_desc_destroy(wei_md));
    if (bia_md) CHECK(dnnl_memory_desc_destroy(bia_md));
    CHECK(dnnl_primitive_attr_destroy(attr));

    /* the formats the primitive chose (owned by pd) */
    const_dnnl_memory_desc_t q_src = pd_md(pd, dnnl_query_src_md);
    const_dnnl_memory_desc_t q_wei = pd_md(pd, dnnl_query_weights_md);
    const_dnnl_memory_desc_t q_dst = pd_md(pd, dnnl_query_dst_md);
    const_dnnl_memory_desc_t q_scr = pd_md(pd, dnnl_query_scratchpad_md);
    const_dnnl_memory_desc_t q_ws = pd_md(pd, dnnl_query_workspace_md);
    const char *impl = NULL;
    CHECK(dnnl_primitive_desc_query(pd, dnnl_query_impl_info_str, 0, &impl));

    /* data: user layouts -> chosen layouts, once, outside the timed loop */
    dnnl_memory_t src, wei = NULL, bia = NULL, dst, scr = NULL, ws = NULL;
    src = reorder_into(mem_user(src_nd, src_d, src_tag, 1.f, eng), q_src, eng, stream);
    if (q_wei) {
        double fan_in = (double)(L->ic / L->g) * (L->kind == L_IP ? L->ih * L->iw : L->kh * L->kw);
        float ws_scale = (float)(1.0 / sqrt(fan_in));
        wei = reorder_into(mem_user(wei_nd, wei_d, wei_tag, ws_scale, eng), q_wei, eng, stream);
        bia = mem_user(1, bia_d, dnnl_x, 0.1f, eng);
    }
    dst = mem_new(q_dst, eng);
    if (q_scr && dnnl_memory_desc_get_size(q_scr) > 0) scr = mem_new(q_scr, eng);
    if (q_ws && dnnl_memory_desc_get_size(q_ws) > 0) ws = mem_new(q_ws, eng);

    dnnl_exec_arg_t args[6];
    int nargs = 0;
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SRC, src};
    if (wei) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WEIGHTS, wei};
    if (bia) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_BIAS, bia};
    args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_DST, dst};
    if (scr) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_SCRATCHPAD, scr};
    if (ws) args[nargs++] = (dnnl_exec_arg_t){DNNL_ARG_WORKSPACE, ws};

    dnnl_primitive_t prim;
    CHECK(dnnl_primitive_create(&prim, pd));

    for (int i = 0; i < o->warmup; i++) {
        CHECK(dnnl_primitive_execute(prim, stream, nargs, args));
        CHECK(dnnl_stream_wait(stream));
    }
    int64_t *t = malloc(sizeof(int64_t) * (size_t)o->iters);
    if (!t) die("out of memory");
    for (int i = 0; i < o->iters; i++) {
        int64_t t0 = now_ns();
        CHECK(dnnl_primitive_execute(prim, stream, nargs, args));
        CHECK(dnnl_stream_wait(stream));
        t[i] = now_ns() - t0;
    }
    qsort(t, (size_t)o->iters, sizeof *t, cmp_i64);
    int64_t med = (o->iters % 2) ? t[o->iters / 2]
                                 : (t[o->iters / 2 - 1] + t[o->iters / 2]) / 2;
    int64_t mn = t[0];
    free(t);

    char sf[64], wf[64], df[64];
    fmt_str(q_src, sf, sizeof sf);
    fmt_str(q_wei, wf, sizeof wf);
    fmt_str(q_dst, df, sizeof df);

    printf("{\"layer\":\"%s\",\"kind\":\"%s\",\"batch\":%d,\"threads\":%d", L->name,
           kind_name(L->kind), mb, o->threads);
    printf(",\"median_ns\":%lld,\"min_ns\":%lld,\"iters\":%d,\"warmup\":%d",
           (long long)med, (long long)mn, o->iters, o->warmup);
    json_str("impl", impl ? impl : "");
    json_str("src_fmt", sf);
    json_str("wei_fmt", wf);
    json_str("dst_fmt", df);
    printf(",\"flops\":%.0f,\"gflops_median\":%.3f,\"dst_elems\":%lld", flops,
           flops / (double)med, (long long)dst_elems);
    print_dims("src_dims", src_nd, src_d);
    if (wei_nd) print_dims("wei_dims", wei_nd, wei_d);
    print_dims("dst_dims", dst_nd, dst_d);
    printf("}\n");
    fflush(stdout);

    CHECK(dnnl_primitive_destroy(prim));
    CHECK(dnnl_memory_destroy(src));
    if (wei) CHECK(dnnl_memory_destroy(wei));
    if (bia) CHECK(dnnl_memory_destroy(bia));
    CHECK(dnnl_memory_destroy(dst));
    if (scr) CHECK(dnnl_memory_destroy(scr));
    if (ws) CHECK(dnnl_memory_destroy(ws));
    CHECK(dnnl_primitive_desc_destroy(pd));
}

/* -------------------------------------------------------------- main -- */

static void usage(void) {
    fprintf(stderr,
            "usage: onednn_layers [--threads T] [--iters N] [--warmup W]\n"
            "                     [--batch B ...] [--only name,name] [--act-fmt conv|plain]\n"
            "layers:");
    for (int i = 0; i < N_LAYERS; i++) fprintf(stderr, " %s", LAYERS[i].name);
    fprintf(stderr, "\n");
    exit(2);
}

static int pos_int(const char *s) {
    char *end;
    long v = strtol(s, &end, 10);
    if (*s == 0 || *end != 0 || v <= 0 || v > 1000000000) usage();
    return (int)v;
}

int main(int argc, char **argv) {
    opts_t o = {0, 100, 10, 0};
    int batches[16], nb = 0;
    int selected[N_LAYERS];
    int any_only = 0;
    for (int i = 0; i < N_LAYERS; i++) selected[i] = 1;

    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) usage();
        if (i + 1 >= argc) usage();
        if (!strcmp(a, "--threads")) o.threads = pos_int(argv[++i]);
        else if (!strcmp(a, "--iters")) o.iters = pos_int(argv[++i]);
        else if (!strcmp(a, "--warmup")) {
            o.warmup = atoi(argv[++i]);
            if (o.warmup < 0) usage();
        } else if (!strcmp(a, "--act-fmt")) {
            const char *v = argv[++i];
            if (!strcmp(v, "plain")) o.act_plain = 1;
            else if (!strcmp(v, "conv")) o.act_plain = 0;
            else usage();
        } else if (!strcmp(a, "--batch")) {
            /* --batch 1 8, --batch 1,8 or repeated --batch */
            while (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
                char buf[256];
                snprintf(buf, sizeof buf, "%s", argv[++i]);
                for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                    if (nb == 16) die("too many batch sizes");
                    batches[nb++] = pos_int(tok);
                }
            }
        } else if (!strcmp(a, "--only")) {
            if (!any_only)
                for (int k = 0; k < N_LAYERS; k++) selected[k] = 0;
            any_only = 1;
            char buf[1024];
            snprintf(buf, sizeof buf, "%s", argv[++i]);
            for (char *tok = strtok(buf, ","); tok; tok = strtok(NULL, ",")) {
                int found = 0;
                for (int k = 0; k < N_LAYERS; k++)
                    if (!strcmp(tok, LAYERS[k].name)) selected[k] = found = 1;
                if (!found) {
                    fprintf(stderr, "onednn_layers: unknown layer '%s'\n", tok);
                    usage();
                }
            }
        } else usage();
    }
    if (nb == 0) {
        batches[nb++] = 1;
        batches[nb++] = 8;
    }
    if (o.threads > 0) omp_set_num_threads(o.threads); /* before any primitive */
    o.threads = omp_get_max_threads();

    dnnl_engine_t eng;
    dnnl_stream_t stream;
    CHECK(dnnl_engine_create(&eng, dnnl_cpu, 0));
    CHECK(dnnl_stream_create(&stream, eng, dnnl_stream_default_flags));

    for (int l = 0; l < N_LAYERS; l++) {
        if (!selected[l]) continue;
        for (int b = 0; b < nb; b++) bench(&LAYERS[l], batches[b], &o, eng, stream);
    }

    CHECK(dnnl_stream_destroy(stream));
    CHECK(dnnl_engine_destroy(eng));
    return 0;
}
