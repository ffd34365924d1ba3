/* Gradients of every op and of the whole model against central finite differences (the loss is
 * accumulated in double), plus: KV-cached decoding equals the full forward, gradients are
 * bit-identical with 1 and 2 threads, and the 124M preset has llm.c's parameter count. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "model/gpt2.h"
#include "model/ops.h"

static tl_rng rng;
static void *pool[256]; /* every test buffer, freed at exit */
static int pooled;

static float *keep(float *p) { return (float *)(pool[pooled++] = p); }
static float *randn(long n, float sd) {
    float *p = keep(malloc(sizeof(float) * (size_t)n));
    for (long i = 0; i < n; i++) p[i] = sd * tl_rng_normal(&rng);
    return p;
}
static float *zeros(long n) { return keep(calloc((size_t)n, sizeof(float))); }

/* Compares analytic gradient g[n] of loss() with respect to x[n] against central differences.
 * Passes when ||g - fd|| <= tol * max(||fd||, 1e-3) and every element is within
 * tol * (|fd| + max|fd|) (the latter catches single wrong entries the norm would hide). */
static int fd_check(const char *what, float *x, const float *g, long n, double (*loss)(void *), void *ctx, float eps, double tol) {
    double num = 0, den = 0, mx = 0, worst = 0;
    double *fd = malloc(sizeof(double) * (size_t)n);
    for (long i = 0; i < n; i++) {
        float x0 = x[i];
        x[i] = x0 + eps;
        double lp = loss(ctx);
        x[i] = x0 - eps;
        double lm = loss(ctx);
        x[i] = x0;
        fd[i] = (lp - lm) / ((double)(x0 + eps) - (double)(x0 - eps));
        num += (g[i] - fd[i]) * (g[i] - fd[i]);
        den += fd[i] * fd[i];
        if (fabs(fd[i]) > mx) mx = fabs(fd[i]);
    }
    for (long i = 0; i < n; i++) {
        double err = fabs(g[i] - fd[i]) / (fabs(fd[i]) + mx + 1e-12);
        if (err > worst) worst = err;
    }
    double rel = sqrt(num) / fmax(sqrt(den), 1e-3);
    free(fd);
    int ok = rel <= tol && worst <= tol;
    fprintf(stderr, "%-28s n=%-6ld rel %.2e  worst %.2e  %s\n", what, n, rel, worst, ok ? "ok" : "FAIL");
    return ok;
}

static double weighted(const float *out, const float *r, long n) {
    double s = 0;
    for (long i = 0; i < n; i++) s += (double)out[i] * r[i];
    return s;
}

/* ---- layernorm */
typedef struct { int N, C; float *inp, *w, *b, *out, *mean, *rstd, *r; } ln_ctx;
static double ln_loss(void *p) {
    ln_ctx *c = p;
    tl_layernorm_forward(c->out, c->mean, c->rstd, c->inp, c->w, c->b, c->N, c->C);
    return weighted(c->out, c->r, (long)c->N * c->C);
}
static void test_layernorm(void) {
    ln_ctx c = {6, 13, randn(78, 1), randn(13, 1), randn(13, 1), zeros(78), zeros(6), zeros(6), randn(78, 1)};
    float *dinp = zeros(78), *dw = zeros(13), *db = zeros(13);
    ln_loss(&c);
    tl_layernorm_backward(dinp, dw, db, c.r, c.inp, c.w, c.mean, c.rstd, c.N, c.C);
    CHECK(fd_check("layernorm dinp", c.inp, dinp, 78, ln_loss, &c, 1e-2f, 2e-3), "layernorm dinp");
    CHECK(fd_check("layernorm dw", c.w, dw, 13, ln_loss, &c, 1e-2f, 2e-3), "layernorm dw");
    CHECK(fd_check("layernorm db", c.b, db, 13, ln_loss, &c, 1e-2f, 2e-3), "layernorm db");
}

