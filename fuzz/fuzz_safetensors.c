/* Fuzzes the safetensors reader (tl_st_open: header length, JSON header, dtypes, shapes, offsets,
 * tiling): a file it accepts must describe tensors inside the file, and writing it back with
 * tl_st_write must give a file that opens to the same tensors and metadata. */
#include <string.h>

#include "common.h"
#include "formats/safetensors.h"

static void same_file(const tl_st_file *a, const tl_st_file *b) {
    TL_FUZZ_CHECK(a->n_tensors == b->n_tensors && a->n_meta == b->n_meta, "%d/%d tensors, %d/%d metadata", a->n_tensors,
                  b->n_tensors, a->n_meta, b->n_meta);
    for (int i = 0; i < a->n_tensors; i++) {
        const tl_st_tensor *x = &a->tensors[i], *y = tl_st_find(b, x->name);
        TL_FUZZ_CHECK(y, "tensor '%s' lost in the round trip", x->name);
        TL_FUZZ_CHECK(x->dtype == y->dtype && x->ndim == y->ndim && x->nbytes == y->nbytes &&
                          !memcmp(x->shape, y->shape, sizeof x->shape[0] * (size_t)x->ndim) &&
                          (!x->nbytes || !memcmp(x->data, y->data, x->nbytes)),
                      "tensor '%s' changed in the round trip", x->name);
    }
    for (int i = 0; i < a->n_meta; i++) {
        const char *v = tl_st_meta(b, a->meta_keys[i]);
        TL_FUZZ_CHECK(v && !strcmp(v, a->meta_vals[i]), "metadata '%s' changed in the round trip", a->meta_keys[i]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tl_fuzz_file("in.safetensors", data, size);
    tl_st_file f;
    tl_err e;
    if (tl_st_open(&f, path, &e)) return tl_fuzz_reject(&e);
    const unsigned char *lo = f.map.data, *hi = f.map.data + f.map.size;
    for (int i = 0; i < f.n_tensors; i++) {
        const tl_st_tensor *t = &f.tensors[i];
        size_t elem = tl_st_dtype_size(t->dtype), numel = 1;
        for (int d = 0; d < t->ndim; d++) numel *= (size_t)t->shape[d];
        TL_FUZZ_CHECK(elem && numel * elem == t->nbytes, "tensor '%s': %zu bytes for its shape", t->name, t->nbytes);
        TL_FUZZ_CHECK(!t->nbytes || ((const unsigned char *)t->data >= lo + 8 && (const unsigned char *)t->data + t->nbytes <= hi),
                      "tensor '%s' lies outside the file", t->name);
        tl_fuzz_touch(t->data, t->nbytes);
        TL_FUZZ_CHECK(tl_st_find(&f, t->name) == t, "tensor '%s' is not found by its name", t->name);
    }
    const char *out = tl_fuzz_path("out.safetensors");
    TL_FUZZ_CHECK(!tl_st_write(out, f.tensors, f.n_tensors, (const char *const *)f.meta_keys,
                               (const char *const *)f.meta_vals, f.n_meta, &e),
                  "an accepted file cannot be written back: %s", e.msg);
    tl_st_file g;
    TL_FUZZ_CHECK(!tl_st_open(&g, out, &e), "the written-back file does not open: %s", e.msg);
    same_file(&f, &g);
    same_file(&g, &f);
    tl_st_close(&g);
    tl_st_close(&f);
    return 0;
}
