/* Slots and the queue: each slot is a thread with its own tl_ctx (KV cache + compute threads) taking
 * jobs in arrival order from one bounded queue; a request waits on its job with the queue timeout
 * and a look at its connection every 100 ms, so a client that leaves cancels its job (internal.h). */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "serve/internal.h"

tl_job *tl_job_new(struct tl_serve *s, tl_job_kind kind, tl_err *e) {
    tl_job *j = tl_calloc(1, sizeof *j, e);
    if (!j) return NULL;
    j->s = s;
    j->kind = kind;
    j->slot = -1;
    j->refs = 1;
    j->best = -1;
    j->gp = tl_gen_default();
    j->gp.stop = (const char *const *)j->stop;
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&j->cv, &ca);
    pthread_condattr_destroy(&ca);
    return j;
}

void tl_job_unref_locked(tl_job *j) {
    if (!j || --j->refs > 0) return;
    pthread_cond_destroy(&j->cv);
    free(j->prompt);
    for (int i = 0; i < TL_SERVE_MAX_STOP; i++) free(j->stop[i]);
    for (int i = 0; i < j->n_labels; i++) free(j->labels[i]);
    free(j->labels);
    free(j->logprob);
    free(j->prob);
    tl_buf_free(&j->text);
    free(j);
}

