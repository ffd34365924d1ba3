/* Vector math on floats for the trainer and the runtime: 16-lane GCC/clang vector types (split
 * into the machine's registers by the compiler: AVX-512, AVX2 or NEON), exp and tanh polynomials,
 * and the few reductions both need, each summed in a fixed order (16 lanes, then the lanes, then
 * the tail) so results do not depend on threading. */
#ifndef TL_BASE_VMATH_H
#define TL_BASE_VMATH_H

#include <stdint.h>
#include <string.h>

typedef float v16 __attribute__((vector_size(64)));
#define GELU_K 0.7978845608028654f /* sqrt(2/pi) */

typedef int32_t vi16 __attribute__((vector_size(64)));

/* mask ? a : b lane by lane (C has no vector ?:). */
static inline v16 tl_vsel(vi16 mask, v16 a, v16 b) {
    vi16 ia, ib;
    memcpy(&ia, &a, sizeof ia);
    memcpy(&ib, &b, sizeof ib);
    ia = (ia & mask) | (ib & ~mask);
    memcpy(&a, &ia, sizeof a);
    return a;
}

/* exp of 16 floats: x = n ln2 + r, |r| <= ln2/2, exp(r) by its degree-6 Taylor polynomial
 * (relative error about 1e-7), 2^n built in the exponent bits. Inputs are clamped to
 * [-87, 88] (results stay normal floats; below -87 they are ~1e-38, not 0). */
static inline v16 tl_vexp(v16 x) {
    const v16 hi = (v16){0} + 88.0f, lo = (v16){0} - 87.0f, magic = (v16){0} + 12582912.0f; /* 1.5 * 2^23 */
    x = tl_vsel(x > hi, hi, x);
    x = tl_vsel(x < lo, lo, x);
    v16 t = x * 1.44269504f + magic; /* round to nearest: n sits in the low mantissa bits */
    v16 n = t - magic;
    v16 r = x - n * 0.693145752f - n * 1.42860677e-6f;
    v16 p = 1.0f + r * (1.0f + r * (0.5f + r * (1.0f / 6 + r * (1.0f / 24 + r * (1.0f / 120 + r * (1.0f / 720))))));
    vi16 bits;
    memcpy(&bits, &t, sizeof bits);
    bits = (bits - 0x4B400000 + 127) << 23;
    v16 scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

/* tanh for 16 floats through exp: 1 - 2 / (exp(2u) + 1). */
static inline v16 tl_vtanh(v16 u) { return 1.0f - 2.0f / (tl_vexp(2.0f * u) + 1.0f); }

/* a . b over n floats. */
float tl_dot(const float *a, const float *b, int n);
/* y += a * x over n floats. */
void tl_axpy(float *y, float a, const float *x, int n);
/* max of x[0..n) (-inf for n = 0). */
float tl_vmax(const float *x, int n);
/* Sum of exp(x[i] - sub) for i < n; with y non-NULL also stores y[i] = exp(x[i] - sub) * mul (y may be x). */
float tl_exp_shift(float *y, const float *x, float sub, float mul, int n);
/* out[0..n) = GELU(inp) with GPT-2's tanh approximation (out may be inp). */
void tl_gelu(float *out, const float *inp, int n);

#endif
