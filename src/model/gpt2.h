/* GPT-2 on the CPU in fp32: configuration and parameter layout, forward + backward for training,
 * and KV-cached single-token decoding for sampling.
 *
 * Architecture: token + position embeddings, n_layer pre-LN blocks (LayerNorm -> causal multi-head
 * attention -> residual; LayerNorm -> MLP 4C with tanh-GELU -> residual), final LayerNorm, output
 * head tied to the token embedding. The vocabulary is padded to `padded_vocab` rows for speed; the
 * padded rows are never predicted (softmax runs over the first `vocab` logits only).
 *
 * All parameters live in one contiguous buffer (`params`), tensors at fixed offsets in the order of
 * tl_gpt2_tensors(); gradients mirror it in `grads`. Per-layer tensors are contiguous per layer so
 * each one has its own name in checkpoints:
 *
 *   name                 shape            decay
 *   wte                  [Vp, C]          yes   (also the output head)
 *   wpe                  [n_ctx, C]       yes
 *   h.{l}.ln1.w/.b       [C]              no
 *   h.{l}.attn.qkv.w     [3C, C]          yes   (rows: q for all heads, then k, then v)
 *   h.{l}.attn.qkv.b     [3C]             no
 *   h.{l}.attn.proj.w    [C, C]           yes
 *   h.{l}.attn.proj.b    [C]              no
 *   h.{l}.ln2.w/.b       [C]              no
 *   h.{l}.mlp.fc.w       [4C, C]          yes
 *   h.{l}.mlp.fc.b       [4C]             no
 *   h.{l}.mlp.proj.w     [C, 4C]          yes
 *   h.{l}.mlp.proj.b     [C]              no
 *   lnf.w/.b             [C]              no
 */
#ifndef TL_MODEL_GPT2_H
#define TL_MODEL_GPT2_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct tl_gpt2_config {
    int n_layer, n_head, n_embd; /* C = n_embd, head size = C / n_head */
    int n_ctx;                   /* maximum sequence length (position embeddings) */
    int vocab;                   /* real vocabulary size (50257 for GPT-2) */
    int padded_vocab;            /* vocab rounded up (to a multiple of 128 by tl_gpt2_config_make) */
} tl_gpt2_config;

/* Fills c from a preset name ("30M", "51M", "82M", "101M", "124M", or "LxHxC" e.g. "4x4x128"),
 * a context length and a vocabulary size; pads the vocabulary to a multiple of 128. Rejects
 * shapes where C is not divisible by the head count, and non-positive sizes. */
int tl_gpt2_config_make(tl_gpt2_config *c, const char *preset, int n_ctx, int vocab, tl_err *e);
/* Checks a config read from a file: positive sizes, divisibility, padded_vocab >= vocab, and a
 * parameter count that fits in memory arithmetic. */
int tl_gpt2_config_check(const tl_gpt2_config *c, tl_err *e);

typedef struct tl_tensor_info {
    char name[48];
    size_t offset; /* in floats, into params/grads */
    size_t numel;
    int ndim;
    int shape[2];
    int decay; /* 1 if AdamW weight decay applies (matrices and embeddings) */
} tl_tensor_info;

/* Number of parameter tensors, and their table in layout order (`out` has room for that many). */
int tl_gpt2_num_tensors(const tl_gpt2_config *c);
void tl_gpt2_tensors(const tl_gpt2_config *c, tl_tensor_info *out);
size_t tl_gpt2_num_params(const tl_gpt2_config *c);

typedef struct tl_gpt2_acts tl_gpt2_acts; /* training activations, private to gpt2.c */

typedef struct tl_gpt2 {
    tl_gpt2_config cfg;
    int n_tensors;
    tl_tensor_info *tensors;
    size_t n_params;
    float *params;
    float *grads;       /* allocated on the first backward */
    tl_gpt2_acts *acts; /* sized for the B, T of the first forward; a larger B*T reallocates */
    struct tl_lora *lora; /* optional adapters (model/lora.h): then the base is frozen and
                             backward fills only the adapters' gradients; grads stays NULL */
    float mean_loss;    /* of the last forward with targets, over non-ignored positions */
    int head_counted_only; /* forward with targets: the head (logits, cross-entropy) only at the
                              positions with a target, gathered in order, so tl_gpt2_logits holds
                              those rows only (fine-tuning: a few response tokens per example) */
} tl_gpt2;

