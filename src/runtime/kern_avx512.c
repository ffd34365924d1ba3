/* AVX-512 (F, BW, VL, VNNI) kernels (contract in kernels.h). Compiled with those instructions
 * enabled; used only after tl_kernels_best has checked the CPU.
 *
 * Decode (one token) walks DR weight rows at a time in memory order, asking for their bytes ahead
 * of use; prefill works in tiles of 4 rows x 4 tokens, each weight vector loaded once per tile and
 * used for every token. Integer products run through vpdpbusd (unsigned x signed bytes, exact in
 * int32): one 64-byte load of a row a step (Q8_0: 2 blocks, Q4_0: 4), the lanes scaled by
 * d_w * d_x of their block, the scales of 16 blocks converted at once and spread to the lanes by a
 * permute. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "runtime/kern_tile.h"

/* The token's side of a Q4_0 step: x of 4 blocks ([b0lo b0hi b1lo b1hi] [b2lo ...] in 16-byte
 * halves; `have` of them present, the rest read as 0) as its low halves *xl and high halves *xh,
 * and -8 x their lane sums (the nibbles' offset), the start of the step's vpdpbusd chain. */
static inline void q4_x(const int8_t *x, int have, __m512i *xl, __m512i *xh, __m512i *neg8) {
    const __m512i zero = _mm512_setzero_si512(), k8 = _mm512_set1_epi8(8);
    const __m512i lo_q = _mm512_set_epi64(13, 12, 9, 8, 5, 4, 1, 0), hi_q = _mm512_set_epi64(15, 14, 11, 10, 7, 6, 3, 2);
    __mmask64 m0 = have >= 2 ? ~(__mmask64)0 : 0xFFFFFFFFull, m1 = have == 4 ? ~(__mmask64)0 : have == 3 ? 0xFFFFFFFFull : 0;
    __m512i x0 = _mm512_maskz_loadu_epi8(m0, x), x1 = _mm512_maskz_loadu_epi8(m1, x + 64);
    *xl = _mm512_permutex2var_epi64(x0, lo_q, x1);
    *xh = _mm512_permutex2var_epi64(x0, hi_q, x1);
    *neg8 = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(zero, k8, *xl), k8, *xh));
}

/* Q4_0 rows, 4 blocks (one 64-byte load of a row) a step: the low nibbles (the blocks' weights
 * 0..15) and the high ones (16..31), unsigned as stored, against the matching halves of each
 * token's x through vpdpbusd into the same lanes, from -8 x the lane sums of those x (the
 * nibbles' offset); 4 lanes a block, scaled by d_w * d_x permuted from 16 products per 16 blocks.
 * Per 128 weights and token: 5 instructions (the 2-block path below: 10). */
static inline __attribute__((always_inline)) void qtile4(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                         float out[RMAX][4]) {
    int nb = w->cols / TL_QK;
    const unsigned char *wr[RMAX];
    const uint16_t *dw[RMAX];
    tile_rows(w, r, r1, R, wr, dw);
    const int8_t *xr[4];
    const float *dx[4];
    tile_tokens(a, t, TT, xr, dx);
    __m512 acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = _mm512_setzero_ps();
    const __m512i m4 = _mm512_set1_epi8(15);
    const __m512i lane_blk = _mm512_srli_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0), 2);
    for (int b0 = 0; b0 < nb; b0 += 16) {
        int cnt = nb - b0 < 16 ? nb - b0 : 16;
        __m512 sw[RMAX], sx[4]; /* 16 scales each, read past the row's end (kernels.h: slack); masked below */
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) sw[i] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(dw[i] + b0)));
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) sx[j] = _mm512_loadu_ps(dx[j] + b0);
        for (int k = 0; k < cnt; k += 4) {
            int have = cnt - k < 4 ? cnt - k : 4;
            __mmask16 lanes = (__mmask16)((1u << (4 * have)) - 1);
            __mmask64 bytes = have == 4 ? ~(__mmask64)0 : ((__mmask64)1 << (16 * have)) - 1;
            __m512i idx = _mm512_add_epi32(lane_blk, _mm512_set1_epi32(k)), xl[4], xh[4], n8[4];
            __m512 dxv[4];
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                q4_x(xr[j] + (size_t)(b0 + k) * TL_QK, have, &xl[j], &xh[j], &n8[j]);
                dxv[j] = _mm512_maskz_permutexvar_ps(lanes, idx, sx[j]);
            }
            #pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                const unsigned char *p = wr[i] + (size_t)(b0 + k) * 16;
                __m512i wv = have == 4 ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(bytes, p);
                __m512i lo = _mm512_and_si512(wv, m4), hi = _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4);
                __m512 dwv = _mm512_maskz_permutexvar_ps(lanes, idx, sw[i]); /* both masked: the slack may hold inf */
                #pragma GCC unroll 4
                for (int j = 0; j < TT; j++) {
                    __m512i dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(n8[j], lo, xl[j]), hi, xh[j]);
                    acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dwv, dxv[j]), acc[i][j]);
                }
            }
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/* Q8_0 rows (Q4_0 ones go to qtile4), 2 blocks (64 weights) a step: |w| (unsigned) times x with
 * w's sign (signed) through vpdpbusd, 8 lanes a block. */
