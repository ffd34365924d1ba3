/* GGUF v3: bounds-checked reader over a mapped file, and a writer (layout in gguf.h). */
#include "formats/gguf.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GGUF_MAGIC 0x46554747u /* "GGUF" little-endian */
#define MAX_DIMS 4
#define MAX_NAME 64            /* ggml's GGML_MAX_NAME, the terminator included */

static const uint64_t type_size[TL_GGUF_N_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

/* ---- reader ---- */

typedef struct cursor {
    const unsigned char *p;
    uint64_t left;
    const char *path;
    tl_err *e;
} cursor;

static int take(cursor *c, uint64_t n, const unsigned char **out, const char *what) {
    if (n > c->left) return tl_errf(c->e, "%s: truncated: %s needs %llu bytes, %llu left", c->path, what, (unsigned long long)n,
                                    (unsigned long long)c->left);
    *out = c->p;
    c->p += n;
    c->left -= n;
    return 0;
}

static int get_u32(cursor *c, uint32_t *v, const char *what) {
    const unsigned char *p = NULL;
    if (take(c, 4, &p, what)) return -1;
    *v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return 0;
}

static int get_u64(cursor *c, uint64_t *v, const char *what) {
    uint32_t lo, hi;
    if (get_u32(c, &lo, what) || get_u32(c, &hi, what)) return -1;
    *v = (uint64_t)hi << 32 | lo;
    return 0;
}

static int get_str(cursor *c, tl_gguf_str *s, const char *what) {
    const unsigned char *p = NULL;
    if (get_u64(c, &s->n, what)) return -1;
    if (take(c, s->n, &p, what)) return -1;
    s->p = (const char *)p;
    return 0;
}

static int cmp_str(const tl_gguf_str *a, const tl_gguf_str *b) {
    if (a->n != b->n) return a->n < b->n ? -1 : 1;
    return memcmp(a->p, b->p, a->n);
}
static int cmp_kv(const void *a, const void *b) { return cmp_str(&(*(tl_gguf_kv *const *)a)->key, &(*(tl_gguf_kv *const *)b)->key); }
static int cmp_tname(const void *a, const void *b) {
    return cmp_str(&(*(tl_gguf_tensor *const *)a)->name, &(*(tl_gguf_tensor *const *)b)->name);
}
static int cmp_toff(const void *a, const void *b) {
    uint64_t x = (*(tl_gguf_tensor *const *)a)->offset, y = (*(tl_gguf_tensor *const *)b)->offset;
    return x < y ? -1 : x > y;
}

static int read_kv(cursor *c, tl_gguf_kv *kv, uint64_t i) {
    char what[64];
    snprintf(what, sizeof what, "key/value %llu", (unsigned long long)i);
    if (get_str(c, &kv->key, what) || get_u32(c, &kv->type, what)) return -1;
    if (kv->key.n == 0 || kv->key.n > 65535)
        return tl_errf(c->e, "%s: %s: key length %llu (must be 1..65535)", c->path, what, (unsigned long long)kv->key.n);
    kv->n = 1;
    uint32_t et = kv->type;
    if (kv->type == TL_GGUF_ARRAY) {
        if (get_u32(c, &kv->elem_type, what) || get_u64(c, &kv->n, what)) return -1;
        et = kv->elem_type;
        if (et == TL_GGUF_ARRAY) return tl_errf(c->e, "%s: key '%.*s': nested arrays are not supported", c->path, (int)kv->key.n, kv->key.p);
    }
    if (et >= TL_GGUF_N_TYPES) return tl_errf(c->e, "%s: key '%.*s': unknown value type %u", c->path, (int)kv->key.n, kv->key.p, et);
    if (et == TL_GGUF_STRING) {
        if (kv->n > c->left / 8) /* each string takes at least its 8-byte length */
            return tl_errf(c->e, "%s: key '%.*s': %llu strings cannot fit in the %llu bytes left", c->path, (int)kv->key.n, kv->key.p,
                           (unsigned long long)kv->n, (unsigned long long)c->left);
        if (!(kv->strs = tl_calloc(kv->n ? kv->n : 1, sizeof *kv->strs, c->e))) return -1;
        for (uint64_t k = 0; k < kv->n; k++)
            if (get_str(c, &kv->strs[k], what)) return -1;
        return 0;
    }
    if (kv->n > c->left / type_size[et])
        return tl_errf(c->e, "%s: key '%.*s': %llu values cannot fit in the %llu bytes left", c->path, (int)kv->key.n, kv->key.p,
                       (unsigned long long)kv->n, (unsigned long long)c->left);
    if (take(c, kv->n * type_size[et], &kv->data, what)) return -1;
    if (et == TL_GGUF_BOOL)
        for (uint64_t k = 0; k < kv->n; k++)
            if (kv->data[k] > 1) return tl_errf(c->e, "%s: key '%.*s': bool value %u", c->path, (int)kv->key.n, kv->key.p, kv->data[k]);
    return 0;
}

static int read_tensor(cursor *c, tl_gguf_tensor *t, uint64_t i) {
    char what[64];
    snprintf(what, sizeof what, "tensor info %llu", (unsigned long long)i);
    if (get_str(c, &t->name, what) || get_u32(c, &t->n_dims, what)) return -1;
    if (t->name.n == 0 || t->name.n >= MAX_NAME)
        return tl_errf(c->e, "%s: %s: name length %llu (must be 1..%d)", c->path, what, (unsigned long long)t->name.n, MAX_NAME - 1);
    if (t->n_dims < 1 || t->n_dims > MAX_DIMS)
        return tl_errf(c->e, "%s: tensor '%.*s': %u dimensions (must be 1..4)", c->path, (int)t->name.n, t->name.p, t->n_dims);
    uint64_t count = 1;
    for (uint32_t d = 0; d < t->n_dims; d++) {
        if (get_u64(c, &t->ne[d], what)) return -1;
        if (t->ne[d] == 0 || t->ne[d] > (1ULL << 40) || count > (1ULL << 50) / t->ne[d])
            return tl_errf(c->e, "%s: tensor '%.*s': dimension %u = %llu is zero or makes the element count overflow", c->path,
                           (int)t->name.n, t->name.p, d, (unsigned long long)t->ne[d]);
        count *= t->ne[d];
    }
    if (get_u32(c, &t->type, what) || get_u64(c, &t->offset, what)) return -1;
    uint64_t rb = tl_ggml_row_bytes(t->type, t->ne[0]);
    /* ggml's other types by number, for a message a user can act on (tinyllm reads none of them) */
    static const char *const other[] = {[3] = "q4_1", [6] = "q5_0", [7] = "q5_1", [9] = "q8_1", [10] = "q2_K",
                                        [11] = "q3_K", [12] = "q4_K", [13] = "q5_K", [14] = "q6_K", [15] = "q8_K",
                                        [30] = "bf16"};
    if (!rb && t->type < sizeof other / sizeof *other && other[t->type])
        return tl_errf(c->e, "%s: tensor '%.*s' is %s (ggml type %u), which tinyllm does not read (f32, f16, q8_0, q4_0): "
                             "quantize the f16/f32 file with tinyllm quantize, or llama-quantize to q8_0/q4_0",
                       c->path, (int)t->name.n, t->name.p, other[t->type], t->type);
    if (!rb) return tl_errf(c->e, "%s: tensor '%.*s': ggml type %u is unknown or its rows do not fit its blocks", c->path,
                            (int)t->name.n, t->name.p, t->type);
    t->nbytes = rb * (count / t->ne[0]);
    return 0;
}

int tl_gguf_open(tl_gguf *g, const char *path, tl_err *e) {
    memset(g, 0, sizeof *g);
    if (tl_map_open(&g->map, path, e)) return -1;
    cursor c = {g->map.data, g->map.size, path, e};
    uint32_t magic;
    int rc = get_u32(&c, &magic, "magic");
    if (!rc && magic != GGUF_MAGIC) rc = tl_errf(e, "%s: not a GGUF file (bad magic)", path);
    if (!rc) rc = get_u32(&c, &g->version, "version");
    if (!rc && g->version != 3) rc = tl_errf(e, "%s: GGUF version %u is not supported (this build reads 3)", path, g->version);
    if (!rc) rc = get_u64(&c, &g->n_tensors, "tensor count") || get_u64(&c, &g->n_kv, "key/value count");
    /* every key/value takes at least 8 + 1 + 4 + 1 bytes, every tensor info 8 + 1 + 4 + 8 + 4 + 8 */
    if (!rc && (g->n_kv > c.left / 14 || g->n_tensors > c.left / 33))
        rc = tl_errf(e, "%s: %llu key/values and %llu tensors cannot fit in a %zu-byte file", path, (unsigned long long)g->n_kv,
                     (unsigned long long)g->n_tensors, g->map.size);
    if (!rc && !(g->kv = tl_calloc(g->n_kv ? g->n_kv : 1, sizeof *g->kv, e))) rc = -1;
    for (uint64_t i = 0; i < g->n_kv && !rc; i++) rc = read_kv(&c, &g->kv[i], i);
    g->alignment = 32;
    if (!rc) {
        const tl_gguf_kv *a = tl_gguf_find_kv(g, "general.alignment");
        if (a && (a->type != TL_GGUF_U32 || tl_gguf_get_u32(g, "general.alignment", &g->alignment) || !g->alignment ||
                  (g->alignment & (g->alignment - 1)) || g->alignment > 65536))
            rc = tl_errf(e, "%s: general.alignment must be a u32 power of two up to 65536", path);
    }
    if (!rc && !(g->tensors = tl_calloc(g->n_tensors ? g->n_tensors : 1, sizeof *g->tensors, e))) rc = -1;
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++) rc = read_tensor(&c, &g->tensors[i], i);
    uint64_t start = g->map.size - c.left, data = rc ? 0 : (start + g->alignment - 1) / g->alignment * g->alignment;
    if (!rc && data > g->map.size && g->n_tensors) rc = tl_errf(e, "%s: truncated before the tensor data", path);
    void **sorted = NULL;
    uint64_t most = g->n_kv > g->n_tensors ? g->n_kv : g->n_tensors;
    if (!rc && !(sorted = tl_calloc(most ? most : 1, sizeof *sorted, e))) rc = -1;
    if (!rc && g->n_kv > 1) { /* duplicate keys */
        for (uint64_t i = 0; i < g->n_kv; i++) sorted[i] = &g->kv[i];
        qsort(sorted, g->n_kv, sizeof *sorted, cmp_kv);
        for (uint64_t i = 1; i < g->n_kv && !rc; i++)
            if (!cmp_kv(&sorted[i - 1], &sorted[i])) {
                const tl_gguf_kv *k = sorted[i];
                rc = tl_errf(e, "%s: key '%.*s' appears twice", path, (int)k->key.n, k->key.p);
            }
    }
    for (uint64_t i = 0; i < g->n_tensors && !rc; i++) { /* offsets: aligned, inside the data */
        tl_gguf_tensor *t = &g->tensors[i];
        uint64_t room = g->map.size - data;
        if (t->offset % g->alignment) rc = tl_errf(e, "%s: tensor '%.*s': offset %llu is not a multiple of the alignment %u", path,
                                                   (int)t->name.n, t->name.p, (unsigned long long)t->offset, g->alignment);
        else if (t->offset > room || t->nbytes > room - t->offset)
            rc = tl_errf(e, "%s: tensor '%.*s': %llu bytes at offset %llu run past the end of the file", path, (int)t->name.n, t->name.p,
                         (unsigned long long)t->nbytes, (unsigned long long)t->offset);
        else t->data = g->map.data + data + t->offset;
    }
    if (!rc && g->n_tensors > 1) { /* duplicate names, overlaps */
        for (uint64_t i = 0; i < g->n_tensors; i++) sorted[i] = &g->tensors[i];
        qsort(sorted, g->n_tensors, sizeof *sorted, cmp_tname);
        for (uint64_t i = 1; i < g->n_tensors && !rc; i++)
            if (!cmp_tname(&sorted[i - 1], &sorted[i])) {
                const tl_gguf_tensor *t = sorted[i];
                rc = tl_errf(e, "%s: tensor '%.*s' appears twice", path, (int)t->name.n, t->name.p);
            }
        qsort(sorted, g->n_tensors, sizeof *sorted, cmp_toff);
        for (uint64_t i = 1; i < g->n_tensors && !rc; i++) {
            const tl_gguf_tensor *a = sorted[i - 1], *b = sorted[i];
            if (a->offset + a->nbytes > b->offset)
                rc = tl_errf(e, "%s: tensors '%.*s' and '%.*s' overlap", path, (int)a->name.n, a->name.p, (int)b->name.n, b->name.p);
        }
    }
    free(sorted);
    if (rc) tl_gguf_close(g);
    return rc;
}

