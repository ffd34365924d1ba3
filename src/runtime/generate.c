/* Generation (sampling with llama.cpp's repetition penalty, stop strings, streamed UTF-8-whole
 * pieces) and label classification on a context (contracts in include/tinyllm/tinyllm.h). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/vec.h"
#include "base/vmath.h"
#include "runtime/model.h"
#include "runtime/sampler.h"

tl_sampling tl_sampling_default(void) { return (tl_sampling){0.8f, 40, 0.95f, 0.05f, 1.0f, 64, 0}; }

tl_gen_params tl_gen_default(void) {
    return (tl_gen_params){.sampling = tl_sampling_default(), .n_predict = 128, .add_eot = 1};
}

/* llama.cpp's penalty: each distinct token among the last n fed has its logit divided by p when
 * positive, multiplied by p when not. */
static void repeat_penalty(float *logits, const int32_t *hist, int pos, int last_n, float p, unsigned char *seen) {
    int from = last_n < 0 || last_n > pos ? 0 : pos - last_n;
    for (int i = from; i < pos; i++) {
        int t = hist[i];
        if (seen[t]) continue;
        seen[t] = 1;
        logits[t] = logits[t] > 0 ? logits[t] / p : logits[t] * p;
    }
    for (int i = from; i < pos; i++) seen[hist[i]] = 0;
}

/* Bytes at the end of s[0..n) that might still grow into a stop string or a UTF-8 character, so
 * may not be streamed yet. */
static size_t held_back(const char *s, size_t n, const char *const *stop, int n_stop) {
    size_t hold = 0;
    for (int i = 0; i < n_stop; i++) {
        size_t L = strlen(stop[i]);
        for (size_t k = L - 1 < n ? L - 1 : n; k > hold; k--)
            if (!memcmp(s + n - k, stop[i], k)) {
                hold = k;
                break;
            }
    }
    /* an incomplete UTF-8 sequence at the end (before what is held for stop strings) */
    size_t end = n - hold, k = 0;
    while (k < 3 && k < end && ((unsigned char)s[end - 1 - k] & 0xC0) == 0x80) k++;
    if (k < end) {
        unsigned char lead = (unsigned char)s[end - 1 - k];
        size_t need = lead >= 0xF0 ? 4 : lead >= 0xE0 ? 3 : lead >= 0xC0 ? 2 : 1;
        if (need > k + 1 && need <= 4) hold += k + 1;
    }
    return hold;
}

int tl_generate(tl_ctx *c, const char *prompt, const tl_gen_params *p, tl_gen_result *r, tl_err *e) {
    const tl_model *m = c->m;
    memset(r, 0, sizeof *r);
    for (int i = 0; i < p->n_stop; i++)
        if (!p->stop[i] || !p->stop[i][0]) return tl_errf(e, "stop string %d is empty", i);
    const tl_sampling *sp = &p->sampling;
    if (!(sp->repeat_penalty > 0)) return tl_errf(e, "repeat penalty must be > 0");
    tl_ivec ids = {0};
    tl_buf text = {0};
    tl_sampler s = {0};
    unsigned char *seen = NULL;
    int rc = -1;
    if (p->add_eot && tl_ivec_push(&ids, m->info.eot, e)) goto done;
    if (tl_bpe_encode(m->bpe, prompt, strlen(prompt), &ids, e)) goto done;
    if (!ids.n) {
        tl_errf(e, "empty prompt (and no <|endoftext|> before it)");
        goto done;
    }
    long want = p->n_predict < 0 ? c->n_ctx - (long)ids.n : p->n_predict;
    if ((long)ids.n + want > c->n_ctx) {
        tl_errf(e, "prompt (%zu tokens) + %ld to generate exceeds the context of %d", ids.n, want, c->n_ctx);
        goto done;
    }
    if (tl_sampler_init(&s, m->V, sp->temp, sp->top_k, sp->top_p, sp->min_p, sp->seed, e)) goto done;
    if (!(seen = tl_calloc((size_t)m->V, 1, e))) goto done;
    tl_ctx_rewind(c, 0);
    r->n_prompt = (int)ids.n;
    double t0 = tl_now();
    float *logits = (float *)tl_ctx_eval(c, ids.v, (int)ids.n, NULL, e);
    if (!logits) goto done;
    r->prefill_s = tl_now() - t0;
    t0 = tl_now();
    size_t emitted = 0;
    r->finish = TL_FINISH_LENGTH;
    for (long i = 0; i < want; i++) {
        if (sp->repeat_penalty != 1.0f) repeat_penalty(logits, c->hist, c->pos, sp->repeat_last_n, sp->repeat_penalty, seen);
        int32_t tok = tl_sampler_sample(&s, logits);
        if (tok == m->info.eot) {
            r->finish = TL_FINISH_EOT;
            break;
        }
        size_t len;
        const char *bytes = tl_bpe_token(m->bpe, tok, &len);
        size_t before = text.n;
        if (tl_buf_append(&text, bytes, len, e)) goto done;
        r->n_gen++;
        /* a stop string completed by this token ends the text where it starts */
        size_t cut = text.n + 1;
        for (int k = 0; k < p->n_stop; k++) {
            size_t L = strlen(p->stop[k]), from = before >= L ? before - L + 1 : 0;
            for (size_t at = from; at + L <= text.n && at < cut; at++)
                if (!memcmp(text.p + at, p->stop[k], L)) {
                    cut = at;
                    break;
                }
        }
        if (cut <= text.n) {
            if (cut > emitted && p->on_text && p->on_text(p->user, text.p + emitted, cut - emitted)) r->finish = TL_FINISH_CANCEL;
            else r->finish = TL_FINISH_STOP;
            emitted = text.n;
            break;
        }
        size_t safe = text.n - held_back(text.p, text.n, p->stop, p->n_stop);
        if (safe > emitted) {
            if (p->on_text && p->on_text(p->user, text.p + emitted, safe - emitted)) {
                r->finish = TL_FINISH_CANCEL;
                emitted = text.n;
                break;
            }
            emitted = safe;
        }
        if (i + 1 == want) break; /* the last token needs no forward */
        if (!(logits = (float *)tl_ctx_eval(c, &tok, 1, NULL, e))) goto done;
    }
    if (text.n > emitted && p->on_text) p->on_text(p->user, text.p + emitted, text.n - emitted);
    r->gen_s = tl_now() - t0;
    rc = 0;
done:
    free(seen);
    tl_sampler_free(&s);
    tl_ivec_free(&ids);
    tl_buf_free(&text);
    return rc;
}

