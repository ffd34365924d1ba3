/* The endpoints: OpenAI's completions and chat completions, llama-server's /completion, /tokenize and
 * /detokenize, our /v1/classify, /v1/models and /metrics — each request's parameters checked in full
 * before it is queued, the answer as one JSON object or as server-sent events (docs/serve.md). */
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/log.h"
#include "serve/internal.h"

/* A generation request's state beyond its job. */
typedef struct gen {
    tl_endpoint kind;            /* TL_EP_COMPLETIONS, TL_EP_CHAT or TL_EP_COMPLETION */
    int stream, include_usage, echo;
    char id[48];
    long long created;
    int n_prompt, want;          /* prompt tokens (with <|endoftext|>), tokens asked for */
    uint64_t seed;
    /* streaming */
    tl_buf sse;                  /* events not yet handed to MHD */
    size_t sse_off, taken;       /* bytes of sse handed over; bytes of the job's text turned into events */
    tl_utf8 u8;
    int phase;                   /* 0: nothing sent, 1: sending text, 2: finished */
} gen;

void tl_api_req_free(tl_req *r) {
    gen *g = r->gen;
    if (!g) return;
    tl_buf_free(&g->sse);
    free(g);
    r->gen = NULL;
}

static enum MHD_Result oom(tl_req *r) {
    tl_apierr a;
    tl_apierr_set(&a, 500, "server_error", "out_of_memory", NULL, "out of memory");
    return tl_respond_error(r, &a);
}

static uint64_t draw(struct tl_serve *s) {
    pthread_mutex_lock(&s->mu);
    uint64_t x = tl_rng_u64(&s->rng);
    pthread_mutex_unlock(&s->mu);
    return x;
}

/* A float parameter as JSON, at float precision (0.95f is 0.95, not 0.949999988). */
static json_t *fjson(float x) {
    char b[32];
    snprintf(b, sizeof b, "%.7g", (double)x);
    return json_real(strtod(b, NULL));
}

static const char *finish_name(tl_finish f) { return f == TL_FINISH_LENGTH ? "length" : "stop"; }

/* The text of a finished job as well-formed UTF-8. */
static json_t *clean_text(const char *prefix, const tl_buf *t) {
    tl_buf b = {0};
    tl_utf8 st = {{0}, 0};
    tl_err e;
    json_t *v = NULL;
    if ((!prefix || !tl_utf8_clean(&st, prefix, strlen(prefix), 1, &b, &e)) && !tl_utf8_clean(&st, t->p ? t->p : "", t->n, 1, &b, &e))
        v = json_stringn(b.p ? b.p : "", b.n);
    tl_buf_free(&b);
    return v;
}

static json_t *usage(int p, int c) { return json_pack("{s:i,s:i,s:i}", "prompt_tokens", p, "completion_tokens", c, "total_tokens", p + c); }

static json_t *timings(const tl_job *j) {
    const tl_gen_result *g = &j->res;
    return json_pack("{s:f,s:i,s:f,s:f,s:i,s:f,s:f}", "queue_ms", (j->t_start - j->t_submit) * 1e3, "prompt_n", g->n_prompt, "prompt_ms",
                     g->prefill_s * 1e3, "prompt_per_second", g->prefill_s > 0 ? g->n_prompt / g->prefill_s : 0.0, "predicted_n", g->n_gen,
                     "predicted_ms", g->gen_s * 1e3, "predicted_per_second", g->gen_s > 0 ? g->n_gen / g->gen_s : 0.0);
}

/* ---- parameters shared by the generation endpoints ---- */

static const char *const completions_keys[] = {
    "model", "prompt", "max_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty", "repeat_last_n", "seed", "stop",
    "stream", "stream_options", "echo", "n", "best_of", "logprobs", "presence_penalty", "frequency_penalty", "logit_bias", "suffix",
    "user", NULL};
static const char *const chat_keys[] = {
    "model", "messages", "max_tokens", "max_completion_tokens", "temperature", "top_p", "top_k", "min_p", "repeat_penalty",
    "repeat_last_n", "seed", "stop", "stream", "stream_options", "n", "logprobs", "top_logprobs", "presence_penalty",
    "frequency_penalty", "logit_bias", "user", "response_format", "tools", "tool_choice", "parallel_tool_calls", NULL};
static const char *const native_keys[] = {
    "prompt", "n_predict", "temperature", "top_k", "top_p", "min_p", "repeat_penalty", "repeat_last_n", "seed", "stop", "stream",
    "cache_prompt", "n_probs", "id_slot", NULL};
/* the OpenAI parameters taken only at their neutral value */
static const char *const neutral_keys[] = {"n", "best_of", "logprobs", "top_logprobs", "presence_penalty", "frequency_penalty",
                                           "logit_bias", "suffix", "tools", "tool_choice", "parallel_tool_calls", "n_probs", NULL};

