/* The runtime's matrix kernels on random shapes with ragged tails (rows not a multiple of the
 * tile, odd block counts, K not a multiple of the vector width, 1..7 tokens), every weight type:
 *   - the scalar reference against a double-precision product of the decoded weights (quant.c's
 *     decoder, on the GGUF blocks) and decoded activations (d * q): within float rounding;
 *   - every other kernel set this CPU runs against the scalar reference: the integer sums are
 *     exact, so only float summation order differs (relative 1e-5 of the row's magnitude);
 *   - the activation quantizer against its definition (round half away from zero of x / d);
 *   - hand-made blocks at the ends of the integer codes, where a narrower sum would overflow;
 *   - outputs poisoned with NaN first, so an unwritten element fails. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "quant/quant.h"
#include "runtime/kernels.h"

static const uint32_t types[] = {TL_GGML_F32, TL_GGML_F16, TL_GGML_Q8_0, TL_GGML_Q4_0};

static void test_quantize(tl_rng *g) {
    enum { K = 256 };
    float x[K], d[K / 32];
    int8_t q[K];
    for (int i = 0; i < K; i++) x[i] = (tl_rng_f32(g) - 0.5f) * (i % 32 == 5 ? 30.0f : 2.0f);
    for (int i = 64; i < 96; i++) x[i] = 0; /* an all-zero block: d = 0, q = 0 */
    for (int i = 96; i < 128; i++) x[i] = (float)(i - 112) + 0.5f; /* d = 1 (amax 127 below): exact ties, */
    x[96] = 127;                                                    /* which round away from zero */
    tl_kern_quantize_ref(x, K, q, d);
    int bad = 0;
    for (int b = 0; b < K / 32; b++) {
        float amax = 0;
        for (int i = 0; i < 32; i++) amax = fmaxf(amax, fabsf(x[b * 32 + i]));
        if (d[b] != amax / 127) bad++;
        for (int i = 0; i < 32; i++) {
            float v = d[b] ? x[b * 32 + i] / d[b] : 0;
            if (fabsf((float)q[b * 32 + i] - v) > 0.5f + 1e-4f || abs(q[b * 32 + i]) > 127) bad++;
        }
    }
    CHECK(bad == 0, "quantizer: %d values off their definition", bad);
    /* every set's quantizer gives the reference's bytes and scales */
    for (int i = 0; tl_kernels_at(i); i++) {
        const tl_kernels *k = tl_kernels_get(tl_kernels_at(i)->name);
        if (!k) continue;
        int8_t q2[K];
        float d2[K / 32];
        memset(q2, 99, sizeof q2);
        k->quantize(x, K, q2, d2);
        CHECK(!memcmp(q, q2, sizeof q) && !memcmp(d, d2, sizeof d), "%s quantizer differs from the reference", k->name);
    }
}