/* Allocates a model with zeroed parameters (fill them with tl_gpt2_init_weights or a checkpoint). */
int tl_gpt2_init(tl_gpt2 *m, const tl_gpt2_config *c, tl_err *e);
void tl_gpt2_free(tl_gpt2 *m);
/* GPT-2 initialisation from a seed: weights N(0, 0.02), residual output projections (attn.proj.w,
 * mlp.proj.w) N(0, 0.02 / sqrt(2 n_layer)), biases 0, LayerNorm weights 1, padded wte rows 0.
 * Deterministic for a seed, independent of thread count. */
void tl_gpt2_init_weights(tl_gpt2 *m, uint64_t seed);

/* Forward over inputs[B, T] (token ids < vocab, T <= n_ctx). With targets[B, T] (ids < vocab, or
 * -1 to ignore a position) computes the mean cross-entropy over non-ignored positions, stores it
 * in m->mean_loss and returns it; with targets NULL returns 0 and only fills the logits.
 * Returns -1 (and sets e) if the activation buffers cannot be allocated. */
int tl_gpt2_forward(tl_gpt2 *m, const int32_t *inputs, const int32_t *targets, int B, int T, tl_err *e);
/* tl_gpt2_forward from block l0 on, with x0[B, T, C] the residual stream entering block l0 (for
 * these inputs: what tl_gpt2_block_input(m, l0) held after a whole forward). The blocks below are
 * not run and their activations are left stale, so only a backward that stops at l0 may follow:
 * LoRA whose lowest adapted block is l0 or above. */
int tl_gpt2_forward_from(tl_gpt2 *m, int l0, const float *x0, const int32_t *inputs, const int32_t *targets, int B, int T,
                         tl_err *e);
/* The residual stream entering block l (0 <= l < n_layer), [B, T, C] of the last forward. */
const float *tl_gpt2_block_input(const tl_gpt2 *m, int l);
/* Allocates training activations for batches up to B x T now (forwards of any shape within that
 * reuse them), so batches of varying shape do not reallocate. */
int tl_gpt2_reserve(tl_gpt2 *m, int B, int T, tl_err *e);
/* Logits of the last forward: [B, T, padded_vocab] (entries >= vocab are meaningless). */
const float *tl_gpt2_logits(const tl_gpt2 *m);
void tl_gpt2_zero_grad(tl_gpt2 *m);
/* Accumulates (+=) scale * d(mean_loss)/d(params) of the last forward (which had targets) into
 * m->grads (or, with LoRA, into m->lora->grads, going no lower than its lowest adapted block);
 * gradient accumulation over k micro-batches passes scale = 1/k. */
int tl_gpt2_backward(tl_gpt2 *m, float scale, tl_err *e);

/* KV-cached inference on one sequence, one token at a time. */
typedef struct tl_gpt2_kv {
    int n_ctx, pos;  /* capacity and number of positions cached so far */
    float *k, *v;    /* [n_layer, n_ctx, C] each */
    float *x, *buf;  /* scratch activations for one position */
    float *logits;   /* [padded_vocab] */
} tl_gpt2_kv;

int tl_gpt2_kv_init(tl_gpt2_kv *kv, const tl_gpt2_config *c, int n_ctx, tl_err *e);
void tl_gpt2_kv_free(tl_gpt2_kv *kv);
/* Feeds `token` at position kv->pos (must be < kv->n_ctx), advances pos, returns the next-token
 * logits ([vocab] valid entries). Matches tl_gpt2_forward's logits for the same prefix. */
const float *tl_gpt2_decode(const tl_gpt2 *m, tl_gpt2_kv *kv, int32_t token);
/* Feeds tokens[0..n) at positions kv->pos.. in one batch (matrix products instead of n decode
 * steps), appends their keys and values to the cache and returns the logits after the last one
 * ([vocab] valid entries). Same results as n calls of tl_gpt2_decode, up to rounding. NULL with e
 * set when n is out of 1..(n_ctx - pos) or memory runs out. */
const float *tl_gpt2_prefill(const tl_gpt2 *m, tl_gpt2_kv *kv, const int32_t *tokens, int n, tl_err *e);

#endif
