/* GPT-2's operations on the CPU, fp32: forward/backward pairs, outputs first, shapes in comments.
 *
 * B batch, T time, C channels, NH heads, hs = C/NH, V vocabulary, Vp padded vocabulary. Backward
 * functions accumulate (+=) into parameter gradients and into input gradients unless noted. Every
 * parallel loop gives each output element to one thread with a fixed summation order, so results
 * are bit-identical for any thread count. */
#include "model/ops.h"

#include <math.h>
#include <string.h>

#include "base/vmath.h"
#include "model/matmul.h"

#define LN_EPS 1e-5f


/* out[BT, C] = wte[inp[bt]] + wpe[t] */
void tl_encoder_forward(float *out, const int32_t *inp, const float *wte, const float *wpe, int B, int T, int C) {
#pragma omp parallel for schedule(static)
    for (int bt = 0; bt < B * T; bt++) {
        const float *w = wte + (long)inp[bt] * C, *p = wpe + (long)(bt % T) * C;
        for (int c = 0; c < C; c++) out[(long)bt * C + c] = w[c] + p[c];
    }
}

/* dwte, dwpe += scatter of dout[BT, C]; serial over positions so repeated tokens sum in order. */
void tl_encoder_backward(float *dwte, float *dwpe, const float *dout, const int32_t *inp, int B, int T, int C) {
    for (int bt = 0; bt < B * T; bt++) {
        float *w = dwte + (long)inp[bt] * C, *p = dwpe + (long)(bt % T) * C;
        const float *d = dout + (long)bt * C;
        for (int c = 0; c < C; c++) {
            w[c] += d[c];
            p[c] += d[c];
        }
    }
}

/* out[N, C] = (inp - mean) * rstd * w + b per row; saves mean[N], rstd[N] for the backward. */
void tl_layernorm_forward(float *out, float *mean, float *rstd, const float *inp, const float *w, const float *b,
                              int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (long)i * C;
        float m = 0, v = 0;
        for (int c = 0; c < C; c++) m += x[c];
        m /= C;
        for (int c = 0; c < C; c++) v += (x[c] - m) * (x[c] - m);
        float s = 1.0f / sqrtf(v / C + LN_EPS);
        for (int c = 0; c < C; c++) out[(long)i * C + c] = (x[c] - m) * s * w[c] + b[c];
        mean[i] = m;
        rstd[i] = s;
    }
}

/* dinp[N, C], dw[C], db[C] += gradients of layernorm_forward given dout[N, C]. */
void tl_layernorm_backward(float *dinp, float *dw, float *db, const float *dout, const float *inp, const float *w,
                               const float *mean, const float *rstd, int N, int C) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < N; i++) {
        const float *x = inp + (long)i * C, *d = dout + (long)i * C;
        float dnorm_mean = 0, dnorm_norm = 0;
        for (int c = 0; c < C; c++) {
            float n = (x[c] - mean[i]) * rstd[i], dn = d[c] * w[c];
            dnorm_mean += dn;
            dnorm_norm += dn * n;
        }
        dnorm_mean /= C;
        dnorm_norm /= C;
        for (int c = 0; c < C; c++) {
            float n = (x[c] - mean[i]) * rstd[i], dn = d[c] * w[c];
            dinp[(long)i * C + c] += (dn - dnorm_mean - n * dnorm_norm) * rstd[i];
        }
    }
    if (!dw) return; /* frozen weights (LoRA fine-tuning) */
#pragma omp parallel for schedule(static)
    for (int c0 = 0; c0 < C; c0 += 16) { /* weights: each 16-channel block summed over rows by one thread */
        int nc = C - c0 < 16 ? C - c0 : 16;
        float sw[16] = {0}, sb[16] = {0};
        for (int i = 0; i < N; i++)
            for (int c = 0; c < nc; c++) {
                float g = dout[(long)i * C + c0 + c];
                sw[c] += g * (inp[(long)i * C + c0 + c] - mean[i]) * rstd[i];
                sb[c] += g;
            }
        for (int c = 0; c < nc; c++) {
            dw[c0 + c] += sw[c];
            db[c0 + c] += sb[c];
        }
    }
}

/* Causal self-attention. qkv[B, T, 3C] (q | k | v, heads contiguous inside each) ->
 * out[B, T, C]; att[B, NH, T, T] keeps the softmax probabilities (row t: columns 0..t, zeros after).
 * Per (b, h), one thread: S = q k^T (lower triangle), row softmax, out = P v, the products on the
 * training GEMM (matmul.c) with the triangles skipped. */
void tl_attention_forward(float *out, float *att, const float *qkv, int B, int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            const float *q = qkv + (long)b * T * 3 * C + h * hs, *k = q + C, *v = q + 2 * C;
            float *p = att + ((long)b * NH + h) * T * T;
            tl_matmul_strided(p, T, q, 3 * C, 1, k, 1, 3 * C, T, T, hs, TL_MM_OUT_LOWER, 1); /* [T,hs].[hs,T] */
            for (int t = 0; t < T; t++) {
                float *a = p + (long)t * T, mx = -INFINITY, sum = 0;
                for (int u = 0; u <= t; u++) mx = fmaxf(mx, a[u] *= scale);
                for (int u = 0; u <= t; u++) sum += (a[u] = expf(a[u] - mx));
                float inv = 1.0f / sum;
                for (int u = 0; u <= t; u++) a[u] *= inv;
                for (int u = t + 1; u < T; u++) a[u] = 0;
            }
            tl_matmul_strided(out + (long)b * T * C + h * hs, C, p, T, 1, v, 3 * C, 1, T, hs, T, TL_MM_A_LOWER, 1);
        }
}

