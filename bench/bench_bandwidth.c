/* Memory read bandwidth, the ceiling of decode: bench_bandwidth [MB] [THREADS]. Each thread sums
 * its share of a buffer (default 512 MB, far past the last-level cache) with 32-byte vector loads,
 * as STREAMS interleaved sequential streams; prints GB/s, best of 7 passes. (On a 2-core AMD EPYC
 * of family 23, 1 thread: the earlier version, one stream with accumulators GCC kept in memory,
 * 9.9 GB/s; this one 16-20 GB/s, more than the 12 GB/s our f32 decode reads there.) */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"

typedef struct part {
    const int32_t *p;
    size_t n;
    long long sum;
} part;

#define STREAMS 8
typedef int32_t vi8 __attribute__((vector_size(32)));

/* integer adds: one cycle of latency, so the loads, not the sums, set the pace; one 32-byte
 * accumulator a stream, so that all of them stay in registers; 32-byte loads where the CPU has them */
#if defined(__x86_64__)
__attribute__((target_clones("avx2", "default")))
#endif
static void *sum_part(void *arg) {
    part *t = arg;
    size_t seg = t->n / STREAMS / 16 * 16;
    vi8 acc[STREAMS] = {{0}};
    for (size_t i = 0; i < seg; i += 16)
        #pragma GCC unroll 8
        for (int k = 0; k < STREAMS; k++) {
            vi8 a, b;
            memcpy(&a, t->p + (size_t)k * seg + i, sizeof a);
            memcpy(&b, t->p + (size_t)k * seg + i + 8, sizeof b);
            acc[k] += a + b;
        }
    t->sum = 0;
    for (int k = 0; k < STREAMS; k++)
        for (int l = 0; l < 8; l++) t->sum += acc[k][l];
    return NULL;
}

int main(int argc, char **argv) {
    size_t mb = argc > 1 ? (size_t)atol(argv[1]) : 512;
    int nt = argc > 2 ? atoi(argv[2]) : 1;
    if (mb < 1 || nt < 1 || nt > 256) return fprintf(stderr, "usage: bench_bandwidth [MB] [THREADS]\n"), 2;
    size_t n = mb << 18; /* floats */
    int32_t *buf = NULL; /* cache-line aligned: split loads would halve the rate */
    if (posix_memalign((void **)&buf, 64, n * sizeof *buf)) buf = NULL;
    if (!buf) return fprintf(stderr, "bench_bandwidth: out of memory\n"), 1;
    for (size_t i = 0; i < n; i++) buf[i] = (int32_t)(i & 1023);
    part parts[256];
    pthread_t th[256];
    double best = 1e30;
    long long check = 0;
    for (int pass = 0; pass < 7; pass++) {
        double t0 = tl_now();
        for (int i = 0; i < nt; i++) {
            parts[i] = (part){buf + n / nt * i, n / nt, 0};
            pthread_create(&th[i], NULL, sum_part, &parts[i]);
        }
        for (int i = 0; i < nt; i++) pthread_join(th[i], NULL), check += parts[i].sum;
        double dt = tl_now() - t0;
        if (dt < best) best = dt;
    }
    double bytes = (double)(n / nt / STREAMS / 16 * 16 * STREAMS) * nt * sizeof *buf; /* what the threads read */
    printf("%.2f\n", bytes / best / 1e9);
    fprintf(stderr, "bench_bandwidth: %zu MB, %d threads x %d streams: %.2f GB/s (checksum %lld)\n", mb, nt, STREAMS, bytes / best / 1e9, check);
    free(buf);
    return 0;
}
