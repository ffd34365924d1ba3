/* Fuzzes the GGUF reader (tl_gguf_open: header, key/values, tensor infos, alignment, offsets), the
 * gpt2 schema the edge runtime loads through (tl_gguf_gpt2_read, _tokenizer, _task) and the import
 * into a training model (tl_gguf_import_gpt2: F16/Q8_0/Q4_0 decoding). Accepted files must keep
 * every value and tensor inside the file, every key and tensor must be found by its name, schema
 * views must lie inside the file, and a tokenizer built from the file must decode its encoding of
 * the input back to the same bytes. */
#include <string.h>

#include "common.h"
#include "formats/gguf.h"
#include "formats/gguf_gpt2.h"
#include "formats/gguf_model.h"

static const uint64_t value_size[TL_GGUF_N_TYPES] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};

static int inside(const tl_gguf *g, const void *p, uint64_t n) {
    const unsigned char *q = p, *lo = g->map.data, *hi = g->map.data + g->map.size;
    return !n || (q >= lo && q <= hi && n <= (uint64_t)(hi - q));
}

static void mat_inside(const tl_gguf *g, const tl_gguf_mat *m, const char *what) {
    TL_FUZZ_CHECK(inside(g, m->data, m->row_bytes * m->rows), "%s: %llu x %llu bytes outside the file", what,
                  (unsigned long long)m->rows, (unsigned long long)m->row_bytes);
    tl_fuzz_touch(m->data, m->row_bytes * m->rows);
}

/* What src/runtime/model.c reads from an opened file. */
static void schema(const tl_gguf *g, const char *path, const uint8_t *data, size_t size) {
    tl_err e;
    tl_gguf_gpt2 v;
    if (!tl_gguf_gpt2_read(g, path, &v, &e)) {
        mat_inside(g, &v.wte, "wte");
        mat_inside(g, &v.wpe, "wpe");
        mat_inside(g, &v.head, "head");
        for (int l = 0; l < v.n_layer; l++)
            for (int k = 0; k < TL_G2_PER_LAYER; k++) mat_inside(g, &v.layer[l * TL_G2_PER_LAYER + k], "layer tensor");
        tl_gguf_gpt2_free(&v);
    } else {
        tl_fuzz_reject(&e);
    }
    tl_bpe *bpe;
    if (!tl_gguf_gpt2_tokenizer(g, path, &bpe, &e)) {
        tl_ivec ids = {0};
        tl_buf out = {0};
        TL_FUZZ_CHECK(!tl_bpe_encode(bpe, (const char *)data, size, &ids, &e) && !tl_bpe_decode(bpe, ids.v, ids.n, &out, &e),
                      "%s", e.msg);
        TL_FUZZ_CHECK(out.n == size && (!size || !memcmp(out.p, data, size)), "decode(encode(x)) != x");
        tl_ivec_free(&ids);
        tl_buf_free(&out);
        tl_bpe_free(bpe);
    } else {
        tl_fuzz_reject(&e);
    }
    tl_task t;
    int r = tl_gguf_gpt2_task(g, path, &t, &e);
    if (r == 1) tl_task_free(&t);
    else if (r < 0) tl_fuzz_reject(&e);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tl_fuzz_file("in.gguf", data, size);
    tl_gguf g;
    tl_err e;
    if (!tl_gguf_open(&g, path, &e)) {
        TL_FUZZ_CHECK(g.alignment && !(g.alignment & (g.alignment - 1)), "alignment %u", g.alignment);
        char name[65536 + 1];
        for (uint64_t i = 0; i < g.n_kv; i++) {
            const tl_gguf_kv *kv = &g.kv[i];
            uint32_t et = kv->type == TL_GGUF_ARRAY ? kv->elem_type : kv->type;
            TL_FUZZ_CHECK(et < TL_GGUF_N_TYPES && et != TL_GGUF_ARRAY, "key/value %llu: type %u", (unsigned long long)i, et);
            TL_FUZZ_CHECK(inside(&g, kv->key.p, kv->key.n), "key/value %llu: key outside the file", (unsigned long long)i);
            if (et == TL_GGUF_STRING) {
                for (uint64_t k = 0; k < kv->n; k++) {
                    TL_FUZZ_CHECK(inside(&g, kv->strs[k].p, kv->strs[k].n), "string %llu outside the file", (unsigned long long)k);
                    tl_fuzz_touch(kv->strs[k].p, kv->strs[k].n);
                }
            } else {
                TL_FUZZ_CHECK(inside(&g, kv->data, kv->n * value_size[et]), "values outside the file");
                tl_fuzz_touch(kv->data, kv->n * value_size[et]);
            }
            if (kv->key.n < sizeof name && !memchr(kv->key.p, 0, kv->key.n)) {
                memcpy(name, kv->key.p, kv->key.n);
                name[kv->key.n] = 0;
                TL_FUZZ_CHECK(tl_gguf_find_kv(&g, name) == kv, "key '%s' is not found by its name", name);
                uint32_t u;
                tl_gguf_get_u32(&g, name, &u);
            }
        }
        for (uint64_t i = 0; i < g.n_tensors; i++) {
            const tl_gguf_tensor *t = &g.tensors[i];
            TL_FUZZ_CHECK(inside(&g, t->data, t->nbytes), "tensor %llu outside the file", (unsigned long long)i);
            tl_fuzz_touch(t->data, t->nbytes);
            if (!memchr(t->name.p, 0, t->name.n)) {
                memcpy(name, t->name.p, t->name.n);
                name[t->name.n] = 0;
                TL_FUZZ_CHECK(tl_gguf_find_tensor(&g, name) == t, "tensor '%s' is not found by its name", name);
            }
        }
        schema(&g, path, data, size);
        tl_gguf_close(&g);
    } else {
        tl_fuzz_reject(&e);
    }
    tl_gpt2 m;
    if (!tl_gguf_import_gpt2(path, &m, &e)) tl_gpt2_free(&m);
    else tl_fuzz_reject(&e);
    return 0;
}
