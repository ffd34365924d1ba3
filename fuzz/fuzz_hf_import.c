/* Fuzzes the HuggingFace directory import (tl_hf_import_gpt2: config.json fields, model.safetensors
 * names, dtypes, shapes, the tied head, and vocab.json + merges.txt against the tokenizer).
 * Input: config.json, then optionally TL_FUZZ_SEP and model.safetensors, vocab.json, merges.txt;
 * files not given are absent. The tokenizer is the fixture one. */
#include "common.h"
#include "formats/hf_gpt2.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    static const char *const names[4] = {"hf/config.json", "hf/model.safetensors", "hf/vocab.json", "hf/merges.txt"};
    tl_fuzz_part part[4];
    int n = tl_fuzz_split(data, size, part, 4);
    for (int i = 0; i < 4; i++) {
        if (i < n) tl_fuzz_file(names[i], part[i].p, part[i].n);
        else tl_fuzz_unlink(names[i]);
    }
    char dir[512];
    snprintf(dir, sizeof dir, "%s/hf", tl_fuzz_dir());
    const tl_bpe *bpe = tl_fuzz_tiny_bpe();
    tl_gpt2 m;
    tl_err e;
    if (tl_hf_import_gpt2(dir, bpe, &m, &e)) return tl_fuzz_reject(&e);
    TL_FUZZ_CHECK(m.cfg.vocab == tl_bpe_vocab_size(bpe), "vocabulary %d", m.cfg.vocab);
    tl_gpt2_free(&m);
    return 0;
}
