/* CSV input (RFC 4180: quoted fields may hold commas, quotes and newlines), parsed by Debian's
 * libcsv in strict mode and handed over one record at a time with the line it starts on. */
#ifndef TL_DATA_CSV_H
#define TL_DATA_CSV_H

#include <stddef.h>

#include "base/err.h"

/* One record: n fields, field i is f[i] (NUL-terminated, len[i] bytes, may contain NUL). */
typedef struct tl_csv_row {
    int n;
    char **f;
    size_t *len;
    long line; /* 1-based line the record starts on */
} tl_csv_row;

/* Called for each record, the header included; return -1 (with e set) to stop. */
typedef int (*tl_csv_cb)(void *ctx, const tl_csv_row *row, tl_err *e);

/* Reads `path` record by record. Malformed quoting, invalid UTF-8 and read errors are errors
 * naming path:line. Memory is bounded by the longest record. */
int tl_csv_read(const char *path, tl_csv_cb cb, void *ctx, tl_err *e);

#endif
