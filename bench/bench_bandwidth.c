/* Memory read bandwidth, the ceiling of decode: bench_bandwidth [MB] [THREADS]. Each thread sums
 * its share of a buffer (default 512 MB, far past the last-level cache) with 16-lane vector loads;
 * prints GB/s, best of 7 passes. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "base/vmath.h"

typedef struct part {
    const int32_t *p;
    size_t n;
    long long sum;
} part;

/* integer adds: one cycle of latency, so the loads, not the sums, set the pace */
static void *sum_part(void *arg) {
    part *t = arg;
    vi16 acc[4] = {{0}};
    for (size_t i = 0; i + 64 <= t->n; i += 64)
        for (int k = 0; k < 4; k++) {
            vi16 v;
            memcpy(&v, t->p + i + 16 * k, sizeof v);
            acc[k] += v;
        }
    t->sum = 0;
    for (int k = 0; k < 4; k++)
        for (int l = 0; l < 16; l++) t->sum += acc[k][l];
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
    printf("%.2f\n", (double)(n * sizeof *buf) / best / 1e9);
    fprintf(stderr, "bench_bandwidth: %zu MB, %d threads: %.2f GB/s (checksum %lld)\n", mb, nt, (double)(n * sizeof *buf) / best / 1e9, check);
    free(buf);
    return 0;
}
