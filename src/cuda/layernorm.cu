/* LayerNorm on the GPU, fused with the residual add: forward (warp per row), backward with the
 * weight gradients reduced in a fixed order (per-block partials, then one pass over them). */
#include "cuda/common.cuh"

#define LN_EPS 1e-5f
#define LN_FWD_WARPS 8
#define LN_BWD_WARPS 4
#define LN_BWD_MAX_BLOCKS 1024

static __device__ __forceinline__ float4 ld_bf16x4(const bf16 *p) {
    tl_bf16x4 v = *(const tl_bf16x4 *)p;
    return make_float4(__bfloat162float(v.v[0]), __bfloat162float(v.v[1]), __bfloat162float(v.v[2]),
                       __bfloat162float(v.v[3]));
}
static __device__ __forceinline__ void st_bf16x4(bf16 *p, float a, float b, float c, float d) {
    tl_bf16x4 v;
    v.v[0] = __float2bfloat16_rn(a);
    v.v[1] = __float2bfloat16_rn(b);
    v.v[2] = __float2bfloat16_rn(c);
    v.v[3] = __float2bfloat16_rn(d);
    *(tl_bf16x4 *)p = v;
}

/* Warp per row. Each lane owns channels lane*4 + 128k: it reads back only what it wrote itself. */
__global__ void tl_layernorm_forward_kernel(float *res_out, bf16 *out, float *mean, float *rstd, const float *res_in,
                                            const bf16 *branch, const float *w, const float *b, int N, int C) {
    int row = blockIdx.x * LN_FWD_WARPS + (threadIdx.x >> 5), lane = threadIdx.x & 31;
    if (row >= N) return;
    const float *x = res_in + (long)row * C;
    float sum = 0.0f;
    if (branch) {
        float *r = res_out + (long)row * C;
        const bf16 *br = branch + (long)row * C;
        for (int i = lane * 4; i < C; i += 128) {
            float4 a = *(const float4 *)(x + i), d = ld_bf16x4(br + i);
            float4 y = make_float4(a.x + d.x, a.y + d.y, a.z + d.z, a.w + d.w);
            *(float4 *)(r + i) = y;
            sum += (y.x + y.y) + (y.z + y.w);
        }
        x = r;
    } else {
        for (int i = lane * 4; i < C; i += 128) {
            float4 a = *(const float4 *)(x + i);
            sum += (a.x + a.y) + (a.z + a.w);
        }
    }
    float m = tl_warp_sum(sum) / (float)C, var = 0.0f;
    for (int i = lane * 4; i < C; i += 128) {
        float4 a = *(const float4 *)(x + i);
        float d0 = a.x - m, d1 = a.y - m, d2 = a.z - m, d3 = a.w - m;
        var += (d0 * d0 + d1 * d1) + (d2 * d2 + d3 * d3);
    }
    float s = 1.0f / sqrtf(tl_warp_sum(var) / (float)C + LN_EPS);
    bf16 *o = out + (long)row * C;
    for (int i = lane * 4; i < C; i += 128) {
        float4 a = *(const float4 *)(x + i), ww = *(const float4 *)(w + i), bb = *(const float4 *)(b + i);
        st_bf16x4(o + i, (a.x - m) * s * ww.x + bb.x, (a.y - m) * s * ww.y + bb.y, (a.z - m) * s * ww.z + bb.z,
                  (a.w - m) * s * ww.w + bb.w);
    }
    if (lane == 0) {
        mean[row] = m;
        rstd[row] = s;
    }
}

extern "C" cudaError_t tl_cuda_layernorm_forward(float *res_out, tl_bf16 *out, float *mean, float *rstd,
                                                 const float *res_in, const tl_bf16 *branch, const float *w, const float *b,
                                                 int N, int C, cudaStream_t s) {
    tl_layernorm_forward_kernel<<<tl_ceil_div(N, LN_FWD_WARPS), LN_FWD_WARPS * 32, 0, s>>>(
        res_out, TL_BF(out), mean, rstd, res_in, TL_CBF(branch), w, b, N, C);
    return cudaGetLastError();
}

static int ln_bwd_blocks(int N) {
    int g = (N + 31) / 32;
    return g < LN_BWD_MAX_BLOCKS ? (g < 1 ? 1 : g) : LN_BWD_MAX_BLOCKS;
}

extern "C" long tl_cuda_layernorm_scratch(int N, int C) { return (long)ln_bwd_blocks(N) * 2 * C; }

/* Block of LN_BWD_WARPS warps over rows [blockIdx.x * rows, ...); warp per row. Each warp sums its
 * rows' weight gradients into its own shared-memory slice (lanes own channels), then the block
 * adds the slices in warp order into partial[blockIdx.x][2C] (dw, then db). */