/* ---- attention */
typedef struct { int B, T, C, NH; float *qkv, *out, *att, *r; } at_ctx;
static double at_loss(void *p) {
    at_ctx *c = p;
    tl_attention_forward(c->out, c->att, c->qkv, c->B, c->T, c->C, c->NH);
    return weighted(c->out, c->r, (long)c->B * c->T * c->C);
}
/* out against causal softmax attention summed in double, then dqkv by finite differences; T past
 * one GEMM tile (6 or 12 rows, 16 or 32 columns) reaches the triangular products' tile skipping. */
static void test_attention(int B, int T, int C, int NH) {
    long n = (long)B * T * 3 * C;
    at_ctx c = {B, T, C, NH, randn(n, 1), zeros((long)B * T * C), zeros((long)B * NH * T * T), randn((long)B * T * C, 1)};
    float *d = zeros(n), *scratch = zeros((long)B * NH * T * T);
    at_loss(&c);
    int hs = C / NH;
    double worst = 0, *w = malloc(sizeof(double) * (size_t)T);
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++)
            for (int t = 0; t < T; t++) {
                const float *q = c.qkv + ((long)b * T + t) * 3 * C + h * hs;
                double mx = -1e300, sum = 0;
                for (int u = 0; u <= t; u++) {
                    const float *k = c.qkv + ((long)b * T + u) * 3 * C + C + h * hs;
                    double s = 0;
                    for (int i = 0; i < hs; i++) s += (double)q[i] * k[i];
                    w[u] = s / sqrt((double)hs);
                    if (w[u] > mx) mx = w[u];
                }
                for (int u = 0; u <= t; u++) sum += (w[u] = exp(w[u] - mx));
                for (int i = 0; i < hs; i++) {
                    double o = 0;
                    for (int u = 0; u <= t; u++) o += w[u] / sum * c.qkv[((long)b * T + u) * 3 * C + 2 * C + h * hs + i];
                    worst = fmax(worst, fabs(o - c.out[((long)b * T + t) * C + h * hs + i]));
                }
            }
    free(w);
    CHECK(worst < 1e-5, "attention forward T=%d: off the double reference by %.2e", T, worst);
    tl_attention_backward(d, scratch, c.r, c.qkv, c.att, B, T, C, NH);
    CHECK(fd_check("attention dqkv", c.qkv, d, n, at_loss, &c, 1e-2f, 2e-3), "attention T=%d", T);
}

/* ---- gelu */
typedef struct { long N; float *x, *out, *r; } ge_ctx;
static double ge_loss(void *p) {
    ge_ctx *c = p;
    tl_gelu_forward(c->out, c->x, c->N);
    return weighted(c->out, c->r, c->N);
}
static void test_gelu(void) {
    ge_ctx c = {50, randn(50, 2), zeros(50), randn(50, 1)};
    float *d = zeros(50);
    tl_gelu_backward(d, c.x, c.r, c.N);
    CHECK(fd_check("gelu", c.x, d, 50, ge_loss, &c, 1e-2f, 2e-3), "gelu");
}

/* ---- encoder */
typedef struct { int B, T, C; int32_t *inp; float *wte, *wpe, *out, *r; } en_ctx;
static double en_loss(void *p) {
    en_ctx *c = p;
    tl_encoder_forward(c->out, c->inp, c->wte, c->wpe, c->B, c->T, c->C);
    return weighted(c->out, c->r, (long)c->B * c->T * c->C);
}
static void test_encoder(void) {
    int32_t inp[6] = {3, 1, 3, 0, 4, 3}; /* repeated ids accumulate */
    en_ctx c = {2, 3, 5, inp, randn(25, 1), randn(15, 1), zeros(30), randn(30, 1)};
    float *dwte = zeros(25), *dwpe = zeros(15);
    tl_encoder_backward(dwte, dwpe, c.r, inp, 2, 3, 5);
    CHECK(fd_check("encoder dwte", c.wte, dwte, 25, en_loss, &c, 1e-2f, 1e-3), "encoder dwte");
    CHECK(fd_check("encoder dwpe", c.wpe, dwpe, 15, en_loss, &c, 1e-2f, 1e-3), "encoder dwpe");
}

