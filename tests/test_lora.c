/* LoRA: adapter gradients against central finite differences (with and without dropout, every
 * target), a fresh adapter (B = 0) leaves the model unchanged, merging equals the unmerged
 * forward, the base gets no gradient, and target names parse or fail clearly. */
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

static void test_grad(float dropout) {
    tl_gpt2_config cfg;
    tl_err e;
    CHECK(tl_gpt2_config_make(&cfg, "2x2x8", 8, 11, &e) == 0, "%s", e.msg);
    tl_gpt2 m;
    tl_gpt2_init(&m, &cfg, &e);
    tl_gpt2_init_weights(&m, 3);
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
    fprintf(stderr, "lora dropout %.1f: n=%zu rel %.2e worst %.2e\n", (double)dropout, lo.n_params, rel, worst);
    CHECK(rel < 1e-2 && worst < 1e-2 && den > 0, "LoRA gradients (dropout %g) differ from finite differences: rel %g worst %g",
          (double)dropout, rel, worst);
    free(fd);
    free(g);
    m.lora = NULL;
    tl_lora_free(&lo);
    tl_gpt2_free(&m);
}

static void test_fresh_and_merge(void) {
    tl_gpt2_config cfg;
    tl_err e;
    tl_gpt2_config_make(&cfg, "2x2x8", 8, 11, &e);
    tl_gpt2 m;
    tl_gpt2_init(&m, &cfg, &e);
    tl_gpt2_init_weights(&m, 5);
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
}

int main(void) {
    test_grad(0.0f);
    test_grad(0.3f);
    test_fresh_and_merge();
    test_targets();
    CHECK_DONE();
}
