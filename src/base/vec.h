/* Growable arrays of int32 token ids and of bytes. */
#ifndef TL_BASE_VEC_H
#define TL_BASE_VEC_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

typedef struct tl_ivec {
    int32_t *v;
    size_t n, cap;
} tl_ivec;

typedef struct tl_buf {
    char *p;
    size_t n, cap;
} tl_buf;

/* Both return 0, or -1 with e set when memory runs out. */
int tl_ivec_push(tl_ivec *a, int32_t x, tl_err *e);
int tl_buf_append(tl_buf *b, const void *p, size_t n, tl_err *e);
/* Appends printf output (any length). */
int tl_buf_appendf(tl_buf *b, tl_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
/* Ensures room for `extra` more elements. */
int tl_ivec_reserve(tl_ivec *a, size_t extra, tl_err *e);
int tl_buf_reserve(tl_buf *b, size_t extra, tl_err *e);
void tl_ivec_free(tl_ivec *a);
void tl_buf_free(tl_buf *b);

#endif