/* ---- cross-entropy (padded vocabulary, ignored rows) */
typedef struct { int BT, V, Vp; int32_t *t; float *logits, *losses, *lse; } ce_ctx;
static double ce_loss(void *p) {
    ce_ctx *c = p;
    float mean;
    tl_crossentropy_forward(c->losses, c->lse, c->logits, c->t, c->BT, c->V, c->Vp, &mean);
    double s = 0;
    int n = 0;
    for (int i = 0; i < c->BT; i++)
        if (c->t[i] >= 0) s += c->losses[i], n++;
    return s / n;
}
static void test_crossentropy(void) {
    int32_t t[4] = {2, -1, 6, 0};
    ce_ctx c = {4, 7, 9, t, randn(36, 2), zeros(4), zeros(4)};
    ce_loss(&c);
    float *d = zeros(36);
    memcpy(d, c.logits, sizeof(float) * 36);
    tl_crossentropy_backward(d, c.lse, t, 4, 7, 9, 1.0f / 3);
    CHECK(fd_check("crossentropy dlogits", c.logits, d, 36, ce_loss, &c, 1e-2f, 2e-3), "crossentropy");
    CHECK(d[7] == 0 && d[8] == 0 && d[9] == 0, "padded columns and ignored rows get no gradient");
}

/* ---- the whole model */
typedef struct { tl_gpt2 *m; int32_t *in, *tg; int B, T; } md_ctx;
static double md_loss(void *p) {
    md_ctx *c = p;
    tl_err e;
    tl_gpt2_forward(c->m, c->in, c->tg, c->B, c->T, &e);
    return c->m->mean_loss;
}

/* compact: the head only at counted positions (head_counted_only, as fine-tuning runs it) */
static void test_model(int compact) {
    tl_gpt2_config cfg = {2, 2, 8, 6, 11, 16};
    tl_gpt2 m;
    tl_err e;
    CHECK(tl_gpt2_init(&m, &cfg, &e) == 0, "%s", e.msg);
    m.head_counted_only = compact;
    tl_gpt2_init_weights(&m, 5);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] += 0.3f * tl_rng_normal(&rng); /* break symmetries */
    for (int i = 0; i < (16 - 11) * 8; i++) m.params[11 * 8 + i] = 0; /* padded rows stay zero */
    int32_t in[10] = {1, 5, 9, 2, 2, 10, 0, 3, 7, 4}, tg[10] = {5, 9, -1, 2, 10, 0, 3, -1, 4, 6};
    md_ctx c = {&m, in, tg, 2, 5};
    CHECK(tl_gpt2_forward(&m, in, tg, 2, 5, &e) == 0, "%s", e.msg);
    tl_gpt2_zero_grad(&m);
    CHECK(tl_gpt2_backward(&m, 1.0f, &e) == 0, "%s", e.msg);
    float *g = malloc(sizeof(float) * m.n_params);
    memcpy(g, m.grads, sizeof(float) * m.n_params);
    /* float forward noise: differences are taken over a larger step; compare in norm and per element */
    CHECK(fd_check(compact ? "model, head at counted positions: all parameters" : "model: all parameters", m.params, g,
                   (long)m.n_params, md_loss, &c, 1e-2f, 1e-2), "model");
    for (int i = 11 * 8; i < 16 * 8; i++) CHECK(g[i] == 0, "padded wte row %d has gradient %g", i / 8, g[i]);

    /* KV-cached decoding reproduces the full forward's logits position by position */
    CHECK(tl_gpt2_forward(&m, in, NULL, 1, 5, &e) == 0, "%s", e.msg);
    const float *full = tl_gpt2_logits(&m);
    tl_gpt2_kv kv;
    CHECK(tl_gpt2_kv_init(&kv, &cfg, 6, &e) == 0, "%s", e.msg);
    double worst = 0;
    for (int t = 0; t < 5; t++) {
        const float *l = tl_gpt2_decode(&m, &kv, in[t]);
        for (int v = 0; v < 11; v++) worst = fmax(worst, fabs(l[v] - full[t * 16 + v]));
    }
    CHECK(worst < 1e-5, "KV decode differs from forward by %g", worst);
    /* prefill in two batches (2 tokens, then 3 on top of the cache), then decode the last token */
    kv.pos = 0;
    const float *l2 = tl_gpt2_prefill(&m, &kv, in, 2, &e);
    worst = 0;
    for (int v = 0; l2 && v < 11; v++) worst = fmax(worst, fabs(l2[v] - full[1 * 16 + v]));
    const float *l4 = l2 ? tl_gpt2_prefill(&m, &kv, in + 2, 2, &e) : NULL;
    for (int v = 0; l4 && v < 11; v++) worst = fmax(worst, fabs(l4[v] - full[3 * 16 + v]));
    const float *l5 = l4 ? tl_gpt2_decode(&m, &kv, in[4]) : NULL;
    for (int v = 0; l5 && v < 11; v++) worst = fmax(worst, fabs(l5[v] - full[4 * 16 + v]));
    CHECK(l2 && l4 && l5 && worst < 1e-5, "prefill differs from forward by %g", worst);
    CHECK(tl_gpt2_prefill(&m, &kv, in, 2, &e) == NULL, "prefill past the context must fail");
    tl_gpt2_kv_free(&kv);
    free(g);
    tl_gpt2_free(&m);
}

