/* GPU kernel timings for the trainer's design choices: flash attention forward / forward+backward
 * (compare bench/cuda/torch_gpt2.py attn, PyTorch's SDPA), the MLP's GEMMs with GELU fused into
 * the cuBLASLt epilogue or run as a separate kernel, and every product of a GPT-2 training step
 * under each of cuBLASLt's first 16 heuristic answers (is its first choice the fastest?). CUDA
 * events, median of 20 after 3 warm-ups, random inputs.
 *
 *   bench_cuda attn B NH T HS       bench_cuda mlp N C       bench_cuda gemms N C Vp */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef TL_HAVE_CUDA
int main(void) {
    fprintf(stderr, "bench_cuda: this build has no CUDA\n");
    return 77;
}
#else
#include <cuda_runtime.h>

#include "base/rng.h"
#include "cuda/gemm.h"
#include "cuda/gpt2_cuda.h"
#include "cuda/kernels.h"

#define CU(call)                                                                               \
    do {                                                                                       \
        cudaError_t r_ = (call);                                                               \
        if (r_ != cudaSuccess) {                                                               \
            fprintf(stderr, "%s:%d: CUDA: %s\n", __FILE__, __LINE__, cudaGetErrorString(r_)); \
            exit(1);                                                                           \
        }                                                                                      \
    } while (0)

/* n bf16 values of standard deviation sd on the device: 2^20 normal draws, repeated (drawing
 * billions on the host would take minutes) */
