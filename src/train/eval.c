/* Task evaluation: model loading, label likelihood over a shared prompt cache, greedy generation
 * with the repetition penalty, the per-row JSONL, the printed report and the JSON summary. */
#include "train/eval.h"

#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/log.h"
#include "data/taskcsv.h"
#include "model/lora.h"
#include "tokenizer/unicode.h"
#include "train/checkpoint.h"

static const char END_MARK[] = "### End";

int tl_eval_load_model(tl_gpt2 *m, const char *path, const char *adapter, const tl_bpe *bpe, tl_err *e) {
    tl_train_state st;
    if (tl_ckpt_load(path, m, NULL, &st, e)) return -1;
    const char *tok = tl_bpe_name(bpe);
    if (strcmp(st.tokenizer, tok)) {
        tl_gpt2_free(m);
        return tl_errf(e, "%s: the model was trained with tokenizer '%s', not '%s' (give it with --tokenizer)", path,
                       st.tokenizer, tok);
    }
    if (m->cfg.vocab != tl_bpe_vocab_size(bpe)) {
        int v = m->cfg.vocab;
        tl_gpt2_free(m);
        return tl_errf(e, "%s: the model's vocabulary has %d tokens, the tokenizer '%s' %d", path, v, tok,
                       tl_bpe_vocab_size(bpe));
    }
    if (!adapter) return 0;
    tl_lora lo;
    if (tl_ckpt_load_adapter(adapter, m, &lo, NULL, NULL, e)) {
        tl_gpt2_free(m);
        return -1;
    }
    tl_lora_merge(&lo, m);
    tl_lora_free(&lo);
    return 0;
}

/* log-sum-exp of logits[0..V), in double. */
static double log_norm(const float *logits, int V) {
    float mx = logits[0];
    for (int i = 1; i < V; i++) mx = logits[i] > mx ? logits[i] : mx;
    double s = 0;
    for (int i = 0; i < V; i++) s += exp((double)logits[i] - mx);
    return mx + log(s);
}

int tl_eval_score(const tl_gpt2 *m, tl_gpt2_kv *kv, const float *prompt_logits, const int32_t *const *cont,
                  const int *len, int n, double *scores, tl_err *e) {
    int base = kv->pos, V = m->cfg.vocab;
    for (int i = 0; i < n; i++) {
        if (len[i] < 1 || base + len[i] - 1 > kv->n_ctx)
            return tl_errf(e, "a continuation of %d tokens does not fit the context of %d after %d tokens", len[i], kv->n_ctx,
                           base);
        double s = (double)prompt_logits[cont[i][0]] - log_norm(prompt_logits, V);
        for (int j = 1; j < len[i]; j++) {
            const float *l = tl_gpt2_decode(m, kv, cont[i][j - 1]);
            s += (double)l[cont[i][j]] - log_norm(l, V);
        }
        scores[i] = s;
        kv->pos = base;
    }
    return 0;
}

int tl_eval_greedy_token(const float *logits, int V, const unsigned char *seen, float penalty) {
    int best = 0;
    float bv = -INFINITY;
    for (int i = 0; i < V; i++) {
        float l = logits[i];
        if (seen && seen[i]) l = l > 0 ? l / penalty : l * penalty;
        if (l > bv) {
            bv = l;
            best = i;
        }
    }
    return best;
}

