/* CSV input through libcsv: strict parsing, line tracking, UTF-8 validation, per-record callback. */
#include "data/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "tokenizer/unicode.h"

typedef struct reader {
    const char *path;
    tl_csv_cb cb;
    void *ctx;
    tl_err *e;
    int rc;
    long line, start; /* current line; line the current record started on */
    tl_buf bytes;     /* the record's fields, each NUL-terminated */
    size_t *off, *len;
    char **f;
    int n, cap;
} reader;

static int utf8_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)tl_utf8_next(s + i, n - i, &cp);
        if (cp < 0) return 0;
    }
    return 1;
}

static void on_field(void *s, size_t n, void *data) {
    reader *r = data;
    if (r->rc) return;
    if (!utf8_ok(s, n)) {
        r->rc = tl_errf(r->e, "%s:%ld: field %d is not valid UTF-8", r->path, r->start, r->n + 1);
        return;
    }
    if (r->n == r->cap) {
        int cap = r->cap ? 2 * r->cap : 16;
        size_t *off = realloc(r->off, sizeof *off * (size_t)cap), *len = off ? realloc(r->len, sizeof *len * (size_t)cap) : NULL;
        char **f = len ? realloc(r->f, sizeof *f * (size_t)cap) : NULL;
        if (off) r->off = off;
        if (len) r->len = len;
        if (!f) {
            r->rc = tl_errf(r->e, "%s:%ld: out of memory", r->path, r->start);
            return;
        }
        r->f = f;
        r->cap = cap;
    }
    r->off[r->n] = r->bytes.n;
    r->len[r->n] = n;
    if (tl_buf_append(&r->bytes, s ? s : "", n, r->e) || tl_buf_append(&r->bytes, "", 1, r->e)) {
        r->rc = -1;
        return;
    }
    r->n++;
}

static void on_row(int c, void *data) {
    (void)c;
    reader *r = data;
    if (!r->rc) {
        for (int i = 0; i < r->n; i++) r->f[i] = r->bytes.p + r->off[i];
        tl_csv_row row = {r->n, r->f, r->len, r->start};
        r->rc = r->cb(r->ctx, &row, r->e);
    }
    r->n = 0;
    r->bytes.n = 0;
    r->start = r->line + 1;
}

int tl_csv_read(const char *path, tl_csv_cb cb, void *ctx, tl_err *e) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    struct csv_parser p;
    if (csv_init(&p, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(fp);
        return tl_errf(e, "%s: cannot initialise the CSV parser", path);
    }
    reader r = {.path = path, .cb = cb, .ctx = ctx, .e = e, .line = 0, .start = 1};
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    while (!r.rc && (n = getline(&line, &cap, fp)) > 0) {
        r.line++;
        if (csv_parse(&p, line, (size_t)n, on_field, on_row, &r) != (size_t)n && !r.rc)
            r.rc = tl_errf(e, "%s:%ld: malformed CSV (%s)", path, r.line, csv_strerror(csv_error(&p)));
    }
    if (!r.rc && ferror(fp)) r.rc = tl_errf(e, "%s: read error", path);
    if (!r.rc && csv_fini(&p, on_field, on_row, &r) != 0 && !r.rc)
        r.rc = tl_errf(e, "%s:%ld: unterminated quoted field at the end of the file", path, r.start);
    csv_free(&p);
    free(line);
    free(r.off);
    free(r.len);
    free(r.f);
    tl_buf_free(&r.bytes);
    fclose(fp);
    return r.rc;
}
