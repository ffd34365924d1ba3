/* Optimizer kernels: fused AdamW on fp32 master weights writing the bf16 working copy, the sum of
 * squared gradients for global-norm clipping (fixed order), and fp32 <-> bf16 casts. */
#include "cuda/common.cuh"

__global__ void tl_adamw_kernel(float *p, bf16 *p16, float *m, float *v, const float *g, long n, float lr, float beta1,
                                float beta2, float c1, float c2, float eps, float wd, float gscale) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) {
        float gi = g[i] * gscale;
        float mi = beta1 * m[i] + (1.0f - beta1) * gi;
        float vi = beta2 * v[i] + (1.0f - beta2) * gi * gi;
        float mh = mi / c1, vh = vi / c2, pi = p[i];
        pi -= lr * (mh / (sqrtf(vh) + eps) + wd * pi);
        m[i] = mi;
        v[i] = vi;
        p[i] = pi;
        p16[i] = __float2bfloat16_rn(pi);
    }
}

extern "C" cudaError_t tl_cuda_adamw_update(float *p, tl_bf16 *p16, float *m, float *v, const float *g, long n, float lr,
                                            float beta1, float beta2, float c1, float c2, float eps, float wd, float gscale,
                                            cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    unsigned blocks = tl_ceil_div(n, 256);
    if (blocks > 132 * 16) blocks = 132 * 16;
    tl_adamw_kernel<<<blocks, 256, 0, s>>>(p, TL_BF(p16), m, v, g, n, lr, beta1, beta2, c1, c2, eps, wd, gscale);
    return cudaGetLastError();
}

/* partial[blockIdx.x] = sum of g[i]^2 over the grid-stride slice of each thread, block-summed */
__global__ void tl_sumsq_kernel(double *partial, const float *g, long n) {
    __shared__ float sh[32];
    float acc = 0.0f;
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x) acc += g[i] * g[i];
    acc = tl_block_sum(acc, sh);
    if (threadIdx.x == 0) partial[blockIdx.x] = (double)acc;
}

__global__ void tl_sum_partials_kernel(double *out, const double *partial, int n) {
    if (threadIdx.x) return;
    double s = 0;
    for (int i = 0; i < n; i++) s += partial[i];
    out[0] = s;
}

extern "C" cudaError_t tl_cuda_sumsq(double *out, double *scratch, const float *g, long n, cudaStream_t s) {
    tl_sumsq_kernel<<<TL_CUDA_NORM_BLOCKS, 256, 0, s>>>(scratch, g, n);
    cudaError_t r = cudaGetLastError();
    if (r != cudaSuccess) return r;
    tl_sum_partials_kernel<<<1, 32, 0, s>>>(out, scratch, TL_CUDA_NORM_BLOCKS);
    return cudaGetLastError();
}

__global__ void tl_cast_bf16_kernel(bf16 *out, const float *in, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        out[i] = __float2bfloat16_rn(in[i]);
}

__global__ void tl_bf16_to_float_kernel(float *out, const bf16 *in, long n) {
    for (long i = (long)blockIdx.x * blockDim.x + threadIdx.x; i < n; i += (long)gridDim.x * blockDim.x)
        out[i] = __bfloat162float(in[i]);
}

extern "C" cudaError_t tl_cuda_cast_bf16(tl_bf16 *out, const float *in, long n, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    unsigned blocks = tl_ceil_div(n, 256);
    tl_cast_bf16_kernel<<<blocks > 4096 ? 4096 : blocks, 256, 0, s>>>(TL_BF(out), in, n);
    return cudaGetLastError();
}

extern "C" cudaError_t tl_cuda_bf16_to_float(float *out, const tl_bf16 *in, long n, cudaStream_t s) {
    if (n <= 0) return cudaSuccess;
    unsigned blocks = tl_ceil_div(n, 256);
    tl_bf16_to_float_kernel<<<blocks > 4096 ? 4096 : blocks, 256, 0, s>>>(out, TL_CBF(in), n);
    return cudaGetLastError();
}
