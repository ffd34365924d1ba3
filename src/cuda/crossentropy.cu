/* Fused softmax + cross-entropy over bf16 logits: one block per row computes the log-sum-exp
 * (online max/sum), the loss, and optionally overwrites the logits with their gradient. */
#include "cuda/common.cuh"

#define CE_THREADS 512

/* Combines two (max, sum of exp(x - max)) pairs. */
static __device__ __forceinline__ void lse_merge(float *m, float *s, float m2, float s2) {
    float mm = fmaxf(*m, m2);
    if (mm == -INFINITY) return; /* both empty */
    *s = *s * __expf(*m - mm) + s2 * __expf(m2 - mm);
    *m = mm;
}

__global__ void __launch_bounds__(CE_THREADS) tl_crossentropy_kernel(float *losses, bf16 *logits, const int32_t *targets,
                                                                     int V, int Vp, float dscale, int write_grad) {
    __shared__ float shm[32], shs[32], sh_tl;
    long row = blockIdx.x;
    bf16 *x = logits + row * Vp;
    int tgt = targets[row], tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    if (tid == 0) sh_tl = tgt >= 0 ? __bfloat162float(x[tgt]) : 0.0f; /* read before any overwrite */
    float m = -INFINITY, s = 0.0f;
    int V8 = V & ~7;
    for (int i = tid * 8; i < V8; i += CE_THREADS * 8) {
        tl_bf16x8 v = *(const tl_bf16x8 *)(x + i);
        float f[8], mx = m;
        for (int k = 0; k < 8; k++) {
            f[k] = __bfloat162float(v.v[k]);
            mx = fmaxf(mx, f[k]);
        }
        float acc = 0.0f;
        for (int k = 0; k < 8; k++) acc += __expf(f[k] - mx);
        s = s * __expf(m - mx) + acc;
        m = mx;
    }
    for (int i = V8 + tid; i < V; i += CE_THREADS) {
        float f = __bfloat162float(x[i]), mx = fmaxf(m, f);
        s = s * __expf(m - mx) + __expf(f - mx);
        m = mx;
    }
    for (int o = 16; o; o >>= 1) {
        float m2 = __shfl_xor_sync(0xffffffffu, m, o), s2 = __shfl_xor_sync(0xffffffffu, s, o);
        lse_merge(&m, &s, m2, s2);
    }
    if (lane == 0) {
        shm[warp] = m;
        shs[warp] = s;
    }
    __syncthreads();
    m = -INFINITY;
    s = 0.0f;
    for (int k = 0; k < CE_THREADS / 32; k++) lse_merge(&m, &s, shm[k], shs[k]); /* same order in every thread */
    float lse = m + logf(s);
    if (tid == 0) losses[row] = tgt >= 0 ? lse - sh_tl : 0.0f;
    if (!write_grad) return;
    float ds = tgt >= 0 ? dscale : 0.0f;
    for (int i = tid * 8; i < Vp; i += CE_THREADS * 8) {
        tl_bf16x8 v = *(const tl_bf16x8 *)(x + i), g;
        for (int k = 0; k < 8; k++) {
            int j = i + k;
            float p = j < V ? __expf(__bfloat162float(v.v[k]) - lse) : 0.0f;
            g.v[k] = __float2bfloat16_rn((p - (j == tgt ? 1.0f : 0.0f)) * ds);
        }
        *(tl_bf16x8 *)(x + i) = g;
    }
}

extern "C" cudaError_t tl_cuda_crossentropy_forward(float *losses, tl_bf16 *logits, const int32_t *targets, int N, int V,
                                                    int Vp, float dscale, int write_grad, cudaStream_t s) {
    tl_crossentropy_kernel<<<N, CE_THREADS, 0, s>>>(losses, TL_BF(logits), targets, V, Vp, dscale, write_grad);
    return cudaGetLastError();
}

/* one block: strided sums in thread order, then the block sum */
__global__ void tl_loss_reduce_kernel(float *mean, double *acc, const float *losses, int N, float inv_count) {
    __shared__ float sh[32];
    float s = 0.0f;
    for (int i = threadIdx.x; i < N; i += blockDim.x) s += losses[i];
    s = tl_block_sum(s, sh);
    if (threadIdx.x == 0) {
        float mv = s * inv_count;
        mean[0] = mv;
        if (acc) acc[0] += (double)mv;
    }
}

extern "C" cudaError_t tl_cuda_loss_reduce(float *mean, double *acc, const float *losses, int N, float inv_count,
                                           cudaStream_t s) {
    tl_loss_reduce_kernel<<<1, 1024, 0, s>>>(mean, acc, losses, N, inv_count);
    return cudaGetLastError();
}