void tl_gguf_close(tl_gguf *g) {
    for (uint64_t i = 0; g->kv && i < g->n_kv; i++) free(g->kv[i].strs);
    free(g->kv);
    free(g->tensors);
    tl_map_close(&g->map);
    memset(g, 0, sizeof *g);
}

const tl_gguf_kv *tl_gguf_find_kv(const tl_gguf *g, const char *key) {
    size_t n = strlen(key);
    for (uint64_t i = 0; i < g->n_kv; i++)
        if (g->kv[i].key.n == n && !memcmp(g->kv[i].key.p, key, n)) return &g->kv[i];
    return NULL;
}

const tl_gguf_tensor *tl_gguf_find_tensor(const tl_gguf *g, const char *name) {
    size_t n = strlen(name);
    for (uint64_t i = 0; i < g->n_tensors; i++)
        if (g->tensors[i].name.n == n && !memcmp(g->tensors[i].name.p, name, n)) return &g->tensors[i];
    return NULL;
}

int tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out) {
    const tl_gguf_kv *kv = tl_gguf_find_kv(g, key);
    if (!kv || kv->type == TL_GGUF_ARRAY || kv->type == TL_GGUF_STRING || kv->type == TL_GGUF_F32 || kv->type == TL_GGUF_F64)
        return -1;
    uint64_t v = 0;
    for (uint64_t b = 0; b < type_size[kv->type]; b++) v |= (uint64_t)kv->data[b] << (8 * b);
    int neg = (kv->type == TL_GGUF_I8 || kv->type == TL_GGUF_I16 || kv->type == TL_GGUF_I32 || kv->type == TL_GGUF_I64) &&
              (kv->data[type_size[kv->type] - 1] & 0x80);
    if (neg || v > UINT32_MAX) return -1;
    *out = (uint32_t)v;
    return 0;
}

