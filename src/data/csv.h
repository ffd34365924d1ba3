/* CSV input (RFC 4180: quoted fields may hold commas, quotes and newlines), parsed by Debian's
 * libcsv in strict mode and pulled one record at a time with the line it starts on. */
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

typedef struct tl_csv tl_csv;

/* Opens `path`. Memory is bounded by the longest record. */
int tl_csv_open(tl_csv **out, const char *path, tl_err *e);
/* The next record, the header included: 1 and *row set (valid until the next call), 0 at the end,
 * -1 on malformed quoting, invalid UTF-8 or a read error (e names path:line). */
int tl_csv_next(tl_csv *c, tl_csv_row *row, tl_err *e);
void tl_csv_close(tl_csv *c);

#endif
