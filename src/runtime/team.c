/* The runtime's thread team (contract in team.h).
 *
 * A job is published in one of two slots, then a 64-bit ticket = epoch << 32 | next chunk. A thread
 * claims chunk c by a compare-and-swap of (epoch, c) -> (epoch, c + 1); a successful swap proves the
 * job is still the current one (it cannot finish, nor its slot be reused, while a chunk is
 * unclaimed), so what the thread read from the slot is that job's. The caller returns when the
 * job's count of finished chunks reaches its number of chunks. */
#include "runtime/team.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#elif defined(__aarch64__)
#define cpu_relax() __asm__ __volatile__("yield")
#else
#define cpu_relax() ((void)0)
#endif

/* How long a waiting thread spins before it sleeps: long enough to bridge the gap between two
 * kernels of a decode step, short enough that a preempted partner costs little. */
#define SPIN_NS 50000

typedef void (*job_fn)(void *ctx, long lo, long hi, int slot);

typedef struct job {
    _Atomic(job_fn) fn;
    _Atomic(void *) ctx;
    atomic_long n, chunk, n_chunks, done;
} job;

struct tl_team {
    int n;
    pthread_t *threads;
    job jobs[2];             /* epoch e uses jobs[e & 1] */
    atomic_uint_least64_t ticket;
    atomic_int sleepers;     /* threads blocked (or about to block) on cv */
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct worker_arg {
    tl_team *t;
    int slot;
} worker_arg;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits until done(t, arg) holds: spins up to SPIN_NS, then sleeps on the team's cv (whoever makes
 * it true calls wake). */
static void wait_until(tl_team *t, int (*done)(tl_team *, uint64_t), uint64_t arg) {
    long long t0 = 0;
    for (unsigned k = 0;; k++) {
        if (done(t, arg)) return;
        cpu_relax();
        if ((k & 127) == 127) {
            long long now = now_ns();
            if (!t0) t0 = now;
            else if (now - t0 > SPIN_NS) break;
        }
    }
    pthread_mutex_lock(&t->mu);
    atomic_fetch_add(&t->sleepers, 1);
    atomic_thread_fence(memory_order_seq_cst); /* pairs with wake(): one of us sees the other */
    while (!done(t, arg)) pthread_cond_wait(&t->cv, &t->mu);
    atomic_fetch_sub(&t->sleepers, 1);
    pthread_mutex_unlock(&t->mu);
}

static void wake(tl_team *t) {
    atomic_thread_fence(memory_order_seq_cst);
    if (atomic_load(&t->sleepers) == 0) return;
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
}

static int epoch_moved(tl_team *t, uint64_t seen) {
    return (atomic_load_explicit(&t->ticket, memory_order_acquire) >> 32) != seen || atomic_load(&t->stop);
}

static int job_done(tl_team *t, uint64_t epoch) {
    job *j = &t->jobs[epoch & 1];
    return atomic_load_explicit(&j->done, memory_order_acquire) == atomic_load_explicit(&j->n_chunks, memory_order_relaxed);
}

/* Claims and runs chunks of job `epoch` until none is left. */
static void work(tl_team *t, uint64_t epoch, int slot) {
    job *j = &t->jobs[epoch & 1];
    for (;;) {
        uint64_t tk = atomic_load_explicit(&t->ticket, memory_order_acquire);
        job_fn fn = atomic_load_explicit(&j->fn, memory_order_relaxed);
        void *ctx = atomic_load_explicit(&j->ctx, memory_order_relaxed);
        long n = atomic_load_explicit(&j->n, memory_order_relaxed), chunk = atomic_load_explicit(&j->chunk, memory_order_relaxed);
        long nc = atomic_load_explicit(&j->n_chunks, memory_order_relaxed);
        long c = (long)(tk & 0xFFFFFFFFu);
        if ((tk >> 32) != epoch || c >= nc) return;
        if (!atomic_compare_exchange_weak_explicit(&t->ticket, &tk, tk + 1, memory_order_acq_rel, memory_order_relaxed)) continue;
        long lo = c * chunk, hi = lo + chunk < n ? lo + chunk : n;
        fn(ctx, lo, hi, slot);
        if (atomic_fetch_add_explicit(&j->done, 1, memory_order_acq_rel) + 1 == nc) wake(t);
    }
}

static void *worker(void *p) {
    worker_arg *a = p;
    tl_team *t = a->t;
    int slot = a->slot;
    free(a);
    uint64_t seen = 0;
    for (;;) {
        wait_until(t, epoch_moved, seen);
        if (atomic_load(&t->stop)) return NULL;
        seen = atomic_load_explicit(&t->ticket, memory_order_acquire) >> 32;
        work(t, seen, slot);
    }
}

int tl_team_init(tl_team **out, int n, tl_err *e) {
    *out = NULL;
    if (n < 1 || n > 1024) return tl_errf(e, "threads must be 1..1024, not %d", n);
    tl_team *t = tl_calloc(1, sizeof *t, e);
    if (!t) return -1;
    t->n = 1;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (n > 1 && !(t->threads = tl_calloc((size_t)n - 1, sizeof *t->threads, e))) {
        tl_team_free(t);
        return -1;
    }
    for (int i = 1; i < n; i++, t->n++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) *a = (worker_arg){t, i};
        if (!a || pthread_create(&t->threads[i - 1], NULL, worker, a)) {
            free(a);
            tl_team_free(t);
            return tl_errf(e, "cannot start thread %d of %d", i + 1, n);
        }
    }
    *out = t;
    return 0;
}

void tl_team_free(tl_team *t) {
    if (!t) return;
    atomic_store(&t->stop, 1);
    pthread_mutex_lock(&t->mu);
    pthread_cond_broadcast(&t->cv);
    pthread_mutex_unlock(&t->mu);
    for (int i = 1; i < t->n; i++) pthread_join(t->threads[i - 1], NULL);
    pthread_mutex_destroy(&t->mu);
    pthread_cond_destroy(&t->cv);
    free(t->threads);
    free(t);
}

int tl_team_size(const tl_team *t) { return t->n; }

void tl_team_for(tl_team *t, long n, long chunk, void (*fn)(void *ctx, long lo, long hi, int slot), void *ctx) {
    if (n <= 0) return;
    if (chunk < 1) chunk = 1;
    if (t->n == 1) {
        for (long lo = 0; lo < n; lo += chunk) fn(ctx, lo, lo + chunk < n ? lo + chunk : n, 0);
        return;
    }
    uint64_t epoch = (atomic_load_explicit(&t->ticket, memory_order_relaxed) >> 32) + 1;
    job *j = &t->jobs[epoch & 1];
    atomic_store_explicit(&j->fn, fn, memory_order_relaxed);
    atomic_store_explicit(&j->ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&j->n, n, memory_order_relaxed);
    atomic_store_explicit(&j->chunk, chunk, memory_order_relaxed);
    atomic_store_explicit(&j->n_chunks, (n + chunk - 1) / chunk, memory_order_relaxed);
    atomic_store_explicit(&j->done, 0, memory_order_relaxed);
    atomic_store_explicit(&t->ticket, (epoch & 0xFFFFFFFFu) << 32, memory_order_release);
    wake(t);
    work(t, epoch & 0xFFFFFFFFu, 0);
    wait_until(t, job_done, epoch & 0xFFFFFFFFu);
}
