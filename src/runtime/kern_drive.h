/* The matrix-product loop of a SIMD kernel set (kern_tile.h), included after its qtile and ftile;
 * KERN_QTT is its integer tile's token count for prefill, KERN_QDECODE (optional) a decode path for
 * integer rows that returns 1 when it took the product, KERN_FROW(type, row, x, K) (optional) the
 * decode of one F32 or F16 row (its dot product with the token x), KERN_ROW_PREFETCH (optional) that its tiles ask
 * for wide rows themselves in decode (kern_tile.h). Defines the set's `matmul` (or KERN_MATMUL). */
#ifndef KERN_MATMUL
#define KERN_MATMUL matmul
#endif
static void KERN_MATMUL(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y, long ldy) {
    int q = w->type == TL_GGML_Q8_0 || w->type == TL_GGML_Q4_0;
    float acc[RMAX][4];
    if (a->T == 1) { /* decode: rows in memory order, DR at a time (KERN_FROW: one), asking for the bytes PF ahead */
#ifdef KERN_QDECODE
        if (q && KERN_QDECODE(w, r0, r1, a, bias, y)) return;
#endif
#ifdef KERN_FROW
        if (!q) { /* the type a constant in each call, so each instance has its loads unswitched */
            for (int r = r0; r < r1; r++) {
                const unsigned char *p = (const unsigned char *)w->data + (size_t)r * w->row_bytes;
                float d = w->type == TL_GGML_F32 ? KERN_FROW(TL_GGML_F32, p, a->f, w->cols) : KERN_FROW(TL_GGML_F16, p, a->f, w->cols);
                y[r] = d + (bias ? bias[r] : 0);
            }
            return;
        }
#endif
        for (int r = r0; r < r1; r += DR) {
#ifdef KERN_ROW_PREFETCH
            if ((size_t)DR * w->row_bytes <= PF) prefetch_ahead(w, r, DR); /* wider rows: the tile asks as it goes */
#else
            prefetch_ahead(w, r, DR);
#endif
            if (q) qtile(w, r, r1, DR, a, 0, 1, acc);
            else ftile(w, r, r1, DR, a, 0, 1, acc);
            store(acc, DR, 1, r, r1, 0, 1, bias, y, ldy);
        }
        return;
    }
    /* prefill: a tile's rows stay in L1 while the chunk's tokens stream past them from L2 */
    int TT = q ? KERN_QTT : 4; /* NOLINT(bugprone-branch-clone): alike where KERN_QTT is 4 */
    for (int r = r0; r < r1; r += RMAX)
        for (int t = 0; t < a->T; t += TT) {
            if (q) qtile(w, r, r1, RMAX, a, t, KERN_QTT, acc);
            else ftile(w, r, r1, RMAX, a, t, 4, acc);
            store(acc, RMAX, TT, r, r1, t, a->T, bias, y, ldy);
        }
}
