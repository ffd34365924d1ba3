/* GPT-2 training on the GPU: buffers, forward, backward, gradient reduction and AdamW (contracts
 * in gpt2_cuda.h). Host code, C11; kernels in the .cu files of src/cuda, matrix products in gemm.c.
 *
 * Per micro-batch (N = B*T rows, shapes of the CPU model):
 *   forward: encoder (fp32 residual) -> per layer: LN1 -> qkv GEMM(+bias) -> flash attention ->
 *            proj GEMM(+bias) -> residual+LN2 -> fc GEMM(+bias, GELU) -> fcproj GEMM(+bias) ->
 *            residual+LN1 of the next layer (or LNf) -> logits GEMM -> fused softmax/cross-entropy,
 *            which leaves d loss / d logits in the logits buffer;
 *   backward: the same in reverse, weight gradients accumulated (+=) into fp32 buffers by the GEMMs,
 *            bias and LayerNorm gradients by fixed-order reductions, the residual gradient in fp32.
 * One optimizer step: gradients reduce-scattered over ranks (NCCL, world > 1), the global norm,
 * AdamW on this rank's shard of the fp32 master weights, bf16 weights all-gathered.
 * LoRA (fine-tuning, one GPU): each adapted product gets its rank-r branch (lora_forward /
 * lora_backward), the base's weight gradients are skipped, the step updates the adapters alone. */
#include "cuda/gpt2_cuda.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cuda_runtime.h>
#ifdef TL_HAVE_NCCL
#include <nccl.h>
#endif

#include "cuda/gemm.h"
#include "cuda/kernels.h"
#include "model/lora.h"

/* per-layer tensors, in tl_gpt2_tensors' order (checked against the names in create) */
enum { P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPW, P_FCPB, P_PER_LAYER };

struct tl_cuda_gpt2 {
    tl_gpt2_config cfg;
    int n_tensors;
    tl_tensor_info *tensors;
    size_t n_params, shard, shard_lo, n_padded; /* this rank updates [shard_lo, shard_lo + shard) */
    int rank, world, nccl, Bmax, Tmax;
    tl_cuda_opts o;
    cudaStream_t s;
    int have_stream;
    tl_cuda_blas blas;
#ifdef TL_HAVE_NCCL
    ncclComm_t comm;
#endif
    /* parameters: fp32 master, bf16 working copy and fp32 gradients [n_padded]; moments [shard] */
    float *p32, *g32, *m, *v;
    tl_bf16 *p16;
    /* activations kept for the backward */
    float *resid;                                  /* [2L+1, N, C]: x0, then res2 and res3 of each layer */
    tl_bf16 *ln1, *ln2;                            /* [L, N, C] */
    float *ln1_mean, *ln1_rstd, *ln2_mean, *ln2_rstd; /* [L, N] */
    tl_bf16 *qkv, *atty;                           /* [L, N, 3C], [L, N, C] */
    float *lse;                                    /* [L, B, NH, T] */
    tl_bf16 *fch, *fchg;                           /* [L, N, 4C] pre-GELU; GELU out [L or 1 (recompute), N, 4C] */
    tl_bf16 *lnf;                                  /* [N, C] */
    float *lnf_mean, *lnf_rstd;                    /* [N] */
    tl_bf16 *logits;                               /* [N, Vp], dlogits after a training forward */
    float *losses;                                 /* [N] */
    /* scratch */
    tl_bf16 *branch, *dres16, *dsmall, *dbig;      /* [N, C] x 3, [N, 4C] */
    float *dres, *dvec, *scratch, *dmean;          /* [N, C], [B, NH, T], reductions, [1] */
    double *dscal, *norm_scratch;                  /* [0] loss sum, [1] sum of squared gradients */
    int32_t *d_batch;                              /* inputs, targets, order, group starts, group tokens */
    /* LoRA (the host model had adapters at create): the adapters train, the base is frozen, so it
     * has no gradients or moments (g32, m, v NULL) and its weight-gradient products are skipped.
     * Adapter tensors in a padded layout: A [rp, I] and B [O, rp] with the rank r rounded up to rp,
     * a multiple of 8 (the padding stays zero: zero rows of A, zero columns of B, zero gradients),
     * each tensor at a 128-element boundary, so every cuBLASLt operand is aligned. */
    int lora, lfirst, lrank, lrank_pad, n_ltensors; /* lfirst: the lowest adapted block */
    float lscale, ldropout;                        /* alpha / r; dropout probability */
    int *lidx;                                     /* [L][TL_LORA_N_TARGETS]: host tensor index of A, or -1 */
    tl_tensor_info *ltensors;                      /* the host adapter table (shapes, offsets, decay) */
    size_t *ldoff, ln;                             /* each tensor's device offset; device elements */
    float *lp32, *lg32, *lm, *lv;                  /* [ln] */
    tl_bf16 *lp16;                                 /* [ln] */
    tl_bf16 *lu, *ldu, *lxd;                       /* [L, 4, lu_rows, rp] (alpha/r) xd A^T; [N, rp]; [N, 4C] dropout(inp) */
    long lu_rows;                                  /* Bmax * Tmax rounded up to 16 */
    uint64_t drop_seed;
    /* host side */
    int32_t *h_stage, *h_count;                    /* 2 pinned slots of the batch layout; [Vp] */
    double *h_scal;                                /* pinned [2] */
    cudaEvent_t ev[2];
    int have_ev, slot, cur_B, cur_T, n_groups;
    long n_counted;
    size_t bytes;
    struct prof *prof; /* op timing (tl_cuda_opts.profile), else NULL */
};

#define CK(call, what)                                                                            \
    do {                                                                                          \
        cudaError_t r_ = (call);                                                                  \
        if (r_ != cudaSuccess) return tl_errf(e, "CUDA %s: %s", what, cudaGetErrorString(r_));    \
    } while (0)

#ifdef TL_HAVE_NCCL
#define NK(call, what)                                                                            \
    do {                                                                                          \
        ncclResult_t r_ = (call);                                                                 \
        if (r_ != ncclSuccess) return tl_errf(e, "NCCL %s: %s", what, ncclGetErrorString(r_));    \
    } while (0)
#endif

/* ---------------------------------------------------------------- device queries */

int tl_cuda_available(char *msg, size_t n) {
    int count = 0;
    cudaError_t r = cudaGetDeviceCount(&count);
    if (r != cudaSuccess) {
        snprintf(msg, n, "no usable CUDA device (%s)", cudaGetErrorString(r));
        return 0;
    }
    if (count < 1) {
        snprintf(msg, n, "no CUDA device");
        return 0;
    }
    snprintf(msg, n, "%d CUDA device%s", count, count > 1 ? "s" : "");
    return 1;
}

void tl_cuda_device_info(char *name, size_t n, double *peak) {
    struct cudaDeviceProp p;
    int dev = 0;
    *peak = 0;
    if (cudaGetDevice(&dev) != cudaSuccess || cudaGetDeviceProperties(&p, dev) != cudaSuccess) {
        snprintf(name, n, "unknown");
        return;
    }
    snprintf(name, n, "%s", p.name);
    /* dense bf16 tensor-core peaks from NVIDIA's datasheets (no sparsity) */
    if (p.major == 9) *peak = strstr(p.name, "PCIe") ? 756e12 : 989.4e12;     /* H100 / H200 */
    else if (p.major == 8 && p.minor == 0) *peak = 312e12;                    /* A100 */
    else if (p.major == 10) *peak = 2250e12;                                  /* B200 */
}

/* ---------------------------------------------------------------- op timing */

/* With tl_cuda_opts.profile, every op of a step records a timing event when it ends; the time
 * between consecutive events is charged to the op ending there (launch gaps included, so the
 * ops add up to the GPU's whole step). Events are read back when the step waits anyway (reduce),
 * or, when a step has more ops than PROF_EVENTS, at one extra wait each time they fill up; the
 * first step (cuBLASLt heuristics, first touches) is not counted. */
