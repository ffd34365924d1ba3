/* Worker pool: a FIFO of jobs, items claimed under one mutex, the waiter helps with its own job. */
#include "base/pool.h"

#include <pthread.h>
#include <stdlib.h>

struct tl_pool {
    pthread_mutex_t mu;
    pthread_cond_t work, done;
    tl_job *head, *tail; /* jobs with unclaimed items */
    int stop, n;
    pthread_t th[];
};

/* Claims the next item of the first queued job (caller holds mu); the job leaves the queue when
 * its last item is claimed. Returns the job or NULL. */
static tl_job *claim(tl_pool *p, tl_job *only, int *item) {
    tl_job *j = p->head;
    if (only) j = only->next < only->n ? only : NULL;
    if (!j) return NULL;
    *item = j->next++;
    if (j->next == j->n) { /* unlink */
        tl_job **pp = &p->head, *prev = NULL;
        while (*pp != j) prev = *pp, pp = &(*pp)->queued;
        *pp = j->queued;
        if (p->tail == j) p->tail = prev;
    }
    return j;
}

static void run_item(tl_pool *p, tl_job *j, int item) {
    pthread_mutex_unlock(&p->mu);
    j->fn(j->ctx, item);
    pthread_mutex_lock(&p->mu);
    if (++j->done == j->n) pthread_cond_broadcast(&p->done);
}

static void *worker(void *arg) {
    tl_pool *p = arg;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        int item;
        tl_job *j = claim(p, NULL, &item);
        if (j) run_item(p, j, item);
        else if (p->stop) break;
        else pthread_cond_wait(&p->work, &p->mu);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

int tl_pool_init(tl_pool **out, int workers, tl_err *e) {
    if (workers < 0) workers = 0;
    tl_pool *p = tl_calloc(1, sizeof *p + sizeof(pthread_t) * (size_t)workers, e);
    if (!p) return -1;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->work, NULL);
    pthread_cond_init(&p->done, NULL);
    for (; p->n < workers; p->n++)
        if (pthread_create(&p->th[p->n], NULL, worker, p)) {
            int failed = p->n + 1; /* p is freed next */
            tl_pool_free(p);
            return tl_errf(e, "cannot start worker thread %d of %d", failed, workers);
        }
    *out = p;
    return 0;
}

void tl_pool_free(tl_pool *p) {
    if (!p) return;
    pthread_mutex_lock(&p->mu);
    p->stop = 1;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
    for (int i = 0; i < p->n; i++) pthread_join(p->th[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->work);
    pthread_cond_destroy(&p->done);
    free(p);
}

void tl_pool_submit(tl_pool *p, tl_job *j) {
    j->next = j->done = 0;
    j->queued = NULL;
    if (j->n <= 0) return;
    pthread_mutex_lock(&p->mu);
    if (p->tail) p->tail->queued = j;
    else p->head = j;
    p->tail = j;
    pthread_cond_broadcast(&p->work);
    pthread_mutex_unlock(&p->mu);
}

void tl_pool_wait(tl_pool *p, tl_job *j) {
    if (j->n <= 0) return;
    pthread_mutex_lock(&p->mu);
    int item;
    while (claim(p, j, &item)) run_item(p, j, item);
    while (j->done < j->n) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
}
