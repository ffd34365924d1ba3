/* The runtime's model and context (the types behind include/tinyllm/tinyllm.h), shared by its
 * files: model.c opens a GGUF file into weight views, forward.c runs the network over a context's
 * KV cache, generate.c samples, generates and classifies. */
#ifndef TL_RUNTIME_MODEL_H
#define TL_RUNTIME_MODEL_H

#include "formats/gguf.h"
#include "formats/gguf_gpt2.h"
#include "runtime/kernels.h"
#include "runtime/team.h"
#include "tasks/task.h"
#include "tinyllm/tinyllm.h"
#include "tokenizer/bpe.h"

typedef struct tl_rt_layer {
    const float *ln1_w, *ln1_b, *qkv_b, *proj_b, *ln2_w, *ln2_b, *fc_b, *down_b; /* f32 vectors */
    tl_wmat qkv, proj, fc, down;                                               /* [3C,C] [C,C] [4C,C] [C,4C] */
} tl_rt_layer;

struct tl_model {
    tl_model_info info;
    int C, H, L, V, n_ctx;
    float ln_eps;
    tl_wmat wte, wpe, head;    /* head: the output projection [V, C] (wte when tied) */
    const float *lnf_w, *lnf_b;
    tl_rt_layer *layer;        /* [L] */
    float *vec;                /* f32 copies of the vectors not usable in place (f16, misaligned) */
    void *packed;              /* the quantized matrices, repacked (kernels.h) */
    tl_gguf gguf;              /* the mapped file the views point into */
    tl_bpe *bpe;
    tl_task task;              /* name NULL: none */
    char name[128];
};

struct tl_ctx {
    const tl_model *m;
    const tl_kernels *k;
    tl_team *team;
    int n_ctx, pos, ubatch;    /* ubatch: tokens per forward chunk (scratch is sized for it) */
    int n_ctx16;               /* n_ctx rounded up to 16 */
    float *kc, *vc;            /* KV cache: keys [L][H][n_ctx16 / 16][hs][16] (16 positions a block,
                                  dimension-major within it), values [L][n_ctx][C] */
    /* scratch for ubatch tokens */
    float *x, *h, *qkv, *att, *ff, *logits; /* [ub][C] [ub][C] [ub][3C] [ub][C] [ub][4C] [V] */
    int8_t *q;                 /* quantized activations [ub][4C] */
    float *qd;                 /* their scales [ub][4C / 32] */
    float *scores;             /* attention scores, [threads][n_ctx] */
    int32_t *hist;             /* tokens fed so far [n_ctx] (repetition penalty) */
};

/* Bytes of a context's KV cache and scratch for these dimensions. */
size_t tl_rt_ctx_bytes(int L, int C, int V, int n_ctx);

/* One forward over tokens[0..n) (n <= ubatch) at positions c->pos..; writes the last token's
 * logits to c->logits and, with all_logits, every token's ([n][V]). Advances c->pos. */
void tl_rt_forward(tl_ctx *c, const int32_t *tokens, int n, float *all_logits);

#endif
