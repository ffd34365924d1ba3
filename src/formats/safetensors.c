/* safetensors: hostile-input reader over an mmap, and an atomic writer (layout in safetensors.h). */
#include "formats/safetensors.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#define ST_MAX_HEADER (100u << 20)

static const struct {
    const char *name;
    tl_st_dtype dt;
    size_t size;
} dtypes[] = {{"F32", TL_ST_F32, 4}, {"F16", TL_ST_F16, 2}, {"BF16", TL_ST_BF16, 2},
              {"F64", TL_ST_F64, 8}, {"I32", TL_ST_I32, 4}, {"I64", TL_ST_I64, 8}, {"U8", TL_ST_U8, 1}};

size_t tl_st_dtype_size(tl_st_dtype d) {
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dt == d) return dtypes[i].size;
    return 0;
}

static const char *dtype_name(tl_st_dtype d) {
    for (size_t i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (dtypes[i].dt == d) return dtypes[i].name;
    return "?";
}

/* Element count * dtype size, or -1 on a negative dim or overflow. */
static int shape_bytes(const int64_t *shape, int ndim, size_t elem, uint64_t *out) {
    uint64_t n = elem;
    for (int d = 0; d < ndim; d++) {
        if (shape[d] < 0) return -1;
        if (shape[d] && n > UINT64_MAX / (uint64_t)shape[d]) return -1;
        n *= (uint64_t)shape[d];
    }
    *out = n;
    return 0;
}

static int by_offset(const void *a, const void *b) {
    const tl_st_tensor *x = *(const tl_st_tensor *const *)a, *y = *(const tl_st_tensor *const *)b;
    const unsigned char *p = x->data, *q = y->data;
    return (p > q) - (p < q);
}

static int parse_tensor(tl_st_tensor *t, const char *name, json_t *v, const unsigned char *data, uint64_t data_len,
                        const char *path, tl_err *e) {
    if (!*name) return tl_errf(e, "%s: a tensor has an empty name", path);
    if (!json_is_object(v)) return tl_errf(e, "%s: tensor '%s': entry is not an object", path, name);
    json_t *dt = json_object_get(v, "dtype"), *sh = json_object_get(v, "shape"), *off = json_object_get(v, "data_offsets");
    if (!json_is_string(dt)) return tl_errf(e, "%s: tensor '%s': missing string 'dtype'", path, name);
    if (!json_is_array(sh)) return tl_errf(e, "%s: tensor '%s': missing array 'shape'", path, name);
    if (!json_is_array(off) || json_array_size(off) != 2)
        return tl_errf(e, "%s: tensor '%s': 'data_offsets' must be an array of 2 integers", path, name);
    size_t i, esize = 0;
    for (i = 0; i < sizeof dtypes / sizeof *dtypes; i++)
        if (!strcmp(json_string_value(dt), dtypes[i].name)) {
            t->dtype = dtypes[i].dt;
            esize = dtypes[i].size;
        }
    if (!esize) return tl_errf(e, "%s: tensor '%s': unsupported dtype '%s'", path, name, json_string_value(dt));
    if (json_array_size(sh) > TL_ST_MAX_DIMS)
        return tl_errf(e, "%s: tensor '%s': %zu dimensions (at most %d)", path, name, json_array_size(sh), TL_ST_MAX_DIMS);
    t->ndim = (int)json_array_size(sh);
    for (int d = 0; d < t->ndim; d++) {
        json_t *x = json_array_get(sh, (size_t)d);
        if (!json_is_integer(x) || json_integer_value(x) < 0)
            return tl_errf(e, "%s: tensor '%s': shape entries must be non-negative integers", path, name);
        t->shape[d] = json_integer_value(x);
    }
    json_t *b = json_array_get(off, 0), *en = json_array_get(off, 1);
    if (!json_is_integer(b) || !json_is_integer(en) || json_integer_value(b) < 0 || json_integer_value(en) < 0)
        return tl_errf(e, "%s: tensor '%s': data_offsets must be non-negative integers", path, name);
    uint64_t begin = (uint64_t)json_integer_value(b), end = (uint64_t)json_integer_value(en), want;
    if (begin > end) return tl_errf(e, "%s: tensor '%s': data_offsets begin %llu > end %llu", path, name,
                                    (unsigned long long)begin, (unsigned long long)end);
    if (end > data_len)
        return tl_errf(e, "%s: tensor '%s': data_offsets end %llu is past the data (%llu bytes)", path, name,
                       (unsigned long long)end, (unsigned long long)data_len);
    if (shape_bytes(t->shape, t->ndim, esize, &want) || want != end - begin)
        return tl_errf(e, "%s: tensor '%s': data_offsets [%llu, %llu] do not match its shape and dtype %s", path, name,
                       (unsigned long long)begin, (unsigned long long)end, json_string_value(dt));
    t->name = strdup(name);
    if (!t->name) return tl_errf(e, "%s: out of memory", path);
    t->data = data + begin;
    t->nbytes = (size_t)(end - begin);
    return 0;
}

static int parse_meta(tl_st_file *f, json_t *meta, const char *path, tl_err *e) {
    if (!json_is_object(meta)) return tl_errf(e, "%s: __metadata__ is not an object", path);
    size_t n = json_object_size(meta);
    f->meta_keys = tl_calloc(n, sizeof(char *), e);
    f->meta_vals = tl_calloc(n, sizeof(char *), e);
    if (!f->meta_keys || !f->meta_vals) return -1;
    const char *k;
    json_t *v;
    json_object_foreach(meta, k, v) {
        if (!json_is_string(v)) return tl_errf(e, "%s: __metadata__ '%s' is not a string", path, k);
        f->meta_keys[f->n_meta] = strdup(k);
        f->meta_vals[f->n_meta] = strdup(json_string_value(v));
        f->n_meta++;
        if (!f->meta_keys[f->n_meta - 1] || !f->meta_vals[f->n_meta - 1]) return tl_errf(e, "%s: out of memory", path);
    }
    return 0;
}

int tl_st_open(tl_st_file *f, const char *path, tl_err *e) {
    memset(f, 0, sizeof *f);
    if (tl_map_open(&f->map, path, e)) return -1;
    const unsigned char *p = f->map.data;
    size_t size = f->map.size;
    json_t *root = NULL;
    tl_st_tensor **order = NULL;
    int rc = -1;
    if (size < 8) {
        tl_errf(e, "%s: not a safetensors file: %zu bytes", path, size);
        goto out;
    }
    uint64_t hlen = 0;
    for (int i = 0; i < 8; i++) hlen |= (uint64_t)p[i] << (8 * i);
    if (hlen > size - 8 || hlen > ST_MAX_HEADER) {
        tl_errf(e, "%s: header length %llu exceeds the file (%zu bytes): truncated or not safetensors", path,
                (unsigned long long)hlen, size);
        goto out;
    }
    json_error_t je;
    root = json_loadb((const char *)p + 8, (size_t)hlen, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        tl_errf(e, "%s: header is not valid JSON: %s (at byte %d)", path, je.text, je.position);
        goto out;
    }
    if (!json_is_object(root)) {
        tl_errf(e, "%s: header is not a JSON object", path);
        goto out;
    }
    const unsigned char *data = p + 8 + hlen;
    uint64_t data_len = size - 8 - hlen;
    size_t n = json_object_size(root);
    f->tensors = tl_calloc(n, sizeof *f->tensors, e);
    if (!f->tensors) goto out;
    const char *k;
    json_t *v;
    json_object_foreach(root, k, v) {
        if (!strcmp(k, "__metadata__")) {
            if (parse_meta(f, v, path, e)) goto out;
            continue;
        }
        if (parse_tensor(&f->tensors[f->n_tensors], k, v, data, data_len, path, e)) goto out;
        f->n_tensors++;
    }
    /* tensors must tile the data buffer exactly: sorted by offset, each begins where the last ended */
    order = tl_calloc((size_t)f->n_tensors, sizeof *order, e);
    if (!order) goto out;
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, by_offset);
    const unsigned char *at = data;
    for (int i = 0; i < f->n_tensors; i++) {
        if ((const unsigned char *)order[i]->data != at) {
            tl_errf(e, "%s: tensor '%s': data %s the previous tensor's (holes and overlaps are not allowed)", path,
                    order[i]->name, (const unsigned char *)order[i]->data < at ? "overlaps" : "does not start at the end of");
            goto out;
        }
        at += order[i]->nbytes;
    }
    if (at != data + data_len) {
        tl_errf(e, "%s: %llu bytes after the last tensor (corrupt file)", path, (unsigned long long)(data + data_len - at));
        goto out;
    }
    rc = 0;
out:
    free(order);
    json_decref(root);
    if (rc) tl_st_close(f);
    return rc;
}