__global__ void tl_layernorm_backward_kernel(float *dres, bf16 *dres16, float *partial, const bf16 *dout,
                                             const float *inp, const float *w, const float *mean, const float *rstd, int N,
                                             int C, int rows, int want_w) {
    extern __shared__ float sh[]; /* [LN_BWD_WARPS][2C] */
    int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
    float *sdw = sh + (long)warp * 2 * C, *sdb = sdw + C;
    if (want_w)
        for (int i = lane; i < 2 * C; i += 32) sdw[i] = 0.0f;
    __syncwarp();
    int r0 = blockIdx.x * rows, r1 = r0 + rows < N ? r0 + rows : N;
    for (int row = r0 + warp; row < r1; row += LN_BWD_WARPS) {
        const bf16 *d = dout + (long)row * C;
        const float *x = inp + (long)row * C;
        float mu = mean[row], rs = rstd[row], s1 = 0.0f, s2 = 0.0f;
        for (int i = lane * 4; i < C; i += 128) {
            float4 g = ld_bf16x4(d + i), a = *(const float4 *)(x + i), ww = *(const float4 *)(w + i);
            float n0 = (a.x - mu) * rs, n1 = (a.y - mu) * rs, n2 = (a.z - mu) * rs, n3 = (a.w - mu) * rs;
            float e0 = g.x * ww.x, e1 = g.y * ww.y, e2 = g.z * ww.z, e3 = g.w * ww.w;
            s1 += (e0 + e1) + (e2 + e3);
            s2 += (e0 * n0 + e1 * n1) + (e2 * n2 + e3 * n3);
            if (want_w) { /* 16-byte shared accesses: conflict-free across the warp */
                float4 pw = *(float4 *)(sdw + i), pb = *(float4 *)(sdb + i);
                *(float4 *)(sdw + i) = make_float4(pw.x + g.x * n0, pw.y + g.y * n1, pw.z + g.z * n2, pw.w + g.w * n3);
                *(float4 *)(sdb + i) = make_float4(pb.x + g.x, pb.y + g.y, pb.z + g.z, pb.w + g.w);
            }
        }
        s1 = tl_warp_sum(s1) / (float)C;
        s2 = tl_warp_sum(s2) / (float)C;
        float *dr = dres + (long)row * C;
        bf16 *dr16 = dres16 + (long)row * C;
        for (int i = lane * 4; i < C; i += 128) {
            float4 g = ld_bf16x4(d + i), a = *(const float4 *)(x + i), ww = *(const float4 *)(w + i);
            float4 r = *(const float4 *)(dr + i);
            r.x += (g.x * ww.x - s1 - (a.x - mu) * rs * s2) * rs;
            r.y += (g.y * ww.y - s1 - (a.y - mu) * rs * s2) * rs;
            r.z += (g.z * ww.z - s1 - (a.z - mu) * rs * s2) * rs;
            r.w += (g.w * ww.w - s1 - (a.w - mu) * rs * s2) * rs;
            *(float4 *)(dr + i) = r;
            st_bf16x4(dr16 + i, r.x, r.y, r.z, r.w);
        }
    }
    if (!want_w) return;
    __syncthreads();
    for (int c = threadIdx.x; c < 2 * C; c += blockDim.x) {
        float acc = 0.0f;
        for (int k = 0; k < LN_BWD_WARPS; k++) acc += sh[(long)k * 2 * C + c];
        partial[(long)blockIdx.x * 2 * C + c] = acc;
    }
}

/* dw[c] += sum over blocks of partial[g][c], db likewise; thread per channel */
__global__ void tl_layernorm_backward_reduce_kernel(float *dw, float *db, const float *partial, int G, int C) {
    int c = blockIdx.x * blockDim.x + threadIdx.x;
    if (c >= 2 * C) return;
    float acc = 0.0f;
    for (int g = 0; g < G; g++) acc += partial[(long)g * 2 * C + c];
    if (c < C) dw[c] += acc;
    else db[c - C] += acc;
}

extern "C" cudaError_t tl_cuda_layernorm_backward(float *dres, tl_bf16 *dres16, float *dw, float *db, float *scratch,
                                                  const tl_bf16 *dout, const float *inp, const float *w, const float *mean,
                                                  const float *rstd, int N, int C, cudaStream_t s) {
    int G = ln_bwd_blocks(N), rows = (N + G - 1) / G, want_w = dw != NULL;
    size_t smem = want_w ? sizeof(float) * LN_BWD_WARPS * 2 * (size_t)C : 0;
    if (smem > 48 * 1024) {
        cudaError_t r = cudaFuncSetAttribute(tl_layernorm_backward_kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, (int)smem);
        if (r != cudaSuccess) return r;
    }
    tl_layernorm_backward_kernel<<<G, LN_BWD_WARPS * 32, smem, s>>>(dres, TL_BF(dres16), scratch, TL_CBF(dout), inp, w, mean,
                                                                    rstd, N, C, rows, want_w);
    cudaError_t r = cudaGetLastError();
    if (r != cudaSuccess || !want_w) return r;
    tl_layernorm_backward_reduce_kernel<<<tl_ceil_div(2L * C, 256), 256, 0, s>>>(dw, db, scratch, G, C);
    return cudaGetLastError();
}
