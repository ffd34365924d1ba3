/* The reference kernels: plain C, one output element at a time (contract in kernels.h). */
#include <math.h>
#include <string.h>

#include "quant/quant.h"
#include "runtime/kernels.h"

void tl_kern_quantize_ref(const float *x, int K, int8_t *q, float *d) {
    for (int b = 0; b < K / TL_QK; b++, x += TL_QK, q += TL_QK) {
        float amax = 0;
        for (int i = 0; i < TL_QK; i++) amax = fabsf(x[i]) > amax ? fabsf(x[i]) : amax;
        float s = amax / 127, id = s ? 1 / s : 0;
        d[b] = s;
        for (int i = 0; i < TL_QK; i++) { /* roundf, without the call: the remainder of truncation is exact */
            float v = x[i] * id, t = truncf(v);
            q[i] = (int8_t)(fabsf(v - t) >= 0.5f ? t + copysignf(1.0f, v) : t);
        }
    }
}

static float f16(const unsigned char *p) { return tl_f16_to_f32((uint16_t)(p[0] | p[1] << 8)); }

size_t tl_wmat_packed_bytes(uint32_t type, int rows, int cols) {
    size_t blocks = (size_t)rows * (size_t)(cols / TL_QK);
    if (type == TL_GGML_Q8_0) return (blocks * (32 + 2) + 63) / 64 * 64 + 64; /* + the slack kernels may read */
    if (type == TL_GGML_Q4_0) return (blocks * (16 + 2) + 63) / 64 * 64 + 64;
    return 0;
}

tl_wmat tl_wmat_pack(uint32_t type, int rows, int cols, const void *data, void *arena) {
    tl_wmat w = {type, rows, cols, (size_t)tl_ggml_row_bytes(type, (uint64_t)cols), data, NULL, 0};
    if (type != TL_GGML_Q8_0 && type != TL_GGML_Q4_0) return w;
    size_t nb = (size_t)cols / TL_QK, qb = type == TL_GGML_Q8_0 ? 32 : 16;
    unsigned char *qs = arena;
    uint16_t *d = (uint16_t *)(qs + (size_t)rows * nb * qb); /* an even offset: qb is */
    for (size_t r = 0; r < (size_t)rows; r++)
        for (size_t b = 0; b < nb; b++) {
            const unsigned char *blk = (const unsigned char *)data + r * w.row_bytes + b * (2 + qb);
            d[r * nb + b] = (uint16_t)(blk[0] | blk[1] << 8);
            memcpy(qs + (r * nb + b) * qb, blk + 2, qb);
            for (size_t i = 0; i < qb && type == TL_GGML_Q8_0; i++) w.q8_min |= blk[2 + i] == 0x80;
        }
    w.row_bytes = nb * qb;
    w.data = qs;
    w.d = d;
    return w;
}

void tl_wmat_row(const tl_wmat *w, int r, float *out) {
    const unsigned char *row = (const unsigned char *)w->data + (size_t)r * w->row_bytes;
    if (w->type == TL_GGML_F32 || w->type == TL_GGML_F16) {
        tl_dequant_row(w->type, row, (size_t)w->cols, out);
        return;
    }
    const uint16_t *d = w->d + (size_t)r * (size_t)(w->cols / TL_QK);
    for (int b = 0; b < w->cols / TL_QK; b++, out += TL_QK) {
        float s = tl_f16_to_f32(d[b]);
        for (int i = 0; i < TL_QK; i++)
            out[i] = s * (float)(w->type == TL_GGML_Q8_0 ? (int8_t)row[b * TL_QK + i]
                                                         : ((row[b * 16 + i % 16] >> (i / 16 * 4)) & 15) - 8);
    }
}

/* One row of W (any type) against one token's activations. */
static float dot_row(const tl_wmat *w, int r, const tl_act *a, int t) {
    int K = w->cols;
    const unsigned char *row = (const unsigned char *)w->data + (size_t)r * w->row_bytes;
    const float *x = a->f + (size_t)t * K;
    float sum = 0;
    switch (w->type) {
    case TL_GGML_F32:
        for (int k = 0; k < K; k++) {
            float v;
            memcpy(&v, row + 4 * k, 4);
            sum += v * x[k];
        }
        return sum;
    case TL_GGML_F16:
        for (int k = 0; k < K; k++) sum += f16(row + 2 * k) * x[k];
        return sum;
    }
    const int8_t *q = a->q + (size_t)t * K;
    const float *dx = a->d + (size_t)t * (K / TL_QK);
    const uint16_t *dw = w->d + (size_t)r * (size_t)(K / TL_QK);
    for (int b = 0; b < K / TL_QK; b++) {
        int32_t isum = 0;
        if (w->type == TL_GGML_Q8_0) {
            for (int i = 0; i < TL_QK; i++) isum += (int8_t)row[b * TL_QK + i] * q[b * TL_QK + i];
        } else {
            for (int i = 0; i < TL_QK / 2; i++) {
                isum += ((row[b * 16 + i] & 15) - 8) * q[b * TL_QK + i];
                isum += ((row[b * 16 + i] >> 4) - 8) * q[b * TL_QK + i + 16];
            }
        }
        sum += tl_f16_to_f32(dw[b]) * dx[b] * (float)isum;
    }
    return sum;
}

static void matmul(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y, long ldy) {
    for (int t = 0; t < a->T; t++)
        for (int r = r0; r < r1; r++)
            y[t * ldy + r] = dot_row(w, r, a, t) + (bias ? bias[r] : 0);
}

const tl_kernels tl_kernels_scalar = {"scalar", tl_kern_quantize_ref, matmul};
