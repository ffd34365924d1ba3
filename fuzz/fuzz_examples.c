/* Fuzzes fine-tuning examples from JSONL (tl_examples_load: JSON lines, "prompt"/"response"
 * strings, GPT-2 tokenization, the length limit) and the length-grouped batcher over them.
 * Accepted examples must fit the limit with a non-empty response; batch targets are -1 or ids. */
#include "common.h"
#include "data/examples.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const tl_bpe *bpe = tl_fuzz_gpt2_bpe();
    const int max_len = 1024, V = tl_bpe_vocab_size(bpe);
    const char *path = tl_fuzz_file("in.jsonl", data, size);
    tl_examples x;
    tl_err e;
    if (tl_examples_load(&x, path, "train", NULL, bpe, max_len, &e)) return tl_fuzz_reject(&e);
    TL_FUZZ_CHECK(x.n > 0 && x.max_len <= max_len, "%d examples, longest %d", x.n, x.max_len);
    for (int i = 0; i < x.n; i++) {
        const tl_example *ex = &x.ex[i];
        TL_FUZZ_CHECK(ex->n_prompt >= 1 && ex->n_prompt < ex->n && ex->n <= max_len && ex->off + (size_t)ex->n <= x.n_tokens,
                      "example %d: %d tokens, %d of them prompt", i, ex->n, ex->n_prompt);
        TL_FUZZ_CHECK(x.tokens[ex->off] == tl_bpe_eot(bpe), "example %d does not start with end-of-text", i);
    }
    for (size_t i = 0; i < x.n_tokens; i++) TL_FUZZ_CHECK(x.tokens[i] >= 0 && x.tokens[i] < V, "token %zu", i);
    tl_batcher b;
    if (!tl_batcher_init(&b, &x, 2, 7, &e)) {
        for (int k = 0; k < 3; k++) {
            tl_batcher_next(&b);
            TL_FUZZ_CHECK(b.cur_B >= 1 && b.cur_B <= 2 && b.cur_T >= 1 && b.cur_T <= x.max_len, "batch %d x %d", b.cur_B, b.cur_T);
            for (int i = 0; i < b.cur_B * b.cur_T; i++)
                TL_FUZZ_CHECK(b.targets[i] >= -1 && b.targets[i] < V && b.inputs[i] >= 0 && b.inputs[i] < V, "position %d", i);
        }
        tl_batcher_fixed(&b, 0);
        tl_batcher_free(&b);
    }
    tl_examples_free(&x);
    return 0;
}
