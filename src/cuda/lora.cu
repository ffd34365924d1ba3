/* LoRA dropout on the GPU: the CPU's mask (src/model/lora.c, keep()), bit for bit, so a GPU run
 * and a CPU run from the same seed drop the same elements of each adapter input. */
#include "cuda/common.cuh"

/* keep-mask of element i of adapter (layer, target) lt: the splitmix64 finalizer of the CPU code */
static __device__ __forceinline__ bool lora_keep(uint64_t seed, int lt, long i, float p) {
    uint64_t z = seed ^ ((uint64_t)lt << 48) ^ (uint64_t)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f >= p;
}

/* out[n] = keep(i) ? inp[i] * scale : 0 */
__global__ void tl_lora_dropout_forward_kernel(bf16 *out, const bf16 *inp, long n, uint64_t seed, int lt, float p,
                                               float scale) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n) return;
    out[i] = lora_keep(seed, lt, i, p) ? __float2bfloat16_rn(__bfloat162float(inp[i]) * scale) : __float2bfloat16_rn(0.0f);
}

/* dinp[n] += keep(i) ? dxd[i] * scale : 0 */
__global__ void tl_lora_dropout_backward_kernel(bf16 *dinp, const bf16 *dxd, long n, uint64_t seed, int lt, float p,
                                                float scale) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= n || !lora_keep(seed, lt, i, p)) return;
    dinp[i] = __float2bfloat16_rn(__bfloat162float(dinp[i]) + __bfloat162float(dxd[i]) * scale);
}

extern "C" cudaError_t tl_cuda_lora_dropout_forward(tl_bf16 *out, const tl_bf16 *inp, long n, uint64_t seed, int lt, float p,
                                                    cudaStream_t s) {
    tl_lora_dropout_forward_kernel<<<tl_ceil_div(n, 256), 256, 0, s>>>(TL_BF(out), TL_CBF(inp), n, seed, lt, p,
                                                                       1.0f / (1.0f - p));
    return cudaGetLastError();
}

extern "C" cudaError_t tl_cuda_lora_dropout_backward(tl_bf16 *dinp, const tl_bf16 *dxd, long n, uint64_t seed, int lt,
                                                     float p, cudaStream_t s) {
    tl_lora_dropout_backward_kernel<<<tl_ceil_div(n, 256), 256, 0, s>>>(TL_BF(dinp), TL_CBF(dxd), n, seed, lt, p,
                                                                        1.0f / (1.0f - p));
    return cudaGetLastError();
}
