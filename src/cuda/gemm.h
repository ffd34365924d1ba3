/* bf16 matrix products through cuBLASLt for the GPU trainer: the linear layers' forward (bias or
 * bias + GELU fused in the epilogue) and backward (input gradient with GELU' fused, weight gradient
 * accumulated in fp32). Host code, C11.
 *
 * Row-major shapes as in the CPU model: inp[N, IC], weight[OC, IC], out[N, OC]. */
#ifndef TL_CUDA_GEMM_H
#define TL_CUDA_GEMM_H

#include <stddef.h>

#include <cublasLt.h>

#include "base/err.h"
#include "cuda/kernels.h"

typedef struct tl_cuda_blas {
    cublasLtHandle_t lt;
    void *workspace;
    size_t workspace_size;
    int fuse_gelu_fwd; /* 1: try GELU in the forward epilogue (falls back when cuBLASLt has no algorithm) */
    int fuse_gelu_bwd; /* 1: try GELU' in the input-gradient epilogue */
    int algo;          /* which of cuBLASLt's heuristic answers to run: 0, its first choice (bench_cuda gemms sweeps it) */
} tl_cuda_blas;

int tl_cuda_blas_init(tl_cuda_blas *b, tl_err *e);
void tl_cuda_blas_free(tl_cuda_blas *b);

/* out[N, OC] = inp[N, IC] @ weight^T + bias (bias may be NULL). With pre_gelu non-NULL: pre_gelu =
 * that product and out = gelu(pre_gelu) (fused when cuBLASLt allows, else a separate kernel). */
int tl_cuda_linear_forward(tl_cuda_blas *b, tl_bf16 *out, tl_bf16 *pre_gelu, const tl_bf16 *inp, const tl_bf16 *weight,
                           const tl_bf16 *bias, int N, int IC, int OC, cudaStream_t s, tl_err *e);

/* dinp[N, IC] = dout[N, OC] @ weight (overwrites); with pre_gelu non-NULL also times gelu'(pre_gelu)
 * (the GELU that produced inp). Skipped when dinp is NULL. */
int tl_cuda_linear_backward_input(tl_cuda_blas *b, tl_bf16 *dinp, const tl_bf16 *pre_gelu, const tl_bf16 *dout,
                                  const tl_bf16 *weight, int N, int IC, int OC, cudaStream_t s, tl_err *e);

/* dweight[OC, IC] (fp32) += dout^T @ inp */
int tl_cuda_linear_backward_weight(tl_cuda_blas *b, float *dweight, const tl_bf16 *dout, const tl_bf16 *inp, int N, int IC,
                                   int OC, cudaStream_t s, tl_err *e);

/* The same products with scale and accumulation, for LoRA's rank-r branch (bf16 in and out, fp32
 * accumulation; out and dinp may hold old values only when beta != 0):
 *   out[N, OC]  = alpha * inp[N, IC] @ weight[OC, IC]^T + beta * out
 *   dinp[N, IC] = alpha * dout[N, OC] @ weight[OC, IC]  + beta * dinp */
int tl_cuda_matmul_forward(tl_cuda_blas *b, tl_bf16 *out, const tl_bf16 *inp, const tl_bf16 *weight, int N, int IC, int OC,
                           float alpha, float beta, cudaStream_t s, tl_err *e);
int tl_cuda_matmul_backward_input(tl_cuda_blas *b, tl_bf16 *dinp, const tl_bf16 *dout, const tl_bf16 *weight, int N, int IC,
                                  int OC, float alpha, float beta, cudaStream_t s, tl_err *e);

#endif
