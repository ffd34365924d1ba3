/* AdamW with decoupled weight decay (applied to matrices and embeddings only), global-norm
 * gradient clipping and the cosine learning-rate schedule with linear warmup. */
#ifndef TL_TRAIN_ADAMW_H
#define TL_TRAIN_ADAMW_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "model/gpt2.h"

typedef struct tl_adamw {
    float beta1, beta2, eps, weight_decay;
    size_t n;
    float *m, *v; /* first and second moments, [n] */
    uint64_t t;   /* updates done (bias correction) */
} tl_adamw;

int tl_adamw_init(tl_adamw *o, size_t n, float beta1, float beta2, float eps, float weight_decay, tl_err *e);
void tl_adamw_free(tl_adamw *o);
/* One update of all tensors of the table; decay applies where tensors[i].decay is set. */
void tl_adamw_update(tl_adamw *o, float *params, const float *grads, const tl_tensor_info *tensors, int n_tensors,
                     float lr);

/* L2 norm of g[n], summed in double in fixed chunks: the same bits for any thread count. */
double tl_grad_norm(const float *g, size_t n);
/* Scales g by max_norm / norm when norm > max_norm (max_norm <= 0 disables). */
void tl_grad_clip(float *g, size_t n, double norm, float max_norm);

/* Learning rate at 0-based `step`: linear warmup over `warmup` steps to `lr`, then cosine decay
 * to lr * final_frac at step `total`. */
float tl_lr_cosine(int step, int warmup, int total, float lr, float final_frac);

#endif
