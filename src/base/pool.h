/* A persistent pool of worker threads that runs jobs of n independent items, asynchronously:
 * submit a job, go on with other work, then wait for it. The waiting thread runs unclaimed items
 * of the job itself, so a pool of 0 workers is plain sequential execution and n threads of work
 * need only n - 1 workers. Items are claimed one at a time under a mutex: meant for items of
 * microseconds or more (documents to tokenize), not for fine-grained loops. */
#ifndef TL_BASE_POOL_H
#define TL_BASE_POOL_H

#include "base/err.h"

typedef struct tl_pool tl_pool;

typedef struct tl_job {
    void (*fn)(void *ctx, int item); /* runs on any thread, items in any order */
    void *ctx;
    int n;
    /* owned by the pool */
    int next, done;
    struct tl_job *queued;
} tl_job;

int tl_pool_init(tl_pool **out, int workers, tl_err *e);
/* Stops and joins the workers; no job may be pending. */
void tl_pool_free(tl_pool *p);
/* Queues a job (fn, ctx and n set by the caller); the job must stay alive until tl_pool_wait. */
void tl_pool_submit(tl_pool *p, tl_job *j);
/* Returns when every item of j has run, running unclaimed items on the calling thread. */
void tl_pool_wait(tl_pool *p, tl_job *j);

#endif