static int sampling(tl_req *r, json_t *o, gen *g, tl_job *j, tl_apierr *a) {
    tl_sampling sp = r->s->cfg.sampling;
    double x;
    long long i;
    int k;
    if ((k = tl_params_num(o, "temperature", 0, 10, &x, a)) < 0) return -1;
    if (k) sp.temp = (float)x;
    if ((k = tl_params_num(o, "top_p", 0, 1, &x, a)) < 0) return -1;
    if (k) sp.top_p = (float)x;
    if ((k = tl_params_num(o, "min_p", 0, 1, &x, a)) < 0) return -1;
    if (k && x >= 1) return TL_BAD(a, "out_of_range", "min_p", "'min_p' must be in [0, 1), got %g", x);
    if (k) sp.min_p = (float)x;
    if ((k = tl_params_num(o, "repeat_penalty", 1e-3, 100, &x, a)) < 0) return -1;
    if (k) sp.repeat_penalty = (float)x;
    if ((k = tl_params_int(o, "top_k", 0, r->s->info->vocab, &i, a)) < 0) return -1;
    if (k) sp.top_k = (int)i;
    if (!(sp.top_p > 0)) sp.top_p = 1, sp.top_k = 1; /* top_p 0 keeps the one best token, as in llama.cpp */
    if ((k = tl_params_int(o, "repeat_last_n", -1, r->s->n_ctx, &i, a)) < 0) return -1;
    if (k) sp.repeat_last_n = (int)i;
    i = -1;
    if (tl_params_int(o, "seed", LLONG_MIN, LLONG_MAX, &i, a) < 0) return -1;
    /* -1 (llama.cpp's) or none: a fresh one, below 2^63 so that JSON shows it as it is */
    sp.seed = i == -1 ? draw(r->s) >> 1 : (uint64_t)i;
    g->seed = sp.seed;
    for (int n = 0; neutral_keys[n]; n++)
        if (tl_params_neutral(o, neutral_keys[n], a) < 0) return -1;
    if (tl_params_stop(o, "stop", j->stop, &j->gp.n_stop, a) < 0) return -1;
    if (tl_params_bool(o, "stream", &g->stream, a) < 0) return -1;
    json_t *so = json_object_get(o, "stream_options");
    if (so && !json_is_null(so)) {
        static const char *const keys[] = {"include_usage", NULL};
        if (!json_is_object(so)) return TL_BAD(a, "invalid_type", "stream_options", "'stream_options' must be an object");
        if (!g->stream) return TL_BAD(a, "invalid_value", "stream_options", "'stream_options' is only allowed with \"stream\": true");
        if (tl_params_keys(so, keys, a)) return TL_BAD(a, "unknown_parameter", "stream_options", "'stream_options' takes only 'include_usage'");
        if (tl_params_bool(so, "include_usage", &g->include_usage, a) < 0) return -1;
    }
    j->gp.sampling = sp;
    return 0;
}

/* Tokens asked for (key: max_tokens / max_completion_tokens / n_predict) against the context. */
static int budget(tl_req *r, json_t *o, const char *key, const char *alt, long long lo, gen *g, tl_apierr *a) {
    const tl_serve_config *c = &r->s->cfg;
    long long want = LLONG_MIN;
    const char *used = key;
    if (tl_params_int(o, key, lo, INT_MAX, &want, a) < 0) return -1;
    if (alt && json_object_get(o, alt) && !json_is_null(json_object_get(o, alt))) {
        if (want != LLONG_MIN) return TL_BAD(a, "invalid_value", alt, "give '%s' or '%s', not both", key, alt);
        if (tl_params_int(o, alt, lo, INT_MAX, &want, a) < 0) return -1;
        used = alt;
    }
    int room = r->s->n_ctx - g->n_prompt;
    if (room < 1)
        return tl_apierr_set(a, 400, "invalid_request_error", "context_length_exceeded", "prompt",
                             "the prompt is %d tokens (with the leading <|endoftext|>) and fills the context of %d: nothing can be generated",
                             g->n_prompt, r->s->n_ctx);
    if (want > c->max_tokens)
        return tl_apierr_set(a, 400, "invalid_request_error", "out_of_range", used, "'%s' = %lld exceeds this server's limit of %d (--max-tokens)",
                             used, want, c->max_tokens);
    if (want >= 0 && g->n_prompt + want > r->s->n_ctx)
        return tl_apierr_set(a, 400, "invalid_request_error", "context_length_exceeded", used,
                             "the prompt (%d tokens, with the leading <|endoftext|>) + %s %lld = %lld tokens exceeds the context of %d",
                             g->n_prompt, used, want, g->n_prompt + want, r->s->n_ctx);
    if (want < 0) { /* not given, or -1: the server's default, within the context and the limit */
        want = c->default_tokens < 0 ? c->max_tokens : c->default_tokens;
        if (want > c->max_tokens) want = c->max_tokens;
        if (want > room) want = room;
    }
    g->want = (int)want;
    return 0;
}

static int count_prompt(tl_req *r, const char *prompt, gen *g, tl_apierr *a) {
    tl_err e;
    long n = tl_tokenize(r->s->m, prompt, strlen(prompt), NULL, 0, &e);
    if (n < 0) return tl_apierr_set(a, 500, "server_error", "internal_error", NULL, "%s", e.msg);
    g->n_prompt = n + 1 > INT_MAX ? INT_MAX : (int)n + 1;
    return 0;
}

/* ---- answers ---- */

static json_t *base_object(tl_req *r, gen *g, const char *object) {
    return json_pack("{s:s,s:s,s:I,s:s}", "id", g->id, "object", object, "created", (json_int_t)g->created, "model", r->s->cfg.model_id);
}

