/* What every SIMD kernel set shares (included by kern_avx2.c, kern_avx512.c, kern_neon.h): a tile's
 * row pointers and stores, and, in kern_drive.h, the loop that walks a matrix product in tiles.
 * A set provides qtile (Q8_0/Q4_0 rows) and ftile (F32/F16 rows): R weight rows x TT tokens,
 * constants at each call so the tile's loops unroll, writing out[R][TT] without the bias. */
#ifndef TL_RUNTIME_KERN_TILE_H
#define TL_RUNTIME_KERN_TILE_H

#include "quant/quant.h"
#include "runtime/kernels.h"

#define RMAX 4  /* weight rows per tile, at most */
#define DR 4    /* decode: rows per step (124M q4_0 tg, AVX-512: 1 row 99 tok/s, 2 rows 146) */
#define PF 4096 /* decode: bytes ahead that are asked for before use (124M q8_0 tg: none 87 tok/s, 4 KB 131) */

/* rows r..r+R-1 of w (and their scales when d is given), the ones past r1 repeating the last:
 * computed, never stored */
static inline void tile_rows(const tl_wmat *w, int r, int r1, int R, const unsigned char *rows[RMAX], const uint16_t *d[RMAX]) {
    int nb = w->cols / TL_QK;
    for (int i = 0; i < R; i++) {
        int rr = r + i < r1 ? r + i : r1 - 1;
        rows[i] = (const unsigned char *)w->data + (size_t)rr * w->row_bytes;
        if (d) d[i] = w->d + (size_t)rr * (size_t)nb;
    }
}

/* quantized activations and block scales of tokens t..t+TT-1, the ones past the last repeating it */
static inline void tile_tokens(const tl_act *a, int t, int TT, const int8_t *xr[4], const float *dx[4]) {
    for (int j = 0; j < TT; j++) {
        int tt = t + j < a->T ? t + j : a->T - 1;
        xr[j] = a->q + (size_t)tt * a->K;
        dx[j] = a->d + (size_t)tt * (a->K / TL_QK);
    }
}

static inline void store(float acc[RMAX][4], int R, int TT, int r, int r1, int t, int T, const float *bias, float *y, long ldy) {
    for (int i = 0; i < R && r + i < r1; i++)
        for (int j = 0; j < TT && t + j < T; j++) y[(t + j) * ldy + r + i] = acc[i][j] + (bias ? bias[r + i] : 0);
}

/* Decode streams each matrix once, in order, DR rows at a time, asking for the bytes ahead of use:
 * prefetch_ahead asks for the next rows' bytes a group at a time, PF ahead (or the next group,
 * for groups wider than PF); a set whose integer tiles define KERN_ROW_PREFETCH asks for wide rows
 * as they stream instead, PFW_Q ahead in each row (prefetch_rows, from the tile's inner loop): a
 * whole wide group at once overruns L1 and the memory queue (AVX-512, 124M f32 decode of
 * 768x3072: 16.5 -> 26 GB/s, 1 thread, when float rows were read that way too; the x86 sets now
 * read float rows one at a time: KERN_FROW). Both run on past the caller's last row up to the
 * matrix's, so the next chunk of rows the team hands out starts warm. (Offsets, not pointers:
 * GCC 12 dropped a loop that compared pointers past the rows.) */
#define PFW_Q 8192 /* integer rows, 16 blocks a step (q8_0 768x3072: 2 KB 19, 4 KB 21, 8 KB 25 GB/s) */

static inline void prefetch_ahead(const tl_wmat *w, int r, int n) {
    size_t step = (size_t)n * w->row_bytes, dist = step > PF ? step : PF; /* wide rows: the next group */
    size_t from = (size_t)r * w->row_bytes + dist, to = from + step, end = (size_t)w->rows * w->row_bytes;
    if (to > end) to = end;
    for (size_t o = from; o < to; o += 64) __builtin_prefetch((const char *)w->data + o);
}

/* len bytes at in-row offset off of each of the rows r..r+n-1, where row i's stream goes on in
 * rows i + n, i + 2n... (the later groups') once off runs past a row's end. */
static inline void prefetch_rows(const tl_wmat *w, int r, int n, size_t off, size_t len) {
    size_t end = (size_t)w->rows * w->row_bytes, rows_on = off / w->row_bytes, in_row = off % w->row_bytes;
    for (int i = 0; i < n; i++) {
        size_t o = ((size_t)(r + i) + (size_t)n * rows_on) * w->row_bytes + in_row;
        for (size_t j = 0; j < len && o + j < end; j += 64) __builtin_prefetch((const char *)w->data + o + j);
    }
}

#endif
