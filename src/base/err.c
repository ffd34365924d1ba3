/* Error reporting: formatted one-line messages carried in caller-owned tl_err values. */
#define TL_ERR_IMPL /* the definitions below, not err.h's analyzer macros */
#include "base/err.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int tl_errf(tl_err *e, const char *fmt, ...) {
    if (e) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->msg, sizeof e->msg, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int tl_err_wrap(tl_err *e, const char *fmt, ...) {
    if (!e) return -1;
    char prefix[256], old[sizeof e->msg];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    size_t n = strlen(prefix);
    if (n > sizeof e->msg - 3) n = sizeof e->msg - 3;
    memcpy(e->msg, prefix, n);
    memcpy(e->msg + n, ": ", 2);
    size_t rest = sizeof e->msg - n - 3, m = strlen(old);
    if (m > rest) m = rest;
    memcpy(e->msg + n + 2, old, m);
    e->msg[n + 2 + m] = 0;
    return -1;
}

const char *tl_err_quote(const char *s, size_t n, char buf[200]) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 48; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) k += (size_t)snprintf(buf + k, 5, "\\x%02x", c);
        else buf[k++] = (char)c;
    }
    if (n > 48) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}

void *tl_calloc(size_t count, size_t size, tl_err *e) {
    if (size && count > SIZE_MAX / size) {
        tl_errf(e, "allocation of %zu x %zu bytes overflows", count, size);
        return NULL;
    }
    void *p = calloc(count ? count : 1, size ? size : 1);
    if (!p) tl_errf(e, "out of memory allocating %zu bytes", count * size);
    return p;
}
