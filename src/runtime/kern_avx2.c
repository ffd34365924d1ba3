/* AVX2 + FMA + F16C kernels (contract in kernels.h), for x86-64 CPUs without AVX-512. Compiled
 * with those instructions enabled; used only after tl_kernels_best has checked the CPU.
 *
 * Decode (one token) of integer rows runs qdecode below; other decode walks the weight rows 4 at
 * a time, in memory order; prefill works in tiles of 4 rows x TT tokens (2 for integer types, 4
 * for float ones). The integer tiles step one block (32 weights, one register) at a time: |w|
 * times x with w's sign through vpmaddubsw (no overflow: |w| <= 128, |x| <= 127) and vpmaddwd,
 * exact in int32, then scaled by d_w * d_x. */
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
    for (; k + 8 <= K; k += 8) {
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

/* Decode of an F32 or F16 row: read front to back as one stream, into four accumulators (rows read
 * side by side stream from DRAM at about half the rate on an AMD Zen 4: kern_avx512.c). */
static inline __attribute__((always_inline)) float frow(uint32_t type, const unsigned char *p, const float *x, int K) {
    size_t es = type == TL_GGML_F32 ? 4 : 2;
    __m256 acc[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
    int k = 0;
    for (; k + 32 <= K; k += 32)
        #pragma GCC unroll 4
        for (int u = 0; u < 4; u++) {
            const unsigned char *q = p + (size_t)(k + 8 * u) * es;
            __m256 wv = type == TL_GGML_F32 ? _mm256_loadu_ps((const float *)q) : _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)q));
            acc[u] = _mm256_fmadd_ps(wv, _mm256_loadu_ps(x + k + 8 * u), acc[u]);
        }
    float s = hsum(_mm256_add_ps(_mm256_add_ps(acc[0], acc[1]), _mm256_add_ps(acc[2], acc[3])));
    for (; k < K; k++) s += load1(type, p + (size_t)k * es) * x[k];
    return s;
}

#define MAX_NB 512 /* decode tables: blocks of the longest row (K <= 16384), else the tile path */
/* Decode asks for the quants PFL bytes ahead, as if the DR rows being read were one stream (they
 * are adjacent), a group's bytes per group: no divisions, and it runs on into the next rows
 * (q8_0 3072x768 from DRAM, this AMD EPYC: the per-row prefetch of the tile path 7.2 GB/s;
 * linear 2 KB ahead 9.5, 4 KB 10.0, 8 KB 9.7; 768x3072: 8.4, 6.3, 8.8, 10.4 GB/s). */
#define PFL 8192
/* Rows whose DR side by side span more than QWIDE bytes are read 2 at a time: four 3 KB rows read
 * side by side streamed at about half the rate on an AMD Zen 4, as float rows did (kern_avx512.c);
 * q8_0 768x3072 from DRAM, bench_decode medians of 7 alternating runs: 4 rows 15.7, 2 rows 23.7,
 * 1 row 19.5 GB/s; 3072x768 (768-byte rows): 23.5, 24.1, 21.6; 2304x768: 28.8, 23.9, 20.9. */
#define QWIDE 4096

