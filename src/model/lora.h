/* LoRA adapters on GPT-2's linear layers, for fine-tuning with the base weights frozen:
 *
 *   out[BT, O] = inp[BT, I] W^T + b  +  (alpha / r) * dropout(inp) A^T B^T     A [r, I], B [O, r]
 *
 * Adaptable layers ("targets") per block: attn.qkv (C -> 3C), attn.proj (C -> C), mlp.fc (C -> 4C),
 * mlp.proj (4C -> C). Adapter tensors are named like the weight they adapt with .lora_a / .lora_b
 * (h.3.attn.qkv.lora_a), live in one buffer with their own tensor table (the same tl_tensor_info
 * as the model's, so AdamW and safetensors handle them unchanged), and start as A ~ U(+-1/sqrt(I)),
 * B = 0, so a fresh adapter leaves the model unchanged. Dropout masks are a hash of (drop_seed,
 * layer, target, element), kept as bits from the forward for the backward: a run is reproducible
 * from its seed. */
#ifndef TL_MODEL_LORA_H
#define TL_MODEL_LORA_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"

typedef enum { TL_LORA_QKV, TL_LORA_PROJ, TL_LORA_FC, TL_LORA_FCPROJ, TL_LORA_N_TARGETS } tl_lora_target;

typedef struct tl_lora_config {
    int rank;
    float alpha, dropout;
    unsigned targets; /* bit (1 << tl_lora_target) for each adapted layer kind */
    int layers;       /* adapted blocks: the top `layers` of the model; 0: all of them */
} tl_lora_config;

/* Comma-separated target names (attn.qkv, attn.proj, mlp.fc, mlp.proj, or the groups attn, mlp,
 * all) -> bits. An unknown name is an error listing the known ones; an empty set is an error. */
int tl_lora_parse_targets(const char *s, unsigned *targets, tl_err *e);
/* The target bits as the comma-separated names tl_lora_parse_targets reads. */
void tl_lora_targets_str(unsigned targets, char *buf, size_t n);

typedef struct tl_lora {
    tl_lora_config cfg;
    tl_gpt2_config model;
    int n_tensors;
    tl_tensor_info *tensors; /* A then B for each adapted (layer, target), layer-major */
    int *index;              /* [n_layer][TL_LORA_N_TARGETS]: tensor index of A, or -1 */
    int first_layer;         /* lowest adapted block: below it the model is frozen whole */
    size_t n_params;
    float *params, *grads;
    int train;               /* dropout on (training forward) or off (eval) */
    uint64_t drop_seed;      /* set per micro-batch by the trainer */
    /* forward state and scratch, sized for BT rows */
    long bt_cap;
    float *u;                /* [n_layer][targets][BT, r]: (alpha / r) dropout(inp) A^T */
    float *xd, *tmp;         /* [BT, 4C], [BT, 4C + r] */
    uint64_t *mask;          /* [n_layer][targets][BT * 4C / 64]: the training forward's keep bits (dropout > 0) */
} tl_lora;

/* Allocates adapters for model shape c (cfg.layers 0..n_layer); params zero until tl_lora_init_weights or a load. */
int tl_lora_init(tl_lora *lo, const tl_gpt2_config *c, const tl_lora_config *lc, tl_err *e);
void tl_lora_free(tl_lora *lo);
void tl_lora_init_weights(tl_lora *lo, uint64_t seed);
void tl_lora_zero_grad(tl_lora *lo);
/* Makes room for BT rows of forward state (called by tl_gpt2_forward). */
int tl_lora_reserve(tl_lora *lo, long BT, tl_err *e);

/* out[BT, O] += the adapter of (layer l, target t) applied to inp[BT, I]; no-op if not adapted. */
void tl_lora_forward(tl_lora *lo, int l, tl_lora_target t, float *out, const float *inp, int BT);
/* Given dout[BT, O] of that forward: dinp[BT, I] += ... (unless dinp is NULL), and A, B gradients
 * accumulate (+=). */
void tl_lora_backward(tl_lora *lo, int l, tl_lora_target t, float *dinp, const float *dout, const float *inp, int BT);

/* W += (alpha / r) B A for every adapted weight of m (same shape): the adapter folded in. */
void tl_lora_merge(const tl_lora *lo, tl_gpt2 *m);

#endif