int tl_eval_generate(const tl_gpt2 *m, const tl_bpe *bpe, tl_gpt2_kv *kv, const float *prompt_logits,
                     const int32_t *prompt, int n_prompt, int max_new, float repeat_penalty, tl_ivec *ids, tl_buf *text,
                     tl_eval_stop *stop, tl_err *e) {
    int V = m->cfg.vocab, eot = tl_bpe_eot(bpe), rc = -1;
    tl_eval_stop why = TL_EVAL_STOP_MAX;
    tl_buf own = {0}, *out = text ? text : &own;
    unsigned char *seen = tl_calloc((size_t)V, 1, e);
    float *logits = tl_calloc((size_t)V, sizeof(float), e);
    if (!seen || !logits) goto done;
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] >= 0 && prompt[i] < V) seen[prompt[i]] = 1;
    memcpy(logits, prompt_logits, sizeof(float) * (size_t)V);
    out->n = 0;
    if (ids) ids->n = 0;
    for (int k = 0; k < max_new; k++) {
        int tok = tl_eval_greedy_token(logits, V, repeat_penalty != 1.0f ? seen : NULL, repeat_penalty);
        if (tok == eot) {
            why = TL_EVAL_STOP_EOT;
            break;
        }
        size_t len;
        const char *piece = tl_bpe_token(bpe, tok, &len);
        if (!piece) {
            tl_errf(e, "generated token %d is outside the tokenizer's vocabulary", tok);
            goto done;
        }
        if (tl_buf_append(out, piece, len, e) || (ids && tl_ivec_push(ids, tok, e))) goto done;
        seen[tok] = 1;
        /* the mark can only be completed by this token: look at its bytes and the 6 before */
        size_t from = out->n > len + sizeof END_MARK - 2 ? out->n - len - (sizeof END_MARK - 2) : 0;
        if (tl_metrics_count(out->p + from, out->n - from, END_MARK, sizeof END_MARK - 1) > 0) {
            why = TL_EVAL_STOP_END;
            break;
        }
        if (k + 1 == max_new) break; /* no need to run the model for a token never taken */
        if (kv->pos >= kv->n_ctx) {
            why = TL_EVAL_STOP_CTX;
            break;
        }
        memcpy(logits, tl_gpt2_decode(m, kv, tok), sizeof(float) * (size_t)V);
    }
    if (stop) *stop = why;
    rc = 0;
done:
    free(seen);
    free(logits);
    tl_buf_free(&own);
    return rc;
}

/* ---------------------------------------------------------------- the run over a CSV */

/* A JSON string of text with invalid UTF-8 (a multi-byte character cut between tokens) replaced by
 * U+FFFD. */
static json_t *json_text(const char *p, size_t n) {
    tl_buf clean = {0};
    const unsigned char *s = (const unsigned char *)(p ? p : "");
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = tl_utf8_next(s + i, n - i, &cp);
        if (cp < 0) tl_buf_append(&clean, "\xef\xbf\xbd", 3, NULL);
        else tl_buf_append(&clean, s + i, (size_t)k, NULL);
        i += (size_t)(k > 0 ? k : 1);
    }
    json_t *j = json_stringn(clean.p ? clean.p : "", clean.n);
    tl_buf_free(&clean);
    return j;
}

/* The labels' response tokens ("<label>\n\n### End"), shared by every row. */
typedef struct labels_enc {
    int n, max_len;
    tl_ivec *ids;
    const int32_t **cont;
    int *len;
} labels_enc;

static void labels_free(labels_enc *l) {
    for (int k = 0; l->ids && k < l->n; k++) tl_ivec_free(&l->ids[k]);
    free(l->ids);
    free(l->cont);
    free(l->len);
    memset(l, 0, sizeof *l);
}

static int labels_encode(labels_enc *l, const tl_bpe *bpe, const tl_task *t, tl_err *e) {
    memset(l, 0, sizeof *l);
    if (t->kind != TL_TASK_CLASSIFY) return 0;
    l->n = t->n_labels;
    l->ids = tl_calloc((size_t)l->n, sizeof *l->ids, e);
    l->cont = tl_calloc((size_t)l->n, sizeof *l->cont, e);
    l->len = tl_calloc((size_t)l->n, sizeof *l->len, e);
    if (!l->ids || !l->cont || !l->len) return -1;
    tl_buf resp = {0};
    int rc = 0;
    for (int k = 0; k < l->n && !rc; k++) {
        resp.n = 0;
        rc = tl_task_response(t->labels[k], strlen(t->labels[k]), &resp, e) || tl_bpe_encode(bpe, resp.p, resp.n, &l->ids[k], e);
        l->cont[k] = l->ids[k].v;
        l->len[k] = (int)l->ids[k].n;
        l->max_len = l->len[k] > l->max_len ? l->len[k] : l->max_len;
    }
    tl_buf_free(&resp);
    return rc ? -1 : 0;
}

/* [<|endoftext|>] + encode(prompt) into ids (cleared first). */
static int encode_prompt(const tl_bpe *bpe, const tl_task_row *row, tl_ivec *ids, tl_err *e) {
    ids->n = 0;
    return tl_ivec_push(ids, tl_bpe_eot(bpe), e) || tl_bpe_encode(bpe, row->prompt->p, row->prompt->n, ids, e) ? -1 : 0;
}

