/* Eval's model paths against independent references: label log-likelihoods from the KV cache
 * (prompt prefilled once, each label decoded and rewound) against log-softmax of one full batched
 * forward over prompt + label; the penalised greedy step by hand; KV-cached generation against
 * re-running the full forward for every new token; and a whole tl_eval_run over a small task CSV
 * against the full forward of the hand-written prompt + response text. */
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "model/gpt2.h"
#include "train/eval.h"

/* Random tiny model; weights scaled up from the 0.02 init so the distributions are sharp and a
 * wrong position or token would move the scores far beyond rounding. */
static int make_model(tl_gpt2 *m, const char *shape, int n_ctx, int vocab, float scale, uint64_t seed) {
    tl_gpt2_config cfg;
    tl_err e;
    if (tl_gpt2_config_make(&cfg, shape, n_ctx, vocab, &e) || tl_gpt2_init(m, &cfg, &e)) {
        fprintf(stderr, "model: %s\n", e.msg);
        return -1;
    }
    tl_gpt2_init_weights(m, seed);
    for (size_t i = 0; i < m->n_params; i++) m->params[i] *= scale;
    return 0;
}

/* Reference: sum over the continuation of log-softmax (double, first `vocab` logits) at each of its
 * positions, from one forward over prompt + continuation (minus its last token). */
static double ref_loglik(tl_gpt2 *m, const int32_t *prompt, int np, const int32_t *cont, int nc) {
    tl_err e;
    int T = np + nc - 1, V = m->cfg.vocab;
    int32_t *seq = malloc(sizeof(int32_t) * (size_t)(np + nc));
    memcpy(seq, prompt, sizeof(int32_t) * (size_t)np);
    memcpy(seq + np, cont, sizeof(int32_t) * (size_t)nc);
    if (tl_gpt2_forward(m, seq, NULL, 1, T, &e)) abort();
    const float *lg = tl_gpt2_logits(m);
    double ll = 0;
    for (int j = 0; j < nc; j++) {
        const float *row = lg + (size_t)(np - 1 + j) * (size_t)m->cfg.padded_vocab;
        double mx = -INFINITY, z = 0;
        for (int v = 0; v < V; v++) mx = fmax(mx, row[v]);
        for (int v = 0; v < V; v++) z += exp(row[v] - mx);
        ll += row[cont[j]] - mx - log(z);
    }
    free(seq);
    return ll;
}

static void test_score(const char *shape, int vocab, float scale) {
    tl_gpt2 m;
    tl_err e;
    if (make_model(&m, shape, 64, vocab, scale, 4)) return;
    int V = vocab;
    /* hand-made ids, including the top of the vocabulary (GPT-2's <|endoftext|> is its last id) */
    int32_t prompt[9] = {V - 1, 3, 9, 14, 1, 5, 8, V - 2, 0}, l0[4] = {4, 17, 2, V - 1}, l1[1] = {6}, l2[2] = {4, 11};
    const int32_t *cont[3] = {l0, l1, l2}, *rev[3] = {l2, l1, l0};
    int len[3] = {4, 1, 2}, rlen[3] = {2, 1, 4};
    tl_gpt2_kv kv;
    CHECK(tl_gpt2_kv_init(&kv, &m.cfg, 64, &e) == 0, "%s", e.msg);
    const float *pl = tl_gpt2_prefill(&m, &kv, prompt, 9, &e);
    float *plog = malloc(sizeof(float) * (size_t)V);
    memcpy(plog, pl, sizeof(float) * (size_t)V);
    double scores[3], rscores[3];
    CHECK(tl_eval_score(&m, &kv, plog, cont, len, 3, scores, &e) == 0, "%s", e.msg);
    CHECK(kv.pos == 9, "cache rewound to the prompt: pos %d", kv.pos);
    CHECK(tl_eval_score(&m, &kv, plog, rev, rlen, 3, rscores, &e) == 0, "%s", e.msg);
    for (int k = 0; k < 3; k++) {
        double ref = ref_loglik(&m, prompt, 9, cont[k], len[k]);
        CHECK(fabs(scores[k] - ref) < 1e-4, "%s vocab %d label %d: KV cache %.6f, full forward %.6f", shape, V, k, scores[k], ref);
        CHECK(scores[k] == rscores[2 - k], "label %d: score depends on the labels scored before it", k);
        fprintf(stderr, "%s vocab %d label %d: KV %.6f  forward %.6f\n", shape, V, k, scores[k], ref);
    }
    /* a continuation that cannot fit: 64 - 9 + 2 tokens */
    int32_t big[57] = {0};
    const int32_t *bc[1] = {big};
    int bl[1] = {57};
    CHECK(tl_eval_score(&m, &kv, plog, bc, bl, 1, scores, &e) == -1 && strstr(e.msg, "does not fit"), "overlong label accepted");
    bl[0] = 56; /* exactly fills the cache: 9 + 55 fed */
    CHECK(tl_eval_score(&m, &kv, plog, bc, bl, 1, scores, &e) == 0 && kv.pos == 9, "a label filling the context: %s", e.msg);
    free(plog);
    tl_gpt2_kv_free(&kv);
    tl_gpt2_free(&m);
}

