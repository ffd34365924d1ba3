/* Launchers of the GPU trainer's CUDA kernels (the .cu files of src/cuda), callable from C11 host code.
 *
 * Shapes: B batch, T time, C channels, NH heads, hs = C/NH, N = B*T rows, V vocabulary, Vp
 * padded vocabulary, OC output channels. Activations are row-major [N, C]; tl_bf16 is the storage
 * of a bfloat16 value. Every launcher is asynchronous on stream `s` and returns the launch status
 * (cudaGetLastError). Every reduction runs in a fixed order (no floating-point atomics), so the
 * same inputs give the same bits on every run. Backward launchers accumulate (+=) into parameter
 * gradients and overwrite input gradients unless noted. */
#ifndef TL_CUDA_KERNELS_H
#define TL_CUDA_KERNELS_H

#include <stdint.h>

#include <cuda_runtime.h>

typedef uint16_t tl_bf16;

#ifdef __cplusplus
extern "C" {
#endif

/* ---- conversions and small helpers (adamw.cu) */
/* out[n] = bf16(in[n]), round to nearest even */
cudaError_t tl_cuda_cast_bf16(tl_bf16 *out, const float *in, long n, cudaStream_t s);
/* out[n] = float(in[n]) */
cudaError_t tl_cuda_bf16_to_float(float *out, const tl_bf16 *in, long n, cudaStream_t s);

/* ---- embeddings (encoder.cu) */
/* out[N, C] (fp32) = wte[inp[n]] + wpe[n % T]; wte [Vp, C], wpe [n_ctx, C] fp32 */
cudaError_t tl_cuda_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C,
                                    cudaStream_t s);
/* dwte[Vp, C] += scatter of dout[N, C] by token, dwpe[T, C] += sum over the batch. The positions
 * come grouped by token (tl_cuda_token_groups): order[N] lists positions token by token, group g
 * holds order[start[g] .. start[g+1]) for token tok[g]; each group is summed in order by one block. */
cudaError_t tl_cuda_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *order, const int32_t *start,
                                     const int32_t *tok, int n_groups, int B, int T, int C, cudaStream_t s);

/* ---- LayerNorm fused with the residual add (layernorm.cu); eps 1e-5, w and b fp32 [C] */
/* With branch: res_out[N, C] = res_in + branch (fp32 + bf16), out = LayerNorm(res_out) * w + b.
 * Without (branch NULL): out = LayerNorm(res_in) * w + b, res_out unused. out bf16 [N, C];
 * mean[N], rstd[N] saved for the backward. C must be a multiple of 4. */
cudaError_t tl_cuda_layernorm_forward(float *res_out, tl_bf16 *out, float *mean, float *rstd, const float *res_in,
                                      const tl_bf16 *branch, const float *w, const float *b, int N, int C, cudaStream_t s);
/* dres[N, C] (fp32) += d LayerNorm(inp) / d inp given dout[N, C] (bf16), and dres16 = bf16(dres);
 * dw, db [C] += weight and bias gradients (skipped when dw is NULL). scratch holds
 * tl_cuda_layernorm_scratch(N, C) floats. */
cudaError_t tl_cuda_layernorm_backward(float *dres, tl_bf16 *dres16, float *dw, float *db, float *scratch,
                                       const tl_bf16 *dout, const float *inp, const float *w, const float *mean,
                                       const float *rstd, int N, int C, cudaStream_t s);
long tl_cuda_layernorm_scratch(int N, int C);

/* ---- GELU, tanh approximation (gelu.cu); n a multiple of 8 */
cudaError_t tl_cuda_gelu_forward(tl_bf16 *out, const tl_bf16 *inp, long n, cudaStream_t s);
/* dinp[n] = gelu'(inp) * dout (dinp may alias dout) */
cudaError_t tl_cuda_gelu_backward(tl_bf16 *dinp, const tl_bf16 *inp, const tl_bf16 *dout, long n, cudaStream_t s);

/* ---- bias gradient (gelu.cu): db[OC] += sum over rows of dout[N, OC] (bf16); OC a multiple of 8;
 * scratch holds tl_cuda_bias_scratch(N, OC) floats */