/* The check pass: every row up to the limit is read, rendered and tokenized, and must fit the
 * context. Sets *rows; *max_prompt is the longest prompt in tokens. */
static int check_rows(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *t, const char *csv, const tl_eval_opts *o,
                      const labels_enc *lab, long *rows, int *max_prompt, tl_err *e) {
    tl_task_csv *c = NULL;
    tl_ivec ids = {0}, resp = {0};
    tl_task_row row;
    int got = 0, rc = -1, n_ctx = m->cfg.n_ctx;
    *rows = 0;
    *max_prompt = 0;
    if (tl_task_csv_open(&c, csv, t, e)) return -1;
    while ((o->limit <= 0 || *rows < o->limit) && (got = tl_task_csv_next(c, &row, e)) > 0) {
        resp.n = 0;
        if (encode_prompt(bpe, &row, &ids, e) || tl_bpe_encode(bpe, row.response->p, row.response->n, &resp, e)) {
            tl_err_wrap(e, "%s:%ld", csv, row.line);
            goto done;
        }
        /* fed to the model: the prompt, then all but the last token of a response */
        int np = (int)ids.n, nr = (int)resp.n;
        if (o->likelihood && lab->max_len > nr) nr = lab->max_len;
        if ((long)np + nr - 1 > n_ctx) {
            tl_errf(e, "%s:%ld: the prompt (%d tokens with <|endoftext|>) and %s response (%d tokens) do not fit the model's context "
                    "of %d tokens", csv, row.line, np, nr == (int)resp.n ? "its" : "the longest label's", nr, n_ctx);
            goto done;
        }
        *max_prompt = np > *max_prompt ? np : *max_prompt;
        ++*rows;
    }
    if (got < 0) goto done;
    if (*rows == 0) {
        tl_errf(e, "%s: no rows to evaluate", csv);
        goto done;
    }
    rc = 0;
done:
    tl_task_csv_close(c);
    tl_ivec_free(&ids);
    tl_ivec_free(&resp);
    return rc;
}

static const char *stop_name(tl_eval_stop s) {
    return s == TL_EVAL_STOP_END ? "end" : s == TL_EVAL_STOP_EOT ? "eot" : s == TL_EVAL_STOP_MAX ? "max_new" : "context";
}

/* One row in flight: what the reader copied out of the CSV, then what a worker computed. */
typedef struct job {
    long line;
    int label;         /* classification: expected label index */
    double value;      /* regression: target */
    tl_buf prompt;     /* rendered prompt text */
    tl_buf output;     /* the raw target field (regression's "expected") */
    int n_prompt;      /* tokens, with the leading <|endoftext|> */
    double *scores;    /* [n_labels] label log-likelihoods */
    tl_ivec gen;       /* generated tokens and their text */
    tl_buf text;
    tl_eval_stop stop;
    int failed;
    tl_err err;
} job;

/* A worker thread's model state: its own KV cache and scratch. */
typedef struct worker {
    tl_gpt2_kv kv;
    tl_ivec prompt;
    float *plogits;
    double prefill_s, likelihood_s, generate_s;
} worker;

/* The model part of a row (runs on a worker; touches nothing shared but the read-only model,
 * tokenizer and label tokens). */
static void run_job(const tl_gpt2 *m, const tl_bpe *bpe, const tl_eval_opts *o, const labels_enc *lab, worker *w, job *j) {
    int V = m->cfg.vocab;
    tl_err *e = &j->err;
    double t0 = tl_now();
    w->prompt.n = 0;
    j->failed = 1;
    if (tl_ivec_push(&w->prompt, tl_bpe_eot(bpe), e) || tl_bpe_encode(bpe, j->prompt.p, j->prompt.n, &w->prompt, e)) return;
    j->n_prompt = (int)w->prompt.n;
    w->kv.pos = 0;
    const float *l = tl_gpt2_prefill(m, &w->kv, w->prompt.v, j->n_prompt, e);
    if (!l) return;
    memcpy(w->plogits, l, sizeof(float) * (size_t)V);
    double t1 = tl_now();
    w->prefill_s += t1 - t0;
    if (o->likelihood && lab->n > 0) {
        if (tl_eval_score(m, &w->kv, w->plogits, lab->cont, lab->len, lab->n, j->scores, e)) return;
    }
    double t2 = tl_now();
    w->likelihood_s += t2 - t1;
    if (o->generate) {
        w->kv.pos = j->n_prompt;
        if (tl_eval_generate(m, bpe, &w->kv, w->plogits, w->prompt.v, j->n_prompt, o->max_new, o->repeat_penalty, &j->gen, &j->text,
                             &j->stop, e))
            return;
        w->generate_s += tl_now() - t2;
    }
    j->failed = 0;
}

