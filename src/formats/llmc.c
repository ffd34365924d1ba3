/* llm.c model and tokenizer files (layouts in llmc.h). Hosts are little-endian (x86-64, ARM64). */
#include "formats/llmc.h"

#include <stdlib.h>
#include <string.h>

#include "base/file.h"

enum { HEADER_WORDS = 256, HEADER_BYTES = 1024, PER_LAYER = 12 };

static uint32_t rd32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Our tensor index of llm.c's i-th tensor: wte, wpe, then kind-major over the layers, lnf. */
static int our_index(int i, int n_layer) {
    if (i < 2) return i;
    int k = i - 2;
    if (k >= PER_LAYER * n_layer) return i;
    return 2 + (k % n_layer) * PER_LAYER + k / n_layer;
}

int tl_llmc_write_model(const tl_gpt2 *m, const char *path, tl_err *e) {
    const tl_gpt2_config *c = &m->cfg;
    int32_t h[HEADER_WORDS] = {TL_LLMC_MODEL_MAGIC, 3, c->n_ctx, c->vocab, c->n_layer, c->n_head, c->n_embd, c->padded_vocab};
    tl_afile a;
    if (tl_afile_open(&a, path, e)) return -1;
    int rc = tl_afile_write(&a, h, sizeof h, e);
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const tl_tensor_info *t = &m->tensors[our_index(i, c->n_layer)];
        rc = tl_afile_write(&a, m->params + t->offset, t->numel * sizeof(float), e);
    }
    if (rc) {
        tl_afile_abort(&a);
        return -1;
    }
    return tl_afile_commit(&a, e);
}

int tl_llmc_read_model(const char *path, tl_gpt2 *m, tl_err *e) {
    memset(m, 0, sizeof *m);
    tl_map map;
    if (tl_map_open(&map, path, e)) return -1;
    const unsigned char *p = map.data;
    int rc = 0;
    int32_t h[8] = {0};
    if (map.size < HEADER_BYTES) rc = tl_errf(e, "%s: not an llm.c model file: %zu bytes, shorter than its header", path, map.size);
    for (int i = 0; i < 8 && !rc; i++) h[i] = (int32_t)rd32(p + 4 * i);
    if (!rc && h[0] != TL_LLMC_MODEL_MAGIC)
        rc = tl_errf(e, "%s: bad magic %d (an llm.c model file starts with %d)", path, h[0], TL_LLMC_MODEL_MAGIC);
    if (!rc && h[1] != 3 && h[1] != 5) rc = tl_errf(e, "%s: version %d (llm.c model files are version 3 fp32 or 5 bf16)", path, h[1]);
    tl_gpt2_config file = {h[4], h[5], h[6], h[2], h[3], h[7]}, c = file;
    if (!rc && (tl_gpt2_config_check(&file, e))) rc = tl_err_wrap(e, "%s", path);
    size_t width = h[1] == 3 ? 4 : 2;
    if (!rc) {
        c.padded_vocab = (c.vocab + 127) / 128 * 128;
        size_t want = tl_gpt2_num_params(&file); /* fits size_t: tl_gpt2_config_check */
        if (want > (map.size - HEADER_BYTES) / width || map.size - HEADER_BYTES != want * width)
            rc = tl_errf(e, "%s: the header's shape needs %zu parameter bytes but the file holds %zu (truncated or corrupt)",
                         path, want * width, map.size - HEADER_BYTES);
    }
    if (!rc && tl_gpt2_init(m, &c, e)) rc = -1;
    const unsigned char *at = rc ? NULL : p + HEADER_BYTES; /* no arithmetic on a short (or empty: NULL) map */
    for (int i = 0; i < (rc ? 0 : m->n_tensors); i++) {
        const tl_tensor_info *t = &m->tensors[our_index(i, c.n_layer)];
        /* wte rows in the file: the file's padding; ours keeps the first `vocab` and zeroes the rest */
        size_t n_file = i == 0 ? (size_t)file.padded_vocab * (size_t)c.n_embd : t->numel;
        size_t n_keep = i == 0 ? (size_t)c.vocab * (size_t)c.n_embd : t->numel;
        float *dst = m->params + t->offset;
        for (size_t j = 0; j < n_keep; j++) {
            uint32_t u = width == 4 ? rd32(at + 4 * j) : (uint32_t)(at[2 * j] | at[2 * j + 1] << 8) << 16;
            memcpy(&dst[j], &u, 4);
        }
        at += n_file * width;
    }
    tl_map_close(&map);
    if (rc) tl_gpt2_free(m);
    return rc ? -1 : 0;
}

