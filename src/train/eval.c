/* Task evaluation: label likelihood over a shared prompt cache, and greedy generation + parsing. */
#include "train/eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "data/taskcsv.h"
#include "tokenizer/unicode.h"

/* log softmax(logits)[tok] over the first V entries, in double. */
static double log_prob(const float *logits, int V, int tok) {
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)logits[i] - mx);
    return (double)logits[tok] - mx - log(s);
}

int tl_eval_score(const tl_gpt2 *m, tl_gpt2_kv *kv, const float *prompt_logits, const int32_t *const *cont,
                  const int *len, int n, double *scores, tl_err *e) {
    int base = kv->pos, V = m->cfg.vocab;
    for (int i = 0; i < n; i++) {
        if (base + len[i] - 1 > kv->n_ctx) return tl_errf(e, "a label does not fit the context after a %d-token prompt", base);
        double s = log_prob(prompt_logits, V, cont[i][0]);
        for (int j = 1; j < len[i]; j++) s += log_prob(tl_gpt2_decode(m, kv, cont[i][j - 1]), V, cont[i][j]);
        scores[i] = s;
        kv->pos = base;
    }
    return 0;
}

/* Greedy decoding with the repetition penalty; the answer's text goes to out. */
static int generate(const tl_gpt2 *m, const tl_bpe *bpe, tl_gpt2_kv *kv, const float *prompt_logits,
                    const tl_ivec *prompt, const tl_eval_opts *o, float *logits, unsigned char *seen, tl_buf *out,
                    tl_err *e) {
    int V = m->cfg.vocab, eot = tl_bpe_eot(bpe);
    memset(seen, 0, (size_t)V);
    for (size_t i = 0; i < prompt->n; i++) seen[prompt->v[i]] = 1;
    memcpy(logits, prompt_logits, sizeof(float) * (size_t)V);
    out->n = 0;
    for (int k = 0; k < o->max_new; k++) {
        int best = 0;
        float bv = -INFINITY;
        for (int i = 0; i < V; i++) {
            float l = logits[i];
            if (seen[i] && o->repeat_penalty != 1.0f) l = l > 0 ? l / o->repeat_penalty : l * o->repeat_penalty;
            if (l > bv) bv = l, best = i;
        }
        if (best == eot) break;
        size_t len;
        const char *piece = tl_bpe_token(bpe, best, &len);
        if (tl_buf_append(out, piece, len, e)) return -1;
        seen[best] = 1;
        if (tl_count_label(out->p, out->n, "### End", 7) > 0) break;
        if (kv->pos >= kv->n_ctx) break;
        memcpy(logits, tl_gpt2_decode(m, kv, best), sizeof(float) * (size_t)V);
    }
    return 0;
}

/* A JSON string of text with invalid UTF-8 bytes (a cut multi-byte token) replaced by U+FFFD. */
static json_t *json_text(const tl_buf *b) {
    tl_buf clean = {0};
    const unsigned char *s = (const unsigned char *)(b->p ? b->p : "");
    for (size_t i = 0; i < b->n;) {
        int32_t cp;
        int k = tl_utf8_next(s + i, b->n - i, &cp);
        if (cp < 0) tl_buf_append(&clean, "\xef\xbf\xbd", 3, NULL);
        else tl_buf_append(&clean, s + i, (size_t)k, NULL);
        i += (size_t)k;
    }
    json_t *j = json_stringn(clean.p ? clean.p : "", clean.n);
    tl_buf_free(&clean);
    return j;
}

static char *json_line(json_t *j) {
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
    json_decref(j);
    return s;
}