/* The bookkeeping part of a row (main thread, rows in file order): metrics and the JSON line. */
static json_t *account_job(const tl_task *t, const tl_eval_opts *o, const labels_enc *lab, const job *j, double *probs,
                           tl_eval_result *r) {
    int L = lab->n;
    json_t *row = json_object();
    json_object_set_new(row, "line", json_integer(j->line));
    const char *out = j->output.p ? j->output.p : "";
    size_t on = j->output.n;
    while (on && (*out == ' ' || *out == '\t' || *out == '\r' || *out == '\n')) out++, on--;
    while (on && (out[on - 1] == ' ' || out[on - 1] == '\t' || out[on - 1] == '\r' || out[on - 1] == '\n')) on--;
    json_object_set_new(row, "expected", L ? json_string(t->labels[j->label]) : json_text(out, on));
    if (!L) json_object_set_new(row, "target", json_real(j->value));
    json_object_set_new(row, "prompt_tokens", json_integer(j->n_prompt));
    r->prompt_tokens += j->n_prompt;
    if (o->likelihood && L > 0) {
        int best = tl_metrics_softmax(j->scores, L, probs);
        tl_metrics_confusion_add(&r->likelihood, j->label, best);
        json_t *ll = json_object(), *pr = json_object();
        for (int k = 0; k < L; k++) {
            json_object_set_new(ll, t->labels[k], json_real(j->scores[k]));
            json_object_set_new(pr, t->labels[k], json_real(probs[k]));
        }
        json_object_set_new(row, "likelihood_label", json_string(t->labels[best]));
        json_object_set_new(row, "likelihood_correct", json_boolean(best == j->label));
        json_object_set_new(row, "likelihood_loglik", ll);
        json_object_set_new(row, "likelihood_probs", pr);
    }
    if (o->generate) {
        const char *txt = j->text.p ? j->text.p : "";
        size_t n = j->text.n;
        r->gen_tokens += (long)j->gen.n;
        r->gen_stop_end += j->stop == TL_EVAL_STOP_END;
        r->gen_stop_eot += j->stop == TL_EVAL_STOP_EOT;
        r->gen_stop_max += j->stop == TL_EVAL_STOP_MAX;
        r->gen_stop_ctx += j->stop == TL_EVAL_STOP_CTX;
        json_object_set_new(row, "generated", json_text(txt, n));
        json_object_set_new(row, "generated_tokens", json_integer((json_int_t)j->gen.n));
        json_object_set_new(row, "stop", json_string(stop_name(j->stop)));
        if (L > 0) {
            int pick = tl_metrics_pick_label(txt, n, t->labels, L);
            int once = tl_metrics_exactly_once(txt, n, t->labels[j->label]);
            tl_metrics_confusion_add(&r->generation, j->label, pick);
            r->gen_exactly_once += once;
            json_object_set_new(row, "generated_label", pick >= 0 ? json_string(t->labels[pick]) : json_null());
            json_object_set_new(row, "generated_correct", json_boolean(once));
        } else {
            double v;
            if (tl_metrics_first_number(txt, n, &v)) {
                tl_metrics_regress_add(&r->regress, v, j->value);
                json_object_set_new(row, "parsed", json_real(v));
                json_object_set_new(row, "abs_error", json_real(fabs(v - j->value)));
                json_object_set_new(row, "within1", json_boolean(fabs(v - j->value) <= 1.0));
            } else {
                r->regress.unparsed++;
                json_object_set_new(row, "parsed", json_null());
            }
        }
    }
    return row;
}

/* Rows per batch per thread: a batch is read, scored in parallel, then accounted in order. */
enum { ROWS_PER_THREAD = 4 };

