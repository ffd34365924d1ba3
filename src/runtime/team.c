/* The runtime's thread team: a generation counter to start a job, a countdown to join it, bounded
 * spinning then condition-variable sleep on both sides (contract in team.h). */
#include "runtime/team.h"

#include <pthread.h>
#include <stdatomic.h>
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
#define SPIN_NS 100000

struct tl_team {
    int n;
    pthread_t *threads;
    void (*fn)(void *ctx, int i, int n);
    void *ctx;
    atomic_uint gen;      /* bumped to start a job; workers wait for it to change */
    atomic_int pending;   /* workers still running the current job */
    atomic_int sleepers;  /* threads blocked (or about to block) on cv */
    atomic_int stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

typedef struct worker_arg {
    tl_team *t;
    int i;
} worker_arg;

static long long now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* Waits until done(t, arg) holds: spins up to SPIN_NS, then sleeps on the team's cv (whoever makes
 * it true broadcasts when sleepers > 0). */
static void wait_until(tl_team *t, int (*done)(tl_team *, unsigned), unsigned arg) {
    long long t0 = 0;
    for (unsigned k = 0;; k++) {
        if (done(t, arg)) return;
        cpu_relax();
        if ((k & 255) == 255) {
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

static int gen_moved(tl_team *t, unsigned seen) { return atomic_load_explicit(&t->gen, memory_order_acquire) != seen; }
static int all_done(tl_team *t, unsigned unused) {
    (void)unused;
    return atomic_load_explicit(&t->pending, memory_order_acquire) == 0;
}

static void *worker(void *p) {
    worker_arg *a = p;
    tl_team *t = a->t;
    int i = a->i;
    free(a);
    unsigned seen = 0;
    for (;;) {
        wait_until(t, gen_moved, seen);
        seen = atomic_load_explicit(&t->gen, memory_order_acquire);
        if (atomic_load(&t->stop)) return NULL;
        t->fn(t->ctx, i, t->n);
        if (atomic_fetch_sub_explicit(&t->pending, 1, memory_order_acq_rel) == 1) wake(t);
    }
}

int tl_team_init(tl_team **out, int n, tl_err *e) {
    *out = NULL;
    if (n < 1 || n > 1024) return tl_errf(e, "threads must be 1..1024, not %d", n);
    tl_team *t = tl_calloc(1, sizeof *t, e);
    if (!t) return -1;
    t->n = n;
    pthread_mutex_init(&t->mu, NULL);
    pthread_cond_init(&t->cv, NULL);
    if (n > 1 && !(t->threads = tl_calloc((size_t)n - 1, sizeof *t->threads, e))) {
        tl_team_free(t);
        return -1;
    }
    for (int i = 1; i < n; i++) {
        worker_arg *a = malloc(sizeof *a);
        if (a) *a = (worker_arg){t, i};
        if (!a || pthread_create(&t->threads[i - 1], NULL, worker, a)) {
            free(a);
            t->n = i; /* join only the ones started */
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
    atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
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

void tl_team_run(tl_team *t, void (*fn)(void *ctx, int i, int n), void *ctx) {
    if (t->n == 1) {
        fn(ctx, 0, 1);
        return;
    }
    t->fn = fn;
    t->ctx = ctx;
    atomic_store_explicit(&t->pending, t->n - 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&t->gen, 1, memory_order_release);
    wake(t);
    fn(ctx, 0, t->n);
    wait_until(t, all_done, 0);
}

void tl_team_split(long count, long align, int i, int n, long *lo, long *hi) {
    long units = (count + align - 1) / align, per = units / n, extra = units % n;
    long a = i * per + (i < extra ? i : extra), b = a + per + (i < extra);
    *lo = a * align < count ? a * align : count;
    *hi = b * align < count ? b * align : count;
}