static tl_bf16 *rand_bf16(long n, float sd, tl_rng *r) {
    long m = n < (1L << 20) ? n : (1L << 20);
    uint16_t *h = malloc(sizeof(uint16_t) * (size_t)m);
    for (long i = 0; i < m; i++) {
        float x = sd * tl_rng_normal(r);
        uint32_t u;
        memcpy(&u, &x, 4);
        h[i] = (uint16_t)((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
    }
    tl_bf16 *d;
    CU(cudaMalloc((void **)&d, sizeof(uint16_t) * (size_t)n));
    for (long i = 0; i < n; i += m)
        CU(cudaMemcpy((uint16_t *)d + i, h, sizeof(uint16_t) * (size_t)(n - i < m ? n - i : m), cudaMemcpyHostToDevice));
    free(h);
    return d;
}

static int cmp_f(const void *a, const void *b) {
    float x = *(const float *)a, y = *(const float *)b;
    return (x > y) - (x < y);
}

typedef int (*bench_fn)(void *ctx);

/* median milliseconds of fn over 20 runs after 3 warm-ups */
static float time_ms(bench_fn fn, void *ctx, cudaStream_t s) {
    cudaEvent_t a, b;
    CU(cudaEventCreate(&a));
    CU(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++)
        if (fn(ctx)) exit(1);
    float t[20];
    for (int i = 0; i < 20; i++) {
        CU(cudaEventRecord(a, s));
        if (fn(ctx)) exit(1);
        CU(cudaEventRecord(b, s));
        CU(cudaEventSynchronize(b));
        CU(cudaEventElapsedTime(&t[i], a, b));
    }
    qsort(t, 20, sizeof *t, cmp_f);
    cudaEventDestroy(a);
    cudaEventDestroy(b);
    return t[10];
}

typedef struct attn_ctx {
    int B, NH, T, C;
    tl_bf16 *qkv, *out, *dout, *dqkv;
    float *lse, *dvec;
    cudaStream_t s;
} attn_ctx;

static int attn_fwd(void *p) {
    attn_ctx *c = p;
    return tl_cuda_attention_forward(c->out, c->lse, c->qkv, c->B, c->T, c->C, c->NH, 0, c->s) != cudaSuccess;
}
static int attn_fb(void *p) {
    attn_ctx *c = p;
    return attn_fwd(p) || tl_cuda_attention_backward(c->dqkv, c->dvec, c->dout, c->qkv, c->out, c->lse, c->B, c->T, c->C,
                                                     c->NH, 0, c->s) != cudaSuccess;
}

typedef struct mlp_ctx {
    int N, C, fused;
    tl_cuda_blas *bl;
    tl_bf16 *x, *w, *b, *pre, *y, *w2, *dy, *dx;
    cudaStream_t s;
} mlp_ctx;

/* fc forward with GELU, then fcproj's input gradient with GELU' (the two places fusion applies) */
static int mlp_fwd(void *p) {
    mlp_ctx *c = p;
    tl_err e;
    c->bl->fuse_gelu_fwd = c->fused;
    int r = tl_cuda_linear_forward(c->bl, c->y, c->pre, c->x, c->w, c->b, c->N, c->C, 4 * c->C, c->s, &e);
    if (r) fprintf(stderr, "%s\n", e.msg);
    return r;
}
static int mlp_bwd(void *p) {
    mlp_ctx *c = p;
    tl_err e;
    c->bl->fuse_gelu_bwd = c->fused;
    int r = tl_cuda_linear_backward_input(c->bl, c->dx, c->pre, c->dy, c->w2, c->N, 4 * c->C, c->C, c->s, &e);
    if (r) fprintf(stderr, "%s\n", e.msg);
    return r;
}

/* one product of the step: kind 0 forward (bias; GELU when pre), 1 input gradient (GELU' when
 * pre), 2 weight gradient (fp32, accumulated) */
typedef struct gemm_ctx {
    int kind, N, IC, OC;
    tl_cuda_blas *bl;
    tl_bf16 *inp, *w, *bias, *out, *pre, *dout, *dinp;
    float *dw;
    cudaStream_t s;
} gemm_ctx;

static int gemm_run(void *p) {
    gemm_ctx *c = p;
    tl_err e;
    int r = c->kind == 0   ? tl_cuda_linear_forward(c->bl, c->out, c->pre, c->inp, c->w, c->bias, c->N, c->IC, c->OC, c->s, &e)
            : c->kind == 1 ? tl_cuda_linear_backward_input(c->bl, c->dinp, c->pre, c->dout, c->w, c->N, c->IC, c->OC, c->s, &e)
                           : tl_cuda_linear_backward_weight(c->bl, c->dw, c->dout, c->inp, c->N, c->IC, c->OC, c->s, &e);
    if (r) fprintf(stderr, "%s\n", e.msg);
    return r;
}

/* each product at each heuristic answer until cuBLASLt has no more (or falls back from an epilogue) */
static void gemm_sweep(int N, int C, int Vp, tl_rng *r, cudaStream_t s) {
    tl_cuda_blas bl;
    tl_err e;
    if (tl_cuda_blas_init(&bl, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        exit(1);
    }
    long big = (long)N * (Vp > 4 * C ? Vp : 4 * C), wbig = (long)Vp * C;
    gemm_ctx c = {.N = N, .bl = &bl, .s = s, .inp = rand_bf16(big, 1, r), .w = rand_bf16(wbig, 0.02f, r),
                  .bias = rand_bf16(Vp, 0.02f, r), .pre = rand_bf16(big, 1, r), .dout = rand_bf16(big, 1, r)};
    CU(cudaMalloc((void **)&c.out, 2 * (size_t)big));
    CU(cudaMalloc((void **)&c.dinp, 2 * (size_t)big));
    CU(cudaMalloc((void **)&c.dw, 4 * (size_t)wbig));
    CU(cudaMemset(c.dw, 0, 4 * (size_t)wbig));
    struct { const char *name; int IC, OC, bias, gelu; } prod[] = {
        {"qkv", C, 3 * C, 1, 0}, {"attproj", C, C, 1, 0}, {"fc", C, 4 * C, 1, 1}, {"fcproj", 4 * C, C, 1, 0}, {"head", C, Vp, 0, 0}};
    const char *kinds[] = {"forward", "dinp", "dweight"};
    double total0 = 0, totalbest = 0;
    for (size_t i = 0; i < sizeof prod / sizeof *prod; i++)
        for (int k = 0; k < 3; k++) {
            c.kind = k, c.IC = prod[i].IC, c.OC = prod[i].OC;
            int gelu = k == 0 ? prod[i].gelu : k == 1 && !strcmp(prod[i].name, "fcproj"); /* GELU' of fc's output */
            tl_bf16 *bias = c.bias;
            if (!prod[i].bias) c.bias = NULL;
            tl_bf16 *pre = c.pre;
            if (!gelu) c.pre = NULL;
            float t0 = 0, best = 0;
            int besta = 0, n = 0;
            for (int a = 0; a < 16; a++) {
                bl.algo = a, bl.fuse_gelu_fwd = bl.fuse_gelu_bwd = 1;
                if (gemm_run(&c) || (gelu && !(k == 0 ? bl.fuse_gelu_fwd : bl.fuse_gelu_bwd))) break;
                float t = time_ms(gemm_run, &c, s);
                if (a == 0) t0 = t;
                if (a == 0 || t < best) best = t, besta = a;
                n++;
            }
            c.bias = bias, c.pre = pre;
            double fl = 2.0 * N * (double)c.IC * c.OC;
            total0 += t0, totalbest += best;
            printf("{\"system\":\"tinyllm-gemm\",\"product\":\"%s\",\"kind\":\"%s\",\"N\":%d,\"IC\":%d,\"OC\":%d,"
                   "\"algos\":%d,\"first_ms\":%.3f,\"first_tflops\":%.1f,\"best_ms\":%.3f,\"best_algo\":%d,\"best_tflops\":%.1f}\n",
                   prod[i].name, kinds[k], N, c.IC, c.OC, n, t0, fl / t0 / 1e9, best, besta, fl / best / 1e9);
        }
    printf("{\"system\":\"tinyllm-gemm\",\"per_layer_and_head_first_ms\":%.3f,\"best_ms\":%.3f}\n", total0, totalbest);
    tl_cuda_blas_free(&bl);
}

int main(int argc, char **argv) {
    char msg[256];
    if (!tl_cuda_available(msg, sizeof msg)) {
        fprintf(stderr, "bench_cuda: %s\n", msg);
        return 77;
    }
    tl_rng r;
    tl_rng_seed(&r, 5);
    cudaStream_t s;
    CU(cudaStreamCreate(&s));
    if (argc == 6 && !strcmp(argv[1], "attn")) {
        attn_ctx c = {.B = atoi(argv[2]), .NH = atoi(argv[3]), .T = atoi(argv[4]), .s = s};
        int hs = atoi(argv[5]);
        c.C = c.NH * hs;
        long n = (long)c.B * c.T * c.C;
        c.qkv = rand_bf16(3 * n, 1, &r);
        c.dout = rand_bf16(n, 1, &r);
        CU(cudaMalloc((void **)&c.out, 2 * (size_t)n));
        CU(cudaMalloc((void **)&c.dqkv, 6 * (size_t)n));
        CU(cudaMalloc((void **)&c.lse, 4 * (size_t)c.B * c.NH * c.T));
        CU(cudaMalloc((void **)&c.dvec, 4 * (size_t)c.B * c.NH * c.T));
        float f = time_ms(attn_fwd, &c, s), fb = time_ms(attn_fb, &c, s);
        double fl = 4.0 * c.B * c.NH * (double)c.T * c.T * hs / 2; /* causal forward: two T x T x hs products, halved */
        printf("{\"system\":\"tinyllm-%s\",\"B\":%d,\"NH\":%d,\"T\":%d,\"HS\":%d,\"fwd_ms\":%.3f,\"fwd_bwd_ms\":%.3f,"
               "\"fwd_tflops\":%.1f,\"fwd_bwd_tflops\":%.1f}\n",
               tl_cuda_attention_is_flash(hs) ? "flash" : "plain", c.B, c.NH, c.T, hs, f, fb, fl / f / 1e9,
               3.5 * fl / fb / 1e9);
        return 0;
    }
    if (argc == 5 && !strcmp(argv[1], "gemms")) {
        gemm_sweep(atoi(argv[2]), atoi(argv[3]), atoi(argv[4]), &r, s);
        return 0;
    }
    if (argc == 4 && !strcmp(argv[1], "mlp")) {
        tl_cuda_blas bl;
        tl_err e;
        if (tl_cuda_blas_init(&bl, &e)) {
            fprintf(stderr, "%s\n", e.msg);
            return 1;
        }
        mlp_ctx c = {.N = atoi(argv[2]), .C = atoi(argv[3]), .bl = &bl, .s = s};
        long n = (long)c.N * c.C;
        c.x = rand_bf16(n, 1, &r);
        c.w = rand_bf16(4L * c.C * c.C, 0.02f, &r);
        c.b = rand_bf16(4L * c.C, 0.02f, &r);
        c.w2 = rand_bf16(4L * c.C * c.C, 0.02f, &r);
        c.dy = rand_bf16(n, 1, &r);
        CU(cudaMalloc((void **)&c.pre, 8 * (size_t)n));
        CU(cudaMalloc((void **)&c.y, 8 * (size_t)n));
        CU(cudaMalloc((void **)&c.dx, 8 * (size_t)n));
        double fl = 2.0 * c.N * (double)c.C * 4 * c.C;
        for (int fused = 1; fused >= 0; fused--) {
            c.fused = fused;
            float tf = time_ms(mlp_fwd, &c, s), tb = time_ms(mlp_bwd, &c, s);
            printf("{\"system\":\"tinyllm-gemm\",\"N\":%d,\"C\":%d,\"gelu\":\"%s\",\"fc_fwd_ms\":%.3f,\"fc_fwd_tflops\":%.1f,"
                   "\"fcproj_dinp_ms\":%.3f,\"fcproj_dinp_tflops\":%.1f}\n",
                   c.N, c.C, fused ? (bl.fuse_gelu_fwd ? "fused" : "fused-unavailable") : "kernel", tf, fl / tf / 1e9, tb,
                   fl / tb / 1e9);
        }
        tl_cuda_blas_free(&bl);
        return 0;
    }
    fprintf(stderr, "usage: bench_cuda attn B NH T HS | bench_cuda mlp N C | bench_cuda gemms N C Vp\n");
    return 2;
}
#endif