int tl_eval_run(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *t, const char *csv, const tl_eval_opts *o,
                tl_eval_result *r, tl_err *e) {
    memset(r, 0, sizeof *r);
    int L = t->kind == TL_TASK_CLASSIFY ? t->n_labels : 0, V = m->cfg.vocab;
    int likelihood = o->likelihood && L > 0;
    if (L && (tl_confusion_init(&r->likelihood, L, e) || tl_confusion_init(&r->generation, L, e))) return -1;
    tl_task_csv *c = NULL;
    tl_gpt2_kv kv = {0};
    tl_ivec prompt = {0}, lab[64] = {{0}};
    tl_buf text = {0}, resp = {0};
    float *plogits = tl_calloc((size_t)V, sizeof(float), e), *glogits = tl_calloc((size_t)V, sizeof(float), e);
    unsigned char *seen = tl_calloc((size_t)V, 1, e);
    double scores[64];
    const int32_t *cont[64];
    int clen[64];
    tl_afile rows;
    int rows_open = 0, rc = -1;
    if (!plogits || !glogits || !seen || L > 64) {
        if (L > 64) tl_errf(e, "%s: %d labels: at most 64 can be scored", csv, L);
        goto done;
    }
    for (int k = 0; k < L; k++) { /* each label's response tokens: "<label>\n\n### End" */
        resp.n = 0;
        if (tl_task_response(t->labels[k], strlen(t->labels[k]), &resp, e) || tl_bpe_encode(bpe, resp.p, resp.n, &lab[k], e)) goto done;
        cont[k] = lab[k].v;
        clen[k] = (int)lab[k].n;
    }
    if (tl_gpt2_kv_init(&kv, &m->cfg, m->cfg.n_ctx, e) || tl_task_csv_open(&c, csv, t, e)) goto done;
    if (o->rows_out) {
        if (tl_afile_open(&rows, o->rows_out, e)) goto done;
        rows_open = 1;
    }
    tl_progress prog;
    tl_progress_init(&prog, "eval", "row", (uint64_t)o->limit);
    double t0 = tl_now();
    tl_task_row row;
    int got;
    while ((o->limit <= 0 || r->rows < o->limit) && (got = tl_task_csv_next(c, &row, e)) > 0) {
        prompt.n = 0;
        if (tl_ivec_push(&prompt, tl_bpe_eot(bpe), e) || tl_bpe_encode(bpe, row.prompt->p, row.prompt->n, &prompt, e)) goto done;
        if ((int)prompt.n >= m->cfg.n_ctx) {
            tl_errf(e, "%s:%ld: prompt of %zu tokens does not fit the model's context of %d", csv, row.line, prompt.n, m->cfg.n_ctx);
            goto done;
        }
        kv.pos = 0;
        const float *l = tl_gpt2_prefill(m, &kv, prompt.v, (int)prompt.n, e);
        if (!l) goto done;
        memcpy(plogits, l, sizeof(float) * (size_t)V);
        json_t *j = json_pack("{s:I, s:s%}", "line", (json_int_t)row.line, "expected", row.output, row.output_len);
        if (likelihood) {
            if (tl_eval_score(m, &kv, plogits, cont, clen, L, scores, e)) goto done;
            int best = 0;
            double mx = scores[0], z = 0;
            for (int k = 1; k < L; k++)
                if (scores[k] > mx) mx = scores[k], best = k;
            json_t *probs = json_object();
            for (int k = 0; k < L; k++) z += exp(scores[k] - mx);
            for (int k = 0; k < L; k++) json_object_set_new(probs, t->labels[k], json_real(exp(scores[k] - mx) / z));
            tl_confusion_add(&r->likelihood, row.label, best);
            json_object_set_new(j, "likelihood_label", json_string(t->labels[best]));
            json_object_set_new(j, "likelihood_probs", probs);
        }
        if (o->generate) {
            if (generate(m, bpe, &kv, plogits, &prompt, o, glogits, seen, &text, e)) goto done;
            json_object_set_new(j, "generated", json_text(&text));
            if (L) {
                int pick = tl_pick_label(text.p ? text.p : "", text.n, t->labels, L);
                const char *want = t->labels[row.label];
                int once = tl_count_label(text.p ? text.p : "", text.n, want, strlen(want)) == 1;
                tl_confusion_add(&r->generation, row.label, pick);
                r->gen_exactly_once += once;
                json_object_set_new(j, "generated_label", pick >= 0 ? json_string(t->labels[pick]) : json_null());
                json_object_set_new(j, "generated_correct", json_boolean(once));
            } else {
                double v;
                if (tl_first_number(text.p ? text.p : "", text.n, &v)) {
                    tl_regress_add(&r->regress, v, row.value);
                    json_object_set_new(j, "parsed", json_real(v));
                    json_object_set_new(j, "abs_error", json_real(fabs(v - row.value)));
                } else {
                    r->regress.unparsed++;
                    json_object_set_new(j, "parsed", json_null());
                }
            }
        }
        r->rows++;
        char *s = json_line(j);
        int bad = !s || (rows_open && (tl_afile_write(&rows, s, strlen(s), e) || tl_afile_write(&rows, "\n", 1, e)));
        free(s);
        if (bad) {
            if (!s) tl_errf(e, "out of memory");
            goto done;
        }
        tl_progress_update(&prog, (uint64_t)r->rows, NULL);
    }
    if (got < 0) goto done;
    if (r->rows == 0) {
        tl_errf(e, "%s: no rows to evaluate", csv);
        goto done;
    }
    r->seconds = tl_now() - t0;
    tl_progress_end(&prog, (uint64_t)r->rows, NULL);
    if (rows_open) {
        rows_open = 0;
        if (tl_afile_commit(&rows, e)) goto done;
    }
    rc = 0;
done:
    if (rows_open) tl_afile_abort(&rows);
    tl_task_csv_close(c);
    tl_gpt2_kv_free(&kv);
    tl_ivec_free(&prompt);
    for (int k = 0; k < 64; k++) tl_ivec_free(&lab[k]);
    tl_buf_free(&text);
    tl_buf_free(&resp);
    free(plogits);
    free(glogits);
    free(seen);
    if (rc) tl_eval_result_free(r);
    return rc;
}

void tl_eval_result_free(tl_eval_result *r) {
    tl_confusion_free(&r->likelihood);
    tl_confusion_free(&r->generation);
}