int tl_eval_run(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *t, const char *csv, const tl_eval_opts *o,
                tl_eval_result *r, tl_err *e) {
    memset(r, 0, sizeof *r);
    tl_eval_opts opt = *o;
    opt.likelihood = o->likelihood && t->kind == TL_TASK_CLASSIFY;
    if (!opt.likelihood && !opt.generate)
        return tl_errf(e, "%s: nothing to score: label likelihood needs a classification task (use generation)", csv);
    if (opt.generate && (opt.max_new < 1 || !(opt.repeat_penalty > 0)))
        return tl_errf(e, "eval: max_new must be >= 1 and the repetition penalty > 0");
    int L = t->kind == TL_TASK_CLASSIFY ? t->n_labels : 0, V = m->cfg.vocab;
    int nt = omp_get_max_threads(), nb = 0, nw = 0, rc = -1, got = 1;
    labels_enc lab;
    tl_task_csv *c = NULL;
    job *jobs = NULL;
    worker *ws = NULL;
    double *probs = NULL;
    tl_afile rows_f;
    int rows_open = 0;
    long total;
    if (labels_encode(&lab, bpe, t, e)) goto done;
    if (L && (tl_metrics_confusion_init(&r->likelihood, L, e) || tl_metrics_confusion_init(&r->generation, L, e))) goto done;
    if (check_rows(m, bpe, t, csv, &opt, &lab, &total, &r->max_prompt_tokens, e)) goto done;
    /* threads work on separate rows (each runs the model alone: no per-matrix fork/join, which
     * dominates for small models); a lone row gets all threads inside the model instead */
    if (nt < 1) nt = 1;
    if ((long)nt > total) nt = (int)total;
    nb = nt * ROWS_PER_THREAD;
    if ((long)nb > total) nb = (int)total;
    /* the cache holds the longest prompt plus what is fed after it */
    int after = 1;
    if (opt.likelihood) after = lab.max_len - 1 > after ? lab.max_len - 1 : after;
    if (opt.generate) after = opt.max_new - 1 > after ? opt.max_new - 1 : after;
    int kv_ctx = r->max_prompt_tokens + after < m->cfg.n_ctx ? r->max_prompt_tokens + after : m->cfg.n_ctx;
    jobs = tl_calloc((size_t)nb, sizeof *jobs, e);
    ws = tl_calloc((size_t)nt, sizeof *ws, e);
    probs = tl_calloc((size_t)(L ? L : 1), sizeof(double), e);
    if (!jobs || !ws || !probs) goto done;
    for (int i = 0; i < nb; i++)
        if (!(jobs[i].scores = tl_calloc((size_t)(L ? L : 1), sizeof(double), e))) goto done;
    for (; nw < nt; nw++) {
        if (tl_gpt2_kv_init(&ws[nw].kv, &m->cfg, kv_ctx, e)) goto done;
        if (!(ws[nw].plogits = tl_calloc((size_t)V, sizeof(float), e))) {
            nw++;
            goto done;
        }
    }
    if (tl_task_csv_open(&c, csv, t, e)) goto done;
    if (opt.rows_out) {
        if (tl_afile_open(&rows_f, opt.rows_out, e)) goto done;
        rows_open = 1;
    }
    r->threads = nt;
    tl_progress prog;
    if (!opt.quiet) tl_progress_init(&prog, "eval", "row", (uint64_t)total);
    double t0 = tl_now();
    while (r->rows < total) {
        /* read a batch: copy each row out of the reader (its buffers are reused) */
        int n = 0;
        tl_task_row row;
        while (n < nb && r->rows + n < total && (got = tl_task_csv_next(c, &row, e)) > 0) {
            job *j = &jobs[n++];
            j->line = row.line;
            j->label = row.label;
            j->value = row.value;
            j->prompt.n = j->output.n = 0;
            if (tl_buf_append(&j->prompt, row.prompt->p, row.prompt->n, e) || tl_buf_append(&j->output, row.output, row.output_len, e))
                goto done;
        }
        if (got < 0) goto done;
        if (n == 0) break;
        int team = n < nt ? n : nt;
#pragma omp parallel for schedule(dynamic, 1) num_threads(team) if (team > 1)
        for (int i = 0; i < n; i++) run_job(m, bpe, &opt, &lab, &ws[omp_get_thread_num()], &jobs[i]);
        for (int i = 0; i < n; i++) {
            job *j = &jobs[i];
            if (j->failed) {
                *e = j->err;
                tl_err_wrap(e, "%s:%ld", csv, j->line);
                goto done;
            }
            json_t *jr = account_job(t, &opt, &lab, j, probs, r);
            r->rows++;
            if (rows_open) {
                char *line = jr ? json_dumps(jr, JSON_COMPACT | JSON_PRESERVE_ORDER | JSON_ENSURE_ASCII) : NULL;
                int bad = !line || tl_afile_write(&rows_f, line, strlen(line), e) || tl_afile_write(&rows_f, "\n", 1, e);
                if (!line) tl_errf(e, "%s: cannot format the row of line %ld as JSON", opt.rows_out, j->line);
                free(line);
                if (bad) {
                    json_decref(jr);
                    goto done;
                }
            }
            json_decref(jr);
        }
        if (!opt.quiet) tl_progress_update(&prog, (uint64_t)r->rows, NULL);
    }
    r->seconds = tl_now() - t0;
    for (int i = 0; i < nw; i++) {
        r->prefill_s += ws[i].prefill_s;
        r->likelihood_s += ws[i].likelihood_s;
        r->generate_s += ws[i].generate_s;
    }
    if (!opt.quiet) tl_progress_end(&prog, (uint64_t)r->rows, NULL);
    if (rows_open) {
        rows_open = 0;
        if (tl_afile_commit(&rows_f, e)) goto done;
    }
    rc = 0;
done:
    if (rows_open) tl_afile_abort(&rows_f);
    tl_task_csv_close(c);
    for (int i = 0; ws && i < nw; i++) {
        tl_gpt2_kv_free(&ws[i].kv);
        tl_ivec_free(&ws[i].prompt);
        free(ws[i].plogits);
    }
    for (int i = 0; jobs && i < nb; i++) {
        tl_buf_free(&jobs[i].prompt);
        tl_buf_free(&jobs[i].output);
        tl_buf_free(&jobs[i].text);
        tl_ivec_free(&jobs[i].gen);
        free(jobs[i].scores);
    }
    free(jobs);
    free(ws);
    free(probs);
    labels_free(&lab);
    return rc;
}