/* log softmax of logits[0..V) at `id` */
static double logprob(const float *logits, int V, int id) {
    float mx = tl_vmax(logits, V);
    return (double)logits[id] - mx - log((double)tl_exp_shift(NULL, logits, mx, 1.0f, V));
}

int tl_classify(tl_ctx *c, const char *prompt, const char *const *labels, int n, const char *suffix, double *lp,
                double *prob, tl_err *e) {
    const tl_model *m = c->m;
    int V = m->V, best = -1, ok = 0;
    if (n < 1) return tl_errf(e, "classify: no labels");
    tl_ivec ids = {0}, lab = {0};
    tl_buf txt = {0};
    float *first = tl_calloc((size_t)V, sizeof *first, e), *rows = NULL;
    if (!first || tl_ivec_push(&ids, m->info.eot, e) || tl_bpe_encode(m->bpe, prompt, strlen(prompt), &ids, e)) goto done;
    tl_ctx_rewind(c, 0);
    const float *logits = tl_ctx_eval(c, ids.v, (int)ids.n, NULL, e);
    if (!logits) goto done;
    memcpy(first, logits, (size_t)V * sizeof *first);
    int base = tl_ctx_pos(c);
    for (int i = 0; i < n; i++) {
        lab.n = txt.n = 0;
        if (tl_buf_append(&txt, labels[i], strlen(labels[i]), e) || (suffix && tl_buf_append(&txt, suffix, strlen(suffix), e)) ||
            tl_bpe_encode(m->bpe, txt.p, txt.n, &lab, e))
            goto done;
        if (!lab.n) {
            tl_errf(e, "classify: label %d is empty", i);
            goto done;
        }
        double sum = logprob(first, V, lab.v[0]);
        if (lab.n > 1) { /* the logits after each label token but the last score the next one */
            free(rows);
            if (!(rows = tl_calloc((lab.n - 1) * (size_t)V, sizeof *rows, e))) goto done;
            if (!tl_ctx_eval(c, lab.v, (int)lab.n - 1, rows, e)) {
                tl_err_wrap(e, "classify: label '%s'", labels[i]);
                goto done;
            }
            for (size_t j = 1; j < lab.n; j++) sum += logprob(rows + (j - 1) * (size_t)V, V, lab.v[j]);
            tl_ctx_rewind(c, base);
        }
        lp[i] = sum;
        if (best < 0 || sum > lp[best]) best = i;
    }
    if (prob) {
        double z = 0;
        for (int i = 0; i < n; i++) z += exp(lp[i] - lp[best]);
        for (int i = 0; i < n; i++) prob[i] = exp(lp[i] - lp[best]) / z;
    }
    ok = 1;
done:
    free(first);
    free(rows);
    tl_ivec_free(&ids);
    tl_ivec_free(&lab);
    tl_buf_free(&txt);
    return ok ? best : -1;
}
