/* GPT-2's operations on the CPU (fp32): forward/backward pairs used by gpt2.c and tested one by
 * one against finite differences. Shapes: B batch, T time, C channels, NH heads, V vocabulary,
 * Vp padded vocabulary. Backward functions accumulate (+=) unless noted. */
#ifndef TL_MODEL_OPS_H
#define TL_MODEL_OPS_H

#include <stdint.h>

#include "base/vmath.h"

/* out[B,T,C] = wte[inp] + wpe[t] */
void tl_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C);
void tl_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int B, int T, int C);

/* out[N,C] = LayerNorm(inp) * w + b; saves mean[N], rstd[N]. The backward skips dw, db when dw is NULL. */
void tl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b, int N, int C);
void tl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                           const float *mean, const float *rstd, int N, int C);

/* Causal self-attention: qkv[B,T,3C] -> out[B,T,C]; att[B,NH,T,T] keeps the probabilities. */
void tl_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH);
/* dqkv[B,T,3C] += ...; scratch [B,NH,T,T] */
void tl_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                           int T, int C, int NH);

/* out[N] = GELU(inp) (tanh approximation) */
void tl_gelu_forward(float *out, const float *inp, long N);
/* dinp[N] = GELU'(inp) * dout (overwrites; dinp may alias dout) */
void tl_gelu_backward(float *dinp, const float *inp, const float *dout, long N);

/* out[N] = a + b */
void tl_residual_forward(float *out, const float *a, const float *b, long N);

/* Cross-entropy over the first V of Vp logits per row: losses[BT] (0 where targets is -1) and
 * lse[BT] (log-sum-exp). Returns the number of counted rows and their mean loss in *mean. */
int tl_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int BT, int V,
                            int Vp, float *mean);
/* Turns logits[BT,Vp] into dlogits in place: (softmax - onehot) * dscale on counted rows, 0 on
 * ignored rows and padded columns (overwrites). */
void tl_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, int BT, int V, int Vp, float dscale);

#endif
