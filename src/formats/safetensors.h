/* safetensors files: read (mmap, hostile-input checked) and write (atomic).
 *
 *   +-------------------+----------------------------------------+---------------------------+
 *   | u64 LE: N         | N bytes: UTF-8 JSON header, space-padded | tensor data (byte buffer) |
 *   +-------------------+----------------------------------------+---------------------------+
 *   header: {"__metadata__": {"key": "string value", ...},
 *            "<name>": {"dtype": "F32", "shape": [d0, d1, ...], "data_offsets": [begin, end]}, ...}
 *   offsets are relative to the start of the data buffer; tensors tile it exactly, without holes
 *   or overlaps. The writer pads N to a multiple of 8 so data starts 8-byte aligned.
 */
#ifndef TL_FORMATS_SAFETENSORS_H
#define TL_FORMATS_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/file.h"

typedef enum { TL_ST_F32, TL_ST_F16, TL_ST_BF16, TL_ST_F64, TL_ST_I32, TL_ST_I64, TL_ST_U8 } tl_st_dtype;

#define TL_ST_MAX_DIMS 8

typedef struct tl_st_tensor {
    char *name;
    tl_st_dtype dtype;
    int ndim;
    int64_t shape[TL_ST_MAX_DIMS];
    const void *data; /* into the mapping (reader; other writers do not align it: memcpy before
                       * typed access) or the caller's memory (writer) */
    size_t nbytes;
} tl_st_tensor;

typedef struct tl_st_file {
    tl_map map;
    int n_tensors;
    tl_st_tensor *tensors;
    int n_meta;
    char **meta_keys, **meta_vals;
} tl_st_file;

/* Opens and validates `path`: header size within the file, JSON well-formed (duplicate keys are
 * an error), known dtypes, shapes whose byte size matches data_offsets without overflow, offsets
 * inside the file, tiling the data exactly. Errors name the file and the tensor or field. */
int tl_st_open(tl_st_file *f, const char *path, tl_err *e);
void tl_st_close(tl_st_file *f);
const tl_st_tensor *tl_st_find(const tl_st_file *f, const char *name);
/* A metadata value, or NULL if absent. */
const char *tl_st_meta(const tl_st_file *f, const char *key);

/* Writes tensors (in the given order) and string metadata (n_meta key/value pairs) to `path`
 * atomically: temp file, fsync, rename. tensors[i].name/dtype/ndim/shape/data are read; nbytes
 * must equal the shape's element count times the dtype size. */
int tl_st_write(const char *path, const tl_st_tensor *tensors, int n, const char *const *meta_keys,
                const char *const *meta_vals, int n_meta, tl_err *e);

size_t tl_st_dtype_size(tl_st_dtype d);

#endif
