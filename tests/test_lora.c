/* LoRA: adapter gradients against central finite differences (with and without dropout, every
 * target, and with the last block and the head at counted positions only); adapters on the top
 * blocks only (the forward resumed from the lowest adapted block's input, the backward stopping
 * there) against adapters on every block whose lower ones are zero;
 * a fresh adapter (B = 0) leaves the model unchanged, merging equals the unmerged forward, the
 * base gets no gradient, and target names and block counts parse or fail clearly. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "model/gpt2.h"
#include "model/lora.h"

static int32_t in[10] = {1, 5, 9, 2, 2, 10, 0, 3, 7, 4}, tg[10] = {5, 9, -1, 2, 10, 0, 3, -1, 4, 6};

static double loss(tl_gpt2 *m) {
    tl_err e;
    if (tl_gpt2_forward(m, in, tg, 2, 5, &e)) abort();
    return m->mean_loss;
}

/* A model of `shape` (context 8, vocabulary 11) initialised from `seed`; its config in *cfg. */
static void model_make(tl_gpt2 *m, tl_gpt2_config *cfg, const char *shape, uint64_t seed) {
    tl_err e;
    CHECK(tl_gpt2_config_make(cfg, shape, 8, 11, &e) == 0 && tl_gpt2_init(m, cfg, &e) == 0, "%s", e.msg);
    tl_gpt2_init_weights(m, seed);
}

/* compact: the last block past its attention and the head at counted positions only (head_counted_only) */
static void test_grad(float dropout, int compact) {
    tl_gpt2_config cfg;
    tl_err e;
    tl_gpt2 m;
    model_make(&m, &cfg, "2x2x8", 3);
    m.head_counted_only = compact;
    tl_lora lo;
    tl_lora_config lc = {.rank = 2, .alpha = 4, .dropout = dropout, .targets = 15};
    CHECK(tl_lora_init(&lo, &cfg, &lc, &e) == 0, "%s", e.msg);
    tl_rng r;
    tl_rng_seed(&r, 11);
    for (size_t i = 0; i < lo.n_params; i++) lo.params[i] = 0.3f * tl_rng_normal(&r); /* B != 0: A gets gradient */
    m.lora = &lo;
    lo.train = 1;
    lo.drop_seed = 77;
    loss(&m);
    tl_lora_zero_grad(&lo);
    CHECK(tl_gpt2_backward(&m, 1.0f, &e) == 0, "%s", e.msg);
    CHECK(m.grads == NULL, "LoRA backward allocated base gradients");
    float *g = malloc(sizeof(float) * lo.n_params);
    memcpy(g, lo.grads, sizeof(float) * lo.n_params);
    double num = 0, den = 0, worst = 0, mx = 0;
    double *fd = malloc(sizeof(double) * lo.n_params);
    for (size_t i = 0; i < lo.n_params; i++) {
        float x0 = lo.params[i], eps = 1e-2f;
        lo.params[i] = x0 + eps;
        double lp = loss(&m);
        lo.params[i] = x0 - eps;
        double lm = loss(&m);
        lo.params[i] = x0;
        fd[i] = (lp - lm) / (2.0 * eps);
        num += (g[i] - fd[i]) * (g[i] - fd[i]);
        den += fd[i] * fd[i];
        mx = fmax(mx, fabs(fd[i]));
    }
    for (size_t i = 0; i < lo.n_params; i++) worst = fmax(worst, fabs(g[i] - fd[i]) / (fabs(fd[i]) + mx));
    double rel = sqrt(num) / fmax(sqrt(den), 1e-3);
    fprintf(stderr, "lora dropout %.1f%s: n=%zu rel %.2e worst %.2e\n", (double)dropout, compact ? ", counted rows" : "",
            lo.n_params, rel, worst);
    CHECK(rel < 1e-2 && worst < 1e-2 && den > 0, "LoRA gradients (dropout %g) differ from finite differences: rel %g worst %g",
          (double)dropout, rel, worst);
    free(fd);
    free(g);
    m.lora = NULL;
    tl_lora_free(&lo);
    tl_gpt2_free(&m);
}

/* LoRA on the top `layers` of 3 blocks, trained as the trainer's frozen-block cache does it (the
 * loss from the block input of a whole forward, the blocks below poisoned), against LoRA on every
 * block with the same adapters on those and zero below (a zero branch adds exactly nothing): the
 * same loss and the same adapter gradients, bit for bit. */
