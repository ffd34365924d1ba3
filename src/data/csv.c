/* CSV input through libcsv: strict parsing, line tracking, UTF-8 validation, one record per pull. */
#include "data/csv.h"

#include <csv.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "tokenizer/unicode.h"

struct tl_csv {
    const char *path;
    FILE *fp;
    struct csv_parser parser;
    char *line;
    size_t cap;
    tl_err *e;        /* of the tl_csv_next call in progress (libcsv's callbacks report through it) */
    int rc, ready, done;
    long lineno, start; /* current line; line the current record started on */
    tl_buf bytes;       /* the record's fields, each NUL-terminated */
    size_t *off, *len;
    char **f;
    int n, cap_f;
};

static int utf8_ok(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)tl_utf8_next(s + i, n - i, &cp);
        if (cp < 0) return 0;
    }
    return 1;
}

static void on_field(void *s, size_t n, void *data) {
    tl_csv *r = data;
    if (r->rc) return;
    if (!utf8_ok(s, n)) {
        r->rc = tl_errf(r->e, "%s:%ld: field %d is not valid UTF-8", r->path, r->start, r->n + 1);
        return;
    }
    if (r->n == r->cap_f) {
        int cap = r->cap_f ? 2 * r->cap_f : 16;
        size_t *off = realloc(r->off, sizeof *off * (size_t)cap), *len = off ? realloc(r->len, sizeof *len * (size_t)cap) : NULL;
        char **f = len ? realloc(r->f, sizeof *f * (size_t)cap) : NULL;
        if (off) r->off = off;
        if (len) r->len = len;
        if (!f) {
            r->rc = tl_errf(r->e, "%s:%ld: out of memory", r->path, r->start);
            return;
        }
        r->f = f;
        r->cap_f = cap;
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
    tl_csv *r = data;
    if (!r->rc) r->ready = 1;
}

int tl_csv_open(tl_csv **out, const char *path, tl_err *e) {
    tl_csv *c = tl_calloc(1, sizeof *c, e);
    if (!c) return -1;
    if (!(c->fp = fopen(path, "rb"))) {
        free(c);
        return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    }
    if (csv_init(&c->parser, CSV_STRICT | CSV_STRICT_FINI | CSV_APPEND_NULL) != 0) {
        fclose(c->fp);
        free(c);
        return tl_errf(e, "%s: cannot initialise the CSV parser", path);
    }
    c->path = path;
    c->start = 1;
    *out = c;
    return 0;
}

/* Each line feeds libcsv; a record ends at a line end, so one line completes at most one record. */
int tl_csv_next(tl_csv *c, tl_csv_row *row, tl_err *e) {
    c->e = e;
    if (c->ready) { /* the record handed out last time is consumed */
        c->ready = 0;
        c->n = 0;
        c->bytes.n = 0;
        c->start = c->lineno + 1;
    }
    while (!c->rc && !c->ready && !c->done) {
        ssize_t n = getline(&c->line, &c->cap, c->fp);
        if (n > 0) {
            c->lineno++;
            if (csv_parse(&c->parser, c->line, (size_t)n, on_field, on_row, c) != (size_t)n && !c->rc)
                c->rc = tl_errf(e, "%s:%ld: malformed CSV (%s)", c->path, c->lineno, csv_strerror(csv_error(&c->parser)));
            continue;
        }
        c->done = 1;
        if (ferror(c->fp)) c->rc = tl_errf(e, "%s: read error", c->path);
        else if (csv_fini(&c->parser, on_field, on_row, c) != 0 && !c->rc)
            c->rc = tl_errf(e, "%s:%ld: unterminated quoted field at the end of the file", c->path, c->start);
    }
    if (c->rc) return -1;
    if (!c->ready) return 0;
    for (int i = 0; i < c->n; i++) c->f[i] = c->bytes.p + c->off[i];
    *row = (tl_csv_row){c->n, c->f, c->len, c->start};
    return 1;
}

void tl_csv_close(tl_csv *c) {
    if (!c) return;
    csv_free(&c->parser);
    fclose(c->fp);
    free(c->line);
    free(c->off);
    free(c->len);
    free(c->f);
    tl_buf_free(&c->bytes);
    free(c);
}