static inline __attribute__((always_inline)) void qtile(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                        float out[RMAX][4]) {
    if (w->type == TL_GGML_Q4_0) {
        qtile4(w, r, r1, R, a, t, TT, out);
        return;
    }
    int nb = w->cols / TL_QK;
    size_t qb = 32; /* bytes per block */
    const unsigned char *wr[RMAX];
    const uint16_t *dw[RMAX];
    tile_rows(w, r, r1, R, wr, dw);
    const int8_t *xr[4];
    const float *dx[4];
    tile_tokens(a, t, TT, xr, dx);
    __m512 acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = _mm512_setzero_ps();
    const __m512i half = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0), zero = _mm512_setzero_si512();
    for (int b0 = 0; b0 < nb; b0 += 16) {
        int cnt = nb - b0 < 16 ? nb - b0 : 16;
        /* 16 scales each, read past the row's last (kernels.h: scale arrays have slack); the
         * lanes of blocks past the row's end are never selected below */
        __m512 sw[RMAX], sx[4];
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) sw[i] = _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(dw[i] + b0)));
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) sx[j] = _mm512_loadu_ps(dx[j] + b0);
        for (int k = 0; k < cnt; k += 2) {
            int two = cnt - k >= 2;
            __mmask64 bm = two ? ~(__mmask64)0 : 0xFFFFFFFFull;
            __m512i idx = _mm512_add_epi32(half, _mm512_set1_epi32(k));
            __mmask16 lanes = two ? 0xFFFF : 0x00FF; /* a missing second block's lanes get scale 0 */
            __m512i xv[4];
            __m512 dxv[4];
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                xv[j] = two ? _mm512_loadu_si512(xr[j] + (size_t)(b0 + k) * TL_QK) : _mm512_maskz_loadu_epi8(bm, xr[j] + (size_t)(b0 + k) * TL_QK);
                dxv[j] = _mm512_maskz_permutexvar_ps(lanes, idx, sx[j]);
            }
            #pragma GCC unroll 4
            for (int i = 0; i < R; i++) {
                const unsigned char *p = wr[i] + (size_t)(b0 + k) * qb;
                __m512i wv = two ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(bm, p);
                __m512i aw = _mm512_abs_epi8(wv);
                __mmask64 neg = _mm512_movepi8_mask(wv);
                __m512 dwv = _mm512_maskz_permutexvar_ps(lanes, idx, sw[i]);
                #pragma GCC unroll 4
                for (int j = 0; j < TT; j++) {
                    __m512i sxj = _mm512_mask_sub_epi8(xv[j], neg, zero, xv[j]);
                    __m512i dot = _mm512_dpbusd_epi32(zero, aw, sxj);
                    acc[i][j] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_mul_ps(dwv, dxv[j]), acc[i][j]);
                }
            }
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/* 16 weights of an F32 or F16 row as floats (mask: the valid ones). Masked loads only at a row's
 * end: on this AMD core, masked loads that miss the cache run at a fraction of plain loads' rate
 * (the scales' masked loads alone held 124M q8_0 decode at 145 tok/s; plain ones: 188). */
static inline __m512 load_f(uint32_t type, const unsigned char *p, __mmask16 m) {
    if (type == TL_GGML_F32) return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p);
    return _mm512_cvtph_ps(m == 0xFFFF ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi16(m, p));
}

static inline __attribute__((always_inline)) void ftile(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                        float out[RMAX][4]) {
    int K = w->cols;
    size_t es = w->type == TL_GGML_F32 ? 4 : 2;
    const unsigned char *wr[RMAX];
    tile_rows(w, r, r1, R, wr, NULL);
    const float *xr[4];
    #pragma GCC unroll 4
    for (int j = 0; j < TT; j++) xr[j] = a->f + (size_t)(t + j < a->T ? t + j : a->T - 1) * K;
    __m512 acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = _mm512_setzero_ps();
    for (int k = 0; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
        __m512 xv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) xv[j] = m == 0xFFFF ? _mm512_loadu_ps(xr[j] + k) : _mm512_maskz_loadu_ps(m, xr[j] + k);
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            __m512 wv = load_f(w->type, wr[i] + (size_t)k * es, m);
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) acc[i][j] = _mm512_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) out[i][j] = _mm512_reduce_add_ps(acc[i][j]);
}