int tl_llmc_write_tokenizer(const tl_bpe *bpe, const char *path, tl_err *e) {
    int V = tl_bpe_vocab_size(bpe);
    uint32_t h[HEADER_WORDS] = {TL_LLMC_TOKENIZER_MAGIC, 2, (uint32_t)V, (uint32_t)tl_bpe_eot(bpe)};
    tl_afile a;
    if (tl_afile_open(&a, path, e)) return -1;
    int rc = tl_afile_write(&a, h, sizeof h, e);
    for (int i = 0; i < V && !rc; i++) {
        size_t len;
        const char *tok = tl_bpe_token(bpe, i, &len);
        unsigned char n = (unsigned char)len;
        if (len == 0 || len > 255) rc = tl_errf(e, "%s: token %d is %zu bytes long (llm.c stores 1..255)", path, i, len);
        else rc = tl_afile_write(&a, &n, 1, e) || tl_afile_write(&a, tok, len, e);
    }
    if (rc) {
        tl_afile_abort(&a);
        return -1;
    }
    return tl_afile_commit(&a, e);
}

int tl_llmc_check_tokenizer(const char *path, const tl_bpe *bpe, tl_err *e) {
    tl_map map;
    if (tl_map_open(&map, path, e)) return -1;
    const unsigned char *p = map.data, *end = map.size ? map.data + map.size : NULL; /* empty: data is NULL */
    int rc = 0;
    if (map.size < HEADER_BYTES) rc = tl_errf(e, "%s: not an llm.c tokenizer file: %zu bytes, shorter than its header", path, map.size);
    else if (rd32(p) != TL_LLMC_TOKENIZER_MAGIC)
        rc = tl_errf(e, "%s: bad magic %u (an llm.c tokenizer file starts with %d)", path, rd32(p), TL_LLMC_TOKENIZER_MAGIC);
    else if (rd32(p + 4) != 1 && rd32(p + 4) != 2) rc = tl_errf(e, "%s: version %u (llm.c tokenizer files are 1 or 2)", path, rd32(p + 4));
    else if (rd32(p + 8) != (uint32_t)tl_bpe_vocab_size(bpe))
        rc = tl_errf(e, "%s: %u tokens, but tokenizer '%s' has %d", path, rd32(p + 8), tl_bpe_name(bpe), tl_bpe_vocab_size(bpe));
    else if (rd32(p + 4) == 2 && rd32(p + 12) != (uint32_t)tl_bpe_eot(bpe))
        rc = tl_errf(e, "%s: end-of-text id %u, but tokenizer '%s' has %d", path, rd32(p + 12), tl_bpe_name(bpe), tl_bpe_eot(bpe));
    const unsigned char *at = rc ? end : p + HEADER_BYTES;
    for (int i = 0; !rc && i < tl_bpe_vocab_size(bpe); i++) {
        size_t len;
        const char *tok = tl_bpe_token(bpe, i, &len);
        if (at >= end || at[0] == 0 || (size_t)(end - at - 1) < at[0])
            rc = tl_errf(e, "%s: token %d: %s", path, i, at >= end ? "the file ends" : at[0] ? "runs past the end" : "zero length");
        else if (at[0] != len || memcmp(at + 1, tok, len))
            rc = tl_errf(e, "%s: token %d differs from tokenizer '%s' (a different vocabulary)", path, i, tl_bpe_name(bpe));
        else at += 1 + len;
    }
    if (!rc && at != end) rc = tl_errf(e, "%s: %zu bytes after the last token (corrupt)", path, (size_t)(end - at));
    tl_map_close(&map);
    return rc ? -1 : 0;
}
