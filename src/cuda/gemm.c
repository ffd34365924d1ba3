/* bf16 matrix products through cuBLASLt (contracts in gemm.h).
 *
 * cuBLASLt is column-major: a row-major [R, K] matrix is the column-major K x R matrix, so
 * out[N, OC] = inp @ W^T is D (OC x N) = W^T(stored IC x OC, op T) * inp^T (stored IC x N), and so
 * on for the two backward products. */
#include "cuda/gemm.h"

#include <stdint.h>
#include <string.h>

#define WORKSPACE_BYTES (32u << 20) /* cuBLASLt's recommendation for Hopper */

int tl_cuda_blas_init(tl_cuda_blas *b, tl_err *e) {
    memset(b, 0, sizeof *b);
    cublasStatus_t st = cublasLtCreate(&b->lt);
    if (st != CUBLAS_STATUS_SUCCESS) return tl_errf(e, "cuBLASLt: cannot create a handle: %s", cublasLtGetStatusString(st));
    cudaError_t r = cudaMalloc(&b->workspace, WORKSPACE_BYTES);
    if (r != cudaSuccess) {
        cublasLtDestroy(b->lt);
        return tl_errf(e, "cuBLASLt: cannot allocate its workspace: %s", cudaGetErrorString(r));
    }
    b->workspace_size = WORKSPACE_BYTES;
    b->fuse_gelu_fwd = 1;
    b->fuse_gelu_bwd = 1;
    return 0;
}

void tl_cuda_blas_free(tl_cuda_blas *b) {
    if (b->workspace) cudaFree(b->workspace);
    if (b->lt) cublasLtDestroy(b->lt);
    memset(b, 0, sizeof *b);
}

/* D (m x n, column-major, ld m) = alpha * op(A) op(B) + beta * D. A is stored k x m (ld k) when transA,
 * else m x k; B is stored n x k (ld n) when transB, else k x n. bias [m] (bf16) and aux (ld
 * aux_ld, D's type) as the epilogue needs them. Runs the b->algo-th of cuBLASLt's heuristic answers.
 * Returns 0 when launched, 1 when cuBLASLt has no (such) algorithm for this epilogue (nothing
 * launched, no error), -1 on errors. */
static int gemm(tl_cuda_blas *b, void *D, cudaDataType_t dtype, const void *A, int transA, const void *B, int transB, int m,
                int n, int k, float alpha, float beta, cublasLtEpilogue_t epi, const void *bias, void *aux, int64_t aux_ld,
                cudaStream_t s, tl_err *e) {
    cublasLtMatmulDesc_t desc = NULL;
    cublasLtMatrixLayout_t la = NULL, lb = NULL, ld = NULL;
    cublasLtMatmulPreference_t pref = NULL;
    cublasOperation_t opa = transA ? CUBLAS_OP_T : CUBLAS_OP_N, opb = transB ? CUBLAS_OP_T : CUBLAS_OP_N;
    cudaDataType_t bias_type = CUDA_R_16BF;
    const char *what = "descriptors";
    int rc = -1, found = 0, want = b->algo >= 0 && b->algo < 16 ? b->algo + 1 : 1;
    cublasLtMatmulHeuristicResult_t heur[16];
    cublasStatus_t st = cublasLtMatmulDescCreate(&desc, CUBLAS_COMPUTE_32F, CUDA_R_32F);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSA, &opa, sizeof opa);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_TRANSB, &opb, sizeof opb);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE, &epi, sizeof epi);
    if (st == CUBLAS_STATUS_SUCCESS && bias) {
        st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_POINTER, &bias, sizeof bias);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, &bias_type, sizeof bias_type);
    }
    if (st == CUBLAS_STATUS_SUCCESS && aux) {
        st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_POINTER, &aux, sizeof aux);
        if (st == CUBLAS_STATUS_SUCCESS)
            st = cublasLtMatmulDescSetAttribute(desc, CUBLASLT_MATMUL_DESC_EPILOGUE_AUX_LD, &aux_ld, sizeof aux_ld);
    }
    if (st == CUBLAS_STATUS_SUCCESS)
        st = transA ? cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, (uint64_t)k, (uint64_t)m, k)
                    : cublasLtMatrixLayoutCreate(&la, CUDA_R_16BF, (uint64_t)m, (uint64_t)k, m);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = transB ? cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, (uint64_t)n, (uint64_t)k, n)
                    : cublasLtMatrixLayoutCreate(&lb, CUDA_R_16BF, (uint64_t)k, (uint64_t)n, k);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatrixLayoutCreate(&ld, dtype, (uint64_t)m, (uint64_t)n, m);
    if (st == CUBLAS_STATUS_SUCCESS) st = cublasLtMatmulPreferenceCreate(&pref);
    if (st == CUBLAS_STATUS_SUCCESS)
        st = cublasLtMatmulPreferenceSetAttribute(pref, CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, &b->workspace_size,
                                                  sizeof b->workspace_size);
    if (st == CUBLAS_STATUS_SUCCESS) {
        what = "heuristic";
        st = cublasLtMatmulAlgoGetHeuristic(b->lt, desc, la, lb, ld, ld, pref, want, heur, &found);
        if (st == CUBLAS_STATUS_NOT_SUPPORTED || (st == CUBLAS_STATUS_SUCCESS && found < want)) {
            rc = 1;
            goto done;
        }
    }
    if (st == CUBLAS_STATUS_SUCCESS) {
        what = "matmul";
        st = cublasLtMatmul(b->lt, desc, &alpha, A, la, B, lb, &beta, D, ld, D, ld, &heur[want - 1].algo, b->workspace,
                            b->workspace_size, s);
    }
    if (st == CUBLAS_STATUS_SUCCESS) rc = 0;
    else tl_errf(e, "cuBLASLt %s (m %d n %d k %d, epilogue %d): %s", what, m, n, k, (int)epi, cublasLtGetStatusString(st));