static json_t *native_object(tl_req *r, gen *g, tl_job *j, json_t *content) {
    tl_finish f = j->res.finish;
    const tl_sampling *sp = &j->gp.sampling;
    json_t *settings = json_pack("{s:i,s:i,s:o,s:i,s:o,s:o,s:o,s:i,s:I}", "n_ctx", r->s->n_ctx, "n_predict", g->want, "temperature",
                                 fjson(sp->temp), "top_k", sp->top_k, "top_p", fjson(sp->top_p), "min_p", fjson(sp->min_p),
                                 "repeat_penalty", fjson(sp->repeat_penalty), "repeat_last_n", sp->repeat_last_n, "seed", (json_int_t)g->seed);
    json_t *o = json_pack("{s:o,s:b,s:i,s:s,s:i,s:i,s:b,s:b,s:b,s:s,s:b,s:o,s:o}", "content", content, "stop", 1, "id_slot", j->slot, "model",
                          r->s->cfg.model_id, "tokens_predicted", j->res.n_gen, "tokens_evaluated", j->res.n_prompt, "stopped_eos",
                          f == TL_FINISH_EOT, "stopped_word", f == TL_FINISH_STOP, "stopped_limit", f == TL_FINISH_LENGTH, "stop_type",
                          f == TL_FINISH_EOT ? "eos" : f == TL_FINISH_STOP ? "word" : f == TL_FINISH_LENGTH ? "limit" : "none", "truncated", 0,
                          "generation_settings", settings, "timings", timings(j));
    return o;
}

static enum MHD_Result answer(tl_req *r, gen *g, tl_job *j) {
    json_t *o = NULL, *text = clean_text(g->echo ? j->prompt : NULL, &j->text);
    if (!text) return oom(r);
    const char *fr = finish_name(j->res.finish);
    if (g->kind == TL_EP_COMPLETIONS) {
        o = base_object(r, g, "text_completion");
        json_object_set_new(o, "choices", json_pack("[{s:o,s:i,s:n,s:s}]", "text", text, "index", 0, "logprobs", "finish_reason", fr));
    } else if (g->kind == TL_EP_CHAT) {
        o = base_object(r, g, "chat.completion");
        json_object_set_new(o, "choices", json_pack("[{s:i,s:{s:s,s:o},s:n,s:s}]", "index", 0, "message", "role", "assistant", "content",
                                                    text, "logprobs", "finish_reason", fr));
    } else {
        return tl_respond_json(r, 200, native_object(r, g, j, text));
    }
    json_object_set_new(o, "usage", usage(j->res.n_prompt, j->res.n_gen));
    json_object_set_new(o, "timings", timings(j));
    return tl_respond_json(r, 200, o);
}

/* Appends "data: <o>\n\n" (o consumed). */
static int event(gen *g, json_t *o) {
    char *s = o ? json_dumps(o, JSON_COMPACT | JSON_REAL_PRECISION(10)) : NULL;
    json_decref(o);
    tl_err e;
    int rc = !s || tl_buf_append(&g->sse, "data: ", 6, &e) || tl_buf_append(&g->sse, s, strlen(s), &e) ||
             tl_buf_append(&g->sse, "\n\n", 2, &e);
    free(s);
    return rc ? -1 : 0;
}

static json_t *chunk(tl_req *r, gen *g, json_t *text, const char *finish, int role) {
    if (g->kind == TL_EP_COMPLETION) return json_pack("{s:o,s:b,s:i}", "content", text, "stop", 0, "id_slot", r->job->slot);
    json_t *o, *fin = finish ? json_string(finish) : json_null();
    if (g->kind == TL_EP_COMPLETIONS) {
        o = base_object(r, g, "text_completion");
        json_object_set_new(o, "choices", json_pack("[{s:o,s:i,s:n,s:o}]", "text", text, "index", 0, "logprobs", "finish_reason", fin));
    } else {
        json_t *delta = finish ? json_object() : role ? json_pack("{s:s,s:o}", "role", "assistant", "content", text) : json_pack("{s:o}", "content", text);
        if (finish) json_decref(text);
        o = base_object(r, g, "chat.completion.chunk");
        json_object_set_new(o, "choices", json_pack("[{s:i,s:o,s:n,s:o}]", "index", 0, "delta", delta, "logprobs", "finish_reason", fin));
    }
    if (o && g->include_usage) json_object_set_new(o, "usage", json_null());
    return o;
}

/* The events that end a stream. */
static int stream_end(tl_req *r, gen *g, tl_job *j) {
    tl_err e;
    if (j->failed) { /* the status line went out long ago: the error goes in an event */
        tl_apierr a;
        tl_apierr_set(&a, 500, "server_error", "internal_error", NULL, "%s", j->err.msg);
        if (event(g, tl_apierr_json(&a))) return -1;
        snprintf(r->err_code, sizeof r->err_code, "internal_error");
    } else if (g->kind == TL_EP_COMPLETION) {
        if (event(g, native_object(r, g, j, json_string("")))) return -1;
    } else {
        if (event(g, chunk(r, g, json_string(""), finish_name(j->res.finish), 0))) return -1;
        if (g->include_usage) {
            json_t *o = base_object(r, g, g->kind == TL_EP_CHAT ? "chat.completion.chunk" : "text_completion");
            json_object_set_new(o, "choices", json_array());
            json_object_set_new(o, "usage", usage(j->res.n_prompt, j->res.n_gen));
            if (event(g, o)) return -1;
        }
    }
    if (g->kind != TL_EP_COMPLETION && tl_buf_append(&g->sse, "data: [DONE]\n\n", 14, &e)) return -1;
    r->finish = j->failed ? "error" : finish_name(j->res.finish);
    r->completion_tokens = j->res.n_gen;
    return 0;
}

