/* ggml's weight encodings, row by row: F32, F16 and the block formats Q8_0 and Q4_0, laid out
 * exactly as llama.cpp stores them so one GGUF file runs in both. Used by the GGUF writer
 * (quantize), the importers (dequantize) and, next, the runtime's kernels.
 *
 *   Q8_0 block: 32 weights in 34 bytes        Q4_0 block: 32 weights in 18 bytes
 *   +---------+---------------------+          +---------+---------------------------------+
 *   | f16 d   | int8 q[32]          |          | f16 d   | u8 qs[16]: low nibble = weight j |
 *   +---------+---------------------+          +---------+ high nibble = weight j + 16     +
 *   x = d * q;  d = max|x| / 127               x = d * (nibble - 8);  d = m / -8, where m is
 *   q = round(x / d), ties away from 0         the weight of largest |x| (the first, on ties);
 *                                              nibble = min(15, trunc(x / d + 8.5))
 *   (x / d is computed as x * (1 / d) in f32, as llama.cpp's reference quantizer does.)
 * A row of n weights (n a multiple of 32) is n / 32 blocks. F32 and F16 rows are little-endian. */
#ifndef TL_QUANT_QUANT_H
#define TL_QUANT_QUANT_H

#include <stddef.h>
#include <stdint.h>

enum { TL_GGML_F32 = 0, TL_GGML_F16 = 1, TL_GGML_Q4_0 = 2, TL_GGML_Q8_0 = 8 };
#define TL_QK 32 /* weights per block */

/* Bytes of a row of n weights of `type`; 0 for an unknown type or n not a whole number of blocks. */
uint64_t tl_ggml_row_bytes(uint32_t type, uint64_t n);
/* "f32", "f16", "q8_0", "q4_0" <-> type; -1 for other names, NULL for other types. */
int tl_ggml_type_parse(const char *name);
const char *tl_ggml_type_name(uint32_t type);
/* llama.cpp's general.file_type (LLAMA_FTYPE_*) for a file whose matrices are `type`. */
uint32_t tl_ggml_file_type(uint32_t type);
/* Encodes x[0..n) as `type` into out (tl_ggml_row_bytes(type, n) bytes). */
void tl_quant_row(uint32_t type, const float *x, size_t n, void *out);
/* Decodes a row of n weights of `type` (unaligned input is fine) into out. */
void tl_dequant_row(uint32_t type, const void *in, size_t n, float *out);

/* IEEE half <-> single (round to nearest even; infinities and NaN kept). */
uint16_t tl_f32_to_f16(float f);
float tl_f16_to_f32(uint16_t h);

#endif
