/* Vector math: the reductions and GELU declared in vmath.h. */
#include "base/vmath.h"

#include <math.h>

/* a[0..n) . b[0..n) in a fixed order: 16 lanes, then the lanes, then the tail. */
float tl_dot(const float *a, const float *b, int n) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 x, y;
        memcpy(&x, a + i, sizeof x);
        memcpy(&y, b + i, sizeof y);
        acc += x * y;
    }
    float s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (; i < n; i++) s += a[i] * b[i];
    return s;
}

/* y[0..n) += a * x[0..n), 16 lanes at a time (each element on its own: the same result as one by one) */
void tl_axpy(float *y, float a, const float *x, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 vx, vy;
        memcpy(&vx, x + i, sizeof vx);
        memcpy(&vy, y + i, sizeof vy);
        vy += a * vx;
        memcpy(y + i, &vy, sizeof vy);
    }
    for (; i < n; i++) y[i] += a * x[i];
}

/* max of x[0..n) */
float tl_vmax(const float *x, int n) {
    v16 m = (v16){0} - INFINITY;
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 v;
        memcpy(&v, x + i, sizeof v);
        m = tl_vsel(v > m, v, m);
    }
    float r = -INFINITY;
    for (int l = 0; l < 16; l++) r = m[l] > r ? m[l] : r;
    for (; i < n; i++) r = x[i] > r ? x[i] : r;
    return r;
}

/* Sum of exp(x[i] - sub) for i < n in a fixed order (16 lanes, then the lanes, then the tail);
 * with y non-NULL also stores y[i] = exp(x[i] - sub) * mul (y may be x). */
float tl_exp_shift(float *y, const float *x, float sub, float mul, int n) {
    v16 acc = {0};
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 v;
        memcpy(&v, x + i, sizeof v);
        v = tl_vexp(v - sub);
        acc += v;
        if (y) {
            v *= mul;
            memcpy(y + i, &v, sizeof v);
        }
    }
    float s = 0;
    for (int l = 0; l < 16; l++) s += acc[l];
    for (; i < n; i++) {
        float v = expf(x[i] - sub);
        s += v;
        if (y) y[i] = v * mul;
    }
    return s;
}

void tl_gelu(float *out, const float *inp, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) {
        v16 x;
        memcpy(&x, inp + i, sizeof x);
        v16 y = 0.5f * x * (1.0f + tl_vtanh(GELU_K * (x + 0.044715f * x * x * x)));
        memcpy(out + i, &y, sizeof y);
    }
    for (; i < n; i++) {
        float x = inp[i];
        out[i] = 0.5f * x * (1.0f + tanhf(GELU_K * (x + 0.044715f * x * x * x)));
    }
}
