/* Our GPT-2 as a GGUF file that upstream llama.cpp's `gpt2` architecture loads, and back.
 *
 *   ours (row-major [rows, cols])      GGUF tensor (ne = {cols, rows})   type
 *   wte[:vocab]                        token_embd.weight                 F32/F16
 *   wpe                                position_embd.weight              F32/F16
 *   h.L.ln1.w / .b                     blk.L.attn_norm.weight / .bias    F32
 *   h.L.attn.qkv.w / .b                blk.L.attn_qkv.weight / .bias     F32/F16, F32
 *   h.L.attn.proj.w / .b               blk.L.attn_output.weight / .bias
 *   h.L.ln2.w / .b                     blk.L.ffn_norm.weight / .bias
 *   h.L.mlp.fc.w / .b                  blk.L.ffn_up.weight / .bias
 *   h.L.mlp.proj.w / .b                blk.L.ffn_down.weight / .bias
 *   lnf.w / .b                         output_norm.weight / .bias
 * The output head is tied to token_embd (no `output.weight`); vocabulary padding is dropped.
 * Keys: general.*, gpt2.* (context, embedding, feed-forward length, blocks, heads, LayerNorm
 * epsilon), tokenizer.ggml.* (model gpt2, pre, tokens spelled in GPT-2's byte alphabet, token
 * types, merges, bos/eos), and tinyllm.* (tokenizer name and digit grouping; the task's name,
 * instruction, kind, labels, number rendering and prompt template). */
#ifndef TL_FORMATS_GGUF_GPT2_H
#define TL_FORMATS_GGUF_GPT2_H

#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"
#include "tasks/task.h"
#include "tokenizer/bpe.h"

/* type: the matrices' encoding (TL_GGML_F32, F16, Q8_0 or Q4_0; norms and biases stay F32). task may be NULL. */
int tl_gguf_export_gpt2(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *task, const char *name, uint32_t type,
                        const char *path, tl_err *e);
/* Reads a gpt2-architecture GGUF (F32/F16/Q8_0/Q4_0 tensors, dequantized) into m (not initialised yet); the vocabulary
 * is padded again to a multiple of 128 with zero rows. */
int tl_gguf_import_gpt2(const char *path, tl_gpt2 *m, tl_err *e);

#endif