void tl_eval_result_free(tl_eval_result *r) {
    tl_metrics_confusion_free(&r->likelihood);
    tl_metrics_confusion_free(&r->generation);
}

/* ---------------------------------------------------------------- report and summary */

static int max_int(int a, int b) { return a > b ? a : b; }

static void print_class_table(FILE *f, const tl_confusion *c, char *const *labels, int with_none) {
    int w = 14; /* "none/ambiguous" */
    for (int k = 0; k < c->n; k++) w = max_int(w, (int)strlen(labels[k]));
    fprintf(f, "  %-*s %9s %9s %9s %8s\n", w, "label", "precision", "recall", "f1", "support");
    for (int k = 0; k < c->n; k++) {
        tl_class_scores s = tl_metrics_class(c, k);
        fprintf(f, "  %-*s %9.3f %9.3f %9.3f %8ld\n", w, labels[k], s.precision, s.recall, s.f1, s.support);
    }
    fprintf(f, "  %-*s %9s %9s %9.3f %8ld\n", w, "macro F1", "", "", tl_metrics_macro_f1(c), tl_metrics_confusion_total(c));
    fprintf(f, "  confusion (rows: expected, columns: predicted)\n  %-*s", w, "");
    for (int j = 0; j < c->n; j++) fprintf(f, " %*s", max_int(6, (int)strlen(labels[j])), labels[j]);
    if (with_none) fprintf(f, " %s", "none/ambiguous");
    fprintf(f, "\n");
    for (int k = 0; k < c->n; k++) {
        fprintf(f, "  %-*s", w, labels[k]);
        for (int j = 0; j < c->n; j++) fprintf(f, " %*ld", max_int(6, (int)strlen(labels[j])), tl_metrics_confusion_get(c, k, j));
        if (with_none) fprintf(f, " %14ld", tl_metrics_confusion_get(c, k, -1));
        fprintf(f, "\n");
    }
}