ssize_t tl_api_stream_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    tl_req *r = cls;
    gen *g = r->gen;
    tl_job *j = r->job;
    struct tl_serve *s = r->s;
    tl_err e;
    while (g->sse_off >= g->sse.n) {
        if (g->phase == 2) return MHD_CONTENT_READER_END_OF_STREAM;
        g->sse.n = g->sse_off = 0;
        if (g->phase == 0) { /* chat's role delta; an echoed prompt */
            g->phase = 1;
            json_t *t = g->echo ? clean_text(j->prompt, &(tl_buf){0}) : json_string("");
            if (g->kind == TL_EP_CHAT || g->echo) {
                if (event(g, chunk(r, g, t, NULL, g->kind == TL_EP_CHAT))) return MHD_CONTENT_READER_END_WITH_ERROR;
            } else {
                json_decref(t);
            }
            continue;
        }
        pthread_mutex_lock(&s->mu);
        while (j->text.n == g->taken && j->state != TL_JOB_DONE && !s->stopping) {
            struct timespec t;
            clock_gettime(CLOCK_MONOTONIC, &t);
            t.tv_nsec += 100000000;
            if (t.tv_nsec >= 1000000000) t.tv_sec++, t.tv_nsec -= 1000000000;
            pthread_cond_timedwait(&j->cv, &s->mu, &t);
            if (j->text.n != g->taken || j->state == TL_JOB_DONE) break;
            pthread_mutex_unlock(&s->mu);
            int alive = tl_client_alive(r);
            pthread_mutex_lock(&s->mu);
            if (!alive) break;
        }
        int done = j->state == TL_JOB_DONE;
        if (!done && (s->stopping || !tl_client_alive(r))) {
            r->gone = !s->stopping;
            j->cancel = 1;
            pthread_mutex_unlock(&s->mu);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        tl_buf raw = {0};
        int bad = tl_buf_append(&raw, j->text.p ? j->text.p + g->taken : "", j->text.n - g->taken, &e);
        g->taken = j->text.n;
        pthread_mutex_unlock(&s->mu);
        tl_buf piece = {0};
        bad = bad || tl_utf8_clean(&g->u8, raw.p ? raw.p : "", raw.n, done, &piece, &e);
        if (!bad && piece.n) bad = event(g, chunk(r, g, json_stringn(piece.p, piece.n), NULL, 0));
        tl_buf_free(&raw);
        tl_buf_free(&piece);
        if (!bad && done) {
            bad = stream_end(r, g, j);
            g->phase = 2;
        }
        if (bad) return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    size_t n = g->sse.n - g->sse_off < max ? g->sse.n - g->sse_off : max;
    memcpy(buf, g->sse.p + g->sse_off, n);
    g->sse_off += n;
    r->bytes += n;
    tl_conn_timeout_on(r); /* something to send: the inactivity clock starts again */
    return (ssize_t)n;
}

/* Queues the job and answers: waits for it (or, streaming, for its start). */
static enum MHD_Result run_job(tl_req *r, tl_job *j, enum MHD_Result (*done)(tl_req *, tl_job *)) {
    tl_apierr a;
    if (tl_job_submit(j, &a)) {
        pthread_mutex_lock(&r->s->mu);
        tl_job_unref_locked(j);
        pthread_mutex_unlock(&r->s->mu);
        return tl_respond_error(r, &a);
    }
    r->job = j; /* the request's reference, dropped when it completes */
    gen *g = r->gen;
    int streaming = g && g->stream;
    tl_conn_timeout_off(r);
    int w = tl_job_wait(r, j, !streaming, &a);
    tl_conn_timeout_on(r);
    if (w == -2) { /* the client left, or the server is stopping: close */
        r->gone = !tl_client_alive(r);
        return MHD_NO;
    }
    if (w == -1) return tl_respond_error(r, &a);
    r->slot = j->slot;
    r->queue_ms = (j->t_start - j->t_submit) * 1e3;
    if (streaming) {
        r->prompt_tokens = g->n_prompt;
        return tl_respond_stream(r);
    }
    if (j->failed) {
        tl_apierr_set(&a, 500, "server_error", "internal_error", NULL, "%s", j->err.msg);
        return tl_respond_error(r, &a);
    }
    r->prompt_tokens = j->res.n_prompt;
    return done(r, j);
}

static enum MHD_Result gen_done(tl_req *r, tl_job *j) {
    r->finish = finish_name(j->res.finish);
    r->completion_tokens = j->res.n_gen;
    return answer(r, r->gen, j);
}

static enum MHD_Result generate(tl_req *r, json_t *o) {
    struct tl_serve *s = r->s;
    tl_apierr a;
    tl_err e;
    gen *g = tl_calloc(1, sizeof *g, &e);
    tl_job *j = g ? tl_job_new(s, TL_JOB_GENERATE, &e) : NULL;
    enum MHD_Result res;
    tl_buf chat = {0};
    if (!j) {
        free(g);
        return oom(r);
    }
    r->gen = g;
    g->kind = r->ep;
    g->created = (long long)time(NULL);
    uint64_t id = draw(s);
    snprintf(g->id, sizeof g->id, "%s-%016llx", g->kind == TL_EP_CHAT ? "chatcmpl" : "cmpl", (unsigned long long)id);
    const char *const *keys = g->kind == TL_EP_COMPLETIONS ? completions_keys : g->kind == TL_EP_CHAT ? chat_keys : native_keys;
    const char *prompt = NULL;
    const char *model = NULL, *user = NULL; /* one model per server: any name is accepted; user is only logged by OpenAI */
    if (tl_params_keys(o, keys, &a) || tl_params_str(o, "model", 256, &model, &a) < 0 || tl_params_str(o, "user", 256, &user, &a) < 0) goto bad;
    if (g->kind == TL_EP_CHAT) {
        json_t *rf = json_object_get(o, "response_format");
        if (rf && !json_is_null(rf)) {
            json_t *t = json_object_get(rf, "type");
            if (!json_is_object(rf) || json_object_size(rf) != 1 || !json_is_string(t) || strcmp(json_string_value(t), "text")) {
                TL_BAD(&a, "unsupported_value", "response_format", "only {\"type\": \"text\"} is supported");
                goto bad;
            }
        }
        if (tl_prompt_chat(s, json_object_get(o, "messages"), &chat, &a)) goto bad;
        prompt = chat.p;
        /* the template's end marker ends the answer */
        if (!(j->stop[j->gp.n_stop++] = strdup("\n\n### End")) || !(j->stop[j->gp.n_stop++] = strdup("### End"))) {
            res = oom(r);
            goto out;
        }
    } else {
        json_t *p = json_object_get(o, "prompt");
        if (json_is_array(p) && json_array_size(p) == 1 && json_is_string(json_array_get(p, 0)) && g->kind == TL_EP_COMPLETIONS) p = json_array_get(p, 0);
        if (!p) {
            TL_BAD(&a, "missing_required_parameter", "prompt", "'prompt' is required");
            goto bad;
        }
        if (!json_is_string(p)) {
            TL_BAD(&a, json_is_array(p) ? "unsupported_value" : "invalid_type", "prompt",
                   json_is_array(p) ? "'prompt' must be one string (arrays of prompts and token ids are not supported)" : "'prompt' must be a string");
            goto bad;
        }
        prompt = json_string_value(p);
        if (g->kind == TL_EP_COMPLETIONS && tl_params_bool(o, "echo", &g->echo, &a) < 0) goto bad;
        if (g->kind == TL_EP_COMPLETION) {
            int cache = 0;
            long long slot = -1;
            if (tl_params_bool(o, "cache_prompt", &cache, &a) < 0 || tl_params_int(o, "id_slot", -1, -1, &slot, &a) < 0) goto bad;
        }
    }
    if (sampling(r, o, g, j, &a) || count_prompt(r, prompt, g, &a)) goto bad;
    if (g->kind == TL_EP_COMPLETION ? budget(r, o, "n_predict", NULL, -1, g, &a)
                                    : budget(r, o, "max_tokens", g->kind == TL_EP_CHAT ? "max_completion_tokens" : NULL, 0, g, &a))
        goto bad;
    if (!(j->prompt = strdup(prompt))) {
        res = oom(r);
        goto out;
    }
    j->gp.n_predict = g->want;
    res = run_job(r, j, gen_done);
    j = NULL; /* run_job took it */
    goto out;
bad:
    res = tl_respond_error(r, &a);
out:
    if (j) {
        pthread_mutex_lock(&s->mu);
        tl_job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
    }
    tl_buf_free(&chat);
    return res;
}

/* ---- classify ---- */

static enum MHD_Result classify_done(tl_req *r, tl_job *j) {
    const tl_model_info *in = r->s->info;
    json_t *probs = json_object(), *lps = json_object();
    for (int i = 0; i < j->n_labels; i++) {
        json_object_set_new(probs, j->labels[i], json_real(j->prob[i]));
        json_object_set_new(lps, j->labels[i], json_real(j->logprob[i]));
    }
    json_t *o = json_pack("{s:s,s:s,s:s?,s:s,s:o,s:o,s:f,s:f,s:{s:i}}", "object", "classification", "model", r->s->cfg.model_id, "task",
                          in->task_name, "label", j->labels[j->best], "probs", probs, "logprobs", lps, "latency_ms",
                          (j->t_end - j->t_start) * 1e3, "queue_ms", (j->t_start - j->t_submit) * 1e3, "usage", "prompt_tokens",
                          j->res.n_prompt);
    r->finish = "label";
    return tl_respond_json(r, 200, o);
}

static enum MHD_Result classify(tl_req *r, json_t *o) {
    static const char *const keys[] = {"model", "input", "labels", "instruction", "raw", "task", "suffix", NULL};
    struct tl_serve *s = r->s;
    const tl_model_info *in = s->info;
    tl_apierr a;
    tl_err e;
    tl_buf prompt = {0}, lab = {0};
    const char *input = NULL, *instruction = NULL, *task = NULL, *suffix = "\n\n### End";
    int raw = 0;
    tl_job *j = tl_job_new(s, TL_JOB_CLASSIFY, &e);
    if (!j) return oom(r);
    enum MHD_Result res;
    const char *model = NULL;
    if (tl_params_keys(o, keys, &a) || tl_params_str(o, "model", 256, &model, &a) < 0 ||
        tl_params_str(o, "instruction", 65536, &instruction, &a) < 0 || tl_params_str(o, "task", 256, &task, &a) < 0 ||
        tl_params_bool(o, "raw", &raw, &a) < 0 || tl_params_str(o, "suffix", TL_SERVE_MAX_STOP_LEN, &suffix, &a) < 0)
        goto bad;
    if (tl_params_str(o, "input", SIZE_MAX, &input, &a) <= 0) {
        if (!json_object_get(o, "input") || json_is_null(json_object_get(o, "input")))
            TL_BAD(&a, "missing_required_parameter", "input", "'input' is required: the sensor input, as the task's CSV holds it");
        goto bad;
    }
    if (task && (!in->task_name || strcmp(task, in->task_name))) {
        TL_BAD(&a, "invalid_value", "task", "this server's model carries the task '%s', not '%.64s'", in->task_name ? in->task_name : "(none)", task);
        goto bad;
    }
    if (raw && instruction) {
        TL_BAD(&a, "invalid_value", "instruction", "'instruction' goes into the template, which a raw prompt does not use");
        goto bad;
    }
    /* the labels: the request's, or the task's */
    json_t *lv = json_object_get(o, "labels");
    int n = 0;
    if (lv && !json_is_null(lv)) {
        if (!json_is_array(lv) || json_array_size(lv) < 2 || json_array_size(lv) > TL_SERVE_MAX_LABELS) {
            TL_BAD(&a, json_is_array(lv) ? "out_of_range" : "invalid_type", "labels", "'labels' must be an array of 2..%d strings", TL_SERVE_MAX_LABELS);
            goto bad;
        }
        n = (int)json_array_size(lv);
    } else if (in->n_labels >= 2) {
        n = in->n_labels;
    } else {
        TL_BAD(&a, "missing_required_parameter", "labels",
               in->task_name ? "the model's task is a regression: give 'labels' to choose among" : "the model carries no task: give 'labels'");
        goto bad;
    }
    if (!(j->labels = calloc((size_t)n, sizeof *j->labels)) || !(j->logprob = calloc((size_t)n, sizeof(double))) ||
        !(j->prob = calloc((size_t)n, sizeof(double)))) {
        res = oom(r);
        goto out;
    }
    int given = lv && !json_is_null(lv);
    long most = 0; /* the longest label + suffix, in tokens */
    for (int i = 0; i < n; i++) {
        const char *l = given ? json_string_value(json_array_get(lv, (size_t)i)) : in->task_labels[i];
        if (given && (!l || !*l || strlen(l) > TL_SERVE_MAX_STOP_LEN)) {
            TL_BAD(&a, "invalid_type", "labels", "'labels[%d]' must be a string of 1..%d bytes", i, TL_SERVE_MAX_STOP_LEN);
            goto bad;
        }
        for (int k = 0; k < j->n_labels; k++)
            if (!strcmp(j->labels[k], l)) { // NOLINT(clang-analyzer-core.NonNullParamChecker): labels[0..n_labels) are set below, n_labels starts at 0 (tl_job_new)
                TL_BAD(&a, "invalid_value", "labels", "'labels' holds '%.64s' twice", l);
                goto bad;
            }
        lab.n = 0;
        if (!(j->labels[j->n_labels] = strdup(l)) || tl_buf_appendf(&lab, &e, "%s%s", l, suffix)) {
            res = oom(r);
            goto out;
        }
        j->n_labels++;
        long t = tl_tokenize(s->m, lab.p, lab.n, NULL, 0, &e);
        if (t > most) most = t;
    }
    if (raw) {
        if (tl_buf_appendf(&prompt, &e, "%s", input)) {
            res = oom(r);
            goto out;
        }
    } else if (tl_prompt_task(s, instruction, input, &prompt, &a) || tl_buf_append(&prompt, "", 1, &e)) {
        goto bad;
    }
    long np = tl_tokenize(s->m, prompt.p, strlen(prompt.p), NULL, 0, &e) + 1;
    if (np + most - 1 > s->n_ctx) {
        tl_apierr_set(&a, 400, "invalid_request_error", "context_length_exceeded", "input",
                      "the prompt (%ld tokens, with the leading <|endoftext|>) + the longest label (%ld) exceeds the context of %d", np, most,
                      s->n_ctx);
        goto bad;
    }
    if (!(j->stop[0] = strdup(suffix))) { /* the job owns its suffix */
        res = oom(r);
        goto out;
    }
    j->suffix = j->stop[0];
    j->prompt = prompt.p;
    prompt = (tl_buf){0};
    res = run_job(r, j, classify_done);
    j = NULL;
    goto out;
bad:
    res = tl_respond_error(r, &a);
out:
    if (j) {
        pthread_mutex_lock(&s->mu);
        tl_job_unref_locked(j);
        pthread_mutex_unlock(&s->mu);
    }
    tl_buf_free(&prompt);
    tl_buf_free(&lab);
    return res;
}

/* ---- tokenizer endpoints ---- */

static enum MHD_Result tokenize(tl_req *r, json_t *o) {
    static const char *const keys[] = {"content", "add_special", "with_pieces", "parse_special", NULL};
    tl_apierr a;
    tl_err e;
    const char *content = NULL;
    int add = 0, pieces = 0, special = 0;
    if (tl_params_keys(o, keys, &a) || tl_params_bool(o, "add_special", &add, &a) < 0 || tl_params_bool(o, "with_pieces", &pieces, &a) < 0 ||
        tl_params_bool(o, "parse_special", &special, &a) < 0)
        return tl_respond_error(r, &a);
    if (special) {
        TL_BAD(&a, "unsupported_value", "parse_special", "special-token text is tokenized as ordinary text here: 'parse_special' must be false");
        return tl_respond_error(r, &a);
    }
    int k = tl_params_str(o, "content", SIZE_MAX, &content, &a);
    if (k <= 0) {
        if (!k) TL_BAD(&a, "missing_required_parameter", "content", "'content' is required");
        return tl_respond_error(r, &a);
    }
    size_t len = strlen(content);
    long n = tl_tokenize(r->s->m, content, len, NULL, 0, &e);
    int32_t *ids = n >= 0 ? malloc(((size_t)n + 1) * sizeof *ids) : NULL;
    if (!ids) {
        if (n >= 0) return oom(r);
        tl_apierr_set(&a, 500, "server_error", "internal_error", NULL, "%s", e.msg);
        return tl_respond_error(r, &a);
    }
    tl_tokenize(r->s->m, content, len, ids + 1, n, &e);
    ids[0] = r->s->info->eot;
    json_t *arr = json_array();
    for (long i = add ? 0 : 1; arr && i <= n; i++) {
        if (!pieces) {
            json_array_append_new(arr, json_integer(ids[i]));
            continue;
        }
        size_t bl;
        const char *b = tl_token_bytes(r->s->m, ids[i], &bl);
        json_t *piece;
        if (tl_utf8_valid(b, bl)) piece = json_stringn(b, bl);
        else { /* llama-server's way: the bytes as numbers when they are not text */
            piece = json_array();
            for (size_t q = 0; q < bl; q++) json_array_append_new(piece, json_integer((unsigned char)b[q]));
        }
        json_array_append_new(arr, json_pack("{s:i,s:o}", "id", ids[i], "piece", piece));
    }
    free(ids);
    return tl_respond_json(r, 200, json_pack("{s:o}", "tokens", arr));
}

static enum MHD_Result detokenize(tl_req *r, json_t *o) {
    static const char *const keys[] = {"tokens", NULL};
    tl_apierr a;
    tl_err e;
    if (tl_params_keys(o, keys, &a)) return tl_respond_error(r, &a);
    json_t *t = json_object_get(o, "tokens");
    if (!t || !json_is_array(t)) {
        TL_BAD(&a, t ? "invalid_type" : "missing_required_parameter", "tokens", "'tokens' must be an array of token ids");
        return tl_respond_error(r, &a);
    }
    tl_buf raw = {0}, out = {0};
    tl_utf8 st = {{0}, 0};
    size_t i;
    json_t *x;
    json_array_foreach(t, i, x) {
        json_int_t id = json_is_integer(x) ? json_integer_value(x) : -1;
        size_t bl;
        const char *b = id >= 0 && id < r->s->info->vocab ? tl_token_bytes(r->s->m, (int32_t)id, &bl) : NULL;
        if (!b) {
            tl_buf_free(&raw);
            TL_BAD(&a, json_is_integer(x) ? "out_of_range" : "invalid_type", "tokens", "'tokens[%zu]' must be a token id in 0..%d", i,
                   r->s->info->vocab - 1);
            return tl_respond_error(r, &a);
        }
        if (tl_buf_append(&raw, b, bl, &e)) {
            tl_buf_free(&raw);
            return oom(r);
        }
    }
    if (tl_utf8_clean(&st, raw.p ? raw.p : "", raw.n, 1, &out, &e)) {
        tl_buf_free(&raw);
        return oom(r);
    }
    json_t *res = json_pack("{s:s%}", "content", out.p ? out.p : "", out.n);
    tl_buf_free(&raw);
    tl_buf_free(&out);
    return tl_respond_json(r, 200, res);
}

/* ---- models and metrics ---- */

static json_t *model_object(struct tl_serve *s) {
    const tl_model_info *in = s->info;
    json_t *task = json_null();
    if (in->task_name) {
        json_t *labels = json_array();
        for (int i = 0; i < in->n_labels; i++) json_array_append_new(labels, json_string(in->task_labels[i]));
        task = json_pack("{s:s,s:s,s:s?,s:o}", "name", in->task_name, "kind", in->task_regression ? "regression" : "classify", "instruction",
                         in->task_instruction, "labels", labels);
    }
    json_t *meta = json_pack("{s:i,s:i,s:i,s:i,s:i,s:i,s:I,s:I,s:s,s:s,s:i,s:o}", "n_ctx", s->n_ctx, "n_ctx_train", in->n_ctx, "n_vocab",
                             in->vocab, "n_embd", in->n_embd, "n_layer", in->n_layer, "n_head", in->n_head, "n_params",
                             (json_int_t)in->n_params, "size", (json_int_t)in->weight_bytes, "type", in->type_name, "tokenizer",
                             in->tokenizer ? in->tokenizer : "", "slots", s->n_slots, "task", task);
    return json_pack("{s:s,s:s,s:I,s:s,s:o}", "id", s->cfg.model_id, "object", "model", "created", (json_int_t)s->started, "owned_by",
                     "tinyllm", "meta", meta);
}

int tl_api_metrics(struct tl_serve *s, tl_buf *b, tl_err *e) {
    pthread_mutex_lock(&s->mu);
    tl_serve_metrics m = s->met;
    int queued = s->queued, running = s->running, ready = s->ready;
    pthread_mutex_unlock(&s->mu);
    long pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long size;
        if (fscanf(f, "%ld %ld", &size, &pages) != 2) pages = 0; // NOLINT(cert-err34-c): the kernel's /proc/self/statm
        fclose(f);
    }
    int rc = tl_buf_appendf(
        b, e,
        "# HELP tinyllm_ready 1 once the model is loaded and the slots are up.\n# TYPE tinyllm_ready gauge\ntinyllm_ready %d\n"
        "# HELP tinyllm_slots Slots (requests generated at once).\n# TYPE tinyllm_slots gauge\ntinyllm_slots %d\n"
        "# HELP tinyllm_requests_in_flight Requests running on a slot.\n# TYPE tinyllm_requests_in_flight gauge\n"
        "tinyllm_requests_in_flight %d\n"
        "# HELP tinyllm_requests_queued Requests waiting for a slot.\n# TYPE tinyllm_requests_queued gauge\ntinyllm_requests_queued %d\n"
        "# HELP tinyllm_prompt_tokens_total Prompt tokens evaluated (each with its leading <|endoftext|>).\n"
        "# TYPE tinyllm_prompt_tokens_total counter\ntinyllm_prompt_tokens_total %llu\n"
        "# HELP tinyllm_generated_tokens_total Tokens generated.\n# TYPE tinyllm_generated_tokens_total counter\n"
        "tinyllm_generated_tokens_total %llu\n"
        "# HELP tinyllm_prompt_seconds_total Seconds slots spent evaluating prompts.\n# TYPE tinyllm_prompt_seconds_total counter\n"
        "tinyllm_prompt_seconds_total %.6f\n"
        "# HELP tinyllm_generation_seconds_total Seconds slots spent generating.\n# TYPE tinyllm_generation_seconds_total counter\n"
        "tinyllm_generation_seconds_total %.6f\n"
        "# HELP tinyllm_prompt_tokens_per_second Prompt tokens per second of prompt evaluation, over the server's life.\n"
        "# TYPE tinyllm_prompt_tokens_per_second gauge\ntinyllm_prompt_tokens_per_second %.3f\n"
        "# HELP tinyllm_generated_tokens_per_second Generated tokens per second of generation, over the server's life.\n"
        "# TYPE tinyllm_generated_tokens_per_second gauge\ntinyllm_generated_tokens_per_second %.3f\n"
        "# HELP tinyllm_rejected_total Requests turned away by the queue.\n# TYPE tinyllm_rejected_total counter\n"
        "tinyllm_rejected_total{reason=\"queue_full\"} %llu\ntinyllm_rejected_total{reason=\"queue_timeout\"} %llu\n"
        "# HELP tinyllm_cancelled_total Generations stopped or dropped before their end: the client left (or the server stopped).\n# TYPE tinyllm_cancelled_total counter\n"
        "tinyllm_cancelled_total %llu\n"
        "# HELP tinyllm_http_connections Open HTTP connections.\n# TYPE tinyllm_http_connections gauge\ntinyllm_http_connections %d\n"
        "# HELP process_resident_memory_bytes Resident memory.\n# TYPE process_resident_memory_bytes gauge\n"
        "process_resident_memory_bytes %lld\n"
        "# HELP tinyllm_http_requests_total Requests answered, by endpoint and status (499: the client left first).\n"
        "# TYPE tinyllm_http_requests_total counter\n",
        ready, s->n_slots, running, queued, m.prompt_tokens, m.gen_tokens, m.prompt_s, m.gen_s, m.prompt_s > 0 ? m.prompt_tokens / m.prompt_s : 0.0,
        m.gen_s > 0 ? m.gen_tokens / m.gen_s : 0.0, m.rejected_full, m.rejected_timeout, m.cancelled, m.connections,
        (long long)pages * sysconf(_SC_PAGESIZE));
    for (int ep = 0; !rc && ep < TL_EP_COUNT; ep++)
        for (int c = 0; !rc && c < TL_N_CODES; c++)
            if (m.requests[ep][c]) {
                char code[16];
                if (tl_status_codes[c]) snprintf(code, sizeof code, "%d", tl_status_codes[c]);
                else snprintf(code, sizeof code, "other");
                rc = tl_buf_appendf(b, e, "tinyllm_http_requests_total{endpoint=\"%s\",code=\"%s\"} %llu\n", tl_endpoint_names[ep], code, m.requests[ep][c]);
            }
    return rc;
}