/* dqkv[B, T, 3C] += gradients of attention_forward given dout[B, T, C]. One thread owns a whole
 * (b, h): its q, k and v gradient slices are written by no one else. scratch: [B, NH, T, T]. */
void tl_attention_backward(float *dqkv, float *scratch, const float *dout, const float *qkv, const float *att, int B,
                               int T, int C, int NH) {
    int hs = C / NH;
    float scale = 1.0f / sqrtf((float)hs);
#pragma omp parallel for collapse(2) schedule(static)
    for (int b = 0; b < B; b++)
        for (int h = 0; h < NH; h++) {
            long o = (long)b * T * 3 * C + h * hs;
            const float *q = qkv + o, *k = q + C, *v = q + 2 * C, *d = dout + (long)b * T * C + h * hs;
            const float *p = att + ((long)b * NH + h) * T * T;
            float *ds = scratch + ((long)b * NH + h) * T * T, *dq = dqkv + o, *dk = dq + C, *dv = dq + 2 * C;
            tl_matmul_strided(ds, T, d, C, 1, v, 1, 3 * C, T, T, hs, TL_MM_OUT_LOWER, 1); /* dP = dout v^T */
            tl_matmul_strided(dv, 3 * C, p, 1, T, d, C, 1, T, hs, T, TL_MM_A_UPPER, 0);    /* dv += P^T dout */
            for (int t = 0; t < T; t++) { /* through the softmax, then the 1/sqrt(hs) scale */
                const float *a = p + (long)t * T;
                float *g = ds + (long)t * T, dsum = 0;
                for (int u = 0; u <= t; u++) dsum += a[u] * g[u];
                for (int u = 0; u <= t; u++) g[u] = a[u] * (g[u] - dsum) * scale;
                for (int u = t + 1; u < T; u++) g[u] = 0;
            }
            tl_matmul_strided(dq, 3 * C, ds, T, 1, k, 3 * C, 1, T, hs, T, TL_MM_A_LOWER, 0); /* dq += dS k */
            tl_matmul_strided(dk, 3 * C, ds, 1, T, q, 3 * C, 1, T, hs, T, TL_MM_A_UPPER, 0); /* dk += dS^T q */
        }
}

/* out[N] = gelu(inp[N]), tanh approximation. */
void tl_gelu_forward(float *out, const float *inp, long N) {
#pragma omp parallel for schedule(static)
    for (long i0 = 0; i0 < N; i0 += 1024) tl_gelu(out + i0, inp + i0, i0 + 1024 < N ? 1024 : (int)(N - i0));
}

void tl_gelu_backward(float *dinp, const float *inp, const float *dout, long N) {
#pragma omp parallel for schedule(static)
    for (long i0 = 0; i0 < N; i0 += 1024) {
        long end = i0 + 1024 < N ? i0 + 1024 : N, i = i0;
        for (; i + 16 <= end; i += 16) {
            v16 x, d;
            memcpy(&x, inp + i, sizeof x);
            memcpy(&d, dout + i, sizeof d);
            v16 th = tl_vtanh(GELU_K * (x + 0.044715f * x * x * x));
            v16 g = d * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x));
            memcpy(dinp + i, &g, sizeof g);
        }
        for (; i < end; i++) {
            float x = inp[i], th = tanhf(GELU_K * (x + 0.044715f * x * x * x));
            dinp[i] = dout[i] * (0.5f * (1.0f + th) + 0.5f * x * (1.0f - th * th) * GELU_K * (1.0f + 3.0f * 0.044715f * x * x));
        }
    }
}

void tl_residual_forward(float *out, const float *a, const float *b, long N) {
#pragma omp parallel for schedule(static)
    for (long i = 0; i < N; i++) out[i] = a[i] + b[i];
}

/* losses[BT] and lse[BT] (log-sum-exp) from logits[BT, Vp] over the first V entries; positions
 * with target -1 get loss 0. Returns the number of counted positions; *mean the mean loss. */
int tl_crossentropy_forward(float *losses, float *lse, const float *logits, const int32_t *targets, int BT, int V,
                                int Vp, float *mean) {
    int counted = 0;
    double sum = 0;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        const float *l = logits + (long)i * Vp;
        float mx = tl_vmax(l, V);
        lse[i] = mx + logf(tl_exp_shift(NULL, l, mx, 1.0f, V));
        losses[i] = targets[i] >= 0 ? lse[i] - l[targets[i]] : 0.0f;
    }
    for (int i = 0; i < BT; i++)
        if (targets[i] >= 0) {
            sum += losses[i];
            counted++;
        }
    *mean = counted ? (float)(sum / counted) : 0.0f;
    return counted;
}

/* logits[BT, Vp] becomes dlogits in place: (softmax - onehot(target)) * dscale on counted rows,
 * 0 on ignored rows and padded columns. */
void tl_crossentropy_backward(float *logits, const float *lse, const int32_t *targets, int BT, int V, int Vp,
                                  float dscale) {
#pragma omp parallel for schedule(static)
    for (int i = 0; i < BT; i++) {
        float *l = logits + (long)i * Vp;
        if (targets[i] < 0) {
            memset(l, 0, sizeof(float) * (size_t)Vp);
            continue;
        }
        tl_exp_shift(l, l, lse[i], dscale, V);
        l[targets[i]] -= dscale;
        for (int v = V; v < Vp; v++) l[v] = 0;
    }
}