const tl_gguf_str *tl_gguf_get_str(const tl_gguf *g, const char *key) {
    const tl_gguf_kv *kv = tl_gguf_find_kv(g, key);
    return kv && kv->type == TL_GGUF_STRING ? &kv->strs[0] : NULL;
}

int tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out) {
    const tl_gguf_kv *kv = tl_gguf_find_kv(g, key);
    if (!kv || kv->type != TL_GGUF_F32) return -1;
    uint32_t u = (uint32_t)kv->data[0] | (uint32_t)kv->data[1] << 8 | (uint32_t)kv->data[2] << 16 | (uint32_t)kv->data[3] << 24;
    memcpy(out, &u, 4);
    return 0;
}

/* ---- writer ---- */

typedef struct wkv {
    char *key;
    uint32_t type, elem_type;
    uint64_t n;
    unsigned char *data; /* scalars, numeric arrays: raw LE; strings: concatenated, NUL-separated */
    size_t nbytes;
} wkv;

typedef struct wtensor {
    char name[MAX_NAME];
    const float *data;
    uint32_t n_dims, type;
    uint64_t ne[MAX_DIMS], count;
} wtensor;

struct tl_gguf_writer {
    wkv *kv;
    int n_kv, cap_kv;
    wtensor *t;
    int n_t, cap_t;
};

