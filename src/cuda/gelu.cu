/* GELU (tanh approximation) forward/backward on bf16 vectors, and the bias gradient of a linear
 * layer (column sums in a fixed order). Used when cuBLASLt's fused epilogues are not. */
#include "cuda/common.cuh"

#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

static __device__ __forceinline__ float gelu_f(float x) {
    return 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
}
static __device__ __forceinline__ float gelu_grad(float x) {
    float th = tanhf(GELU_K * (x + 0.044715f * x * x * x));
    return 0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x);
}

/* out[n] = gelu(inp[n]); thread per 8 values */
__global__ void tl_gelu_forward_kernel(tl_bf16x8 *out, const tl_bf16x8 *inp, long n8) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n8) return;
    tl_bf16x8 x = inp[i], y;
    for (int k = 0; k < 8; k++) y.v[k] = __float2bfloat16_rn(gelu_f(__bfloat162float(x.v[k])));
    out[i] = y;
}

/* dinp[n] = gelu'(inp[n]) * dout[n] */
__global__ void tl_gelu_backward_kernel(tl_bf16x8 *dinp, const tl_bf16x8 *inp, const tl_bf16x8 *dout, long n8) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n8) return;
    tl_bf16x8 x = inp[i], d = dout[i], y;
    for (int k = 0; k < 8; k++)
        y.v[k] = __float2bfloat16_rn(gelu_grad(__bfloat162float(x.v[k])) * __bfloat162float(d.v[k]));
    dinp[i] = y;
}

extern "C" cudaError_t tl_cuda_gelu_forward(tl_bf16 *out, const tl_bf16 *inp, long n, cudaStream_t s) {
    tl_gelu_forward_kernel<<<tl_ceil_div(n / 8, 256), 256, 0, s>>>((tl_bf16x8 *)out, (const tl_bf16x8 *)inp, n / 8);
    return cudaGetLastError();
}

extern "C" cudaError_t tl_cuda_gelu_backward(tl_bf16 *dinp, const tl_bf16 *inp, const tl_bf16 *dout, long n, cudaStream_t s) {
    tl_gelu_backward_kernel<<<tl_ceil_div(n / 8, 256), 256, 0, s>>>((tl_bf16x8 *)dinp, (const tl_bf16x8 *)inp,
                                                                    (const tl_bf16x8 *)dout, n / 8);
    return cudaGetLastError();
}

/* ---- bias gradient: blocks of 32 x 8 threads cover 256 columns (8 per thread) of one chunk of
 * rows; the 8 row lanes are added in order, then the chunks in order by a second kernel. */
#define BIAS_COLS 256
#define BIAS_ROWS_PER_CHUNK 256

static int bias_chunks(int N, int OC) {
    int gx = (OC + BIAS_COLS - 1) / BIAS_COLS, g = (N + BIAS_ROWS_PER_CHUNK - 1) / BIAS_ROWS_PER_CHUNK;
    int cap = 2048 / gx > 1 ? 2048 / gx : 1;
    return g < 1 ? 1 : (g < cap ? g : cap);
}

extern "C" long tl_cuda_bias_scratch(int N, int OC) { return (long)bias_chunks(N, OC) * OC; }

__global__ void tl_bias_backward_kernel(float *partial, const bf16 *dout, int N, int OC, int rows) {
    __shared__ float sh[8][BIAS_COLS];
    int tx = threadIdx.x, ty = threadIdx.y, c0 = blockIdx.x * BIAS_COLS + tx * 8;
    int r0 = blockIdx.y * rows, r1 = r0 + rows < N ? r0 + rows : N;
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    if (c0 < OC)
        for (int r = r0 + ty; r < r1; r += 8) {
            tl_bf16x8 v = *(const tl_bf16x8 *)(dout + (long)r * OC + c0);
            for (int k = 0; k < 8; k++) acc[k] += __bfloat162float(v.v[k]);
        }
    for (int k = 0; k < 8; k++) sh[ty][tx * 8 + k] = acc[k];
    __syncthreads();
    int col = ty * 32 + tx; /* 256 threads: one column each */
    if (blockIdx.x * BIAS_COLS + col < OC) {
        float s = 0.0f;
        for (int k = 0; k < 8; k++) s += sh[k][col];
        partial[(long)blockIdx.y * OC + blockIdx.x * BIAS_COLS + col] = s;
    }
}

__global__ void tl_bias_reduce_kernel(float *db, const float *partial, int G, int OC) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= OC) return;
    float s = 0.0f;
    for (int g = 0; g < G; g++) s += partial[(long)g * OC + c];
    db[c] += s;
}

extern "C" cudaError_t tl_cuda_bias_backward(float *db, float *scratch, const tl_bf16 *dout, int N, int OC, cudaStream_t s) {
    int G = bias_chunks(N, OC), rows = (N + G - 1) / G;
    dim3 grid(tl_ceil_div(OC, BIAS_COLS), G), block(32, 8);
    tl_bias_backward_kernel<<<grid, block, 0, s>>>(scratch, TL_CBF(dout), N, OC, rows);
    cudaError_t r = cudaGetLastError();
    if (r != cudaSuccess) return r;
    tl_bias_reduce_kernel<<<tl_ceil_div(OC, 256), 256, 0, s>>>(db, scratch, G, OC);
    return cudaGetLastError();
}
