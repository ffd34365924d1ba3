/* tl_pool: every item of every job runs exactly once, with 0 (sequential) to 7 workers, with
 * several jobs in flight, and the submitter can work between submit and wait. */
#include <stdatomic.h>
#include <stdlib.h>

#include "base/pool.h"
#include "check.h"

typedef struct count {
    atomic_int *hits;
    int base;
} count;

static void hit(void *ctx, int i) {
    count *c = ctx;
    atomic_fetch_add(&c->hits[c->base + i], 1);
}

int main(void) {
    for (int workers = 0; workers < 8; workers++) {
        tl_pool *p;
        tl_err e;
        CHECK(tl_pool_init(&p, workers, &e) == 0, "%s", e.msg);
        enum { JOBS = 5, N = 1000 };
        atomic_int *hits = calloc(JOBS * N, sizeof *hits);
        count ctx[JOBS];
        tl_job jobs[JOBS];
        for (int round = 0; round < 20; round++) {
            for (int j = 0; j < JOBS; j++) {
                ctx[j] = (count){hits, j * N};
                jobs[j] = (tl_job){.fn = hit, .ctx = &ctx[j], .n = j == 2 ? 0 : N - 37 * j};
                tl_pool_submit(p, &jobs[j]);
            }
            for (int j = JOBS - 1; j >= 0; j--) tl_pool_wait(p, &jobs[j]); /* any order */
        }
        int bad = 0;
        for (int j = 0; j < JOBS; j++)
            for (int i = 0; i < N; i++) {
                int want = j == 2 || i >= N - 37 * j ? 0 : 20;
                bad += atomic_load(&hits[j * N + i]) != want;
            }
        CHECK(bad == 0, "%d workers: %d items ran a wrong number of times", workers, bad);
        free(hits);
        tl_pool_free(p);
    }
    CHECK_DONE();
}
