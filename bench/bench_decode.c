/* Decode matrix-vector speed of the runtime's kernels, one thread, weights from DRAM:
 *   bench_decode ROWS COLS TYPE [COPIES [KERNELS]]     TYPE: f32, q8_0 or q4_0
 * COPIES matrices of random weights (default or 0: enough for 96 MB, three times a 32 MB L3) are
 * multiplied in turn, 20 rounds, each call timed alone (a call is short, so few are preempted on a
 * shared machine); prints GB/s of weights read at the 10th percentile and the median of the calls,
 * beside the machine's read bandwidth (bench_bandwidth) for the ratio. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "quant/quant.h"
#include "runtime/kernels.h"

static int cmp_d(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: bench_decode ROWS COLS f32|q8_0|q4_0 [COPIES [KERNELS]]\n");
        return 2;
    }
    int rows = atoi(argv[1]), cols = atoi(argv[2]);
    uint32_t type = !strcmp(argv[3], "f32") ? TL_GGML_F32 : !strcmp(argv[3], "q8_0") ? TL_GGML_Q8_0 : TL_GGML_Q4_0;
    const tl_kernels *k = argc > 5 ? tl_kernels_get(argv[5]) : tl_kernels_best();
    if (rows < 1 || cols < 32 || cols % 32 || !k) {
        fprintf(stderr, "bench_decode: ROWS >= 1, COLS a multiple of 32, and a kernel set this CPU runs\n");
        return 2;
    }
    size_t rb = (size_t)tl_ggml_row_bytes(type, (uint64_t)cols);
    size_t bytes = type == TL_GGML_F32 ? rb * (size_t)rows : tl_wmat_packed_bytes(type, rows, cols);
    int n = argc > 4 ? atoi(argv[4]) : 0;
    if (n <= 0) n = (int)(96e6 / (double)bytes) + 1; /* 0: the default */
    tl_wmat *w = calloc((size_t)n, sizeof *w);
    float *row = malloc(sizeof(float) * (size_t)cols), *x = malloc(sizeof(float) * (size_t)cols), *y = malloc(sizeof(float) * (size_t)rows);
    int8_t *q = calloc((size_t)cols + 64, 1);
    float *d = calloc((size_t)cols / 32 + 16, sizeof(float));
    double *ts = malloc(sizeof(double) * 20 * (size_t)n);
    if (!w || !row || !x || !y || !q || !d || !ts) return 1;
    srand(7);
    for (int i = 0; i < n; i++) {
        unsigned char *raw = malloc(rb * (size_t)rows), *arena = type == TL_GGML_F32 ? NULL : malloc(bytes);
        if (!raw || (type != TL_GGML_F32 && !arena)) return 1;
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) row[c] = (float)(rand() % 2001 - 1000) / 1000.0f;
            tl_quant_row(type, row, (size_t)cols, raw + (size_t)r * rb);
        }
        w[i] = tl_wmat_pack(type, rows, cols, raw, arena);
        if (arena) free(raw); /* f32 is used in place */
    }
    for (int c = 0; c < cols; c++) x[c] = (float)(rand() % 2001 - 1000) / 500.0f;
    tl_act a = {1, cols, x, q, d};
    int m = 0;
    for (int round = 0; round < 20; round++)
        for (int i = 0; i < n; i++) {
            double t0 = tl_now();
            if (type != TL_GGML_F32) k->quantize(x, cols, q, d);
            k->matmul(&w[i], 0, rows, &a, NULL, y, rows);
            ts[m++] = tl_now() - t0;
        }
    qsort(ts, (size_t)m, sizeof *ts, cmp_d);
    printf("%s %dx%d %s (%d copies): p10 %.1f GB/s, median %.1f GB/s\n", k->name, rows, cols, argv[3], n,
           (double)bytes / ts[m / 10] / 1e9, (double)bytes / ts[m / 2] / 1e9);
    return 0;
}