static void test_greedy_token(void) {
    float lg[4] = {2.0f, -1.0f, 1.5f, 1.6f};
    unsigned char seen[4] = {1, 0, 0, 1};
    /* 2 / 1.3 = 1.538 > 1.5 (token 2), 1.6 / 1.3 = 1.23 */
    CHECK(tl_eval_greedy_token(lg, 4, seen, 1.3f) == 0, "penalty 1.3");
    /* 2 / 1.4 = 1.43 < 1.5 */
    CHECK(tl_eval_greedy_token(lg, 4, seen, 1.4f) == 2, "penalty 1.4");
    CHECK(tl_eval_greedy_token(lg, 4, NULL, 1.4f) == 0 && tl_eval_greedy_token(lg, 4, seen, 1.0f) == 0, "no penalty");
    float neg[2] = {-1.0f, -1.2f};
    unsigned char s0[2] = {1, 0};
    /* a negative logit is multiplied: -1 * 1.3 = -1.3 < -1.2 */
    CHECK(tl_eval_greedy_token(neg, 2, s0, 1.3f) == 1, "negative logits are multiplied");
    float tie[3] = {0.5f, 0.7f, 0.7f};
    CHECK(tl_eval_greedy_token(tie, 3, NULL, 1.3f) == 1, "ties go to the lowest id");
}

/* Generation through the KV cache against a full forward per new token, penalty applied by hand. */
static void test_generate(const tl_bpe *bpe) {
    tl_gpt2 m;
    tl_err e;
    if (make_model(&m, "2x2x32", 64, 50257, 6.0f, 9)) return;
    int V = 50257, eot = tl_bpe_eot(bpe), np = 12, max_new = 20;
    int32_t seq[64] = {50256, 464, 5044, 318, 257, 1332, 13, 383, 1255, 318, 25, 198};
    tl_gpt2_kv kv;
    CHECK(tl_gpt2_kv_init(&kv, &m.cfg, 64, &e) == 0, "%s", e.msg);
    const float *pl = tl_gpt2_prefill(&m, &kv, seq, np, &e);
    float *plog = malloc(sizeof(float) * (size_t)V), *pen = malloc(sizeof(float) * (size_t)V);
    memcpy(plog, pl, sizeof(float) * (size_t)V);
    tl_ivec ids = {0};
    tl_buf text = {0};
    tl_eval_stop why;
    CHECK(tl_eval_generate(&m, bpe, &kv, plog, seq, np, max_new, 1.3f, &ids, &text, &why, &e) == 0, "%s", e.msg);
    /* reference */
    int n = np, want[32], nw = 0;
    for (int k = 0; k < max_new; k++) {
        if (tl_gpt2_forward(&m, seq, NULL, 1, n, &e)) abort();
        const float *row = tl_gpt2_logits(&m) + (size_t)(n - 1) * (size_t)m.cfg.padded_vocab;
        int best = 0;
        for (int v = 0; v < V; v++) {
            float l = row[v];
            for (int i = 0; i < n; i++)
                if (seq[i] == v) {
                    l = l > 0 ? l / 1.3f : l * 1.3f;
                    break;
                }
            pen[v] = l;
            if (l > pen[best]) best = v;
        }
        if (best == eot) break;
        want[nw++] = best;
        seq[n++] = best;
    }
    int same = (int)ids.n == nw;
    for (int i = 0; same && i < nw; i++) same = ids.v[i] == want[i];
    CHECK(same, "KV generation (%zu tokens) differs from the full-forward reference (%d tokens)", ids.n, nw);
    CHECK(why == (nw == max_new ? TL_EVAL_STOP_MAX : TL_EVAL_STOP_EOT), "stop reason %d", (int)why);
    tl_buf dec = {0};
    tl_bpe_decode(bpe, ids.v, ids.n, &dec, &e);
    CHECK(dec.n == text.n && (text.n == 0 || !memcmp(dec.p, text.p, text.n)), "answer text is the tokens' bytes");
    fprintf(stderr, "generation: %zu tokens match the reference (stop %d)\n", ids.n, (int)why);
    tl_buf_free(&dec);
    tl_ivec_free(&ids);
    tl_buf_free(&text);
    free(plog);
    free(pen);
    tl_gpt2_kv_free(&kv);
    tl_gpt2_free(&m);
}