void tl_st_close(tl_st_file *f) {
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta_keys[i]);
        free(f->meta_vals[i]);
    }
    free(f->tensors);
    free(f->meta_keys);
    free(f->meta_vals);
    tl_map_close(&f->map);
    memset(f, 0, sizeof *f);
}

const tl_st_tensor *tl_st_find(const tl_st_file *f, const char *name) {
    for (int i = 0; i < f->n_tensors; i++)
        if (!strcmp(f->tensors[i].name, name)) return &f->tensors[i];
    return NULL;
}

const char *tl_st_meta(const tl_st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (!strcmp(f->meta_keys[i], key)) return f->meta_vals[i];
    return NULL;
}

int tl_st_write(const char *path, const tl_st_tensor *tensors, int n, const char *const *meta_keys,
                const char *const *meta_vals, int n_meta, tl_err *e) {
    json_t *root = json_object(), *meta = json_object();
    int rc = -1;
    char *hdr = NULL;
    tl_afile af = {0};
    if (!root || !meta) {
        tl_errf(e, "%s: out of memory", path);
        goto out;
    }
    for (int i = 0; i < n_meta; i++) json_object_set_new(meta, meta_keys[i], json_string(meta_vals[i]));
    if (n_meta) json_object_set(root, "__metadata__", meta);
    uint64_t off = 0;
    for (int i = 0; i < n; i++) {
        const tl_st_tensor *t = &tensors[i];
        uint64_t want;
        if (shape_bytes(t->shape, t->ndim, tl_st_dtype_size(t->dtype), &want) || want != t->nbytes) {
            tl_errf(e, "%s: tensor '%s': %zu bytes do not match its shape", path, t->name, t->nbytes);
            goto out;
        }
        json_t *sh = json_array();
        for (int d = 0; d < t->ndim; d++) json_array_append_new(sh, json_integer(t->shape[d]));
        json_t *ent = json_pack("{s:s, s:o, s:[I,I]}", "dtype", dtype_name(t->dtype), "shape", sh, "data_offsets",
                                (json_int_t)off, (json_int_t)off + (json_int_t)t->nbytes);
        if (!ent || json_object_set_new(root, t->name, ent)) {
            tl_errf(e, "%s: tensor '%s': duplicate name or out of memory", path, t->name);
            goto out;
        }
        off += t->nbytes;
    }
    hdr = json_dumps(root, JSON_PRESERVE_ORDER | JSON_COMPACT);
    if (!hdr) {
        tl_errf(e, "%s: cannot encode the header (invalid UTF-8 in a name?)", path);
        goto out;
    }
    size_t hlen = strlen(hdr), padded = (hlen + 7) / 8 * 8;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    if (tl_afile_open(&af, path, e)) goto out;
    if (tl_afile_write(&af, len8, 8, e) || tl_afile_write(&af, hdr, hlen, e) ||
        tl_afile_write(&af, "        ", padded - hlen, e))
        goto out;
    for (int i = 0; i < n; i++)
        if (tl_afile_write(&af, tensors[i].data, tensors[i].nbytes, e)) goto out;
    rc = tl_afile_commit(&af, e);
out:
    if (rc) tl_afile_abort(&af);
    free(hdr);
    json_decref(meta);
    json_decref(root);
    return rc;
}
