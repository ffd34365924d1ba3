/* Matmul forward and backward against a double-precision reference on random shapes with ragged
 * edges (accumulating into pre-filled outputs), attention's triangular products, and bit-identical
 * results with 1 and 2 threads. */
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "model/matmul.h"

static tl_rng rng;

static float *randv(size_t n) {
    float *p = malloc(n * sizeof *p + 4);
    for (size_t i = 0; i < n; i++) p[i] = tl_rng_f32(&rng) * 2 - 1;
    return p;
}

/* max |got - want| / (sqrt(K) * 1e-6 * scale + 1e-6): <= 1 passes */
static double err(const float *got, const double *want, size_t n, int K) {
    double w = 0;
    for (size_t i = 0; i < n; i++) w = fmax(w, fabs(got[i] - want[i]) / (1e-6 * sqrt((double)K) * 4 + 1e-6));
    return w;
}

static void check_shape(int BT, int C, int OC, int with_bias) {
    float *inp = randv((size_t)BT * C), *w = randv((size_t)OC * C), *bias = with_bias ? randv((size_t)OC) : NULL;
    float *out = randv((size_t)BT * OC), *dout = randv((size_t)BT * OC);
    float *dinp = randv((size_t)BT * C), *dw = randv((size_t)OC * C), *db = randv((size_t)OC);
    double *r_out = malloc(sizeof(double) * BT * OC), *r_dinp = malloc(sizeof(double) * BT * C);
    double *r_dw = malloc(sizeof(double) * OC * C), *r_db = malloc(sizeof(double) * OC);
    for (int i = 0; i < BT; i++)
        for (int o = 0; o < OC; o++) {
            double s = bias ? bias[o] : 0;
            for (int k = 0; k < C; k++) s += (double)inp[i * C + k] * w[o * C + k];
            r_out[i * OC + o] = s;
        }
    for (int i = 0; i < BT; i++)
        for (int k = 0; k < C; k++) {
            double s = dinp[i * C + k];
            for (int o = 0; o < OC; o++) s += (double)dout[i * OC + o] * w[o * C + k];
            r_dinp[i * C + k] = s;
        }
    for (int o = 0; o < OC; o++) {
        double sb = db[o];
        for (int k = 0; k < C; k++) {
            double s = dw[o * C + k];
            for (int i = 0; i < BT; i++) s += (double)dout[i * OC + o] * inp[i * C + k];
            r_dw[o * C + k] = s;
        }
        for (int i = 0; i < BT; i++) sb += dout[i * OC + o];
        r_db[o] = sb;
    }
    tl_matmul_forward(out, inp, w, bias, BT, C, OC);
    tl_matmul_backward(dinp, dw, with_bias ? db : NULL, dout, inp, w, BT, C, OC);
    double e1 = err(out, r_out, (size_t)BT * OC, C), e2 = err(dinp, r_dinp, (size_t)BT * C, OC),
           e3 = err(dw, r_dw, (size_t)OC * C, BT), e4 = with_bias ? err(db, r_db, (size_t)OC, BT) : 0;
    CHECK(e1 <= 1 && e2 <= 1 && e3 <= 1 && e4 <= 1, "BT=%d C=%d OC=%d bias=%d: out %.2f dinp %.2f dw %.2f db %.2f (x tolerance)",
          BT, C, OC, with_bias, e1, e2, e3, e4);
    free(inp), free(w), free(bias), free(out), free(dout), free(dinp), free(dw), free(db);
    free(r_out), free(r_dinp), free(r_dw), free(r_db);
}

/* tl_matmul_strided on attention's triangular shapes, T x T operands read transposed or not,
 * against a double reference of the entries each shape promises. */