int tl_gguf_writer_init(tl_gguf_writer **w, tl_err *e) { return (*w = tl_calloc(1, sizeof **w, e)) ? 0 : -1; }

void tl_gguf_writer_free(tl_gguf_writer *w) {
    if (!w) return;
    for (int i = 0; i < w->n_kv; i++) free(w->kv[i].key), free(w->kv[i].data);
    free(w->kv);
    free(w->t);
    free(w);
}

static int put(tl_gguf_writer *w, const char *key, uint32_t type, uint32_t elem_type, uint64_t n, const void *data, size_t nbytes,
               tl_err *e) {
    if (w->n_kv == w->cap_kv) {
        int cap = w->cap_kv ? 2 * w->cap_kv : 32;
        wkv *kv = realloc(w->kv, sizeof *kv * (size_t)cap);
        if (!kv) return tl_errf(e, "out of memory");
        w->kv = kv, w->cap_kv = cap;
    }
    wkv *k = &w->kv[w->n_kv];
    *k = (wkv){.key = strdup(key), .type = type, .elem_type = elem_type, .n = n, .data = malloc(nbytes ? nbytes : 1), .nbytes = nbytes};
    if (!k->key || !k->data) {
        free(k->key), free(k->data);
        return tl_errf(e, "out of memory");
    }
    memcpy(k->data, data, nbytes);
    w->n_kv++;
    return 0;
}