int tl_job_submit(tl_job *j, tl_apierr *a) {
    struct tl_serve *s = j->s;
    pthread_mutex_lock(&s->mu);
    int rc = 0;
    if (s->stopping) rc = tl_apierr_set(a, 503, "server_error", "shutting_down", NULL, "the server is shutting down");
    else if (s->queued >= s->cfg.queue_max) {
        s->met.rejected_full++;
        rc = tl_apierr_set(a, 429, "rate_limit_error", "queue_full",
                           NULL, "all %d slots are busy and %d requests are waiting (the queue's bound): retry later", s->n_slots, s->queued);
    } else {
        j->state = TL_JOB_QUEUED;
        j->t_submit = tl_now();
        j->refs++;
        if (s->tail) s->tail->next = j;
        else s->head = j;
        s->tail = j;
        s->queued++;
        pthread_cond_signal(&s->work);
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Takes j out of the queue (s->mu held); 0 when it was not there. */
static int unqueue(struct tl_serve *s, tl_job *j) {
    for (tl_job **p = &s->head, *prev = NULL; *p; prev = *p, p = &(*p)->next)
        if (*p == j) {
            *p = j->next;
            if (s->tail == j) s->tail = prev;
            j->next = NULL;
            s->queued--;
            return 1;
        }
    return 0;
}

static struct timespec after(double seconds) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    long long ns = t.tv_nsec + (long long)(seconds * 1e9);
    t.tv_sec += (time_t)(ns / 1000000000);
    t.tv_nsec = (long)(ns % 1000000000);
    return t;
}

int tl_job_wait(tl_req *r, tl_job *j, int until_done, tl_apierr *a) {
    struct tl_serve *s = j->s;
    int rc = 0;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        if (j->state == TL_JOB_DONE || (!until_done && j->state == TL_JOB_RUNNING)) break;
        if (s->stopping) {
            rc = -2;
        } else if (j->state == TL_JOB_QUEUED && tl_now() - j->t_submit > s->cfg.queue_timeout_s) {
            s->met.rejected_timeout++;
            tl_apierr_set(a, 503, "server_error", "queue_timeout", NULL, "no slot became free within %g s (the queue timeout): retry later",
                          s->cfg.queue_timeout_s);
            rc = -1;
        } else {
            struct timespec t = after(0.1);
            pthread_cond_timedwait(&j->cv, &s->mu, &t);
            if (j->state == TL_JOB_DONE || (!until_done && j->state == TL_JOB_RUNNING)) break;
            pthread_mutex_unlock(&s->mu);
            int alive = tl_client_alive(r);
            pthread_mutex_lock(&s->mu);
            if (alive) continue;
            rc = -2;
        }
        /* give up on the job: out of the queue, or told to stop at its next token */
        j->cancel = 1;
        if (j->state == TL_JOB_QUEUED && unqueue(s, j)) {
            if (rc == -2) s->met.cancelled++;
            j->state = TL_JOB_DONE;
            tl_job_unref_locked(j); /* the slot's reference */
        }
        break;
    }
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* Streams generated text into the job; a non-zero return cancels the generation. */
static int on_text(void *user, const char *text, size_t len) {
    tl_job *j = user;
    struct tl_serve *s = j->s;
    tl_err e;
    pthread_mutex_lock(&s->mu);
    int stop = j->cancel || s->stopping || tl_buf_append(&j->text, text, len, &e);
    pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    return stop;
}

static void run(tl_slot *sl, tl_job *j) {
    if (j->kind == TL_JOB_GENERATE) {
        j->gp.on_text = on_text;
        j->gp.user = j;
        j->failed = tl_generate(sl->ctx, j->prompt, &j->gp, &j->res, &j->err) != 0;
    } else {
        double t0 = tl_now();
        j->best = tl_classify(sl->ctx, j->prompt, (const char *const *)j->labels, j->n_labels, j->suffix, j->logprob, j->prob, &j->err);
        j->failed = j->best < 0;
        j->res.n_prompt = tl_ctx_pos(sl->ctx); /* the prompt's tokens, the labels rewound */
        j->res.prefill_s = tl_now() - t0;
    }
}

static void *slot_main(void *arg) {
    tl_slot *sl = arg;
    struct tl_serve *s = sl->s;
    pthread_mutex_lock(&s->mu);
    for (;;) {
        while (!s->head && !s->stopping) pthread_cond_wait(&s->work, &s->mu);
        if (s->stopping) break;
        tl_job *j = s->head;
        unqueue(s, j);
        j->state = TL_JOB_RUNNING;
        j->slot = sl->id;
        j->t_start = tl_now();
        s->running++;
        pthread_cond_broadcast(&j->cv);
        int skip = j->cancel;
        pthread_mutex_unlock(&s->mu);
        if (!skip) run(sl, j);
        pthread_mutex_lock(&s->mu);
        j->t_end = tl_now();
        j->state = TL_JOB_DONE;
        s->running--;
        if (skip || (!j->failed && j->res.finish == TL_FINISH_CANCEL)) s->met.cancelled++;
        if (!skip && !j->failed) {
            s->met.prompt_tokens += (unsigned long long)j->res.n_prompt;
            s->met.gen_tokens += (unsigned long long)j->res.n_gen;
            s->met.prompt_s += j->res.prefill_s;
            s->met.gen_s += j->res.gen_s;
        }
        pthread_cond_broadcast(&j->cv);
        tl_job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

int tl_slots_start(struct tl_serve *s, tl_err *e) {
    if (!(s->slots = tl_calloc((size_t)s->n_slots, sizeof *s->slots, e))) return -1;
    for (int i = 0; i < s->n_slots; i++) {
        tl_slot *sl = &s->slots[i];
        sl->s = s;
        sl->id = i;
        if (tl_ctx_init_kernels(&sl->ctx, s->m, s->cfg.n_ctx, s->cfg.n_threads, s->cfg.kernels, e)) return tl_err_wrap(e, "slot %d", i);
        int err = pthread_create(&sl->thread, NULL, slot_main, sl);
        if (err) return tl_errf(e, "slot %d: cannot start its thread: %s", i, strerror(err));
        sl->started = 1;
    }
    s->n_ctx = tl_ctx_n_ctx(s->slots[0].ctx);
    return 0;
}

void tl_slots_stop(struct tl_serve *s) {
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    pthread_cond_broadcast(&s->work);
    for (tl_job *j = s->head; j; j = j->next) pthread_cond_broadcast(&j->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; s->slots && i < s->n_slots; i++) {
        if (s->slots[i].started) pthread_join(s->slots[i].thread, NULL);
        tl_ctx_free(s->slots[i].ctx);
    }
    /* jobs still queued lose the slots' references (their requests hold their own) */
    pthread_mutex_lock(&s->mu);
    while (s->head) {
        tl_job *j = s->head;
        unqueue(s, j);
        j->state = TL_JOB_DONE;
        pthread_cond_broadcast(&j->cv);
        tl_job_unref_locked(j);
    }
    pthread_mutex_unlock(&s->mu);
    free(s->slots);
    s->slots = NULL;
}