/* W[rows, K] of `type` given as GGUF blocks, X[T, K]: every set against the references. */
static void check_sets(uint32_t type, int rows, int K, int T, const unsigned char *blocks, const float *x, const float *bias) {
    int q = type == TL_GGML_Q8_0 || type == TL_GGML_Q4_0;
    size_t rb = tl_ggml_row_bytes(type, (uint64_t)K);
    float *wd = malloc(sizeof(float) * (size_t)K);
    float *xd = malloc(sizeof(float) * (size_t)T * K), *ref = malloc(sizeof(float) * (size_t)T * rows);
    float *y = malloc(sizeof(float) * (size_t)T * rows), *d = calloc((size_t)T * (K / 32) + 16, sizeof(float));
    int8_t *qx = calloc((size_t)T * K + 64, 1); /* + the slack kernels may read (kernels.h) */
    unsigned char *arena = malloc(tl_wmat_packed_bytes(type, rows, K));
    tl_wmat w = tl_wmat_pack(type, rows, K, blocks, arena);
    tl_act a = {T, K, x, qx, d};
    for (int t = 0; t < T && q; t++) tl_kern_quantize_ref(x + (size_t)t * K, K, qx + (size_t)t * K, d + (size_t)t * (K / 32));
    if (q) { /* the slack kernels may read but must ignore: infinite scales, bytes of garbage */
        unsigned char *end = arena + tl_wmat_packed_bytes(type, rows, K);
        for (uint16_t *p = (uint16_t *)(w.d + (size_t)rows * (K / 32)); (unsigned char *)(p + 1) <= end; p++) *p = 0x7C00; /* f16 inf */
        for (int i = 0; i < 16; i++) d[(size_t)T * (K / 32) + i] = INFINITY;
        for (int i = 0; i < 64; i++) qx[(size_t)T * K + i] = (int8_t)(i * 37 + 11);
    }
    for (int t = 0; t < T; t++)
        for (int k = 0; k < K; k++) xd[t * K + k] = q ? d[t * (K / 32) + k / 32] * qx[t * K + k] : x[t * K + k];
    /* the double-precision reference from the GGUF blocks */
    for (int r = 0; r < rows; r++) {
        tl_dequant_row(type, blocks + (size_t)r * rb, (size_t)K, wd);
        float row_from_pack[4096];
        tl_wmat_row(&w, r, row_from_pack);
        CHECK(!memcmp(row_from_pack, wd, sizeof(float) * (size_t)K), "%s %dx%d: tl_wmat_row of row %d differs from the decoder",
              tl_ggml_type_name(type), rows, K, r);
        for (int t = 0; t < T; t++) {
            double s = bias[r];
            for (int k = 0; k < K; k++) s += (double)wd[k] * xd[t * K + k];
            ref[t * rows + r] = (float)s;
        }
    }
    for (int i = 0; tl_kernels_at(i); i++) {
        const tl_kernels *k = tl_kernels_get(tl_kernels_at(i)->name);
        if (!k) continue; /* this CPU lacks it */
        for (int j = 0; j < T * rows; j++) y[j] = NAN;
        /* two calls over a split of the rows, as the team does */
        int mid = rows / 3;
        k->matmul(&w, 0, mid, &a, bias, y, rows);
        k->matmul(&w, mid, rows, &a, bias, y, rows);
        double err = 0, norm = 0;
        int nan = 0;
        for (int j = 0; j < T * rows; j++) {
            if (isnan(y[j])) nan++;
            err = fmax(err, fabs((double)y[j] - ref[j]));
            norm = fmax(norm, fabs((double)ref[j]));
        }
        double rel = err / (norm + 1e-30);
        double tol = 2e-5 * sqrt((double)K / 64 + 1);
        CHECK(!nan && rel < tol, "%s on %s %dx%d, T=%d: %d unwritten, max error %.3g of %.3g (rel %.2e > %.2e)", k->name,
              tl_ggml_type_name(type), rows, K, T, nan, err, norm, rel, tol);
    }
    free(wd), free(xd), free(ref), free(y), free(d), free(qx), free(arena);
}

/* One random problem: W[rows, K] of `type`, X[T, K]. */
static void test_shape(tl_rng *g, uint32_t type, int rows, int K, int T) {
    size_t rb = tl_ggml_row_bytes(type, (uint64_t)K);
    float *wf = malloc(sizeof(float) * (size_t)rows * K), *x = malloc(sizeof(float) * (size_t)T * K);
    float *bias = malloc(sizeof(float) * (size_t)rows);
    unsigned char *blocks = malloc(rb * (size_t)rows);
    for (int i = 0; i < rows * K; i++) wf[i] = tl_rng_normal(g) * 0.5f;
    for (int i = 0; i < T * K; i++) x[i] = tl_rng_normal(g);
    for (int r = 0; r < rows; r++) bias[r] = tl_rng_normal(g);
    for (int r = 0; r < rows; r++) tl_quant_row(type, wf + (size_t)r * K, (size_t)K, blocks + (size_t)r * rb);
    check_sets(type, rows, K, T, blocks, x, bias);
    free(wf), free(x), free(bias), free(blocks);
}

