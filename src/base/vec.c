/* Growable arrays: doubling capacity, overflow-checked. */
#include "base/vec.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int grow(void **p, size_t *cap, size_t need, size_t elem, tl_err *e) {
    if (need <= *cap) return 0;
    size_t c = *cap ? *cap : 64;
    while (c < need) {
        if (c > SIZE_MAX / 2 / elem) return tl_errf(e, "array of %zu elements is too large", need);
        c *= 2;
    }
    void *q = realloc(*p, c * elem);
    if (!q) return tl_errf(e, "out of memory growing an array to %zu elements", c);
    *p = q;
    *cap = c;
    return 0;
}

int tl_ivec_reserve(tl_ivec *a, size_t extra, tl_err *e) {
    if (extra > SIZE_MAX - a->n) return tl_errf(e, "array too large");
    return grow((void **)&a->v, &a->cap, a->n + extra, sizeof *a->v, e);
}

int tl_buf_reserve(tl_buf *b, size_t extra, tl_err *e) {
    if (extra > SIZE_MAX - b->n - 1) return tl_errf(e, "buffer too large");
    return grow((void **)&b->p, &b->cap, b->n + extra + 1, 1, e);
}

int tl_ivec_push(tl_ivec *a, int32_t x, tl_err *e) {
    if (a->n == a->cap && tl_ivec_reserve(a, 1, e)) return -1;
    a->v[a->n++] = x;
    return 0;
}

int tl_buf_append(tl_buf *b, const void *p, size_t n, tl_err *e) {
    if (tl_buf_reserve(b, n, e)) return -1;
    if (n) memcpy(b->p + b->n, p, n);
    b->n += n;
    b->p[b->n] = 0; /* always NUL-terminated for convenience */
    return 0;
}

void tl_ivec_free(tl_ivec *a) {
    free(a->v);
    a->v = NULL;
    a->n = a->cap = 0;
}

void tl_buf_free(tl_buf *b) {
    free(b->p);
    b->p = NULL;
    b->n = b->cap = 0;
}

int tl_buf_appendf(tl_buf *b, tl_err *e, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return tl_errf(e, "formatting error");
    if (tl_buf_reserve(b, (size_t)n + 1, e)) return -1;
    va_start(ap, fmt);
    vsnprintf(b->p + b->n, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->n += (size_t)n;
    return 0;
}
