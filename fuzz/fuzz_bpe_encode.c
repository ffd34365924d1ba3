/* Fuzzes tl_bpe_encode on arbitrary bytes (invalid UTF-8, NULs, long runs) with GPT-2's real
 * vocabulary and with the fixture tokenizer (digits in threes): ids must be in range, decoding
 * must give the input back byte for byte, and encoding onto ids already held must append the same ids. */
#include <string.h>

#include "common.h"

static void check(const tl_bpe *t, const uint8_t *data, size_t size) {
    tl_ivec ids = {0}, again = {0};
    tl_buf out = {0};
    tl_err e;
    TL_FUZZ_CHECK(!tl_bpe_encode(t, (const char *)data, size, &ids, &e), "encode: %s", e.msg);
    for (size_t i = 0; i < ids.n; i++)
        TL_FUZZ_CHECK(ids.v[i] >= 0 && ids.v[i] < tl_bpe_vocab_size(t), "id %d at %zu", ids.v[i], i);
    TL_FUZZ_CHECK(!tl_bpe_decode(t, ids.v, ids.n, &out, &e), "decode: %s", e.msg);
    TL_FUZZ_CHECK(out.n == size && (!size || !memcmp(out.p, data, size)), "%s: decode(encode(x)) != x (%zu -> %zu bytes)",
                  tl_bpe_name(t), size, out.n);
    /* appending to a non-empty vector leaves its contents and gives the same ids */
    TL_FUZZ_CHECK(!tl_ivec_push(&again, 12345 % tl_bpe_vocab_size(t), &e), "push");
    TL_FUZZ_CHECK(!tl_bpe_encode(t, (const char *)data, size, &again, &e), "encode: %s", e.msg);
    TL_FUZZ_CHECK(again.n == ids.n + 1 && (!ids.n || !memcmp(again.v + 1, ids.v, ids.n * sizeof *ids.v)),
                  "appended encoding differs");
    tl_ivec_free(&ids);
    tl_ivec_free(&again);
    tl_buf_free(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    check(tl_fuzz_gpt2_bpe(), data, size);
    check(tl_fuzz_tiny_bpe(), data, size);
    return 0;
}