/* Decode of integer rows in groups of blocks whose 32-bit dot sums meet in one register (vphaddd /
 * vphaddw), so that a group costs one conversion, one scale product and one FMA; the token's side
 * is prepared once per call:
 *   Q8_0, 4 blocks a group: |x| (prepared) times w with x's sign (vpsignb, vpmaddubsw, vpmaddwd),
 *     the four sums in lanes [b0 b1 b2 b3 | b0 b1 b2 b3] (a partial sum of each block in each
 *     half). A matrix holding a -128, whose negation does not fit, takes the tile path instead.
 *   Q4_0, 8 blocks a group: one 32-byte load holds 2 blocks; its low nibbles (weights 0..15 of
 *     both) and high ones (16..31), unsigned as stored, against the token's x rearranged to match
 *     ([b lo | b+1 lo], [b hi | b+1 hi]); the 16-bit sums (at most 4 x 15 x 127 a lane, 4 lanes
 *     added: < 2^15) meet by vphaddw before one vpmaddwd; lanes [b0 b2 b4 b6 | b1 b3 b5 b7],
 *     whole blocks, less 8 x each block's x sum (the nibbles' offset).
 * The scales d_w of a group (one 16-byte load) are put in the lanes' order by vpshufb and
 * multiplied by d_x laid out the same way; in a row's last, partial group the shuffle zeroes the
 * missing blocks' scales and their x is 0, so the bytes read past the row's end add nothing.
 * Per 32 weights: Q8_0 about 6 instructions, Q4_0 about 5 (the tile path: 12 and 16); 124M tg128,
 * 1 thread, this AMD EPYC (AVX2, no AVX-512): q8_0 38 -> 61 tok/s, q4_0 44 -> 80.
 * With vnni (avx512-d256's instance: AVX-512 VNNI on 256-bit registers), vpdpbusd sums each 4
 * products into int32 in one instruction where vpmaddubsw + vpmaddwd did: the same sums in the
 * same lanes (Q4_0: its lo and hi products meet in int32, and vphaddd takes vphaddw's place). */
static inline __attribute__((always_inline)) __m256i dpbusd(__m256i acc, __m256i u8, __m256i s8) {
    __asm__("vpdpbusd %2, %1, %0" : "+v"(acc) : "v"(u8), "v"(s8)); /* EVEX: no target flag needed here */
    return acc;
}

static inline __attribute__((always_inline)) __m256i qgroup(int q8, int vnni, const unsigned char *row, int b0, int have, const int8_t *xq,
                                                             const __m256i *xl, const __m256i *xh, const __m256i *off) {
    const __m256i ones = _mm256_set1_epi16(1), m4 = _mm256_set1_epi8(15);
    __m256i d[4];
    #pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        if (q8 ? k >= have : 2 * k >= have) {
            d[k] = _mm256_setzero_si256();
            continue;
        }
        if (q8) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(row + (size_t)(b0 + k) * 32));
            __m256i xv = _mm256_loadu_si256((const __m256i *)(xq + (size_t)(b0 + k) * 32));
            __m256i sw = _mm256_sign_epi8(wv, xv);
            d[k] = vnni ? dpbusd(_mm256_setzero_si256(), xl[b0 + k], sw) : _mm256_madd_epi16(_mm256_maddubs_epi16(xl[b0 + k], sw), ones);
        } else {
            int p = b0 / 2 + k;
            __m256i wv = _mm256_loadu_si256((const __m256i *)(row + (size_t)p * 32));
            __m256i lo = _mm256_and_si256(wv, m4), hi = _mm256_and_si256(_mm256_srli_epi16(wv, 4), m4);
            d[k] = vnni ? dpbusd(dpbusd(_mm256_setzero_si256(), lo, xl[p]), hi, xh[p])
                        : _mm256_add_epi16(_mm256_maddubs_epi16(lo, xl[p]), _mm256_maddubs_epi16(hi, xh[p]));
        }
    }
    if (!q8 && vnni) return _mm256_sub_epi32(_mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]), _mm256_hadd_epi32(d[2], d[3])), off[b0 / 8]);
    if (!q8) return _mm256_sub_epi32(_mm256_madd_epi16(_mm256_hadd_epi16(_mm256_hadd_epi16(d[0], d[1]), _mm256_hadd_epi16(d[2], d[3])), ones), off[b0 / 8]);
    return _mm256_hadd_epi32(_mm256_hadd_epi32(d[0], d[1]), _mm256_hadd_epi32(d[2], d[3]));
}

/* n rows from r (n <= DR, a constant at each call): acc[i] += each group's sums times d_w (shuffled
 * by ctrl) times d_x (dxg) */
