/* A team of threads for the runtime's kernels: a loop over n items cut into chunks that whichever
 * thread is free claims, the caller taking part. Microsecond-scale jobs (a decode step is a few
 * hundred of them): waiting threads spin a bounded time, then sleep on a condition variable; the
 * caller waits only for chunks that have started, never for a worker that is asleep or preempted,
 * so a busy neighbour on an oversubscribed machine slows a job by at most a chunk.
 *
 * Each item is computed by one thread with the same code whichever thread that is, so results do
 * not depend on the thread count or on scheduling. */
#ifndef TL_RUNTIME_TEAM_H
#define TL_RUNTIME_TEAM_H

#include "base/err.h"

typedef struct tl_team tl_team;

/* n threads in all (n - 1 workers are started); n >= 1. */
int tl_team_init(tl_team **out, int n, tl_err *e);
void tl_team_free(tl_team *t);
int tl_team_size(const tl_team *t);
/* Runs fn(ctx, lo, hi, slot) over [0, n) in chunks of `chunk` items ([lo, hi), the last one
 * shorter); slot (0..size-1) names the running thread, for per-thread scratch. Returns when every
 * chunk has run. Not reentrant: fn must not call tl_team_for on the same team. */
void tl_team_for(tl_team *t, long n, long chunk, void (*fn)(void *ctx, long lo, long hi, int slot), void *ctx);

#endif