static void check_tri(int T, int D, tl_mm_shape shape, int transposed, int overwrite) {
    /* OUT_LOWER: C[T,T] = X[T,D] . Y[D,T]; A_LOWER / A_UPPER: C[T,D] (+)= A[T,T] . Y[T,D] */
    int M = T, N = shape == TL_MM_OUT_LOWER ? T : D, K = shape == TL_MM_OUT_LOWER ? D : T;
    float *A = randv((size_t)M * K), *B = randv((size_t)K * N), *C = randv((size_t)M * N);
    double *ref = malloc(sizeof(double) * (size_t)M * N);
    long rsa = transposed ? 1 : K, csa = transposed ? M : 1; /* transposed: A[i][k] stored at k * M + i */
    for (int i = 0; i < M; i++)
        for (int k = 0; k < K; k++) {
            int zero = (shape == TL_MM_A_LOWER && k > i) || (shape == TL_MM_A_UPPER && k < i);
            if (zero) A[i * rsa + k * csa] = 0;
        }
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            double s = overwrite ? 0 : C[i * N + n];
            for (int k = 0; k < K; k++) s += (double)A[i * rsa + k * csa] * B[k * N + n];
            ref[i * N + n] = s;
        }
    tl_matmul_strided(C, N, A, rsa, csa, B, N, 1, M, N, K, shape, overwrite);
    double w = 0;
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++)
            if (shape != TL_MM_OUT_LOWER || n <= i)
                w = fmax(w, fabs(C[i * N + n] - ref[i * N + n]) / (1e-6 * sqrt((double)K) * 4 + 1e-6));
    CHECK(w <= 1, "strided T=%d D=%d shape %d transposed %d overwrite %d: %.2f x tolerance", T, D, (int)shape, transposed,
          overwrite, w);
    free(A), free(B), free(C), free(ref);
}

int main(void) {
    tl_rng_seed(&rng, 7);
    for (int k = 0; k < 60; k++)
        check_shape(1 + (int)tl_rng_below(&rng, 70), 1 + (int)tl_rng_below(&rng, 130), 1 + (int)tl_rng_below(&rng, 150),
                    (int)(k % 2));
    check_shape(1, 384, 50, 1);     /* decoding: one row */
    check_shape(3, 100, 257, 0);
    check_shape(300, 520, 97, 1);   /* K over two KC slices, ragged M */
    check_shape(130, 64, 600, 1);   /* N over several NC blocks */

    for (int k = 0; k < 24; k++)
        check_tri(1 + (int)tl_rng_below(&rng, 300), 1 + (int)tl_rng_below(&rng, 70), (tl_mm_shape)(1 + k % 3), k / 3 % 2,
                  k / 6 % 2);
    check_tri(700, 64, TL_MM_A_LOWER, 0, 1); /* K over several KC slices */
    check_tri(700, 64, TL_MM_A_UPPER, 1, 0);

    /* bit-identical for 1 and 2 threads */
    int BT = 200, C = 300, OC = 700;
    float *inp = randv((size_t)BT * C), *w = randv((size_t)OC * C), *dout = randv((size_t)BT * OC);
    float *res[2][3];
    for (int t = 0; t < 2; t++) {
        omp_set_num_threads(t + 1);
        res[t][0] = calloc((size_t)BT * OC, 4);
        res[t][1] = calloc((size_t)BT * C, 4);
        res[t][2] = calloc((size_t)OC * C, 4);
        tl_matmul_forward(res[t][0], inp, w, NULL, BT, C, OC);
        tl_matmul_backward(res[t][1], res[t][2], NULL, dout, inp, w, BT, C, OC);
    }
    CHECK(!memcmp(res[0][0], res[1][0], (size_t)BT * OC * 4) && !memcmp(res[0][1], res[1][1], (size_t)BT * C * 4) &&
              !memcmp(res[0][2], res[1][2], (size_t)OC * C * 4),
          "results differ between 1 and 2 threads");
    for (int t = 0; t < 2; t++)
        for (int i = 0; i < 3; i++) free(res[t][i]);
    free(inp), free(w), free(dout);
    CHECK_DONE();
}
