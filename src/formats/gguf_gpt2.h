/* The GGUF schema of llama.cpp's `gpt2` architecture, as tinyllm writes and reads it: tensor names,
 * shapes and keys, checked, with the tensors left where they lie in the mapped file. libc only:
 * the edge runtime runs these views directly, and the importer (gguf_model.h) decodes them.
 *
 *   ours (row-major [rows, cols])      GGUF tensor (ne = {cols, rows})   type
 *   wte[:vocab]                        token_embd.weight                 F32/F16/Q8_0/Q4_0
 *   wpe                                position_embd.weight              F32/F16/Q8_0/Q4_0
 *   h.L.ln1.w / .b                     blk.L.attn_norm.weight / .bias    F32
 *   h.L.attn.qkv.w / .b                blk.L.attn_qkv.weight / .bias     matrix, F32
 *   h.L.attn.proj.w / .b               blk.L.attn_output.weight / .bias
 *   h.L.ln2.w / .b                     blk.L.ffn_norm.weight / .bias
 *   h.L.mlp.fc.w / .b                  blk.L.ffn_up.weight / .bias
 *   h.L.mlp.proj.w / .b                blk.L.ffn_down.weight / .bias
 *   lnf.w / .b                         output_norm.weight / .bias
 *   (none: tied to wte)                output.weight (optional, llama.cpp's untied head)
 * Vectors may be F32 or F16. Keys: general.architecture = gpt2, gpt2.context_length,
 * embedding_length, feed_forward_length (4 x embedding), block_count, attention.head_count,
 * attention.layer_norm_epsilon; tokenizer.ggml.* (model gpt2, tokens spelled in GPT-2's byte
 * alphabet, token types, merges, bos/eos); tinyllm.tokenizer.{name,digits}; and the task under
 * tinyllm.task.{name,kind,instruction,labels,numbers} with tinyllm.prompt_template. */
#ifndef TL_FORMATS_GGUF_GPT2_H
#define TL_FORMATS_GGUF_GPT2_H

#include <stdint.h>

#include "base/err.h"
#include "formats/gguf.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

/* The tensors of one block, in this order (the index of the suffix tables in gguf_gpt2.c). */
enum {
    TL_G2_LN1_W, TL_G2_LN1_B, TL_G2_QKV_W, TL_G2_QKV_B, TL_G2_PROJ_W, TL_G2_PROJ_B,
    TL_G2_LN2_W, TL_G2_LN2_B, TL_G2_FC_W, TL_G2_FC_B, TL_G2_DOWN_W, TL_G2_DOWN_B, TL_G2_PER_LAYER
};

/* A tensor as it lies in the file: rows of `cols` values encoded as `type` (ggml type id). */
typedef struct tl_gguf_mat {
    uint32_t type;
    uint64_t cols, rows; /* a vector has rows = 1 */
    uint64_t row_bytes;
    const void *data;
} tl_gguf_mat;

typedef struct tl_gguf_gpt2 {
    int n_layer, n_head, n_embd, n_ctx, vocab;
    float ln_eps;
    tl_gguf_mat wte, wpe, lnf_w, lnf_b;
    tl_gguf_mat head;          /* output.weight, or wte when the head is tied */
    int tied;
    tl_gguf_mat *layer;        /* [n_layer][TL_G2_PER_LAYER] */
} tl_gguf_gpt2;

/* Checks g (opened from `path`) against the schema: architecture, every key in range (sizes that
 * fit int arithmetic), every tensor present with its shape and a supported type (matrices F32,
 * F16, Q8_0 or Q4_0; vectors F32 or F16). Errors name the path and the key or tensor. */
int tl_gguf_gpt2_read(const tl_gguf *g, const char *path, tl_gguf_gpt2 *out, tl_err *e);
void tl_gguf_gpt2_free(tl_gguf_gpt2 *m);
/* The ours-to-GGUF name of one of our tensors ("wte" -> "token_embd.weight", "h.3.ln1.w" ->
 * "blk.3.attn_norm.weight"); -1 for a name outside the table. *slot gets the block tensor index
 * (TL_G2_*) or -1 for the global ones. */
int tl_gguf_gpt2_name(const char *ours, char *out, size_t n, int *layer, int *slot);
/* Builds the tokenizer the file carries (tokens, merges, tinyllm.tokenizer.* digit grouping). */
int tl_gguf_gpt2_tokenizer(const tl_gguf *g, const char *path, tl_bpe **out, tl_err *e);
/* The task the file carries (tinyllm.task.*): 1 with *t filled (input/output columns unset), 0
 * when the file has none, -1 on a malformed one. */
int tl_gguf_gpt2_task(const tl_gguf *g, const char *path, tl_task *t, tl_err *e);

#endif