/* ---- dispatch ---- */

enum MHD_Result tl_api_handle(tl_req *r) {
    struct tl_serve *s = r->s;
    if (r->ep == TL_EP_MODELS) return tl_respond_json(r, 200, json_pack("{s:s,s:[o]}", "object", "list", "data", model_object(s)));
    if (r->ep == TL_EP_MODEL) {
        const char *id = r->path + strlen("/v1/models/");
        if (!strcmp(id, s->cfg.model_id)) return tl_respond_json(r, 200, model_object(s));
        tl_apierr a;
        tl_apierr_set(&a, 404, "invalid_request_error", "model_not_found", "model", "no model '%.64s' here (this server serves '%.64s')", id,
                      s->cfg.model_id);
        return tl_respond_error(r, &a);
    }
    tl_apierr a;
    json_t *o = tl_params_parse(s, r->body.p, r->body.n, &a);
    if (!o) return tl_respond_error(r, &a);
    enum MHD_Result res;
    switch (r->ep) {
    case TL_EP_COMPLETIONS:
    case TL_EP_CHAT:
    case TL_EP_COMPLETION: res = generate(r, o); break;
    case TL_EP_CLASSIFY: res = classify(r, o); break;
    case TL_EP_TOKENIZE: res = tokenize(r, o); break;
    case TL_EP_DETOKENIZE: res = detokenize(r, o); break;
    default:
        tl_apierr_set(&a, 404, "invalid_request_error", "unknown_url", NULL, "no endpoint here");
        res = tl_respond_error(r, &a);
    }
    json_decref(o);
    return res;
}