done:
    if (pref) cublasLtMatmulPreferenceDestroy(pref);
    if (ld) cublasLtMatrixLayoutDestroy(ld);
    if (lb) cublasLtMatrixLayoutDestroy(lb);
    if (la) cublasLtMatrixLayoutDestroy(la);
    if (desc) cublasLtMatmulDescDestroy(desc);
    return rc;
}

static int launched(cudaError_t r, const char *what, tl_err *e) {
    return r == cudaSuccess ? 0 : tl_errf(e, "CUDA %s: %s", what, cudaGetErrorString(r));
}

int tl_cuda_linear_forward(tl_cuda_blas *b, tl_bf16 *out, tl_bf16 *pre_gelu, const tl_bf16 *inp, const tl_bf16 *weight,
                           const tl_bf16 *bias, int N, int IC, int OC, cudaStream_t s, tl_err *e) {
    cublasLtEpilogue_t plain = bias ? CUBLASLT_EPILOGUE_BIAS : CUBLASLT_EPILOGUE_DEFAULT;
    if (!pre_gelu) {
        int r = gemm(b, out, CUDA_R_16BF, weight, 1, inp, 0, OC, N, IC, 1.0f, 0.0f, plain, bias, NULL, 0, s, e);
        return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d bf16 product", OC, N, IC) : r;
    }
    if (b->fuse_gelu_fwd) {
        cublasLtEpilogue_t epi = bias ? CUBLASLT_EPILOGUE_GELU_AUX_BIAS : CUBLASLT_EPILOGUE_GELU_AUX;
        int r = gemm(b, out, CUDA_R_16BF, weight, 1, inp, 0, OC, N, IC, 1.0f, 0.0f, epi, bias, pre_gelu, OC, s, e);
        if (r == 0) return 0;
        b->fuse_gelu_fwd = 0; /* no fused algorithm (or it failed): the separate kernel from now on */
    }
    int r = gemm(b, pre_gelu, CUDA_R_16BF, weight, 1, inp, 0, OC, N, IC, 1.0f, 0.0f, plain, bias, NULL, 0, s, e);
    if (r) return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d bf16 product", OC, N, IC) : r;
    return launched(tl_cuda_gelu_forward(out, pre_gelu, (long)N * OC, s), "gelu_forward", e);
}

int tl_cuda_linear_backward_input(tl_cuda_blas *b, tl_bf16 *dinp, const tl_bf16 *pre_gelu, const tl_bf16 *dout,
                                  const tl_bf16 *weight, int N, int IC, int OC, cudaStream_t s, tl_err *e) {
    if (!dinp) return 0;
    if (pre_gelu && b->fuse_gelu_bwd) {
        int r = gemm(b, dinp, CUDA_R_16BF, weight, 0, dout, 0, IC, N, OC, 1.0f, 0.0f, CUBLASLT_EPILOGUE_DGELU, NULL,
                     (void *)pre_gelu, IC, s, e);
        if (r == 0) return 0;
        b->fuse_gelu_bwd = 0;
    }
    int r = gemm(b, dinp, CUDA_R_16BF, weight, 0, dout, 0, IC, N, OC, 1.0f, 0.0f, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0, s, e);
    if (r) return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d bf16 product", IC, N, OC) : r;
    if (pre_gelu) return launched(tl_cuda_gelu_backward(dinp, pre_gelu, dinp, (long)N * IC, s), "gelu_backward", e);
    return 0;
}

int tl_cuda_linear_backward_weight(tl_cuda_blas *b, float *dweight, const tl_bf16 *dout, const tl_bf16 *inp, int N, int IC,
                                   int OC, cudaStream_t s, tl_err *e) {
    int r = gemm(b, dweight, CUDA_R_32F, inp, 0, dout, 1, IC, OC, N, 1.0f, 1.0f, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0, s, e);
    return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d product with fp32 output", IC, OC, N) : r;
}

int tl_cuda_matmul_forward(tl_cuda_blas *b, tl_bf16 *out, const tl_bf16 *inp, const tl_bf16 *weight, int N, int IC, int OC,
                           float alpha, float beta, cudaStream_t s, tl_err *e) {
    int r = gemm(b, out, CUDA_R_16BF, weight, 1, inp, 0, OC, N, IC, alpha, beta, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0, s, e);
    return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d bf16 product", OC, N, IC) : r;
}

int tl_cuda_matmul_backward_input(tl_cuda_blas *b, tl_bf16 *dinp, const tl_bf16 *dout, const tl_bf16 *weight, int N, int IC,
                                  int OC, float alpha, float beta, cudaStream_t s, tl_err *e) {
    int r = gemm(b, dinp, CUDA_R_16BF, weight, 0, dout, 0, IC, N, OC, alpha, beta, CUBLASLT_EPILOGUE_DEFAULT, NULL, NULL, 0, s, e);
    return r == 1 ? tl_errf(e, "cuBLASLt: no algorithm for a %d x %d x %d bf16 product", IC, N, OC) : r;
}
