/* The runtime's matrix kernels: Y[T, rows] = X[T, K] . W[rows, K]^T + bias, with W in ggml's F32,
 * F16, Q8_0 or Q4_0 rows (quant/quant.h) and X in f32 — one kernel serves decode (T = 1, a
 * matrix-vector product) and prefill (T > 1, weights reused across the tokens of a tile).
 *
 * For Q8_0 and Q4_0 weights the activations are first quantized like llama.cpp's: per block of 32,
 *   d = max|x| / 127,  q = round(x / d) (int8),
 * and a row's product is sum over blocks b of d_w[b] * d_x[b] * (integer dot of the 32 pairs),
 * the dot exact in int32. F32 and F16 weights take the f32 activations as they are.
 *
 * Kernel sets, one per instruction set, chosen at run time (tl_kernels_best) or by name:
 *   scalar      the reference: plain C, defines the results the others must match
 *   avx2        x86-64 AVX2 + FMA + F16C
 *   avx512      x86-64 AVX-512 F/BW/VL + VNNI
 *   neon        ARMv8.0 NEON (Raspberry Pi 4: no dot-product instructions)
 *   neon-dot    ARMv8.2 NEON with sdot (Raspberry Pi 5)
 * The integer sums are exact in every set; float sums run in another order, so results differ
 * from the reference by rounding only (tests/test_kernels.c bounds it). */
#ifndef TL_RUNTIME_KERNELS_H
#define TL_RUNTIME_KERNELS_H

#include <stddef.h>
#include <stdint.h>

/* A weight matrix, `rows` rows of `cols` values (cols a multiple of 32 for Q8_0/Q4_0).
 * F32, F16: the file's row-major values in place (row_bytes apart), d unused.
 * Q8_0, Q4_0: repacked when the model is opened (runtime/model.c), for wide loads: per row the
 * quants alone, row_bytes apart — Q8_0 one int8 per weight; Q4_0 16 bytes per block of 32, byte
 * j holding weight j (low nibble) and weight j + 16 (high nibble), each + 8 — and the f16 block
 * scales in d[rows][cols / 32]. Kernels may read up to 64 bytes past the end of the quants and
 * of the scales (the arena has that slack) and ignore what they read there. */
typedef struct tl_wmat {
    uint32_t type; /* TL_GGML_F32, F16, Q8_0 or Q4_0 */
    int rows, cols;
    size_t row_bytes;
    const void *data;
    const uint16_t *d;
    int q8_min; /* Q8_0: some weight is -128 (ggml's quantizer writes none); kernels that take w's
                   sign by x's, where -(-128) does not fit, leave such a matrix to an exact path */
} tl_wmat;

/* Activations of T tokens with K features, prepared for one weight type. */
typedef struct tl_act {
    int T, K;
    const float *f; /* [T][K]: always present */
    int8_t *q;      /* [T][K] and [T][K / 32], filled by quantize for Q8_0/Q4_0 weights; both */
    float *d;       /* readable 64 bytes past their end, like the weights' scales */
} tl_act;

typedef struct tl_kernels {
    const char *name;
    /* q[0..K), d[0..K/32) from x[0..K) (K a multiple of 32) */
    void (*quantize)(const float *x, int K, int8_t *q, float *d);
    /* Y[t * ldy + r] = X_t . W_r + (bias ? bias[r] : 0) for t < a->T and r0 <= r < r1 */
    void (*matmul)(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y, long ldy);
} tl_kernels;

/* The best set for this CPU (avx512-d256 on AMD Zen 4, else the first that runs); `name` forces one
 * ("scalar", "avx2", ...): NULL when this build or CPU lacks it. tl_kernels_at(i) walks this
 * build's sets, best first, NULL past the last. */
const tl_kernels *tl_kernels_best(void);
const tl_kernels *tl_kernels_get(const char *name);
const tl_kernels *tl_kernels_at(int i);

/* The sets; each ISA's exists only in builds for its architecture (kernels.c picks among them). */
extern const tl_kernels tl_kernels_scalar, tl_kernels_avx2, tl_kernels_avx512, tl_kernels_avx512_d256, tl_kernels_neon,
    tl_kernels_neon_dot;
/* The avx2 set's decode of Q8_0/Q4_0 rows, which avx512-d256 shares: 1 when it took the product,
 * 0 (nothing written) for rows it leaves to the tiles. */
int tl_kern_avx2_qdecode(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y);
/* The same with vpdpbusd on 256-bit registers (AVX-512 VNNI + VL; the same sums): avx512-d256's. */
int tl_kern_avx2_qdecode_vnni(const tl_wmat *w, int r0, int r1, const tl_act *a, const float *bias, float *y);

/* The reference activation quantizer, shared by the sets. */
void tl_kern_quantize_ref(const float *x, int K, int8_t *q, float *d);
/* A matrix over ggml rows (`data`, as a GGUF file holds them): F32/F16 in place; Q8_0/Q4_0
 * repacked into `arena` (tl_wmat_packed_bytes of room, 2-byte aligned at least; 64 for speed). */
size_t tl_wmat_packed_bytes(uint32_t type, int rows, int cols);
tl_wmat tl_wmat_pack(uint32_t type, int rows, int cols, const void *data, void *arena);
/* Row r of w as f32 (embedding lookups). */
void tl_wmat_row(const tl_wmat *w, int r, float *out);

#endif
