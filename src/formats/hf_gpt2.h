/* Our GPT-2 as a HuggingFace transformers directory (GPT2LMHeadModel), and back.
 *
 *   DIR/
 *   +-- config.json             GPT2Config: n_layer, n_head, n_embd, n_positions, vocab_size,
 *   |                           activation gelu_new, LayerNorm 1e-5, tied head, bos/eos,
 *   |                           tinyllm_tokenizer / tinyllm_digits (ignored by transformers)
 *   +-- generation_config.json  bos/eos ids
 *   +-- model.safetensors       F32 or F16, __metadata__ {"format": "pt"}, names below
 *   +-- vocab.json, merges.txt  the BPE vocabulary and merges (GPT2Tokenizer)
 *   +-- tokenizer.json          the same for the fast tokenizer, with the digit-grouping
 *   |                           pre-tokenizer of trained tokenizers spelled as a Split regex
 *   +-- tokenizer_config.json, special_tokens_map.json
 *   +-- README.md               model card (YAML front matter: base model, datasets, metrics)
 *
 *   ours (row-major [out, in])   safetensors name (transformer. prefix)   shape
 *   wte[:vocab]                  transformer.wte.weight                   [vocab, C]
 *   wpe                          transformer.wpe.weight                   [n_ctx, C]
 *   h.L.ln1.w / .b               transformer.h.L.ln_1.weight / .bias      [C]
 *   h.L.attn.qkv.w / .b          transformer.h.L.attn.c_attn.weight/.bias [C, 3C] (Conv1D: [in, out])
 *   h.L.attn.proj.w / .b         transformer.h.L.attn.c_proj.weight/.bias [C, C]
 *   h.L.ln2.w / .b               transformer.h.L.ln_2.weight / .bias      [C]
 *   h.L.mlp.fc.w / .b            transformer.h.L.mlp.c_fc.weight / .bias  [C, 4C]
 *   h.L.mlp.proj.w / .b          transformer.h.L.mlp.c_proj.weight/.bias  [4C, C]
 *   lnf.w / .b                   transformer.ln_f.weight / .bias          [C]
 * lm_head.weight is tied to wte and not written; the import accepts it when it equals wte. */
#ifndef TL_FORMATS_HF_GPT2_H
#define TL_FORMATS_HF_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"
#include "tokenizer/bpe.h"

/* What the model card says beyond the model itself; every field may be NULL / 0. */
typedef struct tl_hf_card {
    const char *name;       /* the model's name (title of the card) */
    const char *base_model; /* what it was fine-tuned from; NULL: trained from scratch */
    const char *datasets;   /* comma-separated dataset names */
    const char *eval_json;  /* a `tinyllm eval --json` summary: its metrics go into model-index */
    long steps;             /* training hyperparameters, from the checkpoint */
    long long batch_tokens;
    int seq_len;
    uint64_t seed;
} tl_hf_card;

/* Writes the directory `dir` (built in a temp sibling, then renamed into place: an existing
 * export there is replaced, any other non-empty directory is an error). f16: matrices and
 * embeddings as F16 (norms and biases too: transformers loads one dtype). */
int tl_hf_export_gpt2(const tl_gpt2 *m, const tl_bpe *bpe, const tl_hf_card *card, int f16, const char *dir, tl_err *e);

/* Reads a GPT-2 directory (ours, or e.g. the official gpt2 checkpoint) into m (not initialised
 * yet; vocabulary padded to a multiple of 128 again). Accepts F32/F16/BF16 tensors, names with or
 * without the "transformer." prefix, the attention-mask buffers older exports hold, and a tied
 * lm_head. When the directory has vocab.json + merges.txt they must equal `bpe` (token by token,
 * merge by merge); config.json's tinyllm_tokenizer, when present, must name it. */
int tl_hf_import_gpt2(const char *dir, const tl_bpe *bpe, tl_gpt2 *m, tl_err *e);

#endif
