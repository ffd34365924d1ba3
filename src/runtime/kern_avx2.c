/* AVX2 + FMA + F16C kernels (contract in kernels.h), for x86-64 CPUs without AVX-512. Compiled
 * with those instructions enabled; used only after tl_kernels_best has checked the CPU.
 *
 * Decode (one token) walks the weight rows one by one, in memory order; prefill works in tiles of
 * 4 rows x TT tokens (2 for integer types, 4 for float ones). Integer types step
 * one block (32 weights, one register) at a time: |w| times x with w's sign through vpmaddubsw
 * (no overflow: |w| <= 128, |x| <= 127) and vpmaddwd, exact in int32, then scaled by d_w * d_x. */
#if defined(__x86_64__)
#include <immintrin.h>

#include "runtime/kern_tile.h"

static inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

/* one block's 32 weights as signed bytes: Q8_0 as stored, Q4_0's nibbles (low: weights 0..15,
 * high: 16..31) minus 8 */
static inline __m256i load_w(uint32_t type, const unsigned char *p) {
    if (type == TL_GGML_Q8_0) return _mm256_loadu_si256((const __m256i *)p);
    __m128i q = _mm_loadu_si128((const __m128i *)p), m = _mm_set1_epi8(15);
    __m256i z = _mm256_set_m128i(_mm_and_si128(_mm_srli_epi16(q, 4), m), _mm_and_si128(q, m));
    return _mm256_sub_epi8(z, _mm256_set1_epi8(8));
}

static inline __attribute__((always_inline)) void qtile(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                        float out[RMAX][4]) {
    int nb = w->cols / TL_QK;
    size_t qb = w->type == TL_GGML_Q8_0 ? 32 : 16;
    const unsigned char *wr[RMAX];
    const uint16_t *dw[RMAX];
    tile_rows(w, r, r1, R, wr, dw);
    const int8_t *xr[4];
    const float *dx[4];
    tile_tokens(a, t, TT, xr, dx);
    __m256 acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    int wide = TT == 1 && (size_t)DR * w->row_bytes > PF; /* decode of wide rows: asked for as they stream */
    for (int b = 0; b < nb; b++) {
        if (wide && b % 16 == 0) prefetch_rows(w, r, R, (size_t)b * qb + PFW_Q, 16 * qb);
        __m256i xv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) xv[j] = _mm256_loadu_si256((const __m256i *)(xr[j] + (size_t)b * TL_QK));
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            __m256i wv = load_w(w->type, wr[i] + (size_t)b * qb), aw = _mm256_sign_epi8(wv, wv);
            float s = _cvtsh_ss(dw[i][b]);
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                __m256i dot = _mm256_madd_epi16(_mm256_maddubs_epi16(aw, _mm256_sign_epi8(xv[j], wv)), ones);
                acc[i][j] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(dot), _mm256_set1_ps(s * dx[j][b]), acc[i][j]);
            }
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) out[i][j] = hsum(acc[i][j]);
}

static inline float load1(uint32_t type, const unsigned char *p) {
    if (type == TL_GGML_F16) return _cvtsh_ss((uint16_t)(p[0] | p[1] << 8));
    float v;
    __builtin_memcpy(&v, p, 4);
    return v;
}

static inline __attribute__((always_inline)) void ftile(const tl_wmat *w, int r, int r1, int R, const tl_act *a, int t, int TT,
                                                        float out[RMAX][4]) {
    int K = w->cols, k = 0;
    size_t es = w->type == TL_GGML_F32 ? 4 : 2;
    const unsigned char *wr[RMAX];
    tile_rows(w, r, r1, R, wr, NULL);
    const float *xr[4];
    #pragma GCC unroll 4
    for (int j = 0; j < TT; j++) xr[j] = a->f + (size_t)(t + j < a->T ? t + j : a->T - 1) * K;
    __m256 acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = _mm256_setzero_ps();
    int wide = TT == 1 && (size_t)DR * w->row_bytes > PF;
    for (; k + 8 <= K; k += 8) {
        if (wide && k % 16 == 0) prefetch_rows(w, r, R, (size_t)k * es + PFW_F, 64);
        __m256 xv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) xv[j] = _mm256_loadu_ps(xr[j] + k);
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            const unsigned char *p = wr[i] + (size_t)k * es;
            __m256 wv = w->type == TL_GGML_F32 ? _mm256_loadu_ps((const float *)p) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) {
            out[i][j] = hsum(acc[i][j]);
            for (int kk = k; kk < K; kk++) out[i][j] += load1(w->type, wr[i] + (size_t)kk * es) * xr[j][kk];
        }
}


#define KERN_ROW_PREFETCH
#define KERN_QTT 2
#include "runtime/kern_drive.h"

const tl_kernels tl_kernels_avx2 = {"avx2", tl_kern_quantize_ref, matmul};
#endif