#define PROF_EVENTS 2048
#define PROF_OPS 64
struct prof {
    cudaEvent_t ev[PROF_EVENTS];
    const char *what[PROF_EVENTS]; /* the op ending at ev[i]; NULL: a start, nothing ends there */
    int n, n_ops, steps, counted;  /* events recorded; names; updates seen; steps summed */
    const char *op[PROF_OPS];
    double ms[PROF_OPS];
    long calls[PROF_OPS];
};

static void prof_free(struct prof *p) {
    if (!p) return;
    for (int i = 0; i < PROF_EVENTS; i++)
        if (p->ev[i]) cudaEventDestroy(p->ev[i]);
    free(p);
}

static struct prof *prof_new(void) {
    struct prof *p = calloc(1, sizeof *p);
    for (int i = 0; p && i < PROF_EVENTS; i++)
        if (cudaEventCreate(&p->ev[i]) != cudaSuccess) {
            prof_free(p);
            return NULL;
        }
    return p;
}

/* Charges the recorded intervals to their ops (after the stream has been waited for) and starts
 * over from the last event, so the next op's interval is not lost. */
static void prof_collect(struct prof *p) {
    for (int i = 1; i < p->n && p->steps > 0; i++) {
        float ms;
        if (!p->what[i] || cudaEventElapsedTime(&ms, p->ev[i - 1], p->ev[i]) != cudaSuccess) continue;
        int k = 0;
        while (k < p->n_ops && strcmp(p->op[k], p->what[i])) k++;
        if (k == p->n_ops) {
            if (k == PROF_OPS) continue;
            p->op[p->n_ops++] = p->what[i];
        }
        p->ms[k] += ms;
        p->calls[k]++;
    }
    if (p->n > 1) {
        cudaEvent_t last = p->ev[p->n - 1];
        p->ev[p->n - 1] = p->ev[0];
        p->ev[0] = last;
    }
    p->what[0] = NULL;
    p->n = p->n ? 1 : 0;
}

/* mark(g, what): op `what` (a static string) ends here; NULL: timing starts here. */
static void mark(tl_cuda_gpt2 *g, const char *what) {
    struct prof *p = g->prof;
    if (!p) return;
    if (p->n == PROF_EVENTS) { /* more ops than events between two waits: wait here */
        cudaStreamSynchronize(g->s);
        prof_collect(p);
    }
    p->what[p->n] = p->n ? what : NULL; /* a first event only starts */
    cudaEventRecord(p->ev[p->n++], g->s);
}