/* Same gradients, bit for bit, with 1 and 2 threads, on a shape large enough to split work. */
static void test_threads(void) {
    tl_gpt2_config cfg;
    tl_err e;
    CHECK(tl_gpt2_config_make(&cfg, "2x4x64", 64, 300, &e) == 0, "%s", e.msg);
    tl_gpt2 m;
    tl_gpt2_init(&m, &cfg, &e);
    tl_gpt2_init_weights(&m, 9);
    int32_t in[4 * 64], tg[4 * 64];
    for (int i = 0; i < 4 * 64; i++) in[i] = (int32_t)tl_rng_below(&rng, 300), tg[i] = (int32_t)tl_rng_below(&rng, 300);
    float *g[2];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        tl_gpt2_forward(&m, in, tg, 4, 64, &e);
        tl_gpt2_zero_grad(&m);
        tl_gpt2_backward(&m, 1.0f, &e);
        g[t] = malloc(sizeof(float) * m.n_params);
        memcpy(g[t], m.grads, sizeof(float) * m.n_params);
    }
    CHECK(memcmp(g[0], g[1], sizeof(float) * m.n_params) == 0, "gradients differ between 1 and 2 threads");
    free(g[0]);
    free(g[1]);
    tl_gpt2_free(&m);
}

int main(void) {
    tl_rng_seed(&rng, 1);
    test_layernorm();
    test_attention(2, 7, 12, 3);
    test_attention(1, 45, 32, 2); /* hs 16: several tiles each way */
    test_gelu();
    test_encoder();
    test_crossentropy();
    test_model(0);
    test_model(1);
    test_threads();
    tl_gpt2_config c;
    tl_err e;
    CHECK(tl_gpt2_config_make(&c, "124M", 1024, 50257, &e) == 0 && c.padded_vocab == 50304, "124M preset");
    CHECK(tl_gpt2_num_params(&c) == 124475904, "124M params %zu, llm.c reports 124475904", tl_gpt2_num_params(&c));
    CHECK(tl_gpt2_config_make(&c, "5x3x64", 64, 100, &e) == -1 && strstr(e.msg, "not divisible"), "bad shape: %s", e.msg);
    CHECK(tl_gpt2_config_make(&c, "huge", 64, 100, &e) == -1 && strstr(e.msg, "unknown model"), "bad preset: %s", e.msg);
    while (pooled) free(pool[--pooled]);
    CHECK_DONE();
}
