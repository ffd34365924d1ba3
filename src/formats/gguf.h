/* GGUF v3 files: a hostile-input reader and a writer, the container upstream llama.cpp runs.
 *
 *   +--------+---------+--------------+----------+-----------------+--------------+-----+------+
 *   | "GGUF" | u32 = 3 | u64 n_tensor | u64 n_kv | n_kv key/values | n_tensor     | pad | data |
 *   +--------+---------+--------------+----------+-----------------+ tensor infos +-----+------+
 *   string    = u64 length + bytes (no NUL)
 *   key/value = string key, u32 type, value
 *   value     = u8 i8 u16 i16 u32 i32 f32 bool(u8) string u64 i64 f64 (types 0..8, 10..12), or
 *               array (type 9) = u32 element type, u64 count, elements (no nested arrays here)
 *   tensor    = string name, u32 n_dims (1..4), u64 ne[n_dims] (ne[0] varies fastest),
 *               u32 ggml type (0 F32, 1 F16, ...), u64 offset into data (a multiple of alignment)
 *   data starts at the first multiple of `general.alignment` (u32, default 32) after the infos.
 *
 * Everything little-endian. The reader checks every count, length, type, dimension and offset
 * against the file's size before using it, rejects duplicate keys and tensor names, overlapping
 * or misaligned tensors, and never sizes an allocation from an unchecked field (CVE-2024-21802,
 * CVE-2024-23605, CVE-2025-49847 and CVE-2025-53630 were each one of these in llama.cpp). */
#ifndef TL_FORMATS_GGUF_H
#define TL_FORMATS_GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"
#include "quant/quant.h"

enum {
    TL_GGUF_U8, TL_GGUF_I8, TL_GGUF_U16, TL_GGUF_I16, TL_GGUF_U32, TL_GGUF_I32, TL_GGUF_F32, TL_GGUF_BOOL,
    TL_GGUF_STRING, TL_GGUF_ARRAY, TL_GGUF_U64, TL_GGUF_I64, TL_GGUF_F64, TL_GGUF_N_TYPES
};

typedef struct tl_gguf_str {
    const char *p; /* not NUL-terminated */
    uint64_t n;
} tl_gguf_str;

typedef struct tl_gguf_kv {
    tl_gguf_str key;
    uint32_t type;       /* TL_GGUF_* */
    uint32_t elem_type;  /* arrays: the element type */
    uint64_t n;          /* arrays: element count; scalars: 1 */
    const unsigned char *data; /* scalars and numeric arrays: the raw little-endian values */
    tl_gguf_str *strs;   /* string values (n of them), owned by the file */
} tl_gguf_kv;

typedef struct tl_gguf_tensor {
    tl_gguf_str name;
    uint32_t n_dims, type;
    uint64_t ne[4];
    uint64_t offset, nbytes;
    const void *data;    /* into the mapping; aligned to `alignment` from the data start */
} tl_gguf_tensor;

typedef struct tl_gguf {
    tl_map map;
    uint32_t version, alignment;
    uint64_t n_kv, n_tensors;
    tl_gguf_kv *kv;
    tl_gguf_tensor *tensors;
} tl_gguf;

int tl_gguf_open(tl_gguf *g, const char *path, tl_err *e);
void tl_gguf_close(tl_gguf *g);
const tl_gguf_kv *tl_gguf_find_kv(const tl_gguf *g, const char *key);
const tl_gguf_tensor *tl_gguf_find_tensor(const tl_gguf *g, const char *name);
/* A scalar key as u32 (from any unsigned/signed integer type that fits): 0, or -1 if absent/other. */
int tl_gguf_get_u32(const tl_gguf *g, const char *key, uint32_t *out);
/* A scalar string key, or NULL if absent or of another type. */
const tl_gguf_str *tl_gguf_get_str(const tl_gguf *g, const char *key);
/* A scalar f32 key: 0, or -1 if absent or of another type. */
int tl_gguf_get_f32(const tl_gguf *g, const char *key, float *out);

/* ---- writer: collect key/values and tensors, then write them in one atomic pass ---- */
typedef struct tl_gguf_writer tl_gguf_writer;

int tl_gguf_writer_init(tl_gguf_writer **w, tl_err *e);
void tl_gguf_writer_free(tl_gguf_writer *w);
int tl_gguf_put_u32(tl_gguf_writer *w, const char *key, uint32_t v, tl_err *e);
int tl_gguf_put_f32(tl_gguf_writer *w, const char *key, float v, tl_err *e);
int tl_gguf_put_str(tl_gguf_writer *w, const char *key, const char *v, tl_err *e);
/* Arrays: strings (n of them, each NUL-terminated) or 32-bit integers. The data is copied. */
int tl_gguf_put_strs(tl_gguf_writer *w, const char *key, const char *const *v, uint64_t n, tl_err *e);
int tl_gguf_put_i32s(tl_gguf_writer *w, const char *key, const int32_t *v, uint64_t n, tl_err *e);
/* A tensor of ne[0..n_dims) f32 values; stored as `type` (F32, F16, Q8_0 or Q4_0: then ne[0] must
 * be a multiple of 32), encoded row by row at write time. `data` must stay valid until tl_gguf_write. */
int tl_gguf_add_tensor(tl_gguf_writer *w, const char *name, const float *data, int n_dims, const uint64_t *ne,
                       uint32_t type, tl_err *e);
/* Copies a key/value as read from another file (tl_gguf_open), any type. */
int tl_gguf_put_kv(tl_gguf_writer *w, const tl_gguf_kv *kv, tl_err *e);
int tl_gguf_write(tl_gguf_writer *w, const char *path, tl_err *e);

#endif