cudaError_t tl_cuda_bias_backward(float *db, float *scratch, const tl_bf16 *dout, int N, int OC, cudaStream_t s);
long tl_cuda_bias_scratch(int N, int OC);

/* ---- causal self-attention (attention.cu) */
/* qkv[B, T, 3C] (q | k | v, heads contiguous inside each) -> out[B, T, C]; lse[B, NH, T] keeps
 * each row's log2-sum-exp2 of the scaled scores for the backward. Head size 64 runs the flash
 * kernel (tensor cores, no T x T matrix); other head sizes, or plain = 1, the plain kernels
 * (T <= 6000). */
cudaError_t tl_cuda_attention_forward(tl_bf16 *out, float *lse, const tl_bf16 *qkv, int B, int T, int C, int NH, int plain,
                                      cudaStream_t s);
/* dqkv[B, T, 3C] = gradient given dout[B, T, C] (overwrites); out and lse from the forward;
 * dvec [B, NH, T] scratch. Deterministic: dq and dk/dv come from separate kernels, no atomics. */
cudaError_t tl_cuda_attention_backward(tl_bf16 *dqkv, float *dvec, const tl_bf16 *dout, const tl_bf16 *qkv,
                                       const tl_bf16 *out, const float *lse, int B, int T, int C, int NH, int plain,
                                       cudaStream_t s);
/* 1 when head size hs takes the flash kernels */
int tl_cuda_attention_is_flash(int hs);

/* ---- fused softmax + cross-entropy (crossentropy.cu) */
/* losses[N] from logits[N, Vp] (bf16) over the first V columns (0 where targets[n] is -1). With
 * write_grad, logits become dlogits in place: (softmax - onehot(target)) * dscale on counted rows,
 * 0 on ignored rows and padded columns. */
cudaError_t tl_cuda_crossentropy_forward(float *losses, tl_bf16 *logits, const int32_t *targets, int N, int V, int Vp,
                                         float dscale, int write_grad, cudaStream_t s);
/* mean[0] = inv_count * sum(losses[N]) in a fixed order; acc[0] += mean[0] when acc is not NULL */
cudaError_t tl_cuda_loss_reduce(float *mean, double *acc, const float *losses, int N, float inv_count, cudaStream_t s);

/* ---- optimizer (adamw.cu) */
/* AdamW on n elements: g' = g * gscale; m, v moments; p -= lr * (m/c1 / (sqrt(v/c2) + eps) + wd * p);
 * p16 = bf16(p). c1, c2 are the bias corrections 1 - beta^t. */
cudaError_t tl_cuda_adamw_update(float *p, tl_bf16 *p16, float *m, float *v, const float *g, long n, float lr, float beta1,
                                 float beta2, float c1, float c2, float eps, float wd, float gscale, cudaStream_t s);
/* out[0] = sum of g[n]^2 (double), in a fixed order; scratch holds TL_CUDA_NORM_BLOCKS doubles */
#define TL_CUDA_NORM_BLOCKS 1024
cudaError_t tl_cuda_sumsq(double *out, double *scratch, const float *g, long n, cudaStream_t s);

/* ---- LoRA dropout (lora.cu): the CPU's keep-mask (model/lora.c), a hash of (seed, adapter lt =
 * layer * TL_LORA_N_TARGETS + target, element index i), p the drop probability */
/* out[n] = keep(i) ? inp[i] / (1 - p) : 0 */
cudaError_t tl_cuda_lora_dropout_forward(tl_bf16 *out, const tl_bf16 *inp, long n, uint64_t seed, int lt, float p,
                                         cudaStream_t s);
/* dinp[n] += keep(i) ? dxd[i] / (1 - p) : 0 */
cudaError_t tl_cuda_lora_dropout_backward(tl_bf16 *dinp, const tl_bf16 *dxd, long n, uint64_t seed, int lt, float p,
                                          cudaStream_t s);

#ifdef __cplusplus
}
#endif

#endif
