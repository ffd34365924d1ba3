/* AVX-512 (F, BW, VL, VNNI) kernels (contract in kernels.h). Compiled with those instructions
 * enabled; used only after tl_kernels_best has checked the CPU.
 *
 * Decode (one token) walks the weight rows one by one, in memory order; prefill works in tiles of
 * 4 rows x TT tokens (2 for integer types, 4 for float ones), each weight vector loaded once per
 * tile and used for TT tokens. Integer types step over 2 blocks (64 weights) a
 * time: |w| (unsigned) times x with w's sign (signed) through vpdpbusd, exact in int32; the 16
 * lanes (8 per block) are scaled by d_w * d_x of their block, the scales of 16 blocks converted at
 * once and spread to the lanes by a permute. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "runtime/kern_tile.h"

/* 64 weights of 2 blocks as signed bytes in block order: Q8_0 as stored; Q4_0 unpacked from the
 * 32 nibble bytes (low nibbles are a block's weights 0..15, high 16..31) minus 8. With `two` 0
 * the second block is missing and `bm` masks its bytes. */
static inline __m512i load_w(uint32_t type, const unsigned char *p, int two, __mmask64 bm) {
    if (type == TL_GGML_Q8_0) return two ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(bm, p);
    __m256i q = two ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi8(0xFFFFu, p), m = _mm256_set1_epi8(15);
    __m256i lo = _mm256_and_si256(q, m), hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), m); /* [b0 | b1] each */
    __m512i z = _mm512_inserti64x4(_mm512_castsi256_si512(lo), hi, 1);                       /* b0lo b1lo b0hi b1hi */
    z = _mm512_shuffle_i64x2(z, z, _MM_SHUFFLE(3, 1, 2, 0));                                 /* b0lo b0hi b1lo b1hi */
    return _mm512_maskz_sub_epi8(bm, z, _mm512_set1_epi8(8));
}

static inline __attribute__((always_inline)) void qtile(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                        float out[RMAX][4]) {
    int nb = w->cols / TL_QK, K = w->cols;
    size_t qb = w->type == TL_GGML_Q8_0 ? 32 : 16; /* bytes per block */
    const unsigned char *wr[RMAX];
    const uint16_t *dw[RMAX];
    tile_rows(w, r, r1, R, wr, dw);
    const int8_t *xr[4];
    const float *dx[4];
    #pragma GCC unroll 4
    for (int j = 0; j < TT; j++) {
        int tt = t + j < a->T ? t + j : a->T - 1;
        xr[j] = a->q + (size_t)tt * K;
        dx[j] = a->d + (size_t)tt * nb;
    }
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
                __m512i wv = load_w(w->type, wr[i] + (size_t)(b0 + k) * qb, two, bm);
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

#define MAX_KS 256 /* decode tables: 2-block steps of the longest row (K <= 16384), else the tile path */

/* Decode of integer rows with the token's side prepared once per call: per 2-block step its bytes
 * (Q8_0: + 128, unsigned; Q4_0: signed, in the order the nibbles unpack to) and, for Q4_0, minus 8
 * times their lane sums. Then a row's step is: its 64 weights as the other operand of vpdpbusd
 * (Q8_0: signed bytes, with 128 x their lane sums taken off; Q4_0: the nibbles as they are, the
 * -8 offset folded into the starting lanes), and the lanes scaled by d_w * d_x, permuted from 16
 * products computed per 16 blocks. About 7 instructions per 64 weights instead of the tile's 9. */
static void qdecode(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y) {
    int nb = w->cols / TL_QK, ks = (nb + 1) / 2, q8 = w->type == TL_GGML_Q8_0;
    size_t qb = q8 ? 32 : 16;
    __m512i xs[MAX_KS], neg8[MAX_KS];
    const __m512i zero = _mm512_setzero_si512(), k128 = _mm512_set1_epi8((char)0x80), k8 = _mm512_set1_epi8(8);
    for (int k = 0; k < ks; k++) {
        __mmask64 bm = 2 * k + 1 < nb ? ~(__mmask64)0 : 0xFFFFFFFFull;
        __m512i x = _mm512_maskz_loadu_epi8(bm, a->q + (size_t)k * 64);
        if (q8) xs[k] = _mm512_maskz_xor_epi64(bm == ~(__mmask64)0 ? 0xFF : 0x0F, x, k128); /* missing block: 0, not 128 */
        else {
            xs[k] = _mm512_shuffle_i64x2(x, x, _MM_SHUFFLE(3, 1, 2, 0)); /* b0lo b1lo b0hi b1hi, as unpacked below */
            neg8[k] = _mm512_sub_epi32(zero, _mm512_dpbusd_epi32(zero, k8, xs[k]));
        }
    }
    const __m512i half = _mm512_set_epi32(1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0);
    const __m512i quart = _mm512_set_epi32(1, 1, 1, 1, 0, 0, 0, 0, 1, 1, 1, 1, 0, 0, 0, 0);
    for (int r = r0; r < r1; r += DR) {
        prefetch_ahead(w, r, r1, DR);
        const unsigned char *wr[DR];
        const uint16_t *dw[DR];
        tile_rows(w, r, r1, DR, wr, dw);
        __m512 acc[DR];
        #pragma GCC unroll 4
        for (int i = 0; i < DR; i++) acc[i] = _mm512_setzero_ps();
        for (int b0 = 0; b0 < nb; b0 += 16) {
            __m512 sx = _mm512_loadu_ps(a->d + b0), prod[DR]; /* 16 scales each, with slack (kernels.h) */
            #pragma GCC unroll 4
            for (int i = 0; i < DR; i++) prod[i] = _mm512_mul_ps(_mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)(dw[i] + b0))), sx);
            int cnt = nb - b0 < 16 ? nb - b0 : 16;
            for (int k = 0; k < cnt; k += 2) {
                int two = cnt - k >= 2, kk = (b0 + k) / 2;
                __mmask16 lanes = two ? 0xFFFF : (q8 ? 0x00FF : 0x0F0F);
                __m512i idx = _mm512_add_epi32(q8 ? half : quart, _mm512_set1_epi32(k));
                #pragma GCC unroll 4
                for (int i = 0; i < DR; i++) {
                    const unsigned char *p = wr[i] + (size_t)(b0 + k) * qb;
                    __m512i dot;
                    if (q8) {
                        __m512i wv = two ? _mm512_loadu_si512(p) : _mm512_maskz_loadu_epi8(0xFFFFFFFFull, p);
                        dot = _mm512_sub_epi32(_mm512_dpbusd_epi32(zero, xs[kk], wv), _mm512_dpbusd_epi32(zero, k128, wv));
                    } else {
                        __m256i qv = two ? _mm256_loadu_si256((const __m256i *)p) : _mm256_maskz_loadu_epi8(0xFFFFu, p), m = _mm256_set1_epi8(15);
                        __m512i nib = _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_and_si256(qv, m)),
                                                         _mm256_and_si256(_mm256_srli_epi16(qv, 4), m), 1);
                        dot = _mm512_dpbusd_epi32(neg8[kk], nib, xs[kk]);
                    }
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
#define KERN_QDECODE(w, r0, r1, a, bias, y) ((w)->cols / 64 < MAX_KS ? (qdecode(w, r0, r1, a, bias, y), 1) : 0)
#include "runtime/kern_drive.h"

const tl_kernels tl_kernels_avx512 = {"avx512", quantize, matmul};
#endif