/* Decode of an F32 or F16 row: read front to back as one stream, into four accumulators. Rows
 * read side by side, as the tiles do, streamed from DRAM at about half the rate on an AMD Zen 4
 * (bench_decode f32, 1 thread: 4 rows at a time 14.5 GB/s at 3072x768 and 18.8 at 768x3072; one
 * row at a time 24.8 and 28.0; bench_bandwidth 22-27). */
static inline __attribute__((always_inline)) float frow(uint32_t type, const unsigned char *p, const float *x, int K) {
    size_t es = type == TL_GGML_F32 ? 4 : 2;
    __m512 acc[4] = {_mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps(), _mm512_setzero_ps()};
    int k = 0;
    for (; k + 64 <= K; k += 64)
        #pragma GCC unroll 4
        for (int u = 0; u < 4; u++)
            acc[u] = _mm512_fmadd_ps(load_f(type, p + (size_t)(k + 16 * u) * es, 0xFFFF), _mm512_loadu_ps(x + k + 16 * u), acc[u]);
    for (; k < K; k += 16) {
        __mmask16 m = K - k >= 16 ? (__mmask16)0xFFFF : (__mmask16)((1u << (K - k)) - 1);
        acc[0] = _mm512_fmadd_ps(load_f(type, p + (size_t)k * es, m), _mm512_maskz_loadu_ps(m, x + k), acc[0]);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(_mm512_add_ps(acc[0], acc[1]), _mm512_add_ps(acc[2], acc[3])));
}

#define MAX_KS 256 /* decode tables: 64-byte weight steps of the longest Q8_0 row (K <= 16384), else the tile path */

/* Decode of integer rows, one 64-byte load of weights per row a step (Q8_0: 2 blocks; Q4_0: 4),
 * with the token's side prepared once per call. Q8_0: its bytes + 128 (unsigned) against the
 * signed weights through vpdpbusd, 128 x the weights' lane sums taken off. Q4_0: the low nibbles
 * of the 4 blocks (their weights 0..15) and the high ones (16..31) against the matching halves
 * of x, both into the same lanes, starting from -8 x the lane sums of x (the nibbles' offset).
 * Lanes are then scaled by d_w * d_x of their block (8 lanes a block for Q8_0, 4 for Q4_0),
 * permuted from 16 products computed per 16 blocks. Per 64 weights: Q8_0 7 instructions,
 * Q4_0 4.5 (the tile path: 9). */
static void qdecode(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y) {
    int nb = w->cols / TL_QK, q8 = w->type == TL_GGML_Q8_0, bps = q8 ? 2 : 4; /* blocks a step */
    int ks = (nb + bps - 1) / bps, lpb = 16 / bps;                                /* steps; lanes a block */
    size_t qb = q8 ? 32 : 16;
    __m512i xs[MAX_KS], neg8[MAX_KS / 2];
    const __m512i zero = _mm512_setzero_si512(), k128 = _mm512_set1_epi8((char)0x80);
    for (int k = 0; k < ks; k++) {
        int have = nb - k * bps < bps ? nb - k * bps : bps; /* blocks present in this step */
        if (q8) {
            __mmask64 bm = have == 2 ? ~(__mmask64)0 : 0xFFFFFFFFull;
            xs[k] = _mm512_maskz_xor_epi64(have == 2 ? 0xFF : 0x0F, _mm512_maskz_loadu_epi8(bm, a->q + (size_t)k * 64), k128);
        } else
            q4_x(a->q + (size_t)k * 128, have, &xs[2 * k], &xs[2 * k + 1], &neg8[k]);
    }
    const __m512i lane = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
    const __m512i lane_blk = q8 ? _mm512_srli_epi32(lane, 3) : _mm512_srli_epi32(lane, 2), m4 = _mm512_set1_epi8(15);
    int wide = (size_t)DR * w->row_bytes > PF;
    for (int r = r0; r < r1; r += DR) {
        if (!wide) prefetch_ahead(w, r, DR);
        const unsigned char *wr[DR];
        const uint16_t *dw[DR];
        tile_rows(w, r, r1, DR, wr, dw);
        __m512 acc[DR];
        #pragma GCC unroll 4
        for (int i = 0; i < DR; i++) acc[i] = _mm512_setzero_ps();
        for (int b0 = 0; b0 < nb; b0 += 16) {
            if (wide) prefetch_rows(w, r, DR, (size_t)b0 * qb + PFW_Q, 16 * qb);
            __m512 sx = _mm512_loadu_ps(a->d + b0), prod[DR]; /* 16 scales each, with slack (kernels.h) */
            #pragma GCC unroll 4
            for (int i = 0; i < DR; i++) prod[i] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(dw[i] + b0))), sx);
            int cnt = nb - b0 < 16 ? nb - b0 : 16;
            for (int k = 0; k < cnt; k += bps) {
                int have = cnt - k < bps ? cnt - k : bps, kk = (b0 + k) / bps;
                __mmask16 lanes = (__mmask16)((1u << (have * lpb)) - 1); /* a missing block's lanes get scale 0 */
                __mmask64 bytes = have == bps ? ~(__mmask64)0 : ((__mmask64)1 << (have * qb)) - 1;
                __m512i idx = _mm512_add_epi32(lane_blk, _mm512_set1_epi32(k));
                #pragma GCC unroll 4
                for (int i = 0; i < DR; i++) {
                    const unsigned char *p = wr[i] + (size_t)(b0 + k) * qb;
                    __m512i wv = have == bps ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(bytes, p), dot;
                    if (q8) dot = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, xs[kk], wv), _mm512_dpbusd_epi32(zero, k128, wv));
                    else
                        dot = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(neg8[kk], _mm512_and_si512(wv, m4), xs[2 * kk]),
                                                  _mm512_and_si512(_mm512_srli_epi16(wv, 4), m4), xs[2 * kk + 1]);
                    acc[i] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(dot), _mm512_maskz_permutexvar_ps(lanes, idx, prod[i]), acc[i]);
                }
            }
        }
        for (int i = 0; i < DR && r + i < r1; i++) y[r + i] = _mm512_reduce_add_ps(acc[i]) + (bias ? bias[r + i] : 0);
    }
}


