/* Fuzzes the llm.c model file reader (tl_llmc_read_model: header, config, size, fp32/bf16
 * parameters): an accepted file must give a model whose padded vocabulary rows are zero. */
#include "common.h"
#include "formats/llmc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const char *path = tl_fuzz_file("in.bin", data, size);
    tl_gpt2 m;
    tl_err e;
    if (tl_llmc_read_model(path, &m, &e)) return tl_fuzz_reject(&e);
    const tl_gpt2_config *c = &m.cfg;
    TL_FUZZ_CHECK(c->padded_vocab % 128 == 0 && c->padded_vocab >= c->vocab, "padded vocabulary %d", c->padded_vocab);
    const float *wte = m.params + m.tensors[0].offset;
    for (size_t i = (size_t)c->vocab * (size_t)c->n_embd; i < (size_t)c->padded_vocab * (size_t)c->n_embd; i++)
        TL_FUZZ_CHECK(wte[i] == 0, "padding row value %zu is not zero", i);
    tl_fuzz_touch(m.params, m.n_params * sizeof *m.params);
    tl_gpt2_free(&m);
    return 0;
}
