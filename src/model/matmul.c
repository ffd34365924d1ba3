/* Dense fp32 matrix products for training: one packed, cache-blocked GEMM with a register-tiled
 * microkernel (GCC/clang vector extensions, sized for AVX-512, AVX2 or NEON at compile time),
 * parameterised by operand strides so the forward and both backward products share it.
 *
 * C[M, N] (+)= A[M, K] . B[K, N], A and B given by (row stride, column stride). The output is cut
 * into MC x NC blocks, one OpenMP task each; a task walks K in fixed KC slices, packing its A and B
 * slices into MR- and NR-wide panels, so every output element is summed by one thread in the same
 * order whatever the thread count. Attention's triangular products (tl_mm_shape) skip the tiles and
 * K ranges that hold only zeros or unwanted outputs. */
#include "model/matmul.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#if defined(__AVX512F__)
#define VL 16 /* floats per vector */
#define NV 2  /* vectors per tile row: NR = 32 */
#define MR 12
#elif defined(__ARM_NEON) || defined(__aarch64__)
#define VL 4
#define NV 4 /* NR = 16; 24 accumulators of NEON's 32 registers */
#define MR 6
#else
#define VL 8 /* AVX2 (or plain SSE, split by the compiler) */
#define NV 2 /* NR = 16 */
#define MR 6
#endif
#define NR (VL * NV)
#define KC 256
#define MC (MR * 10)
#define NC (NR * 8)

typedef float vf __attribute__((vector_size(VL * sizeof(float))));

/* Copies A[m0:m0+mc, k0:k0+kc] as MR-row panels, k-major, zero-padding the last panel. */
static void pack_a(float *dst, const float *A, long rsa, long csa, int m0, int mc, int k0, int kc) {
    for (int p = 0; p < mc; p += MR, dst += (long)MR * kc) {
        int rows = mc - p < MR ? mc - p : MR;
        const float *src = A + (long)(m0 + p) * rsa + (long)k0 * csa;
        if (rsa == 1 && rows == MR) { /* a transposed operand: the panel's MR values are adjacent */
            for (int k = 0; k < kc; k++) memcpy(dst + (long)k * MR, src + (long)k * csa, MR * sizeof(float));
            continue;
        }
        for (int r = 0; r < MR; r++) {
            const float *row = src + (long)r * rsa;
            float *d = dst + r;
            if (r < rows)
                for (int k = 0; k < kc; k++) d[(long)k * MR] = row[(long)k * csa];
            else
                for (int k = 0; k < kc; k++) d[(long)k * MR] = 0.0f;
        }
    }
}

/* Copies B[k0:k0+kc, n0:n0+nc] as NR-column panels, k-major, zero-padding the last panel. */
static void pack_b(float *dst, const float *B, long rsb, long csb, int n0, int nc, int k0, int kc) {
    for (int p = 0; p < nc; p += NR)
        for (int k = 0; k < kc; k++) {
            const float *row = B + (long)(k0 + k) * rsb;
            if (csb == 1 && p + NR <= nc) {
                memcpy(dst, row + n0 + p, NR * sizeof(float));
                dst += NR;
            } else {
                for (int c = 0; c < NR; c++) *dst++ = p + c < nc ? row[(long)(n0 + p + c) * csb] : 0.0f;
            }
        }
}

/* acc[MR][NV] = sum over kc of a-panel x b-panel. */
static inline void micro(vf acc[MR][NV], const float *a, const float *b, int kc) {
    /* fully unrolled so the MR x NV accumulators live in registers */
#pragma GCC unroll 16
    for (int r = 0; r < MR; r++)
#pragma GCC unroll 4
        for (int v = 0; v < NV; v++) acc[r][v] = (vf){0};
    for (int k = 0; k < kc; k++, a += MR, b += NR) {
        vf bv[NV];
        memcpy(bv, b, sizeof bv);
#pragma GCC unroll 16
        for (int r = 0; r < MR; r++) {
            vf av = a[r] - (vf){0}; /* a broadcast: x - 0 is x for every x (0 + x is not, for -0) */
#pragma GCC unroll 4
            for (int v = 0; v < NV; v++) acc[r][v] += av * bv[v];
        }
    }
}

/* The GEMM described at the top. On the first K slice, C = bias (or 0) + product when
 * `overwrite`, else C += product. Tasks are (row range, NC column block) pairs: a task packs each
 * KC x NC block of B once and streams its rows' A panels past it. How M is split among tasks does
 * not change any element's summation order (always K slices in order), so results are the same
 * for every thread count; tasks are handed out dynamically (triangular products are uneven).
 * Inside another parallel region (attention's loop over heads) it runs on the calling thread. */