void tl_eval_print(FILE *f, const tl_task *t, const tl_eval_opts *o, const tl_eval_result *r) {
    int classify = t->kind == TL_TASK_CLASSIFY;
    if (classify && o->likelihood) {
        long ok = tl_metrics_confusion_correct(&r->likelihood);
        fprintf(f, "\nlabel likelihood: accuracy %.2f%% (%ld/%ld)\n", 100.0 * tl_metrics_accuracy(ok, r->rows), ok, r->rows);
        print_class_table(f, &r->likelihood, t->labels, 0);
    }
    if (o->generate) {
        fprintf(f, "\ngeneration (greedy, up to %d new tokens, repeat penalty %.2f)", o->max_new, (double)o->repeat_penalty);
        if (classify) {
            long strict = tl_metrics_confusion_correct(&r->generation);
            fprintf(f, ": accuracy %.2f%% (%ld/%ld: expected label exactly once)\n", 100.0 * tl_metrics_accuracy(r->gen_exactly_once, r->rows),
                    r->gen_exactly_once, r->rows);
            fprintf(f, "  strict: %.2f%% (%ld/%ld name exactly one label, once, and the right one: the confusion diagonal)\n",
                    100.0 * tl_metrics_accuracy(strict, r->rows), strict, r->rows);
            print_class_table(f, &r->generation, t->labels, 1);
        } else {
            const tl_regress *g = &r->regress;
            fprintf(f, ": first number of the answer\n");
            if (g->n)
                fprintf(f, "  MAE %.3f, RMSE %.3f, within +-1: %.2f%% (%ld/%ld)\n", tl_metrics_mae(g), tl_metrics_rmse(g),
                        100.0 * tl_metrics_within1(g), g->within1, g->n);
            else
                fprintf(f, "  MAE n/a, RMSE n/a, within +-1: n/a (no answer held a number)\n");
            fprintf(f, "  unparseable: %ld/%ld answers held no number (not in MAE/RMSE)\n", g->unparsed, r->rows);
        }
        fprintf(f, "  answers ended: '### End' %ld, <|endoftext|> %ld, token limit %ld, context end %ld; %.1f tokens/answer\n",
                r->gen_stop_end, r->gen_stop_eot, r->gen_stop_max, r->gen_stop_ctx,
                r->rows ? (double)r->gen_tokens / (double)r->rows : 0.0);
    }
    double per = r->rows ? 1000.0 * r->seconds / (double)r->rows : 0;
    fprintf(f, "\ntime: %.2f s for %ld rows (%.1f ms/row, %d thread%s); per phase%s: prompts %.2f s (%ld tokens, longest %d, "
            "%.0f tok/s)", r->seconds, r->rows, per, r->threads, r->threads == 1 ? "" : "s",
            r->threads > 1 ? " (summed over threads)" : "", r->prefill_s, r->prompt_tokens, r->max_prompt_tokens,
            r->prefill_s > 0 ? (double)r->prompt_tokens / r->prefill_s : 0.0);
    if (classify && o->likelihood) fprintf(f, ", labels %.2f s", r->likelihood_s);
    if (o->generate)
        fprintf(f, ", generation %.2f s (%ld tokens, %.0f tok/s)", r->generate_s, r->gen_tokens,
                r->generate_s > 0 ? (double)r->gen_tokens / r->generate_s : 0.0);
    fprintf(f, "\n");
}

/* A float option as the decimal it was written as (1.3, not 1.2999999523). */
static double float_value(float f) {
    char buf[32];
    snprintf(buf, sizeof buf, "%.7g", (double)f);
    return strtod(buf, NULL);
}

/* NAN as JSON null. */
static json_t *json_num(double v) { return isfinite(v) ? json_real(v) : json_null(); }

static json_t *class_json(const tl_confusion *c, char *const *labels, long correct, long total, int with_none) {
    json_t *per = json_array(), *cols = json_array(), *mat = json_array();
    for (int k = 0; k < c->n; k++) {
        tl_class_scores s = tl_metrics_class(c, k);
        json_array_append_new(per, json_pack("{s:s, s:f, s:f, s:f, s:I}", "label", labels[k], "precision", s.precision, "recall",
                                             s.recall, "f1", s.f1, "support", (json_int_t)s.support));
        json_array_append_new(cols, json_string(labels[k]));
        json_t *row = json_array();
        for (int j = 0; j < c->n; j++) json_array_append_new(row, json_integer(tl_metrics_confusion_get(c, k, j)));
        if (with_none) json_array_append_new(row, json_integer(tl_metrics_confusion_get(c, k, -1)));
        json_array_append_new(mat, row);
    }
    if (with_none) json_array_append_new(cols, json_string("none/ambiguous"));
    return json_pack("{s:f, s:I, s:I, s:f, s:o, s:o, s:o}", "accuracy", tl_metrics_accuracy(correct, total), "correct",
                     (json_int_t)correct, "total", (json_int_t)total, "macro_f1", tl_metrics_macro_f1(c), "per_class", per,
                     "columns", cols, "confusion", mat);
}

