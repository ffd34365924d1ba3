/* NEON kernels for AArch64 (contract in kernels.h), written once and compiled twice: by
 * kern_neon.c for ARMv8.0 (the Raspberry Pi 4's Cortex-A72 has no dot-product instructions) and by
 * kern_neon_dot.c for ARMv8.2's sdot (Pi 5), which define KERN_NAME, KERN_SET and KERN_DOT first.
 *
 * Decode (one token) walks the weight rows one by one, in memory order; prefill works in tiles of
 * 4 rows x TT tokens (2 for integer types, 4 for float ones). Integer types step
 * one block (32 weights, two registers) at a time: KERN_DOT(acc, w, x) adds the products of 16
 * signed byte pairs into 4 int32 lanes, exactly; each block's lanes are then scaled by d_w * d_x. */
#include <arm_neon.h>

#include "runtime/kern_tile.h"

static inline float f16(uint16_t h) { return vgetq_lane_f32(vcvt_f32_f16(vreinterpret_f16_u16(vdup_n_u16(h))), 0); }

/* one block's 32 weights as signed bytes: Q8_0 as stored, Q4_0's nibbles (low: weights 0..15,
 * high: 16..31) minus 8 */
static inline void load_w(uint32_t type, const unsigned char *p, int8x16_t *w0, int8x16_t *w1) {
    if (type == TL_GGML_Q8_0) {
        *w0 = vld1q_s8((const int8_t *)p);
        *w1 = vld1q_s8((const int8_t *)p + 16);
        return;
    }
    uint8x16_t q = vld1q_u8(p);
    *w0 = vsubq_s8(vreinterpretq_s8_u8(vandq_u8(q, vdupq_n_u8(15))), vdupq_n_s8(8));
    *w1 = vsubq_s8(vreinterpretq_s8_u8(vshrq_n_u8(q, 4)), vdupq_n_s8(8));
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
    float32x4_t acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = vdupq_n_f32(0);
    for (int b = 0; b < nb; b++) {
        int8x16_t x0[4], x1[4];
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) {
            x0[j] = vld1q_s8(xr[j] + (size_t)b * TL_QK);
            x1[j] = vld1q_s8(xr[j] + (size_t)b * TL_QK + 16);
        }
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            int8x16_t w0, w1;
            load_w(w->type, wr[i] + (size_t)b * qb, &w0, &w1);
            float s = f16(dw[i][b]);
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) {
                int32x4_t d = vdupq_n_s32(0);
                d = KERN_DOT(d, w0, x0[j]);
                d = KERN_DOT(d, w1, x1[j]);
                acc[i][j] = vfmaq_n_f32(acc[i][j], vcvtq_f32_s32(d), s * dx[j][b]);
            }
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) out[i][j] = vaddvq_f32(acc[i][j]);
}

static inline float32x4_t load_f(uint32_t type, const unsigned char *p) {
    if (type == TL_GGML_F32) return vld1q_f32((const float *)p);
    return vcvt_f32_f16(vreinterpret_f16_u16(vld1_u16((const uint16_t *)p)));
}

static inline float load1(uint32_t type, const unsigned char *p) {
    if (type == TL_GGML_F16) return f16((uint16_t)(p[0] | p[1] << 8));
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
    float32x4_t acc[RMAX][4];
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) acc[i][j] = vdupq_n_f32(0);
    for (; k + 4 <= K; k += 4) {
        float32x4_t xv[4];
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) xv[j] = vld1q_f32(xr[j] + k);
        #pragma GCC unroll 4
        for (int i = 0; i < R; i++) {
            float32x4_t wv = load_f(w->type, wr[i] + (size_t)k * es);
            #pragma GCC unroll 4
            for (int j = 0; j < TT; j++) acc[i][j] = vfmaq_f32(acc[i][j], wv, xv[j]);
        }
    }
    #pragma GCC unroll 4
    for (int i = 0; i < R; i++)
        #pragma GCC unroll 4
        for (int j = 0; j < TT; j++) {
            out[i][j] = vaddvq_f32(acc[i][j]);
            for (int kk = k; kk < K; kk++) out[i][j] += load1(w->type, wr[i] + (size_t)kk * es) * xr[j][kk];
        }
}


#define KERN_QTT 4
#include "runtime/kern_drive.h"

const tl_kernels KERN_SET = {KERN_NAME, tl_kern_quantize_ref, matmul};
