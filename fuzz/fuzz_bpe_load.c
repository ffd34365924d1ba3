/* Fuzzes the tokenizer file loaders: encoder.json + vocab.bpe (tl_bpe_load_gpt2) and a trained
 * tokenizer's folder with tokenizer.cfg (tl_bpe_load). Input: encoder.json, TL_FUZZ_SEP, vocab.bpe,
 * and optionally TL_FUZZ_SEP and tokenizer.cfg. A tokenizer that loads must hold its end-of-text
 * id, spell every token and merge, equal itself, and decode its encoding of any text (the input
 * itself) back to the same bytes. */
#include <string.h>

#include "common.h"

static void check(const tl_bpe *t, const uint8_t *text, size_t n) {
    int V = tl_bpe_vocab_size(t);
    TL_FUZZ_CHECK(V >= 257 && tl_bpe_eot(t) >= 0 && tl_bpe_eot(t) < V, "%d tokens, end-of-text %d", V, tl_bpe_eot(t));
    tl_err e;
    tl_buf sp = {0}, out = {0};
    for (int i = 0; i < V; i++) {
        size_t len;
        TL_FUZZ_CHECK(tl_bpe_token(t, i, &len) && len > 0, "token %d has no bytes", i);
        TL_FUZZ_CHECK(tl_bpe_token_spelled(t, i, &sp, &e) >= 0, "token %d: %s", i, e.msg);
    }
    for (int r = 0; r < tl_bpe_n_merges(t); r++) TL_FUZZ_CHECK(!tl_bpe_merge_spelled(t, r, &sp, &e), "merge %d: %s", r, e.msg);
    char why[128];
    TL_FUZZ_CHECK(tl_bpe_same(t, t, 1, why, sizeof why), "differs from itself: %s", why);
    tl_ivec ids = {0};
    TL_FUZZ_CHECK(!tl_bpe_encode(t, (const char *)text, n, &ids, &e), "encode: %s", e.msg);
    TL_FUZZ_CHECK(!tl_bpe_decode(t, ids.v, ids.n, &out, &e), "decode: %s", e.msg);
    TL_FUZZ_CHECK(out.n == n && (!n || !memcmp(out.p, text, n)), "decode(encode(x)) != x for %zu bytes", n);
    tl_ivec_free(&ids);
    tl_buf_free(&out);
    tl_buf_free(&sp);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_fuzz_part part[3];
    int n = tl_fuzz_split(data, size, part, 3);
    if (n < 2) return 0;
    const char *enc = tl_fuzz_file("tok/encoder.json", part[0].p, part[0].n);
    const char *merges = tl_fuzz_file("tok/vocab.bpe", part[1].p, part[1].n);
    tl_bpe *t;
    tl_err e;
    if (!tl_bpe_load_gpt2(&t, enc, merges, &e)) {
        check(t, data, size);
        tl_bpe_free(t);
    } else {
        tl_fuzz_reject(&e);
    }
    if (n == 3) {
        tl_fuzz_file("tok/tokenizer.cfg", part[2].p, part[2].n);
        char dir[512];
        snprintf(dir, sizeof dir, "%s/tok", tl_fuzz_dir());
        if (!tl_bpe_load(&t, dir, &e)) {
            check(t, data, size);
            tl_bpe_free(t);
        } else {
            tl_fuzz_reject(&e);
        }
    }
    return 0;
}
