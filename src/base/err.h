/* Error reporting: functions that can fail on outside input take a `tl_err *` and return 0 or -1.
 *
 * The message names the file or field and the problem, in one line, ready for the CLI to print
 * as `tinyllm: <message>`. There is no global error state: each caller owns its tl_err. */
#ifndef TL_BASE_ERR_H
#define TL_BASE_ERR_H

#include <stddef.h>

#include "tinyllm/err.h"

/* Sets e->msg from a printf format (e may be NULL) and returns -1, so `return tl_errf(...)`. */
int tl_errf(tl_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Prefixes an existing message with more context: "ctx: old message". Returns -1. */
int tl_err_wrap(tl_err *e, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#if defined(__clang_analyzer__) && !defined(TL_ERR_IMPL)
/* For clang's static analyzer (clang-tidy), which cannot see err.c from other files: both return
 * -1, so `return tl_errf(...)` is never a success path with its outputs unset. */
#define tl_errf(...) (tl_errf(__VA_ARGS__), -1)
#define tl_err_wrap(...) (tl_err_wrap(__VA_ARGS__), -1)
#endif

/* Copies s[0..n) for an error message into buf: at most 48 bytes, control bytes as \xNN, so the
 * message stays one line whatever a hostile file holds. Returns buf. */
const char *tl_err_quote(const char *s, size_t n, char buf[200]);

/* calloc that reports failure (and count*size overflow) through e instead of returning silently. */
void *tl_calloc(size_t count, size_t size, tl_err *e);

#endif
