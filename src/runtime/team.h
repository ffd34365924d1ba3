/* A team of threads for the runtime's kernels: fork/join of one function over n threads, the caller
 * being thread 0. Microsecond-scale joins (a decode step is a few hundred of them): workers spin a
 * bounded time on an atomic generation counter, then sleep on a condition variable, so a busy
 * neighbour on an oversubscribed machine costs a bounded spin instead of a spin forever.
 *
 * Work is split by the thread index, never claimed dynamically, so every output element is computed
 * by the same code in the same order whatever the thread count: results do not depend on it. */
#ifndef TL_RUNTIME_TEAM_H
#define TL_RUNTIME_TEAM_H

#include "base/err.h"

typedef struct tl_team tl_team;

/* n threads in all (n - 1 workers are started); n >= 1. */
int tl_team_init(tl_team **out, int n, tl_err *e);
void tl_team_free(tl_team *t);
int tl_team_size(const tl_team *t);
/* Runs fn(ctx, i, n) for i = 0..n-1, i = 0 on the calling thread; returns when all have returned.
 * Not reentrant: fn must not call tl_team_run on the same team. */
void tl_team_run(tl_team *t, void (*fn)(void *ctx, int i, int n), void *ctx);
/* The share [*lo, *hi) of thread i of n in 0..count, in whole multiples of `align` except the last. */
void tl_team_split(long count, long align, int i, int n, long *lo, long *hi);

#endif