static void le32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

int tl_gguf_put_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_err *e) {
    unsigned char b[4];
    le32(b, v);
    return put(w, key, TL_GGUF_U32, 0, 1, b, 4, e);
}

int tl_gguf_put_f32(tl_gguf_writer *w, const char *key, float v, tl_err *e) {
    uint32_t u;
    memcpy(&u, &v, 4);
    return tl_gguf_put_u32(w, key, u, e) ? -1 : (w->kv[w->n_kv - 1].type = TL_GGUF_F32, 0);
}

int tl_gguf_put_str(tl_gguf_writer *w, const char *key, const char *v, tl_err *e) {
    return put(w, key, TL_GGUF_STRING, 0, 1, v, strlen(v) + 1, e);
}

int tl_gguf_put_strs(tl_gguf_writer *w, const char *key, const char *const *v, uint64_t n, tl_err *e) {
    size_t total = 0;
    for (uint64_t i = 0; i < n; i++) total += strlen(v[i]) + 1;
    char *buf = malloc(total ? total : 1), *p = buf;
    if (!buf) return tl_errf(e, "out of memory");
    for (uint64_t i = 0; i < n; i++) {
        size_t l = strlen(v[i]) + 1;
        memcpy(p, v[i], l);
        p += l;
    }
    int rc = put(w, key, TL_GGUF_ARRAY, TL_GGUF_STRING, n, buf, total, e);
    free(buf);
    return rc;
}

int tl_gguf_put_i32s(tl_gguf_writer *w, const char *key, const int32_t *v, uint64_t n, tl_err *e) {
    unsigned char *buf = malloc(n * 4 + 1);
    if (!buf) return tl_errf(e, "out of memory");
    for (uint64_t i = 0; i < n; i++) le32(buf + 4 * i, (uint32_t)v[i]);
    int rc = put(w, key, TL_GGUF_ARRAY, TL_GGUF_I32, n, buf, n * 4, e);
    free(buf);
    return rc;
}

int tl_gguf_put_kv(tl_gguf_writer *w, const tl_gguf_kv *kv, tl_err *e) {
    char *key = strndup(kv->key.p, (size_t)kv->key.n); /* strings holding a NUL end there */
    if (!key) return tl_errf(e, "out of memory");
    int is_str = kv->type == TL_GGUF_STRING || (kv->type == TL_GGUF_ARRAY && kv->elem_type == TL_GGUF_STRING);
    int rc;
    if (!is_str) {
        rc = put(w, key, kv->type, kv->elem_type, kv->n, kv->data,
                 kv->n * type_size[kv->type == TL_GGUF_ARRAY ? kv->elem_type : kv->type], e);
        free(key);
        return rc;
    }
    size_t total = 0;
    for (uint64_t i = 0; i < kv->n; i++) total += kv->strs[i].n + 1;
    char *buf = malloc(total ? total : 1), *p = buf;
    if (!buf) return free(key), tl_errf(e, "out of memory");
    for (uint64_t i = 0; i < kv->n; i++) {
        memcpy(p, kv->strs[i].p, kv->strs[i].n);
        p += kv->strs[i].n;
        *p++ = 0;
    }
    rc = put(w, key, kv->type, kv->elem_type, kv->n, buf, total, e);
    free(buf);
    free(key);
    return rc;
}

int tl_gguf_add_tensor(tl_gguf_writer *w, const char *name, const float *data, int n_dims, const uint64_t *ne, uint32_t type,
                       tl_err *e) {
    if (strlen(name) >= MAX_NAME || n_dims < 1 || n_dims > MAX_DIMS || !tl_ggml_row_bytes(type, ne[0]))
        return tl_errf(e, "gguf: tensor '%s': bad name, shape, or a type its rows do not fit", name);
    if (w->n_t == w->cap_t) {
        int cap = w->cap_t ? 2 * w->cap_t : 64;
        wtensor *t = realloc(w->t, sizeof *t * (size_t)cap);
        if (!t) return tl_errf(e, "out of memory");
        w->t = t, w->cap_t = cap;
    }
    wtensor *t = &w->t[w->n_t++];
    memset(t, 0, sizeof *t);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->data = data, t->n_dims = (uint32_t)n_dims, t->type = type, t->count = 1;
    for (int d = 0; d < n_dims; d++) t->ne[d] = ne[d], t->count *= ne[d];
    return 0;
}