void tl_cuda_gpt2_profile_print(const tl_cuda_gpt2 *g, FILE *f) {
    const struct prof *p = g->prof;
    if (!p || !p->counted) return;
    double total = 0;
    int order[PROF_OPS];
    for (int k = 0; k < p->n_ops; k++) total += p->ms[k], order[k] = k;
    for (int i = 1; i < p->n_ops; i++) /* by time, largest first */
        for (int j = i; j > 0 && p->ms[order[j]] > p->ms[order[j - 1]]; j--) {
            int t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    fprintf(f, "op timing over %d steps (CUDA events; ms per step):\n", p->counted);
    for (int i = 0; i < p->n_ops; i++) {
        int k = order[i];
        fprintf(f, "  %-28s %9.3f ms %5.1f%%  %6.1f calls\n", p->op[k], p->ms[k] / p->counted, 100 * p->ms[k] / total,
                (double)p->calls[k] / p->counted);
    }
    fprintf(f, "  %-28s %9.3f ms\n", "total", total / p->counted);
}

/* ---------------------------------------------------------------- lifetime */

static void *dalloc(tl_cuda_gpt2 *g, size_t bytes, const char *what, tl_err *e) {
    void *p = NULL;
    if (bytes == 0) bytes = 16;
    cudaError_t r = cudaMalloc(&p, bytes);
    if (r != cudaSuccess) {
        size_t fr = 0, tot = 0;
        cudaMemGetInfo(&fr, &tot);
        tl_errf(e, "GPU memory: cannot allocate %.2f GiB for %s (%.2f GiB held, %.2f GiB free of %.2f): lower "
                   "--batch-size or use --recompute", (double)bytes / (1 << 30), what, (double)g->bytes / (1 << 30),
                (double)fr / (1 << 30), (double)tot / (1 << 30));
        return NULL;
    }
    g->bytes += bytes;
    return p;
}

size_t tl_cuda_gpt2_memory(const tl_cuda_gpt2 *g) { return g->bytes; }

void tl_cuda_gpt2_free(tl_cuda_gpt2 *g) {
    if (!g) return;
    if (g->have_stream) cudaStreamSynchronize(g->s);
    void *dev[] = {g->p32, g->g32, g->m, g->v, g->p16, g->resid, g->ln1, g->ln2, g->ln1_mean, g->ln1_rstd, g->ln2_mean,
                   g->ln2_rstd, g->qkv, g->atty, g->lse, g->fch, g->fchg, g->lnf, g->lnf_mean, g->lnf_rstd, g->logits,
                   g->losses, g->branch, g->dres16, g->dsmall, g->dbig, g->dres, g->dvec, g->scratch, g->dmean, g->dscal,
                   g->norm_scratch, g->d_batch, g->lp32, g->lg32, g->lm, g->lv, g->lp16, g->lu, g->ldu, g->lxd};
    for (size_t i = 0; i < sizeof dev / sizeof *dev; i++)
        if (dev[i]) cudaFree(dev[i]);
    if (g->h_stage) cudaFreeHost(g->h_stage);
    if (g->h_scal) cudaFreeHost(g->h_scal);
    if (g->have_ev) {
        cudaEventDestroy(g->ev[0]);
        cudaEventDestroy(g->ev[1]);
    }
#ifdef TL_HAVE_NCCL
    if (g->nccl && g->comm) ncclCommDestroy(g->comm);
#endif
    if (g->blas.lt) tl_cuda_blas_free(&g->blas);
    prof_free(g->prof);
    if (g->have_stream) cudaStreamDestroy(g->s);
    free(g->h_count);
    free(g->tensors);
    free(g->lidx);
    free(g->ltensors);
    free(g->ldoff);
    free(g);
}

/* batch layout (ints): inputs [N], targets [N], order [N], group starts [N + 1], group tokens [N] */
static long stage_len(long N) { return 5 * N + 1; }

#ifdef TL_HAVE_NCCL
/* Rank 0 writes the NCCL unique id to `path` (temp file + rename); the others wait for it. */
static int exchange_id(const char *path, int rank, int world, ncclUniqueId *id, tl_err *e) {
    if (!path && world == 1) { /* one rank (force_nccl): nobody to meet */
        NK(ncclGetUniqueId(id), "get unique id");
        return 0;
    }
    if (!path) return tl_errf(e, "NCCL: no id file for the ranks to meet at (TL_NCCL_ID)");
    if (rank == 0) {
        NK(ncclGetUniqueId(id), "get unique id");
        char tmp[4200];
        snprintf(tmp, sizeof tmp, "%s.tmp", path);
        FILE *f = fopen(tmp, "wb");
        if (!f) return tl_errf(e, "%s: cannot write the NCCL id", tmp);
        int ok = fwrite(id, sizeof *id, 1, f) == 1;
        ok = !fclose(f) && ok;
        if (!ok || rename(tmp, path)) return tl_errf(e, "%s: cannot write the NCCL id", path);
        return 0;
    }
    for (int i = 0; i < 12000; i++) { /* 120 s */
        FILE *f = fopen(path, "rb");
        if (f) {
            int ok = fread(id, sizeof *id, 1, f) == 1;
            fclose(f);
            if (ok) return 0;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return tl_errf(e, "%s: rank 0 wrote no NCCL id within 120 s", path);
}
#endif

static const float *P32(const tl_cuda_gpt2 *g, int i) { return g->p32 + g->tensors[i].offset; }
static const tl_bf16 *P16(const tl_cuda_gpt2 *g, int i) { return g->p16 + g->tensors[i].offset; }
/* a base tensor's gradient; NULL when the base is frozen (LoRA), which the backward skips */
static float *G32(const tl_cuda_gpt2 *g, int i) { return g->g32 ? g->g32 + g->tensors[i].offset : NULL; }
static int LT(int l, int which) { return 2 + l * P_PER_LAYER + which; }

/* Host adapter tensor k <-> its padded device copy in dev: A [r, I] is the first r rows of the
 * device's [rp, I], B [O, r] the first r columns of [O, rp]. */
static cudaError_t lora_copy(tl_cuda_gpt2 *g, float *dev, const float *from_host, float *to_host) {
    for (int k = 0; k < g->n_ltensors; k++) {
        const tl_tensor_info *t = &g->ltensors[k];
        size_t rows = t->shape[0], cols = t->shape[1], dpitch = (k % 2 ? (size_t)g->lrank_pad : cols) * 4;
        float *d = dev + g->ldoff[k];
        cudaError_t r = to_host ? cudaMemcpy2DAsync(to_host + t->offset, cols * 4, d, dpitch, cols * 4, rows,
                                                    cudaMemcpyDeviceToHost, g->s)
                                : cudaMemcpy2DAsync(d, dpitch, from_host + t->offset, cols * 4, cols * 4, rows,
                                                    cudaMemcpyHostToDevice, g->s);
        if (r != cudaSuccess) return r;
    }
    return cudaSuccess;
}

/* Elements of adapter tensor k on the device (padded shape). */
static size_t lora_numel(const tl_cuda_gpt2 *g, int k) {
    const tl_tensor_info *t = &g->ltensors[k];
    return k % 2 ? (size_t)t->shape[0] * (size_t)g->lrank_pad : (size_t)g->lrank_pad * (size_t)t->shape[1];
}

/* The adapter table of the host model's tl_lora, and the padded device layout. */
static int lora_layout(tl_cuda_gpt2 *g, const tl_lora *lo, tl_err *e) {
    const tl_gpt2_config *c = &g->cfg;
    if (lo->model.n_layer != c->n_layer || lo->model.n_embd != c->n_embd)
        return tl_errf(e, "GPU model: the LoRA adapters are for %d layers x %d, the model has %d x %d", lo->model.n_layer,
                       lo->model.n_embd, c->n_layer, c->n_embd);
    g->lora = 1;
    g->lfirst = lo->first_layer;
    g->lrank = lo->cfg.rank;
    g->lrank_pad = (lo->cfg.rank + 7) / 8 * 8;
    g->lscale = lo->cfg.alpha / (float)lo->cfg.rank;
    g->ldropout = lo->cfg.dropout;
    g->n_ltensors = lo->n_tensors;
    size_t ni = (size_t)c->n_layer * TL_LORA_N_TARGETS;
    g->lidx = malloc(sizeof(int) * ni);
    g->ltensors = malloc(sizeof *g->ltensors * (size_t)lo->n_tensors);
    g->ldoff = malloc(sizeof(size_t) * (size_t)lo->n_tensors);
    if (!g->lidx || !g->ltensors || !g->ldoff) return tl_errf(e, "out of memory");
    memcpy(g->lidx, lo->index, sizeof(int) * ni);
    memcpy(g->ltensors, lo->tensors, sizeof *g->ltensors * (size_t)lo->n_tensors);
    size_t off = 0;
    for (int k = 0; k < g->n_ltensors; k++) {
        g->ldoff[k] = off;
        off += (lora_numel(g, k) + 127) / 128 * 128;
    }
    g->ln = off;
    return 0;
}

/* Parameters (and optimizer state when given) from the host; padding and gradients zero. */
static cudaError_t upload_state(tl_cuda_gpt2 *g, const tl_gpt2 *m, const tl_adamw *opt) {
    size_t np = g->n_padded, lo = g->shard_lo, hi = lo + g->shard < g->n_params ? lo + g->shard : g->n_params;
    cudaError_t r;
#define UP(call)                                                                                  \
    do {                                                                                          \
        if ((r = (call)) != cudaSuccess) return r;                                                \
    } while (0)
    UP(cudaMemsetAsync(g->p32, 0, np * 4, g->s));
    UP(cudaMemcpyAsync(g->p32, m->params, g->n_params * 4, cudaMemcpyHostToDevice, g->s));
    UP(tl_cuda_cast_bf16(g->p16, g->p32, (long)np, g->s));
    if (g->lora) {
        float *z[4] = {g->lp32, g->lg32, g->lm, g->lv};
        for (int i = 0; i < 4; i++) UP(cudaMemsetAsync(z[i], 0, g->ln * 4, g->s));
        UP(lora_copy(g, g->lp32, m->lora->params, NULL));
        UP(tl_cuda_cast_bf16(g->lp16, g->lp32, (long)g->ln, g->s));
        if (opt && opt->m && opt->v) {
            UP(lora_copy(g, g->lm, opt->m, NULL));
            UP(lora_copy(g, g->lv, opt->v, NULL));
        }
    } else {
        UP(cudaMemsetAsync(g->g32, 0, np * 4, g->s));
        UP(cudaMemsetAsync(g->m, 0, g->shard * 4, g->s));
        UP(cudaMemsetAsync(g->v, 0, g->shard * 4, g->s));
        if (opt && opt->m && opt->v && hi > lo) {
            UP(cudaMemcpyAsync(g->m, opt->m + lo, (hi - lo) * 4, cudaMemcpyHostToDevice, g->s));
            UP(cudaMemcpyAsync(g->v, opt->v + lo, (hi - lo) * 4, cudaMemcpyHostToDevice, g->s));
        }
    }
#undef UP
    return cudaStreamSynchronize(g->s);
}

int tl_cuda_gpt2_create(tl_cuda_gpt2 **out, const tl_gpt2 *m, const tl_adamw *opt, int B, int T, const tl_cuda_opts *o,
                        tl_err *e) {
    *out = NULL;
    const tl_gpt2_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, L = c->n_layer, Vp = c->padded_vocab, hs = C / NH;
    if (C % 8) return tl_errf(e, "the GPU trainer needs the embedding size to be a multiple of 8 (model has %d)", C);
    if (B < 1 || T < 1 || T > c->n_ctx) return tl_errf(e, "GPU model: B=%d, T=%d outside 1..context %d", B, T, c->n_ctx);
    if ((!tl_cuda_attention_is_flash(hs) || (o && o->plain_attention)) && sizeof(float) * (2 * (size_t)T + 2 * (size_t)hs) > 48 * 1024)
        return tl_errf(e, "GPU attention: head size %d runs the plain kernels, which take T <= 6000 (got %d); head size 64 "
                          "has no limit", hs, T);
    int world = o && o->world > 1 ? o->world : 1, rank = o ? o->rank : 0;
    int use_nccl = world > 1 || (o && o->force_nccl);
#ifndef TL_HAVE_NCCL
    if (use_nccl) return tl_errf(e, "several GPUs need NCCL, which this build lacks (install it and reconfigure)");
#endif
    tl_cuda_gpt2 *g = calloc(1, sizeof *g);
    if (!g) return tl_errf(e, "out of memory");
    g->cfg = *c;
    g->o = o ? *o : (tl_cuda_opts){.fuse_gelu = 3};
    g->rank = rank;
    g->world = world;
    g->nccl = use_nccl;
    g->Bmax = B;
    g->Tmax = T;
    g->n_tensors = m->n_tensors;
    g->n_params = m->n_params;
    g->tensors = malloc(sizeof *g->tensors * (size_t)m->n_tensors);
    g->h_count = malloc(sizeof(int32_t) * (size_t)Vp);
    if (!g->tensors || !g->h_count) {
        tl_cuda_gpt2_free(g);
        return tl_errf(e, "out of memory");
    }
    memcpy(g->tensors, m->tensors, sizeof *g->tensors * (size_t)m->n_tensors);
    static const char *names[P_PER_LAYER] = {"ln1.w", "ln1.b", "attn.qkv.w", "attn.qkv.b", "attn.proj.w", "attn.proj.b",
                                             "ln2.w", "ln2.b", "mlp.fc.w", "mlp.fc.b", "mlp.proj.w", "mlp.proj.b"};
    for (int p = 0; p < P_PER_LAYER; p++) {
        char want[48];
        snprintf(want, sizeof want, "h.0.%s", names[p]);
        if (strcmp(g->tensors[LT(0, p)].name, want)) {
            tl_cuda_gpt2_free(g);
            return tl_errf(e, "GPU model: tensor %d is '%s', expected '%s' (layout changed?)", LT(0, p),
                           g->tensors[LT(0, p)].name, want);
        }
    }
    if (m->lora && use_nccl) {
        tl_cuda_gpt2_free(g);
        return tl_errf(e, "LoRA on the GPU runs on one GPU so far (use --gpus 1)");
    }
    if (m->lora && opt && opt->m && opt->n != m->lora->n_params) {
        tl_cuda_gpt2_free(g);
        return tl_errf(e, "GPU model: the AdamW state has %zu values, the LoRA adapters %zu", opt->n, m->lora->n_params);
    }
    if (m->lora && lora_layout(g, m->lora, e)) {
        tl_cuda_gpt2_free(g);
        return -1;
    }
    int rc = -1;
    cudaError_t r;
    if (world > 1) {
        int count = 0;
        if ((r = cudaGetDeviceCount(&count)) != cudaSuccess || count < 1) {
            tl_errf(e, "rank %d: no CUDA device", rank);
            goto fail;
        }
        if ((r = cudaSetDevice(rank % count)) != cudaSuccess) {
            tl_errf(e, "rank %d: cannot use device %d: %s", rank, rank % count, cudaGetErrorString(r));
            goto fail;
        }
    }
    if ((r = cudaStreamCreateWithFlags(&g->s, cudaStreamNonBlocking)) != cudaSuccess) {
        tl_errf(e, "CUDA: cannot create a stream: %s", cudaGetErrorString(r));
        goto fail;
    }
    g->have_stream = 1;
    if (tl_cuda_blas_init(&g->blas, e)) goto fail;
    g->blas.fuse_gelu_fwd = g->o.fuse_gelu & 1;
    g->blas.fuse_gelu_bwd = (g->o.fuse_gelu >> 1) & 1;
#ifdef TL_HAVE_NCCL
    if (use_nccl) {
        ncclUniqueId id;
        if (exchange_id(g->o.nccl_id_file, rank, world, &id, e)) goto fail;
        ncclResult_t nr = ncclCommInitRank(&g->comm, world, id, rank);
        if (nr != ncclSuccess) {
            tl_errf(e, "NCCL: rank %d of %d cannot join: %s", rank, world, ncclGetErrorString(nr));
            goto fail;
        }
    }
#endif
    /* shards of 64-element multiples; the padding past n_params stays zero */
    g->shard = ((g->n_params + (size_t)world - 1) / (size_t)world + 63) / 64 * 64;
    g->n_padded = g->shard * (size_t)world;
    g->shard_lo = g->shard * (size_t)rank;
    size_t np = g->n_padded, N = (size_t)B * T, Cs = (size_t)C, Ls = (size_t)L;
    if (!(g->p32 = dalloc(g, np * 4, "master weights", e)) || !(g->p16 = dalloc(g, np * 2, "bf16 weights", e)))
        goto fail;
    if (!g->lora && (!(g->g32 = dalloc(g, np * 4, "gradients", e)) || !(g->m = dalloc(g, g->shard * 4, "AdamW moments", e)) ||
                     !(g->v = dalloc(g, g->shard * 4, "AdamW moments", e))))
        goto fail;
    if (g->lora) {
        size_t ln = g->ln, rp = (size_t)g->lrank_pad;
        g->lu_rows = ((long)N + 15) / 16 * 16;
        if (!(g->lp32 = dalloc(g, ln * 4, "LoRA adapters", e)) || !(g->lg32 = dalloc(g, ln * 4, "LoRA gradients", e)) ||
            !(g->lm = dalloc(g, ln * 4, "LoRA moments", e)) || !(g->lv = dalloc(g, ln * 4, "LoRA moments", e)) ||
            !(g->lp16 = dalloc(g, ln * 2, "LoRA adapters", e)) ||
            !(g->lu = dalloc(g, Ls * TL_LORA_N_TARGETS * (size_t)g->lu_rows * rp * 2, "LoRA activations", e)) ||
            !(g->ldu = dalloc(g, N * rp * 2, "LoRA scratch", e)) ||
            (g->ldropout > 0 && !(g->lxd = dalloc(g, N * 4 * Cs * 2, "LoRA dropout inputs", e))))
            goto fail;
    }
    size_t fchg_layers = g->o.recompute ? 1 : Ls;
    long scratch = tl_cuda_layernorm_scratch((int)N, C);
    long sb = tl_cuda_bias_scratch((int)N, 4 * C);
    if (sb > scratch) scratch = sb;
    if ((sb = tl_cuda_bias_scratch((int)N, 3 * C)) > scratch) scratch = sb;
    if ((sb = tl_cuda_bias_scratch((int)N, C)) > scratch) scratch = sb;
    if (!(g->resid = dalloc(g, (2 * Ls + 1) * N * Cs * 4, "the residual stream", e)) ||
        !(g->ln1 = dalloc(g, Ls * N * Cs * 2, "LayerNorm outputs", e)) ||
        !(g->ln2 = dalloc(g, Ls * N * Cs * 2, "LayerNorm outputs", e)) ||
        !(g->ln1_mean = dalloc(g, Ls * N * 4, "LayerNorm statistics", e)) ||
        !(g->ln1_rstd = dalloc(g, Ls * N * 4, "LayerNorm statistics", e)) ||
        !(g->ln2_mean = dalloc(g, Ls * N * 4, "LayerNorm statistics", e)) ||
        !(g->ln2_rstd = dalloc(g, Ls * N * 4, "LayerNorm statistics", e)) ||
        !(g->qkv = dalloc(g, Ls * N * 3 * Cs * 2, "attention inputs", e)) ||
        !(g->atty = dalloc(g, Ls * N * Cs * 2, "attention outputs", e)) ||
        !(g->lse = dalloc(g, Ls * N * (size_t)NH * 4, "attention statistics", e)) ||
        !(g->fch = dalloc(g, Ls * N * 4 * Cs * 2, "MLP activations", e)) ||
        !(g->fchg = dalloc(g, fchg_layers * N * 4 * Cs * 2, "MLP activations", e)) ||
        !(g->lnf = dalloc(g, N * Cs * 2, "LayerNorm outputs", e)) || !(g->lnf_mean = dalloc(g, N * 4, "statistics", e)) ||
        !(g->lnf_rstd = dalloc(g, N * 4, "statistics", e)) || !(g->logits = dalloc(g, N * (size_t)Vp * 2, "logits", e)) ||
        !(g->losses = dalloc(g, N * 4, "losses", e)) || !(g->branch = dalloc(g, N * Cs * 2, "scratch", e)) ||
        !(g->dres16 = dalloc(g, N * Cs * 2, "scratch", e)) || !(g->dsmall = dalloc(g, N * Cs * 2, "scratch", e)) ||
        !(g->dbig = dalloc(g, N * 4 * Cs * 2, "scratch", e)) || !(g->dres = dalloc(g, N * Cs * 4, "scratch", e)) ||
        !(g->dvec = dalloc(g, N * (size_t)NH * 4, "scratch", e)) ||
        !(g->scratch = dalloc(g, (size_t)scratch * 4, "scratch", e)) || !(g->dmean = dalloc(g, 16, "scratch", e)) ||
        !(g->dscal = dalloc(g, 2 * sizeof(double), "scratch", e)) ||
        !(g->norm_scratch = dalloc(g, TL_CUDA_NORM_BLOCKS * sizeof(double), "scratch", e)) ||
        !(g->d_batch = dalloc(g, (size_t)stage_len((long)N) * 4, "batch", e)))
        goto fail;
    if ((r = cudaMallocHost((void **)&g->h_stage, 2 * (size_t)stage_len((long)N) * 4)) != cudaSuccess ||
        (r = cudaMallocHost((void **)&g->h_scal, 2 * sizeof(double))) != cudaSuccess) {
        tl_errf(e, "CUDA: cannot allocate pinned host memory: %s", cudaGetErrorString(r));
        goto fail;
    }
    if ((r = cudaEventCreateWithFlags(&g->ev[0], cudaEventDisableTiming)) != cudaSuccess ||
        (r = cudaEventCreateWithFlags(&g->ev[1], cudaEventDisableTiming)) != cudaSuccess) {
        tl_errf(e, "CUDA: cannot create events: %s", cudaGetErrorString(r));
        goto fail;
    }
    g->have_ev = 1;
    if (g->o.profile && !(g->prof = prof_new())) {
        tl_errf(e, "CUDA: cannot create the op-timing events");
        goto fail;
    }
    if ((r = upload_state(g, m, opt)) != cudaSuccess) {
        tl_errf(e, "CUDA: uploading the model and optimizer state: %s", cudaGetErrorString(r));
        goto fail;
    }
    rc = 0;
fail:
    if (rc) {
        tl_cuda_gpt2_free(g);
        return -1;
    }
    *out = g;
    return 0;
}

/* ---------------------------------------------------------------- batches */

/* Validates and copies a batch into the next pinned slot, groups positions by token for the
 * embedding backward (stable counting sort), and starts its copy to the device. */
static int upload_batch(tl_cuda_gpt2 *g, const int32_t *inputs, const int32_t *targets, int B, int T, int groups,
                        tl_err *e) {
    const tl_gpt2_config *c = &g->cfg;
    long N = (long)B * T;
    if (B < 1 || T < 1 || B > g->Bmax || T > g->Tmax || N > (long)g->Bmax * g->Tmax)
        return tl_errf(e, "GPU model: batch %d x %d exceeds the %d x %d it was created for", B, T, g->Bmax, g->Tmax);
    for (long i = 0; i < N; i++) {
        if (inputs[i] < 0 || inputs[i] >= c->vocab)
            return tl_errf(e, "forward: input token %d outside the vocabulary of %d", inputs[i], c->vocab);
        if (targets && (targets[i] < -1 || targets[i] >= c->vocab))
            return tl_errf(e, "forward: target %d outside the vocabulary of %d", targets[i], c->vocab);
    }
    int slot = g->slot;
    g->slot ^= 1;
    CK(cudaEventSynchronize(g->ev[slot]), "waiting for a batch copy");
    int32_t *h = g->h_stage + (long)slot * stage_len((long)g->Bmax * g->Tmax);
    int32_t *hin = h, *htg = h + N, *hord = h + 2 * N, *hst = h + 3 * N, *htok = h + 4 * N + 1;
    memcpy(hin, inputs, sizeof(int32_t) * (size_t)N);
    long counted = 0;
    for (long i = 0; i < N; i++) {
        htg[i] = targets ? targets[i] : -1;
        counted += htg[i] >= 0;
    }
    g->n_counted = counted;
    g->n_groups = 0;
    if (groups) {
        int32_t *cnt = g->h_count;
        memset(cnt, 0, sizeof(int32_t) * (size_t)c->padded_vocab);
        for (long i = 0; i < N; i++) cnt[hin[i]]++;
        int ng = 0, pos = 0;
        for (int v = 0; v < c->padded_vocab; v++)
            if (cnt[v]) {
                htok[ng] = v;
                hst[ng++] = pos;
                int n = cnt[v];
                cnt[v] = pos; /* becomes the group's cursor */
                pos += n;
            }
        hst[ng] = pos;
        for (long i = 0; i < N; i++) hord[cnt[hin[i]]++] = (int32_t)i;
        g->n_groups = ng;
    }
    /* the device copy keeps the layout of a full-size slot: offsets N-based from d_batch */
    long n_copy = groups ? 5 * N + 1 : 2 * N;
    CK(cudaMemcpyAsync(g->d_batch, h, sizeof(int32_t) * (size_t)n_copy, cudaMemcpyHostToDevice, g->s), "batch copy");
    CK(cudaEventRecord(g->ev[slot], g->s), "event");
    g->cur_B = B;
    g->cur_T = T;
    return 0;
}

/* ---------------------------------------------------------------- forward / backward */

/* a kernel launch, then its end marked for op timing under its name */
#define KL(call, what)                                                                            \
    do {                                                                                          \
        CK(call, what);                                                                           \
        mark(g, what);                                                                            \
    } while (0)

/* LoRA branch of adapter (l, t) on input inp[N, I] (bf16), output out[N, O] (+=); no-op when not
 * adapted. u[N, rp] = (alpha / r) dropout(inp) A^T is kept for the backward; dropout (training
 * forward only) uses the CPU's mask, so the same seed drops the same elements. */
static int lora_forward(tl_cuda_gpt2 *g, int l, tl_lora_target t, tl_bf16 *out, const tl_bf16 *inp, int train, tl_err *e) {
    int k = g->lora ? g->lidx[l * TL_LORA_N_TARGETS + t] : -1;
    if (k < 0) return 0;
    int N = g->cur_B * g->cur_T, rp = g->lrank_pad, I = (int)g->ltensors[k].shape[1], O = (int)g->ltensors[k + 1].shape[0];
    int lt = l * TL_LORA_N_TARGETS + t;
    tl_bf16 *u = g->lu + (long)lt * g->lu_rows * rp;
    const tl_bf16 *x = inp;
    if (train && g->ldropout > 0) {
        KL(tl_cuda_lora_dropout_forward(g->lxd, inp, (long)N * I, g->drop_seed, lt, g->ldropout, g->s), "lora_dropout");
        x = g->lxd;
    }
    if (tl_cuda_matmul_forward(&g->blas, u, x, g->lp16 + g->ldoff[k], N, I, rp, g->lscale, 0.0f, g->s, e)) return -1;
    return tl_cuda_matmul_forward(&g->blas, out, u, g->lp16 + g->ldoff[k + 1], N, rp, O, 1.0f, 1.0f, g->s, e);
}

/* Its backward given dout[N, O]: dB += dout^T u, du = (alpha / r) dout B, dA += du^T dropout(inp),
 * dinp[N, I] += dropout'(du A) (skipped when dinp is NULL). */
static int lora_backward(tl_cuda_gpt2 *g, int l, tl_lora_target t, tl_bf16 *dinp, const tl_bf16 *dout, const tl_bf16 *inp,
                         tl_err *e) {
    int k = g->lora ? g->lidx[l * TL_LORA_N_TARGETS + t] : -1;
    if (k < 0) return 0;
    int N = g->cur_B * g->cur_T, rp = g->lrank_pad, I = (int)g->ltensors[k].shape[1], O = (int)g->ltensors[k + 1].shape[0];
    int lt = l * TL_LORA_N_TARGETS + t, drop = g->ldropout > 0;
    const tl_bf16 *u = g->lu + (long)lt * g->lu_rows * rp, *A = g->lp16 + g->ldoff[k], *B = g->lp16 + g->ldoff[k + 1];
    float *dA = g->lg32 + g->ldoff[k], *dB = g->lg32 + g->ldoff[k + 1];
    tl_cuda_blas *bl = &g->blas;
    if (tl_cuda_linear_backward_weight(bl, dB, dout, u, N, rp, O, g->s, e) ||
        tl_cuda_matmul_backward_input(bl, g->ldu, dout, B, N, rp, O, g->lscale, 0.0f, g->s, e))
        return -1;
    const tl_bf16 *x = inp;
    if (drop) { /* the forward's mask again */
        KL(tl_cuda_lora_dropout_forward(g->lxd, inp, (long)N * I, g->drop_seed, lt, g->ldropout, g->s), "lora_dropout");
        x = g->lxd;
    }
    if (tl_cuda_linear_backward_weight(bl, dA, g->ldu, x, N, I, rp, g->s, e)) return -1;
    if (!dinp) return 0;
    if (!drop) return tl_cuda_matmul_backward_input(bl, dinp, g->ldu, A, N, I, rp, 1.0f, 1.0f, g->s, e);
    if (tl_cuda_matmul_backward_input(bl, g->lxd, g->ldu, A, N, I, rp, 1.0f, 0.0f, g->s, e)) return -1;
    KL(tl_cuda_lora_dropout_backward(dinp, g->lxd, (long)N * I, g->drop_seed, lt, g->ldropout, g->s), "lora_dropout");
    return 0;
}

/* lora_has(g, l, t): adapter (l, t) exists */
static int lora_has(const tl_cuda_gpt2 *g, int l, tl_lora_target t) { return g->lora && g->lidx[l * TL_LORA_N_TARGETS + t] >= 0; }

static int forward(tl_cuda_gpt2 *g, int write_grad, float dscale, double *acc, tl_err *e) {
    const tl_gpt2_config *c = &g->cfg;
    int B = g->cur_B, T = g->cur_T, C = c->n_embd, NH = c->n_head, L = c->n_layer, V = c->vocab, Vp = c->padded_vocab;
    int N = B * T;
    long NC = (long)N * C;
    cudaStream_t s = g->s;
    const int32_t *d_in = g->d_batch, *d_tg = g->d_batch + N;
    int lnf = g->n_tensors - 2;
    KL(tl_cuda_encoder_forward(g->resid, d_in, P32(g, 0), P32(g, 1), B, T, C, s), "encoder_forward");
    for (int l = 0; l < L; l++) {
        float *x = g->resid + 2 * l * NC, *r2 = x + NC, *r3 = r2 + NC;
        tl_bf16 *ln1 = g->ln1 + l * NC, *ln2 = g->ln2 + l * NC, *qkv = g->qkv + 3 * l * NC, *atty = g->atty + l * NC;
        tl_bf16 *fch = g->fch + 4 * l * NC, *fchg = g->fchg + (g->o.recompute ? 0 : 4 * l * NC);
        float *m1 = g->ln1_mean + (long)l * N, *s1 = g->ln1_rstd + (long)l * N;
        float *m2 = g->ln2_mean + (long)l * N, *s2 = g->ln2_rstd + (long)l * N;
        if (l == 0)
            KL(tl_cuda_layernorm_forward(NULL, ln1, m1, s1, x, NULL, P32(g, LT(0, P_LN1W)), P32(g, LT(0, P_LN1B)), N, C, s),
               "layernorm_forward");
        if (tl_cuda_linear_forward(&g->blas, qkv, NULL, ln1, P16(g, LT(l, P_QKVW)), P16(g, LT(l, P_QKVB)), N, C, 3 * C, s, e) ||
            lora_forward(g, l, TL_LORA_QKV, qkv, ln1, write_grad, e))
            return -1;
        mark(g, "gemm qkv");
        KL(tl_cuda_attention_forward(atty, g->lse + (long)l * N * NH, qkv, B, T, C, NH, g->o.plain_attention, s),
           "attention_forward");
        if (tl_cuda_linear_forward(&g->blas, g->branch, NULL, atty, P16(g, LT(l, P_PROJW)), P16(g, LT(l, P_PROJB)), N, C, C,
                                   s, e) ||
            lora_forward(g, l, TL_LORA_PROJ, g->branch, atty, write_grad, e))
            return -1;
        mark(g, "gemm attproj");
        KL(tl_cuda_layernorm_forward(r2, ln2, m2, s2, x, g->branch, P32(g, LT(l, P_LN2W)), P32(g, LT(l, P_LN2B)), N, C, s),
           "layernorm_forward");
        if (lora_has(g, l, TL_LORA_FC)) { /* the adapter adds to the pre-GELU values: GELU as a separate kernel */
            if (tl_cuda_linear_forward(&g->blas, fch, NULL, ln2, P16(g, LT(l, P_FCW)), P16(g, LT(l, P_FCB)), N, C, 4 * C, s, e) ||
                lora_forward(g, l, TL_LORA_FC, fch, ln2, write_grad, e))
                return -1;
            mark(g, "gemm fc");
            KL(tl_cuda_gelu_forward(fchg, fch, 4 * NC, s), "gelu_forward");
        } else if (tl_cuda_linear_forward(&g->blas, fchg, fch, ln2, P16(g, LT(l, P_FCW)), P16(g, LT(l, P_FCB)), N, C, 4 * C, s,
                                          e))
            return -1;
        else mark(g, "gemm fc+gelu");
        if (tl_cuda_linear_forward(&g->blas, g->branch, NULL, fchg, P16(g, LT(l, P_FCPW)), P16(g, LT(l, P_FCPB)), N, 4 * C,
                                   C, s, e) ||
            lora_forward(g, l, TL_LORA_FCPROJ, g->branch, fchg, write_grad, e))
            return -1;
        mark(g, "gemm fcproj");
        if (l + 1 < L)
            KL(tl_cuda_layernorm_forward(r3, g->ln1 + (l + 1) * NC, g->ln1_mean + (long)(l + 1) * N,
                                         g->ln1_rstd + (long)(l + 1) * N, r2, g->branch, P32(g, LT(l + 1, P_LN1W)),
                                         P32(g, LT(l + 1, P_LN1B)), N, C, s),
               "layernorm_forward");
        else
            KL(tl_cuda_layernorm_forward(r3, g->lnf, g->lnf_mean, g->lnf_rstd, r2, g->branch, P32(g, lnf), P32(g, lnf + 1),
                                         N, C, s),
               "layernorm_forward");
    }
    if (tl_cuda_linear_forward(&g->blas, g->logits, NULL, g->lnf, P16(g, 0), NULL, N, C, Vp, s, e)) return -1;
    mark(g, "gemm head");
    KL(tl_cuda_crossentropy_forward(g->losses, g->logits, d_tg, N, V, Vp, dscale, write_grad, s), "crossentropy");
    KL(tl_cuda_loss_reduce(g->dmean, acc, g->losses, N, g->n_counted ? 1.0f / (float)g->n_counted : 0.0f, s),
       "loss_reduce");
    return 0;
}

/* dweight[OC, IC] += dout^T inp and db[OC] += column sums of dout; skipped for a frozen base (NULL);
 * `what` names the product for op timing */
static int weight_grad(tl_cuda_gpt2 *g, const char *what, float *dw, float *db, const tl_bf16 *dout, const tl_bf16 *inp, int N,
                       int IC, int OC, tl_err *e) {
    if (dw && tl_cuda_linear_backward_weight(&g->blas, dw, dout, inp, N, IC, OC, g->s, e)) return -1;
    mark(g, what);
    if (db) KL(tl_cuda_bias_backward(db, g->scratch, dout, N, OC, g->s), "bias_backward");
    return 0;
}

static int backward(tl_cuda_gpt2 *g, tl_err *e) {
    const tl_gpt2_config *c = &g->cfg;
    int B = g->cur_B, T = g->cur_T, C = c->n_embd, NH = c->n_head, L = c->n_layer, Vp = c->padded_vocab;
    int N = B * T;
    long NC = (long)N * C;
    cudaStream_t s = g->s;
    tl_cuda_blas *bl = &g->blas;
    const int32_t *order = g->d_batch + 2 * N, *start = g->d_batch + 3 * N, *tok = g->d_batch + 4 * N + 1;
    int lnf = g->n_tensors - 2;
    tl_bf16 *dln = g->dsmall, *datty = g->dsmall, *dfch = g->dbig, *dqkv = g->dbig; /* lifetimes do not overlap */
    KL(cudaMemsetAsync(g->dres, 0, sizeof(float) * (size_t)NC, s), "memset");
    /* logits = lnf @ wte^T: dlogits are in g->logits */
    if (tl_cuda_linear_backward_input(bl, dln, NULL, g->logits, P16(g, 0), N, C, Vp, s, e)) return -1;
    mark(g, "gemm dx head");
    if (weight_grad(g, "gemm dw head", G32(g, 0), NULL, g->logits, g->lnf, N, C, Vp, e)) return -1;
    KL(tl_cuda_layernorm_backward(g->dres, g->dres16, G32(g, lnf), G32(g, lnf + 1), g->scratch, dln,
                                  g->resid + 2 * L * NC, P32(g, lnf), g->lnf_mean, g->lnf_rstd, N, C, s),
       "layernorm_backward");
    for (int l = L - 1; l >= g->lfirst; l--) {
        float *x = g->resid + 2 * l * NC, *r2 = x + NC;
        tl_bf16 *ln1 = g->ln1 + l * NC, *ln2 = g->ln2 + l * NC, *qkv = g->qkv + 3 * l * NC, *atty = g->atty + l * NC;
        tl_bf16 *fch = g->fch + 4 * l * NC, *fchg = g->fchg + (g->o.recompute ? 0 : 4 * l * NC);
        /* res3 = res2 + fcproj(gelu(fc(ln2(res2)))) */
        if (g->o.recompute) KL(tl_cuda_gelu_forward(fchg, fch, 4 * NC, s), "gelu_forward");
        if (weight_grad(g, "gemm dw fcproj", G32(g, LT(l, P_FCPW)), G32(g, LT(l, P_FCPB)), g->dres16, fchg, N, 4 * C, C, e))
            return -1;
        if (lora_has(g, l, TL_LORA_FCPROJ)) { /* the adapter's input gradient joins before GELU' */
            if (tl_cuda_linear_backward_input(bl, dfch, NULL, g->dres16, P16(g, LT(l, P_FCPW)), N, 4 * C, C, s, e) ||
                lora_backward(g, l, TL_LORA_FCPROJ, dfch, g->dres16, fchg, e))
                return -1;
            mark(g, "gemm dx fcproj");
            KL(tl_cuda_gelu_backward(dfch, fch, dfch, 4 * NC, s), "gelu_backward");
        } else if (tl_cuda_linear_backward_input(bl, dfch, fch, g->dres16, P16(g, LT(l, P_FCPW)), N, 4 * C, C, s, e))
            return -1;
        else mark(g, "gemm dx fcproj+gelu'");
        if (weight_grad(g, "gemm dw fc", G32(g, LT(l, P_FCW)), G32(g, LT(l, P_FCB)), dfch, ln2, N, C, 4 * C, e) ||
            tl_cuda_linear_backward_input(bl, dln, NULL, dfch, P16(g, LT(l, P_FCW)), N, C, 4 * C, s, e) ||
            lora_backward(g, l, TL_LORA_FC, dln, dfch, ln2, e))
            return -1;
        mark(g, "gemm dx fc");
        KL(tl_cuda_layernorm_backward(g->dres, g->dres16, G32(g, LT(l, P_LN2W)), G32(g, LT(l, P_LN2B)), g->scratch, dln, r2,
                                      P32(g, LT(l, P_LN2W)), g->ln2_mean + (long)l * N, g->ln2_rstd + (long)l * N, N, C, s),
           "layernorm_backward");
        /* res2 = x + proj(attention(qkv(ln1(x)))) */
        if (weight_grad(g, "gemm dw attproj", G32(g, LT(l, P_PROJW)), G32(g, LT(l, P_PROJB)), g->dres16, atty, N, C, C, e) ||
            tl_cuda_linear_backward_input(bl, datty, NULL, g->dres16, P16(g, LT(l, P_PROJW)), N, C, C, s, e) ||
            lora_backward(g, l, TL_LORA_PROJ, datty, g->dres16, atty, e))
            return -1;
        mark(g, "gemm dx attproj");
        KL(tl_cuda_attention_backward(dqkv, g->dvec, datty, qkv, atty, g->lse + (long)l * N * NH, B, T, C, NH,
                                      g->o.plain_attention, s),
           "attention_backward");
        /* a frozen base needs no gradient below its lowest adapted block's qkv product (the
         * embeddings do not train either) */
        int below = !g->lora || l > g->lfirst;
        if (weight_grad(g, "gemm dw qkv", G32(g, LT(l, P_QKVW)), G32(g, LT(l, P_QKVB)), dqkv, ln1, N, C, 3 * C, e) ||
            (below && tl_cuda_linear_backward_input(bl, dln, NULL, dqkv, P16(g, LT(l, P_QKVW)), N, C, 3 * C, s, e)) ||
            lora_backward(g, l, TL_LORA_QKV, below ? dln : NULL, dqkv, ln1, e))
            return -1;
        mark(g, "gemm dx qkv");
        if (below)
            KL(tl_cuda_layernorm_backward(g->dres, g->dres16, G32(g, LT(l, P_LN1W)), G32(g, LT(l, P_LN1B)), g->scratch, dln,
                                          x, P32(g, LT(l, P_LN1W)), g->ln1_mean + (long)l * N, g->ln1_rstd + (long)l * N,
                                          N, C, s),
               "layernorm_backward");
    }
    if (!g->lora)
        KL(tl_cuda_encoder_backward(G32(g, 0), G32(g, 1), g->dres, order, start, tok, g->n_groups, B, T, C, s),
           "encoder_backward");
    return 0;
}

/* ---------------------------------------------------------------- public steps */

int tl_cuda_gpt2_eval(tl_cuda_gpt2 *g, const int32_t *inputs, const int32_t *targets, int B, int T, float *loss, tl_err *e) {
    struct prof *p = g->prof; /* op timing is of training steps */
    g->prof = NULL;
    int rc = upload_batch(g, inputs, targets, B, T, 0, e) || forward(g, 0, 0.0f, NULL, e);
    g->prof = p;
    if (rc) return -1;
    float h;
    CK(cudaMemcpyAsync(g->h_scal, g->dmean, sizeof h, cudaMemcpyDeviceToHost, g->s), "copy");
    CK(cudaStreamSynchronize(g->s), "eval");
    memcpy(&h, g->h_scal, sizeof h);
    *loss = h;
    return 0;
}

int tl_cuda_gpt2_logits(tl_cuda_gpt2 *g, float *out, tl_err *e) {
    size_t n = (size_t)g->cur_B * g->cur_T * (size_t)g->cfg.padded_vocab;
    uint16_t *h = malloc(n * 2);
    if (!h) return tl_errf(e, "out of memory");
    cudaError_t r = cudaMemcpyAsync(h, g->logits, n * 2, cudaMemcpyDeviceToHost, g->s);
    if (r == cudaSuccess) r = cudaStreamSynchronize(g->s);
    if (r != cudaSuccess) {
        free(h);
        return tl_errf(e, "CUDA logits copy: %s", cudaGetErrorString(r));
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t u = (uint32_t)h[i] << 16;
        memcpy(out + i, &u, 4);
    }
    free(h);
    return 0;
}

void tl_cuda_gpt2_zero_grad(tl_cuda_gpt2 *g) {
    mark(g, NULL);
    if (g->lora) cudaMemsetAsync(g->lg32, 0, g->ln * 4, g->s);
    else cudaMemsetAsync(g->g32, 0, g->n_padded * 4, g->s);
    cudaMemsetAsync(g->dscal, 0, 2 * sizeof(double), g->s);
    mark(g, "zero grad");
}

int tl_cuda_gpt2_train_micro(tl_cuda_gpt2 *g, const int32_t *inputs, const int32_t *targets, int B, int T, float scale,
                             tl_err *e) {
    if (upload_batch(g, inputs, targets, B, T, !g->lora, e)) return -1; /* frozen embeddings: no token groups */
    mark(g, "batch copy");
    float dscale = g->n_counted ? scale / (float)g->n_counted : 0.0f;
    if (forward(g, 1, dscale, g->dscal, e)) return -1;
    return g->n_counted ? backward(g, e) : 0; /* no counted target: the loss is constant */
}

int tl_cuda_gpt2_reduce(tl_cuda_gpt2 *g, double *loss_sum, double *grad_norm, tl_err *e) {
#ifdef TL_HAVE_NCCL
    if (g->nccl)
        NK(ncclReduceScatter(g->g32, g->g32 + g->shard_lo, g->shard, ncclFloat32, ncclSum, g->comm, g->s), "reduce-scatter");
    mark(g, "reduce-scatter");
#endif
    if (g->lora) CK(tl_cuda_sumsq(g->dscal + 1, g->norm_scratch, g->lg32, (long)g->ln, g->s), "sumsq");
    else CK(tl_cuda_sumsq(g->dscal + 1, g->norm_scratch, g->g32 + g->shard_lo, (long)g->shard, g->s), "sumsq");
    mark(g, "gradient norm");
#ifdef TL_HAVE_NCCL
    if (g->nccl) NK(ncclAllReduce(g->dscal, g->dscal, 2, ncclFloat64, ncclSum, g->comm, g->s), "all-reduce");
#endif
    CK(cudaMemcpyAsync(g->h_scal, g->dscal, 2 * sizeof(double), cudaMemcpyDeviceToHost, g->s), "copy");
    CK(cudaStreamSynchronize(g->s), "step");
    if (g->prof) {
        g->prof->counted += g->prof->steps > 0;
        prof_collect(g->prof);
    }
    *loss_sum = g->h_scal[0];
    *grad_norm = sqrt(g->h_scal[1]);
    return 0;
}

int tl_cuda_gpt2_update(tl_cuda_gpt2 *g, tl_adamw *opt, float lr, float gscale, tl_err *e) {
    mark(g, NULL);
    opt->t++;
    float c1 = 1.0f - powf(opt->beta1, (float)opt->t), c2 = 1.0f - powf(opt->beta2, (float)opt->t);
    for (int k = 0; g->lora && k < g->n_ltensors; k++) { /* the adapters alone; padding has zero gradients, stays zero */
        size_t a = g->ldoff[k];
        float wd = g->ltensors[k].decay ? opt->weight_decay : 0.0f;
        KL(tl_cuda_adamw_update(g->lp32 + a, g->lp16 + a, g->lm + a, g->lv + a, g->lg32 + a, (long)lora_numel(g, k), lr,
                                opt->beta1, opt->beta2, c1, c2, opt->eps, wd, gscale, g->s),
           "adamw");
    }
    if (g->lora) {
        if (g->prof) g->prof->steps++;
        return 0;
    }
    size_t lo = g->shard_lo, hi = lo + g->shard;
    for (int i = 0; i < g->n_tensors; i++) {
        const tl_tensor_info *t = &g->tensors[i];
        size_t a = t->offset > lo ? t->offset : lo, b = t->offset + t->numel < hi ? t->offset + t->numel : hi;
        if (a >= b) continue;
        float wd = t->decay ? opt->weight_decay : 0.0f;
        KL(tl_cuda_adamw_update(g->p32 + a, g->p16 + a, g->m + (a - lo), g->v + (a - lo), g->g32 + a, (long)(b - a), lr,
                                opt->beta1, opt->beta2, c1, c2, opt->eps, wd, gscale, g->s),
           "adamw");
    }
#ifdef TL_HAVE_NCCL
    if (g->nccl) NK(ncclAllGather(g->p16 + lo, g->p16, g->shard, ncclBfloat16, g->comm, g->s), "all-gather");
    mark(g, "all-gather");
#endif
    if (g->prof) g->prof->steps++;
    return 0;
}

int tl_cuda_gpt2_download(tl_cuda_gpt2 *g, tl_gpt2 *m, tl_adamw *opt, tl_err *e) {
    size_t n = g->n_params;
    if (m->n_params != n) return tl_errf(e, "GPU model: host model has %zu parameters, GPU %zu", m->n_params, n);
    if (g->lora) { /* the base did not change: the adapters and their moments */
        if (!m->lora || m->lora->n_tensors != g->n_ltensors)
            return tl_errf(e, "GPU model: trains LoRA adapters, the host model has %s", m->lora ? "other ones" : "none");
        if (opt && opt->n != m->lora->n_params)
            return tl_errf(e, "GPU model: the AdamW state has %zu values, the adapters %zu", opt->n, m->lora->n_params);
        CK(lora_copy(g, g->lp32, NULL, m->lora->params), "download");
        if (opt) {
            CK(lora_copy(g, g->lm, NULL, opt->m), "download");
            CK(lora_copy(g, g->lv, NULL, opt->v), "download");
        }
        CK(cudaStreamSynchronize(g->s), "download");
        return 0;
    }
    if (!g->nccl) {
        CK(cudaMemcpyAsync(m->params, g->p32, n * 4, cudaMemcpyDeviceToHost, g->s), "download");
        if (opt) {
            CK(cudaMemcpyAsync(opt->m, g->m, n * 4, cudaMemcpyDeviceToHost, g->s), "download");
            CK(cudaMemcpyAsync(opt->v, g->v, n * 4, cudaMemcpyDeviceToHost, g->s), "download");
        }
        CK(cudaStreamSynchronize(g->s), "download");
        return 0;
    }
#ifdef TL_HAVE_NCCL
    /* every rank's shard of the master weights, then the moments through a temporary buffer */
    NK(ncclAllGather(g->p32 + g->shard_lo, g->p32, g->shard, ncclFloat32, g->comm, g->s), "all-gather");
    CK(cudaMemcpyAsync(m->params, g->p32, n * 4, cudaMemcpyDeviceToHost, g->s), "download");
    if (opt) {
        float *tmp = NULL;
        CK(cudaMalloc((void **)&tmp, g->n_padded * 4), "allocating the moment gather buffer");
        float *src[2] = {g->m, g->v}, *dst[2] = {opt->m, opt->v};
        for (int k = 0; k < 2; k++) {
            ncclResult_t nr = ncclAllGather(src[k], tmp, g->shard, ncclFloat32, g->comm, g->s);
            cudaError_t r = nr == ncclSuccess ? cudaMemcpyAsync(dst[k], tmp, n * 4, cudaMemcpyDeviceToHost, g->s) : cudaSuccess;
            if (r == cudaSuccess) r = cudaStreamSynchronize(g->s);
            if (nr != ncclSuccess || r != cudaSuccess) {
                cudaFree(tmp);
                return nr != ncclSuccess ? tl_errf(e, "NCCL all-gather: %s", ncclGetErrorString(nr))
                                         : tl_errf(e, "CUDA download: %s", cudaGetErrorString(r));
            }
        }
        cudaFree(tmp);
    }
#endif
    CK(cudaStreamSynchronize(g->s), "download");
    return 0;
}

int tl_cuda_gpt2_grads(tl_cuda_gpt2 *g, float *out, tl_err *e) {
    if (g->lora) CK(lora_copy(g, g->lg32, NULL, out), "gradient copy");
    else CK(cudaMemcpyAsync(out, g->g32, g->n_params * 4, cudaMemcpyDeviceToHost, g->s), "gradient copy");
    CK(cudaStreamSynchronize(g->s), "gradient copy");
    return 0;
}

void tl_cuda_gpt2_lora_seed(tl_cuda_gpt2 *g, uint64_t seed) { g->drop_seed = seed; }