static inline __attribute__((always_inline)) void qrows(const tl_wmat *w, int r, int r1, int n, int q8, int vnni, int ng, int tail, const int8_t *xq,
                                                        const __m256i *xl, const __m256i *xh, const __m256i *off,
                                                        const __m256 *dxg, __m128i cfull, __m128i clast, __m256 acc[DR]) {
    int G = q8 ? 4 : 8;
    size_t qb = q8 ? 32 : 16, step = (size_t)n * G * qb, end = (size_t)w->rows * w->row_bytes, o = (size_t)r * w->row_bytes + PFL;
    const unsigned char *wr[RMAX];
    const uint16_t *dw[RMAX];
    tile_rows(w, r, r1, n, wr, dw);
    for (int g = 0; g < ng; g++, o += step) {
        int b0 = g * G, last = g == ng - 1;
        for (size_t j = 0; j < step && o + j < end; j += 64) __builtin_prefetch((const char *)w->data + o + j);
        #pragma GCC unroll 4
        for (int i = 0; i < n; i++) {
            __m256i s = last ? qgroup(q8, vnni, wr[i], b0, tail, xq, xl, xh, off) : qgroup(q8, vnni, wr[i], b0, G, xq, xl, xh, off);
            __m128i d16 = _mm_loadu_si128((const __m128i *)(dw[i] + b0)); /* with slack past the row (kernels.h) */
            __m256 sc = _mm256_mul_ps(_mm256_cvtph_ps(_mm_shuffle_epi8(d16, last ? clast : cfull)), dxg[g]);
            acc[i] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(s), sc, acc[i]);
        }
    }
}

static inline __attribute__((always_inline)) int qdecode(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y, int vnni) {
    int nb = w->cols / TL_QK, q8 = w->type == TL_GGML_Q8_0, G = q8 ? 4 : 8, ng = (nb + G - 1) / G, tail = nb - (ng - 1) * G;
    if (nb > MAX_NB || w->q8_min) return 0;
    __m256i xl[MAX_NB], xh[MAX_NB / 2], off[MAX_NB / 8]; /* Q8_0: |x|; Q4_0: x by pairs of blocks, 8 x block sums */
    __m256 dxg[MAX_NB / 4];                                  /* d_x in each group's lane order */
    /* lane of each block of a group: Q8_0 [0 1 2 3 0 1 2 3], Q4_0 [0 2 4 6 1 3 5 7] */
    static const int lane8[2][8] = {{0, 2, 4, 6, 1, 3, 5, 7}, {0, 1, 2, 3, 0, 1, 2, 3}};
    const int *lb = lane8[q8];
    unsigned char ctrl[2][16]; /* vpshufb of a group's 8 f16 scales into lane order: full, last */
    for (int l = 0; l < 8; l++)
        for (int k = 0; k < 2; k++) {
            ctrl[0][2 * l + k] = (unsigned char)(2 * lb[l] + k);
            ctrl[1][2 * l + k] = lb[l] < tail ? (unsigned char)(2 * lb[l] + k) : 0x80;
        }
    const __m256i lanes = _mm256_loadu_si256((const __m256i *)lb), zero = _mm256_setzero_si256();
    for (int g = 0; g < ng; g++) { /* d_x of the group's blocks in lane order, 0 past the row's end */
        __m256i there = _mm256_cmpgt_epi32(_mm256_set1_epi32(g == ng - 1 ? tail : G), lanes);
        dxg[g] = _mm256_mask_i32gather_ps(_mm256_setzero_ps(), a->d + (size_t)g * G, lanes, _mm256_castsi256_ps(there), 4);
    }
    if (q8)
        for (int b = 0; b < nb; b++) xl[b] = _mm256_abs_epi8(_mm256_loadu_si256((const __m256i *)(a->q + (size_t)b * 32)));
    else {
        const __m256i k8 = _mm256_set1_epi8(8);
        for (int p = 0; p < (nb + 1) / 2; p++) {
            __m256i x0 = _mm256_loadu_si256((const __m256i *)(a->q + (size_t)p * 64));
            __m256i x1 = 2 * p + 1 < nb ? _mm256_loadu_si256((const __m256i *)(a->q + (size_t)p * 64 + 32)) : zero;
            xl[p] = _mm256_permute2x128_si256(x0, x1, 0x20);
            xh[p] = _mm256_permute2x128_si256(x0, x1, 0x31);
        }
        /* 8 x each block's sum is the group's product with weights that are all 8 (nibbles as stored) */
        for (int g = 0; g < ng; g++) {
            __m256i d[4];
            for (int k = 0; k < 4; k++) {
                int p = 4 * g + k;
                d[k] = 2 * p < nb ? _mm256_add_epi16(_mm256_maddubs_epi16(k8, xl[p]), _mm256_maddubs_epi16(k8, xh[p])) : zero;
            }
            off[g] = _mm256_madd_epi16(_mm256_hadd_epi16(_mm256_hadd_epi16(d[0], d[1]), _mm256_hadd_epi16(d[2], d[3])), _mm256_set1_epi16(1));
        }
    }
    const __m128i cfull = _mm_loadu_si128((const __m128i *)ctrl[0]), clast = _mm_loadu_si128((const __m128i *)ctrl[1]);
    const int8_t *xq = a->q;
    int n = (size_t)DR * w->row_bytes > QWIDE ? 2 : DR; /* rows read side by side */
    for (int r = r0; r < r1; r += n) {
        __m256 acc[DR];
        #pragma GCC unroll 4
        for (int i = 0; i < DR; i++) acc[i] = _mm256_setzero_ps();
        if (n == 2) q8 ? qrows(w, r, r1, 2, 1, vnni, ng, tail, xq, xl, xh, off, dxg, cfull, clast, acc) : qrows(w, r, r1, 2, 0, vnni, ng, tail, xq, xl, xh, off, dxg, cfull, clast, acc);
        else q8 ? qrows(w, r, r1, DR, 1, vnni, ng, tail, xq, xl, xh, off, dxg, cfull, clast, acc) : qrows(w, r, r1, DR, 0, vnni, ng, tail, xq, xl, xh, off, dxg, cfull, clast, acc);
        for (int i = 0; i < n && r + i < r1; i++) y[r + i] = hsum(acc[i]) + (bias ? bias[r + i] : 0);
    }
    return 1;
}