static int wr(tl_afile *a, const void *p, size_t n, tl_err *e) { return tl_afile_write(a, p, n, e); }
static int wr32(tl_afile *a, uint32_t v, tl_err *e) {
    unsigned char b[4];
    le32(b, v);
    return wr(a, b, 4, e);
}
static int wr64(tl_afile *a, uint64_t v, tl_err *e) { return wr32(a, (uint32_t)v, e) || wr32(a, (uint32_t)(v >> 32), e); }
static int wrstr(tl_afile *a, const char *s, size_t n, tl_err *e) { return wr64(a, n, e) || wr(a, s, n, e); }

int tl_gguf_write(tl_gguf_writer *w, const char *path, tl_err *e) {
    uint32_t align = 32; /* GGUF's default, or the file's general.alignment (a u32 power of two up to 64) */
    for (int i = 0; i < w->n_kv; i++)
        if (!strcmp(w->kv[i].key, "general.alignment")) {
            const unsigned char *d = w->kv[i].data; /* stored little-endian, like every key */
            uint32_t v = w->kv[i].type == TL_GGUF_U32 ? (uint32_t)d[0] | (uint32_t)d[1] << 8 | (uint32_t)d[2] << 16 | (uint32_t)d[3] << 24 : 0;
            if (!v || (v & (v - 1)) || v > 64) return tl_errf(e, "%s: general.alignment %u: this writer takes powers of two up to 64", path, v);
            align = v;
        }
    tl_afile a;
    if (tl_afile_open(&a, path, e)) return -1;
    int rc = wr32(&a, GGUF_MAGIC, e) || wr32(&a, 3, e) || wr64(&a, (uint64_t)w->n_t, e) || wr64(&a, (uint64_t)w->n_kv, e);
    uint64_t pos = 24;
    for (int i = 0; i < w->n_kv && !rc; i++) {
        const wkv *k = &w->kv[i];
        rc = wrstr(&a, k->key, strlen(k->key), e) || wr32(&a, k->type, e);
        pos += 8 + strlen(k->key) + 4;
        if (!rc && k->type == TL_GGUF_ARRAY) {
            rc = wr32(&a, k->elem_type, e) || wr64(&a, k->n, e);
            pos += 12;
        }
        if (!rc && (k->type == TL_GGUF_STRING || k->elem_type == TL_GGUF_STRING)) {
            const char *s = (const char *)k->data;
            for (uint64_t j = 0; j < k->n && !rc; j++) {
                size_t l = strlen(s);
                rc = wrstr(&a, s, l, e);
                pos += 8 + l;
                s += l + 1;
            }
        } else if (!rc) {
            rc = wr(&a, k->data, k->nbytes, e);
            pos += k->nbytes;
        }
    }
    uint64_t off = 0;
    for (int i = 0; i < w->n_t && !rc; i++) {
        const wtensor *t = &w->t[i];
        rc = wrstr(&a, t->name, strlen(t->name), e) || wr32(&a, t->n_dims, e);
        for (uint32_t d = 0; d < t->n_dims && !rc; d++) rc = wr64(&a, t->ne[d], e);
        rc = rc || wr32(&a, t->type, e) || wr64(&a, off, e);
        pos += 8 + strlen(t->name) + 4 + 8 * t->n_dims + 12;
        off += (tl_ggml_row_bytes(t->type, t->ne[0]) * (t->count / t->ne[0]) + align - 1) / align * align;
    }
    static const unsigned char zeros[64];
    if (!rc && pos % align) rc = wr(&a, zeros, align - pos % align, e);
    unsigned char *row = NULL;
    for (int i = 0; i < w->n_t && !rc; i++) {
        const wtensor *t = &w->t[i];
        uint64_t rb = tl_ggml_row_bytes(t->type, t->ne[0]), rows = t->count / t->ne[0], bytes = rb * rows;
        unsigned char *r = realloc(row, rb);
        if (!r) rc = tl_errf(e, "out of memory");
        else row = r;
        for (uint64_t j = 0; j < rows && !rc; j++) {
            tl_quant_row(t->type, t->data + j * t->ne[0], t->ne[0], row);
            rc = wr(&a, row, rb, e);
        }
        if (!rc && bytes % align) rc = wr(&a, zeros, align - bytes % align, e);
    }
    free(row);
    if (rc) {
        tl_afile_abort(&a);
        return -1;
    }
    return tl_afile_commit(&a, e);
}
