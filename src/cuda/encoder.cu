/* Token + position embeddings on the GPU: forward gather, deterministic backward scatter. */
#include "cuda/common.cuh"

/* out[N, C] = wte[inp[n]] + wpe[n % T]; one thread per 4 channels of one position */
__global__ void tl_encoder_forward_kernel(float4 *out, const int32_t *inp, const float4 *wte, const float4 *wpe, int T,
                                          int C4, long total) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= total) return;
    long n = i / C4;
    int c = (int)(i % C4), t = (int)(n % T);
    float4 a = wte[(long)inp[n] * C4 + c], b = wpe[(long)t * C4 + c];
    out[i] = make_float4(a.x + b.x, a.y + b.y, a.z + b.z, a.w + b.w);
}

extern "C" cudaError_t tl_cuda_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B,
                                               int T, int C, cudaStream_t s) {
    long total = (long)B * T * (C / 4);
    tl_encoder_forward_kernel<<<tl_ceil_div(total, 256), 256, 0, s>>>((float4 *)out, inp, (const float4 *)wte,
                                                                     (const float4 *)wpe, T, C / 4, total);
    return cudaGetLastError();
}

/* dwte[tok[g]] += sum of dout over the positions of group g, in their order; block per group */
__global__ void tl_encoder_backward_wte_kernel(float *dwte, const float *dout, const int32_t *order, const int32_t *start,
                                               const int32_t *tok, int C) {
    int g = blockIdx.x, lo = start[g], hi = start[g + 1];
    float *row = dwte + (long)tok[g] * C;
    for (int c = threadIdx.x; c < C; c += blockDim.x) {
        float acc = 0.0f;
        for (int i = lo; i < hi; i++) acc += dout[(long)order[i] * C + c];
        row[c] += acc;
    }
}

/* dwpe[t, c] += sum over b of dout[b, t, c]; thread per (t, c) */
__global__ void tl_encoder_backward_wpe_kernel(float *dwpe, const float *dout, int B, int T, int C) {
    long i = (long)blockIdx.x * blockDim.x + threadIdx.x;
    if (i >= (long)T * C) return;
    float acc = 0.0f;
    for (int b = 0; b < B; b++) acc += dout[(long)b * T * C + i];
    dwpe[i] += acc;
}

extern "C" cudaError_t tl_cuda_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *order,
                                                const int32_t *start, const int32_t *tok, int n_groups, int B, int T, int C,
                                                cudaStream_t s) {
    if (n_groups > 0)
        tl_encoder_backward_wte_kernel<<<n_groups, C < 256 ? 128 : 256, 0, s>>>(dwte, dout, order, start, tok, C);
    cudaError_t r = cudaGetLastError();
    if (r != cudaSuccess) return r;
    tl_encoder_backward_wpe_kernel<<<tl_ceil_div((long)T * C, 256), 256, 0, s>>>(dwpe, dout, B, T, C);
    return cudaGetLastError();
}