int tl_kern_avx2_qdecode(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y) { return qdecode(w, r0, r1, a, bias, y, 0); }
int tl_kern_avx2_qdecode_vnni(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y) { return qdecode(w, r0, r1, a, bias, y, 1); }

/* The reference quantizer's arithmetic 8 lanes at a time (amax, d = amax / 127, x * (1 / d),
 * rounded half away from zero: truncate, then step away when the exact remainder is >= 1/2), the
 * 32 results packed to bytes in order. */
static void quantize(const float *x, int K, int8_t *q, float *d) {
    const __m256 absm = _mm256_castsi256_ps(_mm256_set1_epi32(0x7FFFFFFF)), half = _mm256_set1_ps(0.5f), one = _mm256_set1_ps(1.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    for (int b = 0; b < K / TL_QK; b++, x += TL_QK, q += TL_QK) {
        __m256 v[4], mx = _mm256_setzero_ps();
        for (int h = 0; h < 4; h++) v[h] = _mm256_loadu_ps(x + 8 * h), mx = _mm256_max_ps(mx, _mm256_and_ps(v[h], absm));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4))), s = amax / 127, id = s ? 1 / s : 0;
        d[b] = s;
        __m256i iv[4];
        for (int h = 0; h < 4; h++) {
            __m256 m = _mm256_mul_ps(v[h], _mm256_set1_ps(id)), t = _mm256_round_ps(m, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 up = _mm256_cmp_ps(_mm256_and_ps(_mm256_sub_ps(m, t), absm), half, _CMP_GE_OQ);
            __m256 step = _mm256_and_ps(up, _mm256_or_ps(_mm256_andnot_ps(absm, m), one)); /* +-1 with m's sign, where up */
            iv[h] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
        }
        __m256i b8 = _mm256_packs_epi16(_mm256_packs_epi32(iv[0], iv[1]), _mm256_packs_epi32(iv[2], iv[3]));
        _mm256_storeu_si256((__m256i *)q, _mm256_permutevar8x32_epi32(b8, order));
    }
}

#define KERN_ROW_PREFETCH
#define KERN_FROW frow
#define KERN_QTT 2
#define KERN_QDECODE tl_kern_avx2_qdecode
#include "runtime/kern_drive.h"

const tl_kernels tl_kernels_avx2 = {"avx2", quantize, matmul};
#endif