/* The reference quantizer's arithmetic 16 lanes at a time: amax, d = amax / 127, x * (1 / d),
 * rounded half away from zero (truncate, then step away when the exact remainder is >= 1/2). */
static void quantize(const float *x, int K, int8_t *q, float *d) {
    const __m512i sign = _mm512_set1_epi32((int)0x80000000u);
    for (int b = 0; b < K / TL_QK; b++, x += TL_QK, q += TL_QK) {
        __m512 v[2] = {_mm512_loadu_ps(x), _mm512_loadu_ps(x + 16)};
        float amax = _mm512_reduce_max_ps(_mm512_max_ps(_mm512_abs_ps(v[0]), _mm512_abs_ps(v[1])));
        float s = amax / 127, id = s ? 1 / s : 0;
        d[b] = s;
        for (int h = 0; h < 2; h++) {
            __m512 m = _mm512_mul_ps(v[h], _mm512_set1_ps(id)), t = _mm512_roundscale_ps(m, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __mmask16 up = _mm512_cmp_ps_mask(_mm512_abs_ps(_mm512_sub_ps(m, t)), _mm512_set1_ps(0.5f), _CMP_GE_OQ);
            __m512 one = _mm512_castsi512_ps(_mm512_or_si512(_mm512_and_si512(_mm512_castps_si512(m), sign),
                                                             _mm512_castps_si512(_mm512_set1_ps(1.0f))));
            _mm_storeu_si128((__m128i *)(q + 16 * h), _mm512_cvtsepi32_epi8(_mm512_cvttps_epi32(_mm512_mask_add_ps(t, up, t, one))));
        }
    }
}

#define KERN_QTT 4
#define KERN_ROW_PREFETCH
#define KERN_FROW frow
#define KERN_QDECODE(w, r0, r1, a, bias, y) ((w)->cols / 64 < MAX_KS ? (qdecode(w, r0, r1, a, bias, y), 1) : 0)
#include "runtime/kern_drive.h"

const tl_kernels tl_kernels_avx512 = {"avx512", quantize, matmul};

/* The same with the avx2 set's integer decode (kern_avx2.c): its blocks grouped per conversion and
 * its linear prefetch beat the one above where 512-bit instructions run as two 256-bit halves. AMD
 * Zen 4, 124M tg128, 1 thread, medians of 5 alternating runs: q4_0 176 -> 263 tok/s, q8_0 120 ->
 * 141; pp64 stays this set's (q4_0 584 against the avx2 set's 318). Its sums by 256-bit vpdpbusd
 * (tl_kern_avx2_qdecode_vnni: this set's CPUs have AVX-512 VNNI + VL). */
#undef KERN_QDECODE
#undef KERN_MATMUL
#define KERN_QDECODE tl_kern_avx2_qdecode_vnni
#define KERN_MATMUL matmul_d256
#include "runtime/kern_drive.h"

const tl_kernels tl_kernels_avx512_d256 = {"avx512-d256", quantize, matmul_d256};
#endif