static void gemm(int M, int N, int K, const float *A, long rsa, long csa, const float *B, long rsb, long csb,
                 float *C, long ldc, const float *bias, int overwrite, tl_mm_shape shape) {
    int nt = (N + NC - 1) / NC, want = 4 * omp_get_max_threads();
    int ms = nt >= want ? 1 : (want + nt - 1) / nt; /* row ranges, so small-N products still spread */
    int mrows = (M + ms - 1) / ms;
    mrows = (mrows + MR - 1) / MR * MR;
    ms = (M + mrows - 1) / mrows;
    /* panel buffers sized for this product (small products then stay small allocations) */
    size_t kmax = (size_t)(K < KC ? K : KC), pa_n = (size_t)(mrows < MC ? mrows : MC) * kmax,
           pb_n = (size_t)(N < NC ? (N + NR - 1) / NR * NR : NC) * kmax;
    pa_n = (pa_n + 16) / 16 * 16, pb_n = (pb_n + 16) / 16 * 16; /* aligned_alloc: a multiple of 64 bytes */
#pragma omp parallel
    {
        float *pa = aligned_alloc(64, sizeof(float) * pa_n);
        float *pb = aligned_alloc(64, sizeof(float) * pb_n);
#pragma omp for schedule(dynamic)
        for (int task = 0; task < ms * nt; task++) {
            int r0 = task / nt * mrows, r1 = r0 + mrows < M ? r0 + mrows : M, n0 = task % nt * NC;
            int nc = N - n0 < NC ? N - n0 : NC;
            for (int k0 = 0; k0 < K; k0 += KC) {
                int kc = K - k0 < KC ? K - k0 : KC;
                pack_b(pb, B, rsb, csb, n0, nc, k0, kc);
                for (int m0 = r0; m0 < r1; m0 += MC) {
                    int mc = r1 - m0 < MC ? r1 - m0 : MC;
                    pack_a(pa, A, rsa, csa, m0, mc, k0, kc);
                    for (int j = 0; j < nc; j += NR)
                        for (int i = 0; i < mc; i += MR) {
                            int rows = mc - i < MR ? mc - i : MR, cols = nc - j < NR ? nc - j : NR;
                            int row0 = m0 + i, ks = 0, ke = kc; /* this tile's rows; its K range in the slice */
                            if (shape == TL_MM_OUT_LOWER && n0 + j > row0 + rows - 1) continue;
                            if (shape == TL_MM_A_LOWER && ke > row0 + rows - k0) ke = row0 + rows - k0;
                            if (shape == TL_MM_A_UPPER && ks < row0 - k0) ks = row0 - k0;
                            if (ke < 0) ke = 0;
                            if (ks > ke) ks = ke; /* nothing of this slice: acc stays 0 */
                            vf acc[MR][NV];
                            micro(acc, pa + (long)i * kc + (long)ks * MR, pb + (long)j * kc + (long)ks * NR, ke - ks);
                            int first = k0 == 0 && overwrite;
                            if (cols == NR) { /* whole vectors: C rows loaded, added, stored */
                                vf bv[NV] = {{0}};
                                if (first && bias) memcpy(bv, bias + n0 + j, sizeof bv);
                                for (int r = 0; r < rows; r++) {
                                    float *c = C + (long)(row0 + r) * ldc + n0 + j;
                                    vf cv[NV];
                                    if (first) memcpy(cv, bv, sizeof cv);
                                    else memcpy(cv, c, sizeof cv);
                                    for (int v = 0; v < NV; v++) cv[v] += acc[r][v];
                                    memcpy(c, cv, sizeof cv);
                                }
                                continue;
                            }
                            float tile[MR][NR];
                            memcpy(tile, acc, sizeof tile);
                            for (int r = 0; r < rows; r++) {
                                float *c = C + (long)(row0 + r) * ldc + n0 + j;
                                if (first)
                                    for (int q = 0; q < cols; q++) c[q] = (bias ? bias[n0 + j + q] : 0.0f) + tile[r][q];
                                else
                                    for (int q = 0; q < cols; q++) c[q] += tile[r][q];
                            }
                        }
                }
            }
        }
        free(pa);
        free(pb);
    }
    if (K == 0 && overwrite)
        for (int i = 0; i < M; i++)
            for (int n = 0; n < N; n++) C[(long)i * ldc + n] = bias ? bias[n] : 0.0f;
}

/* Few rows (decoding one token): dot products straight from the rows, no packing. */
static void matvec_rows(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC) {
#pragma omp parallel for schedule(static)
    for (int o = 0; o < OC; o++) {
        const float *w = weight + (long)o * C;
        for (int i = 0; i < BT; i++) {
            const float *x = inp + (long)i * C;
            vf acc = {0};
            int k = 0;
            for (; k + VL <= C; k += VL) {
                vf a, b;
                memcpy(&a, x + k, sizeof a);
                memcpy(&b, w + k, sizeof b);
                acc += a * b;
            }
            float s = 0;
            for (int l = 0; l < VL; l++) s += acc[l];
            for (; k < C; k++) s += x[k] * w[k];
            out[(long)i * OC + o] = s + (bias ? bias[o] : 0.0f);
        }
    }
}

void tl_matmul_forward(float *out, const float *inp, const float *weight, const float *bias, int BT, int C, int OC) {
    if (BT < 4) matvec_rows(out, inp, weight, bias, BT, C, OC);
    else gemm(BT, OC, C, inp, C, 1, weight, 1, C, out, OC, bias, 1, TL_MM_FULL); /* B[k][n] = weight[n][k] */
}

void tl_matmul_backward(float *dinp, float *dweight, float *dbias, const float *dout, const float *inp,
                        const float *weight, int BT, int C, int OC) {
    if (dinp) gemm(BT, C, OC, dout, OC, 1, weight, C, 1, dinp, C, NULL, 0, TL_MM_FULL);     /* dout[BT,OC] . W[OC,C] */
    if (dweight) gemm(OC, C, BT, dout, 1, OC, inp, C, 1, dweight, C, NULL, 0, TL_MM_FULL); /* dout^T[OC,BT] . inp[BT,C] */
    if (dbias) {
#pragma omp parallel for schedule(static)
        for (int o0 = 0; o0 < OC; o0 += 64) {
            int n = OC - o0 < 64 ? OC - o0 : 64;
            float s[64] = {0};
            for (int i = 0; i < BT; i++)
                for (int q = 0; q < n; q++) s[q] += dout[(long)i * OC + o0 + q];
            for (int q = 0; q < n; q++) dbias[o0 + q] += s[q];
        }
    }
}

void tl_matmul_strided(float *C, long ldc, const float *A, long rsa, long csa, const float *B, long rsb, long csb,
                       int M, int N, int K, tl_mm_shape shape, int overwrite) {
    gemm(M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, NULL, overwrite, shape);
}
