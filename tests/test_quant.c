/* Q8_0 / Q4_0 row codecs: bytes identical to an independent numpy quantizer (tests/quant_ref.py)
 * on random rows with awkward blocks (zeros, ties, one outlier, negative extremes, tiny values);
 * decoding within each format's error bound; f16 and f32 rows exact where they must be. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/rng.h"
#include "check.h"
#include "quant/quant.h"

enum { ROWS = 37, N = 256 };

int main(void) {
    const char *src = getenv("TL_SRC");
    static float x[ROWS * N], y[N];
    uint64_t s = 42;
    for (int i = 0; i < ROWS * N; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = ((float)(s >> 40) / (float)(1 << 24) - 0.5f) * (i % 7 ? 0.2f : 3.0f);
    }
    /* awkward blocks: all zero, ties for the largest |x| of both signs, a lone outlier, tiny values */
    for (int j = 0; j < 32; j++) x[j] = 0, x[32 + j] = j % 2 ? 0.5f : -0.5f, x[64 + j] = j == 9 ? -40.f : 0.01f,
                                  x[96 + j] = 1e-6f * (float)(j - 16);
    FILE *f = fopen("t_quant.f32", "wb");
    fwrite(x, sizeof x, 1, f);
    fclose(f);
    size_t b8 = tl_ggml_row_bytes(TL_GGML_Q8_0, N), b4 = tl_ggml_row_bytes(TL_GGML_Q4_0, N);
    CHECK(b8 == N / 32 * 34 && b4 == N / 32 * 18 && tl_ggml_row_bytes(TL_GGML_Q4_0, 48) == 0, "row sizes");
    unsigned char *q8 = malloc(ROWS * b8), *q4 = malloc(ROWS * b4);
    for (int r = 0; r < ROWS; r++) {
        tl_quant_row(TL_GGML_Q8_0, x + r * N, N, q8 + r * b8);
        tl_quant_row(TL_GGML_Q4_0, x + r * N, N, q4 + r * b4);
    }
    char cmd[4400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s/tests/quant_ref.py t_quant.f32 %d t_ref8 t_ref4", src ? src : "..", N);
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") == 0) {
        CHECK(system(cmd) == 0, "quant_ref.py failed");
        unsigned char *r8 = malloc(ROWS * b8), *r4 = malloc(ROWS * b4);
        f = fopen("t_ref8", "rb");
        CHECK(f && fread(r8, 1, ROWS * b8, f) == ROWS * b8, "ref q8_0");
        if (f) fclose(f);
        f = fopen("t_ref4", "rb");
        CHECK(f && fread(r4, 1, ROWS * b4, f) == ROWS * b4, "ref q4_0");
        if (f) fclose(f);
        size_t d8 = 0, d4 = 0;
        while (d8 < ROWS * b8 && q8[d8] == r8[d8]) d8++;
        while (d4 < ROWS * b4 && q4[d4] == r4[d4]) d4++;
        CHECK(d8 == ROWS * b8, "q8_0 differs from numpy at byte %zu (block %zu)", d8, d8 / 34);
        CHECK(d4 == ROWS * b4, "q4_0 differs from numpy at byte %zu (block %zu)", d4, d4 / 18);
        free(r8), free(r4);
        unlink("t_ref8"), unlink("t_ref4");
    } else fprintf(stderr, "note: /usr/bin/python3 has no numpy: byte comparison skipped\n");
    /* decoding: |x - x'| <= d/2 (q8_0: d = amax/127) and <= d (q4_0: d = amax/8), plus the f16 scale's rounding */
    int ok8 = 1, ok4 = 1;
    for (int r = 0; r < ROWS; r++) {
        tl_dequant_row(TL_GGML_Q8_0, q8 + r * b8, N, y);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[r * N + b * 32 + j]));
            /* the scale is stored in f16: its rounding adds up to 127 x its error */
            float d = amax / 127, d16 = tl_f16_to_f32((uint16_t)(q8[r * b8 + (size_t)b * 34] | q8[r * b8 + (size_t)b * 34 + 1] << 8));
            for (int j = 0; j < 32; j++)
                if (fabsf(y[b * 32 + j] - x[r * N + b * 32 + j]) > 0.5f * d16 + 127 * fabsf(d16 - d) + 1e-12f) ok8 = 0;
        }
        tl_dequant_row(TL_GGML_Q4_0, q4 + r * b4, N, y);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0;
            for (int j = 0; j < 32; j++) amax = fmaxf(amax, fabsf(x[r * N + b * 32 + j]));
            float d = amax / 8, d16 = fabsf(tl_f16_to_f32((uint16_t)(q4[r * b4 + (size_t)b * 18] | q4[r * b4 + (size_t)b * 18 + 1] << 8)));
            for (int j = 0; j < 32; j++) /* the extreme weight itself may be cut from 8 to 7 steps: up to d */
                if (fabsf(y[b * 32 + j] - x[r * N + b * 32 + j]) > d16 + 8 * fabsf(d16 - d) + 1e-12f) ok4 = 0;
        }
    }
    CHECK(ok8, "q8_0 decode error above d/2");
    CHECK(ok4, "q4_0 decode error above d");
    tl_dequant_row(TL_GGML_Q8_0, q8, 32, y);
    CHECK(y[0] == 0 && y[31] == 0, "zero block");
    unsigned char h[2 * N];
    tl_quant_row(TL_GGML_F16, x, N, h);
    tl_dequant_row(TL_GGML_F16, h, N, y);
    CHECK(y[41] == 0.5f && y[33] == 0.5f && y[32] == -0.5f, "f16 exact values");
    unsigned char w[4 * N];
    tl_quant_row(TL_GGML_F32, x + N, N, w);
    tl_dequant_row(TL_GGML_F32, w, N, y);
    CHECK(!memcmp(y, x + N, sizeof y), "f32 round trip");
    CHECK(tl_ggml_type_parse("q4_0") == TL_GGML_Q4_0 && tl_ggml_type_parse("q4_k") == -1 &&
              !strcmp(tl_ggml_type_name(TL_GGML_Q8_0), "q8_0"), "type names");
    free(q8), free(q4);
    unlink("t_quant.f32");
    CHECK_DONE();
}
