/* Task CSV rows: column lookup from the header, target checks, prompt/response rendering. */
#include "data/taskcsv.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/csv.h"

struct tl_task_csv {
    const char *path;
    const tl_task *t;
    tl_csv *csv;
    int ncols, col[3]; /* instruction (-1: the spec's fixed text), input, output */
    tl_buf prompt, resp;
};

static int column(const tl_csv_row *h, const char *name, const char *path, tl_err *e) {
    for (int i = 0; i < h->n; i++)
        if (!strcmp(h->f[i], name)) return i;
    char cols[512] = "";
    for (int i = 0; i < h->n && strlen(cols) < 400; i++) snprintf(cols + strlen(cols), sizeof cols - strlen(cols), "%s%s", i ? ", " : "", h->f[i]);
    return tl_errf(e, "%s:%ld: no column '%s' (the header has: %s)", path, h->line, name, cols);
}

int tl_task_csv_open(tl_task_csv **out, const char *path, const tl_task *t, tl_err *e) {
    tl_task_csv *c = tl_calloc(1, sizeof *c, e);
    if (!c) return -1;
    c->path = path;
    c->t = t;
    tl_csv_row h;
    int r = tl_csv_open(&c->csv, path, e) ? -1 : tl_csv_next(c->csv, &h, e);
    if (r == 0) r = tl_errf(e, "%s: empty file (no header row)", path);
    if (r > 0) {
        c->ncols = h.n;
        c->col[0] = t->instruction_col ? column(&h, t->instruction_col, path, e) : -1;
        c->col[1] = column(&h, t->input_col, path, e);
        c->col[2] = column(&h, t->output_col, path, e);
        if ((t->instruction_col && c->col[0] < 0) || c->col[1] < 0 || c->col[2] < 0) r = -1;
    }
    if (r < 0) {
        tl_task_csv_close(c);
        return -1;
    }
    *out = c;
    return 0;
}

int tl_task_csv_next(tl_task_csv *c, tl_task_row *row, tl_err *e) {
    const tl_task *t = c->t;
    tl_csv_row r;
    int got = tl_csv_next(c->csv, &r, e);
    if (got <= 0) return got;
    if (r.n != c->ncols) return tl_errf(e, "%s:%ld: %d fields, but the header has %d", c->path, r.line, r.n, c->ncols);
    const char *out = r.f[c->col[2]];
    size_t on = r.len[c->col[2]];
    int shown = (int)(on < 60 ? on : 60);
    *row = (tl_task_row){.prompt = &c->prompt, .response = &c->resp, .output = out, .output_len = on, .label = -1, .line = r.line};
    if (t->kind == TL_TASK_CLASSIFY && (row->label = tl_task_label(t, out, on)) < 0)
        return tl_errf(e, "%s:%ld: label '%.*s' is not in the task's label set", c->path, r.line, shown, out);
    if (t->kind == TL_TASK_REGRESS) {
        char *end;
        row->value = strtod(out, &end);
        while (*end == ' ' || *end == '\t') end++;
        if (end == out || *end || !isfinite(row->value))
            return tl_errf(e, "%s:%ld: output '%.*s' is not a number", c->path, r.line, shown, out);
    }
    const char *ins = c->col[0] >= 0 ? r.f[c->col[0]] : t->instruction;
    size_t insn = c->col[0] >= 0 ? r.len[c->col[0]] : strlen(t->instruction);
    c->prompt.n = c->resp.n = 0;
    if (tl_task_prompt(t, ins, insn, r.f[c->col[1]], r.len[c->col[1]], &c->prompt, e) || tl_task_response(out, on, &c->resp, e))
        return tl_err_wrap(e, "%s:%ld", c->path, r.line);
    return 1;
}

void tl_task_csv_close(tl_task_csv *c) {
    if (!c) return;
    tl_csv_close(c->csv);
    tl_buf_free(&c->prompt);
    tl_buf_free(&c->resp);
    free(c);
}