int tl_eval_write_summary(const char *path, const tl_task *t, const char *model, const char *adapter, const char *csv,
                          const tl_eval_opts *o, const tl_eval_result *r, tl_err *e) {
    int classify = t->kind == TL_TASK_CLASSIFY;
    json_t *sum = json_pack("{s:s, s:s, s:s, s:s?, s:I}", "task", t->name, "data", csv, "model", model, "adapter", adapter,
                            "rows", (json_int_t)r->rows);
    if (!sum) return tl_errf(e, "%s: cannot build the summary (a name is not UTF-8?)", path);
    json_object_set_new(sum, "kind", json_string(classify ? "classification" : "regression"));
    if (classify) {
        json_t *labels = json_array();
        for (int k = 0; k < t->n_labels; k++) json_array_append_new(labels, json_string(t->labels[k]));
        json_object_set_new(sum, "labels", labels);
    }
    json_object_set_new(sum, "settings", json_pack("{s:b, s:b, s:i, s:f, s:I}", "likelihood", classify && o->likelihood, "generate",
                                                   o->generate, "max_new", o->max_new, "repeat_penalty",
                                                   float_value(o->repeat_penalty), "limit", (json_int_t)o->limit));
    if (classify && o->likelihood) {
        long ok = tl_metrics_confusion_correct(&r->likelihood);
        json_object_set_new(sum, "likelihood", class_json(&r->likelihood, t->labels, ok, r->rows, 0));
    }
    if (o->generate) {
        json_t *g;
        if (classify) {
            long strict = tl_metrics_confusion_correct(&r->generation);
            g = class_json(&r->generation, t->labels, r->gen_exactly_once, r->rows, 1);
            json_object_set_new(g, "exactly_once", json_integer(r->gen_exactly_once));
            json_object_set_new(g, "strict_correct", json_integer(strict));
            json_object_set_new(g, "strict_accuracy", json_real(tl_metrics_accuracy(strict, r->rows)));
        } else {
            const tl_regress *q = &r->regress;
            g = json_object();
            json_object_set_new(g, "mae", json_num(tl_metrics_mae(q)));
            json_object_set_new(g, "rmse", json_num(tl_metrics_rmse(q)));
            json_object_set_new(g, "within1", json_num(tl_metrics_within1(q)));
            json_object_set_new(g, "within1_count", json_integer(q->within1));
            json_object_set_new(g, "scored", json_integer(q->n));
            json_object_set_new(g, "unparseable", json_integer(q->unparsed));
        }
        json_object_set_new(g, "stops", json_pack("{s:I, s:I, s:I, s:I}", "end", (json_int_t)r->gen_stop_end, "eot",
                                                  (json_int_t)r->gen_stop_eot, "max_new", (json_int_t)r->gen_stop_max,
                                                  "context", (json_int_t)r->gen_stop_ctx));
        json_object_set_new(g, "generated_tokens", json_integer(r->gen_tokens));
        json_object_set_new(sum, classify ? "generation" : "regression", g);
    }
    json_object_set_new(sum, "timing", json_pack("{s:f, s:i, s:f, s:f, s:f, s:I, s:i}", "seconds", r->seconds, "threads", r->threads,
                                                 "prefill_s", r->prefill_s,
                                                 "likelihood_s", r->likelihood_s, "generate_s", r->generate_s, "prompt_tokens",
                                                 (json_int_t)r->prompt_tokens, "max_prompt_tokens", r->max_prompt_tokens));
    char *s = json_dumps(sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
    json_decref(sum);
    if (!s) return tl_errf(e, "%s: cannot format the summary", path);
    tl_afile af;
    int rc = tl_afile_open(&af, path, e) || tl_afile_write(&af, s, strlen(s), e) || tl_afile_write(&af, "\n", 1, e) ? -1 : 0;
    if (rc) tl_afile_abort(&af);
    else rc = tl_afile_commit(&af, e);
    free(s);
    return rc;
}
