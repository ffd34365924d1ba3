/* The runtime's thread team: every item of every job runs exactly once, on a valid slot, for 1..8
 * threads on this small machine (oversubscribed on purpose), over 500 back-to-back jobs per configuration of
 * varying size and chunking, with and without a neighbour thread hogging a core; nothing here is
 * timed. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "runtime/team.h"

typedef struct job_ctx {
    atomic_int *hits;  /* per item */
    int size;          /* team size: slots must be below it */
    atomic_int bad_slot;
} job_ctx;

static void count(void *p, long lo, long hi, int slot) {
    job_ctx *j = p;
    if (slot < 0 || slot >= j->size) atomic_fetch_add(&j->bad_slot, 1);
    for (long i = lo; i < hi; i++) atomic_fetch_add(&j->hits[i], 1);
}

static atomic_int hog_stop;
static void *hog(void *p) {
    (void)p;
    volatile unsigned long x = 0;
    while (!atomic_load(&hog_stop)) x++;
    return NULL;
}

int main(void) {
    enum { MAXN = 5000 };
    atomic_int *hits = calloc(MAXN, sizeof *hits);
    for (int with_hog = 0; with_hog < 2; with_hog++) {
        pthread_t h;
        atomic_store(&hog_stop, 0);
        if (with_hog) pthread_create(&h, NULL, hog, NULL);
        for (int n = 1; n <= 8; n *= 2) {
            tl_team *t;
            tl_err e;
            CHECK(tl_team_init(&t, n, &e) == 0, "init %d: %s", n, e.msg);
            CHECK(tl_team_size(t) == n, "size");
            int wrong = 0;
            for (int k = 0; k < 500; k++) {
                long items = 1 + (k * 7919) % MAXN, chunk = 1 + k % 97;
                memset(hits, 0, sizeof *hits * (size_t)items);
                job_ctx j = {hits, n, 0};
                tl_team_for(t, items, chunk, count, &j);
                for (long i = 0; i < items; i++) wrong += atomic_load(&hits[i]) != 1;
                wrong += atomic_load(&j.bad_slot);
            }
            CHECK(wrong == 0, "%d threads%s: %d items not run exactly once or run on a bad slot", n, with_hog ? " + hog" : "",
                  wrong);
            tl_team_for(t, 0, 4, count, NULL); /* nothing to do: returns */
            tl_team_free(t);
        }
        if (with_hog) {
            atomic_store(&hog_stop, 1);
            pthread_join(h, NULL);
        }
    }
    tl_err e;
    tl_team *t;
    CHECK(tl_team_init(&t, 0, &e) == -1 && strstr(e.msg, "threads"), "0 threads: %s", e.msg);
    free(hits);
    CHECK_DONE();
}