static void write_file(const char *path, const char *s) {
    FILE *f = fopen(path, "w");
    if (!f || fputs(s, f) < 0 || fclose(f)) abort();
}

/* A whole run over a two-row CSV: the per-row log-likelihoods equal the full forward of the
 * hand-rendered text, predictions and probabilities follow, the counts add up. */
static void test_run(const tl_bpe *bpe) {
    char dir[] = "/tmp/tl_test_eval_XXXXXX", task_path[256], csv[256], rows[256];
    if (!mkdtemp(dir)) abort();
    snprintf(task_path, sizeof task_path, "%s/t.task", dir);
    snprintf(csv, sizeof csv, "%s/t.csv", dir);
    snprintf(rows, sizeof rows, "%s/rows.jsonl", dir);
    write_file(task_path, "name = sw\ninstruction = Is the switch on?\ninput_column = reading\noutput_column = state\nlabels = on, off\n");
    write_file(csv, "reading,state\n\"1 2 3\",on\n 4.5 6 ,off\n");
    tl_task t;
    tl_err e;
    if (tl_task_load(&t, task_path, &e)) {
        CHECK(0, "%s", e.msg);
        return;
    }
    tl_gpt2 m;
    if (make_model(&m, "2x2x32", 128, 50257, 4.0f, 21)) return;
    tl_eval_opts o = {.likelihood = 1, .generate = 1, .max_new = 5, .repeat_penalty = 1.3f, .rows_out = rows, .quiet = 1};
    tl_eval_result r;
    CHECK(tl_eval_run(&m, bpe, &t, csv, &o, &r, &e) == 0, "%s", e.msg);
    CHECK(r.rows == 2 && tl_metrics_confusion_total(&r.likelihood) == 2 && tl_metrics_confusion_total(&r.generation) == 2,
          "rows %ld", r.rows);
    CHECK(r.gen_tokens <= 10 && r.gen_stop_end + r.gen_stop_eot + r.gen_stop_max + r.gen_stop_ctx == 2, "generation counts");
    const char *inputs[2] = {"1 2 3", "4.5 6"}, *expected[2] = {"on", "off"}, *labels[2] = {"on", "off"};
    FILE *f = fopen(rows, "r");
    char line[8192];
    for (int i = 0; i < 2; i++) {
        CHECK(f && fgets(line, sizeof line, f), "row %d missing", i);
        json_error_t je;
        json_t *j = json_loads(line, 0, &je);
        CHECK(j != NULL, "row %d: %s", i, je.text);
        if (!j) continue;
        CHECK(!strcmp(json_string_value(json_object_get(j, "expected")), expected[i]), "row %d expected", i);
        CHECK(json_integer_value(json_object_get(j, "line")) == i + 2, "row %d line", i);
        /* the text the model sees, written out by hand (fields trimmed) */
        char prompt[256], resp[64];
        snprintf(prompt, sizeof prompt, "### Instruction:\nIs the switch on?\n\n### Input:\n%s\n\n### Response:\n", inputs[i]);
        tl_ivec p = {0};
        tl_ivec_push(&p, 50256, &e);
        tl_bpe_encode(bpe, prompt, strlen(prompt), &p, &e);
        CHECK(json_integer_value(json_object_get(j, "prompt_tokens")) == (json_int_t)p.n, "row %d prompt tokens", i);
        double ll[2];
        for (int k = 0; k < 2; k++) {
            tl_ivec c = {0};
            snprintf(resp, sizeof resp, "%s\n\n### End", labels[k]);
            tl_bpe_encode(bpe, resp, strlen(resp), &c, &e);
            ll[k] = ref_loglik(&m, p.v, (int)p.n, c.v, (int)c.n);
            double got = json_real_value(json_object_get(json_object_get(j, "likelihood_loglik"), labels[k]));
            CHECK(fabs(got - ll[k]) < 1e-4, "row %d label %s: eval %.6f, full forward %.6f", i, labels[k], got, ll[k]);
            tl_ivec_free(&c);
        }
        int best = ll[1] > ll[0];
        double p0 = 1 / (1 + exp(ll[1] - ll[0]));
        CHECK(!strcmp(json_string_value(json_object_get(j, "likelihood_label")), labels[best]), "row %d prediction", i);
        CHECK(fabs(json_real_value(json_object_get(json_object_get(j, "likelihood_probs"), "on")) - p0) < 1e-6, "row %d probability", i);
        CHECK(json_is_boolean(json_object_get(j, "likelihood_correct")) && json_is_boolean(json_object_get(j, "generated_correct")) &&
                  json_is_string(json_object_get(j, "generated")),
              "row %d flags", i);
        CHECK(tl_metrics_confusion_get(&r.likelihood, i, best) == 1, "row %d in the confusion matrix", i);
        tl_ivec_free(&p);
        json_decref(j);
    }
    if (f) fclose(f);
    tl_eval_result_free(&r);

    /* --limit, and a context too small for the prompt: the error names the row */
    o.limit = 1;
    o.rows_out = NULL;
    CHECK(tl_eval_run(&m, bpe, &t, csv, &o, &r, &e) == 0 && r.rows == 1, "limit 1: %s", e.msg);
    tl_eval_result_free(&r);
    tl_gpt2 small;
    if (make_model(&small, "1x1x8", 20, 50257, 1.0f, 1) == 0) {
        o.limit = 0;
        CHECK(tl_eval_run(&small, bpe, &t, csv, &o, &r, &e) == -1 && strstr(e.msg, "t.csv:2: the prompt (") &&
                  strstr(e.msg, "context of 20"),
              "overlong prompt: %s", e.msg);
        tl_eval_result_free(&r);
        tl_gpt2_free(&small);
    }
    unlink(rows);
    unlink(csv);
    unlink(task_path);
    rmdir(dir);
    tl_task_free(&t);
    tl_gpt2_free(&m);
}

int main(void) {
    test_score("2x2x16", 23, 8.0f);    /* tiny vocabulary padded to 128: padded rows stay out */
    test_score("2x2x32", 50257, 4.0f); /* GPT-2's vocabulary */
    test_greedy_token();
    tl_bpe *bpe = NULL;
    tl_err e;
    if (tl_bpe_load_gpt2_default(&bpe, &e)) {
        fprintf(stderr, "skip: generation and whole-run checks need GPT-2's tokenizer: %s\n", e.msg);
    } else {
        test_generate(bpe);
        test_run(bpe);
        tl_bpe_free(bpe);
    }
    CHECK_DONE();
}
