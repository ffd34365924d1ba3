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

static inline void store(float acc[RMAX][4], int R, int TT, int r, int r1, int t, int T, const float *bias, float *y, long ldy) {
    for (int i = 0; i < R && r + i < r1; i++)
        for (int j = 0; j < TT && t + j < T; j++) y[(t + j) * ldy + r + i] = acc[i][j] + (bias ? bias[r + i] : 0);
}

/* Asks for the bytes of rows r..r+n-1 (clipped at r1) a distance ahead: PF, or the n rows' own size
 * when that is more (wide f32 rows), so they arrive before the next step wants them. Decode
 * streams each matrix once, in order. (Offsets, not pointers: GCC 12 dropped the loop when it
 * compared pointers past the rows.) */
static inline void prefetch_ahead(const tl_wmat *w, int r, int r1, int n) {
    size_t step = (size_t)n * w->row_bytes, dist = step > PF ? step : PF;
    size_t from = (size_t)r * w->row_bytes + dist, to = from + step, end = (size_t)r1 * w->row_bytes;
    if (to > end) to = end;
    for (size_t o = from; o < to; o += 64) __builtin_prefetch((const char *)w->data + o);
}

#endif