static void test_top(float dropout, int layers) {
    tl_gpt2_config cfg;
    tl_err e;
    tl_gpt2 m;
    model_make(&m, &cfg, "3x2x8", 3);
    tl_lora all, top;
    tl_lora_config la = {.rank = 2, .alpha = 4, .dropout = dropout, .targets = 15}, lt = la;
    lt.layers = layers;
    CHECK(tl_lora_init(&all, &cfg, &la, &e) == 0 && tl_lora_init(&top, &cfg, &lt, &e) == 0, "%s", e.msg);
    int l0 = cfg.n_layer - layers;
    CHECK(top.first_layer == l0 && top.n_tensors == 8 * layers, "top %d: first block %d, %d tensors", layers, top.first_layer,
          top.n_tensors);
    tl_rng r;
    tl_rng_seed(&r, 11);
    for (size_t i = 0; i < top.n_params; i++) top.params[i] = 0.3f * tl_rng_normal(&r);
    size_t off = all.n_params - top.n_params; /* the lower blocks' adapters come first, and stay zero */
    memcpy(all.params + off, top.params, sizeof(float) * top.n_params);
    tl_lora *lo[2] = {&all, &top};
    double lossv[2];
    size_t n = 10 * (size_t)cfg.n_embd;
    float *x0 = malloc(sizeof(float) * n);
    for (int k = 0; k < 2; k++) {
        m.lora = lo[k];
        lo[k]->train = 1;
        lo[k]->drop_seed = 77;
        lossv[k] = loss(&m);
        if (k) {
            memcpy(x0, tl_gpt2_block_input(&m, l0), sizeof(float) * n);
            for (int l = 0; l < l0; l++)
                for (size_t i = 0; i < n; i++) ((float *)tl_gpt2_block_input(&m, l))[i] = NAN;
            CHECK(tl_gpt2_forward_from(&m, l0, x0, in, tg, 2, 5, &e) == 0, "%s", e.msg);
            CHECK(m.mean_loss == lossv[1], "forward from block %d: loss %.9g, whole %.9g", l0, (double)m.mean_loss, lossv[1]);
        }
        tl_lora_zero_grad(lo[k]);
        CHECK(tl_gpt2_backward(&m, 1.0f, &e) == 0, "%s", e.msg);
    }
    double worst = 0;
    for (size_t i = 0; i < top.n_params; i++) worst = fmax(worst, fabs((double)all.grads[off + i] - top.grads[i]));
    fprintf(stderr, "lora dropout %.1f, top %d of 3 blocks: loss %.9g / %.9g, worst gradient difference %g\n", (double)dropout,
            layers, lossv[0], lossv[1], worst);
    CHECK(lossv[0] == lossv[1] && worst == 0, "top %d blocks (dropout %g): loss %.9g vs %.9g, gradients differ by %g", layers,
          (double)dropout, lossv[1], lossv[0], worst);
    free(x0);
    m.lora = NULL;
    tl_lora_free(&all);
    tl_lora_free(&top);
    tl_gpt2_free(&m);
}

static void test_fresh_and_merge(void) {
    tl_gpt2_config cfg;
    tl_err e;
    tl_gpt2 m;
    model_make(&m, &cfg, "2x2x8", 5);
    double base = loss(&m);
    tl_lora lo;
    tl_lora_config lc = {.rank = 4, .alpha = 8, .dropout = 0.1f, .targets = 15};
    CHECK(tl_lora_init(&lo, &cfg, &lc, &e) == 0, "%s", e.msg);
    tl_lora_init_weights(&lo, 9);
    m.lora = &lo;
    CHECK(fabs(loss(&m) - base) < 1e-6, "a fresh adapter (B = 0) changed the loss: %g vs %g", loss(&m), base);
    tl_rng r;
    tl_rng_seed(&r, 2);
    for (size_t i = 0; i < lo.n_params; i++) lo.params[i] = 0.2f * tl_rng_normal(&r);
    lo.train = 0; /* eval: no dropout */
    double with = loss(&m);
    CHECK(fabs(with - base) > 1e-4, "a trained adapter should change the loss");
    m.lora = NULL;
    tl_lora_merge(&lo, &m);
    double merged = loss(&m);
    CHECK(fabs(merged - with) < 1e-5, "merged model loss %g differs from the adapter's %g", merged, with);
    tl_lora_free(&lo);
    tl_gpt2_free(&m);
}

static void test_targets(void) {
    unsigned t;
    tl_err e;
    char buf[128];
    CHECK(tl_lora_parse_targets("attn.qkv,mlp.proj", &t, &e) == 0 && t == 9, "qkv+proj -> %u", t);
    CHECK(tl_lora_parse_targets("all", &t, &e) == 0 && t == 15, "all");
    CHECK(tl_lora_parse_targets("attn", &t, &e) == 0 && t == 3, "attn");
    tl_lora_targets_str(12, buf, sizeof buf);
    CHECK(!strcmp(buf, "mlp.fc,mlp.proj"), "str: %s", buf);
    CHECK(tl_lora_parse_targets("attn.q", &t, &e) == -1 && strstr(e.msg, "unknown module 'attn.q'"), "%s", e.msg);
    CHECK(tl_lora_parse_targets("", &t, &e) == -1 && strstr(e.msg, "no module"), "%s", e.msg);
    tl_gpt2_config cfg;
    tl_gpt2_config_make(&cfg, "2x2x8", 8, 11, &e);
    tl_lora lo;
    tl_lora_config lc = {.rank = 0, .alpha = 8, .targets = 15};
    CHECK(tl_lora_init(&lo, &cfg, &lc, &e) == -1 && strstr(e.msg, "--lora-rank"), "%s", e.msg);
    tl_lora_config ll = {.rank = 2, .alpha = 8, .targets = 15, .layers = 3};
    CHECK(tl_lora_init(&lo, &cfg, &ll, &e) == -1 && strstr(e.msg, "--lora-layers 3 must be in 0..2"), "%s", e.msg);
}

int main(void) {
    test_grad(0.0f, 0);
    test_grad(0.3f, 0);
    test_grad(0.3f, 1);
    test_top(0.0f, 1);
    test_top(0.3f, 2);
    test_fresh_and_merge();
    test_targets();
    CHECK_DONE();
}