/* The integer paths' extremes, where a narrower sum would overflow: every weight at a code's end
 * (Q8_0 127, -127 and, in a matrix of its own, -128, which ggml's quantizer never writes; Q4_0
 * nibbles 15 and 0) against activations at +-127 of the same or alternating signs. */
static void test_extremes(void) {
    enum { K = 800, ROWS = 9 }; /* 25 blocks: a partial group in every decode layout */
    static unsigned char blocks[ROWS * (K / 32) * 34];
    float x[3 * K], bias[ROWS] = {0};
    for (int t = 0; t < 3; t++)
        for (int k = 0; k < K; k++) x[t * K + k] = t == 0 ? 1.0f : t == 1 ? -1.0f : (k % 2 ? 1.0f : -1.0f);
    for (int m128 = 0; m128 < 2; m128++) { /* Q8_0 */
        for (int r = 0; r < ROWS; r++)
            for (int b = 0; b < K / 32; b++) {
                unsigned char *blk = blocks + ((size_t)r * (K / 32) + b) * 34;
                blk[0] = 0x00, blk[1] = 0x3C; /* d = 1 */
                for (int i = 0; i < 32; i++) {
                    int v = r % 3 == 0 ? 127 : r % 3 == 1 ? (m128 ? -128 : -127) : (i % 2 ? 127 : -127);
                    blk[2 + i] = (unsigned char)(int8_t)v;
                }
            }
        for (int T = 1; T <= 3; T += 2) check_sets(TL_GGML_Q8_0, ROWS, K, T, blocks, x + (T == 1 ? 2 * K : 0), bias);
    }
    for (int r = 0; r < ROWS; r++) /* Q4_0 */
        for (int b = 0; b < K / 32; b++) {
            unsigned char *blk = blocks + ((size_t)r * (K / 32) + b) * 18;
            blk[0] = 0x00, blk[1] = 0x3C;
            for (int i = 0; i < 16; i++) blk[2 + i] = r % 3 == 0 ? 0xFF : r % 3 == 1 ? 0x00 : (i % 2 ? 0xF0 : 0x0F);
        }
    for (int t = 0; t < 3; t++) check_sets(TL_GGML_Q4_0, ROWS, K, 1, blocks, x + (size_t)t * K, bias);
    check_sets(TL_GGML_Q4_0, ROWS, K, 3, blocks, x, bias);
}

int main(void) {
    tl_rng g;
    tl_rng_seed(&g, 7);
    test_quantize(&g);
    test_extremes();
    for (int i = 0; tl_kernels_at(i); i++)
        fprintf(stderr, "kernel set %s: %s\n", tl_kernels_at(i)->name, tl_kernels_get(tl_kernels_at(i)->name) ? "runs here" : "not on this CPU");
    fprintf(stderr, "best: %s\n", tl_kernels_best()->name);
    static const int shapes[][3] = {{1, 32, 1},  {3, 32, 2},   {4, 64, 1},   {5, 96, 3},    {7, 160, 1},  {9, 288, 5},
                                    {13, 480, 7}, {16, 512, 4}, {33, 768, 1}, {17, 1056, 2}, {64, 3072, 3}, {6, 4096, 1},
                                    {2, 96, 1},   {11, 224, 1}, {7, 2080, 1}}; /* decode tails: 3 and 7 blocks; wide rows read 2 at a time, an odd count */
    for (size_t t = 0; t < sizeof types / sizeof *types; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) test_shape(&g, types[t], shapes[s][0], shapes[s][1], shapes[s][2]);
    /* float weights also take K that is no multiple of 32 (or of any vector width) */
    static const int fshapes[][3] = {{5, 3, 2}, {6, 17, 5}, {9, 100, 1}, {3, 1001, 4}, {4, 17, 1}, {5, 1001, 1}, {2, 200, 1}};
    for (size_t s = 0; s < sizeof fshapes / sizeof *fshapes; s++) {
        test_shape(&g, TL_GGML_F32, fshapes[s][0], fshapes[s][1], fshapes[s][2]);
        test_shape(&g, TL_GGML_F16, fshapes[s][0], fshapes[s][1], fshapes[s][2]);
    }
    CHECK_DONE();
}
