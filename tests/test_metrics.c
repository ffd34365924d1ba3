/* Task metrics against hand-computed values, and the label-likelihood scorer (KV cache, prompt run
 * once, labels rewound) against log-softmax of one full forward over prompt + label. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "model/gpt2.h"
#include "tasks/metrics.h"
#include "train/eval.h"

static void test_confusion(void) {
    tl_confusion c;
    tl_err e;
    tl_confusion_init(&c, 3, &e);
    /* expected -> predicted: 0->0 x3, 0->1, 1->1 x2, 1->none, 2->2, 2->0 */
    int pairs[][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1}, {1, -1}, {2, 2}, {2, 0}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) tl_confusion_add(&c, pairs[i][0], pairs[i][1]);
    CHECK(tl_confusion_total(&c) == 9 && tl_confusion_correct(&c) == 6, "totals");
    double p, r, f;
    tl_confusion_class(&c, 0, &p, &r, &f); /* predicted 0: 4 (3 right); actual 0: 4 */
    CHECK(fabs(p - 0.75) < 1e-12 && fabs(r - 0.75) < 1e-12 && fabs(f - 0.75) < 1e-12, "class 0: %g %g %g", p, r, f);
    tl_confusion_class(&c, 1, &p, &r, &f); /* predicted 1: 3 (2 right); actual 1: 3 (one 'none') */
    CHECK(fabs(p - 2.0 / 3) < 1e-12 && fabs(r - 2.0 / 3) < 1e-12, "class 1: %g %g", p, r);
    tl_confusion_class(&c, 2, &p, &r, &f); /* predicted 2: 1 (1 right); actual 2: 2 */
    CHECK(fabs(p - 1) < 1e-12 && fabs(r - 0.5) < 1e-12 && fabs(f - 2.0 / 3) < 1e-12, "class 2: %g %g %g", p, r, f);
    tl_confusion_free(&c);
}

static void test_parsing(void) {
    char *labels[] = {"Tap", "Double", "Hold"};
    const char *a = "Double\n\n### End";
    CHECK(tl_pick_label(a, strlen(a), labels, 3) == 1, "single label");
    const char *b = "Double Double";
    CHECK(tl_pick_label(b, strlen(b), labels, 3) == -1 && tl_count_label(b, strlen(b), "Double", 6) == 2, "twice");
    const char *c = "Tap or Hold";
    CHECK(tl_pick_label(c, strlen(c), labels, 3) == -1, "two labels");
    CHECK(tl_pick_label("nothing", 7, labels, 3) == -1, "none");
    CHECK(tl_count_label("aaaa", 4, "aa", 2) == 2, "non-overlapping");
    double v;
    CHECK(tl_first_number("about 12.5 bpm", 14, &v) == 1 && v == 12.5, "12.5: %g", v);
    CHECK(tl_first_number("-3 then 4", 9, &v) == 1 && v == -3, "-3: %g", v);
    CHECK(tl_first_number("rate: 11.\n", 10, &v) == 1 && v == 11, "11.: %g", v);
    CHECK(tl_first_number("no number", 9, &v) == 0, "none");
    CHECK(tl_first_number("x-y 7", 5, &v) == 1 && v == 7, "x-y 7: %g", v);
    tl_regress g = {0};
    tl_regress_add(&g, 10, 12); /* errors 2, 0.5, 1 */
    tl_regress_add(&g, 12.5, 12);
    tl_regress_add(&g, 11, 12);
    CHECK(fabs(tl_regress_mae(&g) - 3.5 / 3) < 1e-12 && fabs(tl_regress_rmse(&g) - sqrt(5.25 / 3)) < 1e-12 && g.within1 == 2,
          "regression: mae %g rmse %g within %ld", tl_regress_mae(&g), tl_regress_rmse(&g), g.within1);
}

static void test_score(void) {
    tl_gpt2_config cfg;
    tl_err e;
    tl_gpt2_config_make(&cfg, "2x2x16", 32, 23, &e);
    tl_gpt2 m;
    tl_gpt2_init(&m, &cfg, &e);
    tl_gpt2_init_weights(&m, 4);
    for (size_t i = 0; i < m.n_params; i++) m.params[i] *= 8; /* sharper distributions than the 0.02 init */
    int32_t prompt[7] = {22, 3, 9, 14, 1, 5, 8}, l0[3] = {4, 17, 2}, l1[1] = {6}, l2[2] = {4, 11};
    const int32_t *cont[3] = {l0, l1, l2};
    int len[3] = {3, 1, 2};
    tl_gpt2_kv kv;
    tl_gpt2_kv_init(&kv, &cfg, 32, &e);
    const float *pl = tl_gpt2_prefill(&m, &kv, prompt, 7, &e);
    float plog[23];
    memcpy(plog, pl, sizeof plog);
    double scores[3];
    CHECK(tl_eval_score(&m, &kv, plog, cont, len, 3, scores, &e) == 0, "%s", e.msg);
    CHECK(kv.pos == 7, "cache rewound to the prompt");
    for (int k = 0; k < 3; k++) { /* reference: one forward over prompt + label, log-softmax in double */
        int32_t seq[10];
        memcpy(seq, prompt, sizeof prompt);
        memcpy(seq + 7, cont[k], sizeof(int32_t) * (size_t)len[k]);
        int T = 7 + len[k] - 1;
        tl_gpt2_forward(&m, seq, NULL, 1, T, &e);
        const float *lg = tl_gpt2_logits(&m);
        double ref = 0;
        for (int j = 0; j < len[k]; j++) {
            const float *row = lg + (long)(6 + j) * cfg.padded_vocab;
            double z = 0, mx = -1e30;
            for (int v = 0; v < 23; v++) mx = fmax(mx, row[v]);
            for (int v = 0; v < 23; v++) z += exp(row[v] - mx);
            ref += row[cont[k][j]] - mx - log(z);
        }
        CHECK(fabs(scores[k] - ref) < 1e-4, "label %d: KV score %.6f, full forward %.6f", k, scores[k], ref);
    }
    tl_gpt2_kv_free(&kv);
    tl_gpt2_free(&m);
}

int main(void) {
    test_confusion();
    test_parsing();
    test_score();
    CHECK_DONE();
}
