/* Device-side helpers shared by the GPU trainer's kernels: bf16 vectors, warp and block sums in a
 * fixed order, launch-size arithmetic. Included by the .cu files of src/cuda only. */
#ifndef TL_CUDA_COMMON_CUH
#define TL_CUDA_COMMON_CUH

#include <cuda_bf16.h>
#include <math.h>

#include "cuda/kernels.h"

typedef __nv_bfloat16 bf16;

#define TL_BF(p) ((bf16 *)(p))
#define TL_CBF(p) ((const bf16 *)(p))

static inline unsigned tl_ceil_div(long a, long b) { return (unsigned)((a + b - 1) / b); }

/* Butterfly sums and maxima: every lane ends with the same value, summed in the same order. */
static __device__ __forceinline__ float tl_warp_sum(float x) {
    for (int o = 16; o; o >>= 1) x += __shfl_xor_sync(0xffffffffu, x, o);
    return x;
}
static __device__ __forceinline__ float tl_warp_max(float x) {
    for (int o = 16; o; o >>= 1) x = fmaxf(x, __shfl_xor_sync(0xffffffffu, x, o));
    return x;
}

/* Sum over the block (blockDim.x a multiple of 32, at most 1024); every thread gets the result.
 * sh: 32 floats of shared memory. Warp sums, then warp 0 sums them in warp order. */
static __device__ __forceinline__ float tl_block_sum(float x, float *sh) {
    int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, nw = blockDim.x >> 5;
    x = tl_warp_sum(x);
    __syncthreads(); /* sh may still be read from a previous call */
    if (lane == 0) sh[warp] = x;
    __syncthreads();
    x = lane < nw ? sh[lane] : 0.0f;
    x = tl_warp_sum(x);
    return x;
}

/* 8 bf16 values moved as one 16-byte word */
typedef struct __align__(16) tl_bf16x8 {
    bf16 v[8];
} tl_bf16x8;
/* 4 bf16 values moved as one 8-byte word */
typedef struct __align__(8) tl_bf16x4 {
    bf16 v[4];
} tl_bf16x4;

#endif
