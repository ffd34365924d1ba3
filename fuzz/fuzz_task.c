/* Fuzzes task specs (tl_task_load) and task CSV rows (tl_task_csv_open/next: libcsv records,
 * header columns, labels, regression targets, number rendering in the prompt). Input: a spec, then
 * TL_FUZZ_SEP and a CSV; the CSV alone also goes through the plain reader (tl_csv_next). Rows that
 * are accepted must render in the template: prompt "### Instruction:\n...### Response:\n",
 * response "...\n\n### End", and a label in the set. */
#include <string.h>

#include "common.h"
#include "data/csv.h"
#include "data/taskcsv.h"

static int ends_with(const tl_buf *b, const char *s) {
    size_t n = strlen(s);
    return b->n >= n && !memcmp(b->p + b->n - n, s, n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    tl_fuzz_part part[2];
    int n = tl_fuzz_split(data, size, part, 2);
    const char *spec = tl_fuzz_file("in.task", part[0].p, part[0].n);
    const char *csv = tl_fuzz_file("in.csv", part[n - 1].p, part[n - 1].n);
    tl_err e;
    tl_csv *c;
    if (!tl_csv_open(&c, csv, &e)) {
        tl_csv_row r;
        long last = 0;
        for (int k = 0; k < 100000 && tl_csv_next(c, &r, &e) > 0; k++) {
            TL_FUZZ_CHECK(r.line > last, "record %d starts on line %ld after line %ld", k, r.line, last);
            last = r.line;
            for (int i = 0; i < r.n; i++) TL_FUZZ_CHECK(r.f[i][r.len[i]] == 0, "field %d is not terminated", i);
        }
        tl_csv_close(c);
    } else {
        tl_fuzz_reject(&e);
    }
    tl_task t;
    if (tl_task_load(&t, spec, &e)) return tl_fuzz_reject(&e);
    TL_FUZZ_CHECK(t.input_col && t.output_col && !t.instruction != !t.instruction_col, "incomplete spec accepted");
    TL_FUZZ_CHECK(t.kind == TL_TASK_REGRESS ? t.n_labels == 0 : t.n_labels >= 2, "%d labels", t.n_labels);
    tl_task_csv *tc;
    if (n == 2 && !tl_task_csv_open(&tc, csv, &t, &e)) {
        tl_task_row r;
        for (int k = 0; k < 100000 && tl_task_csv_next(tc, &r, &e) > 0; k++) {
            TL_FUZZ_CHECK(r.prompt->n >= 17 && !memcmp(r.prompt->p, "### Instruction:\n", 17) &&
                              ends_with(r.prompt, "\n\n### Response:\n"),
                          "row %d: prompt not in the template", k);
            TL_FUZZ_CHECK(ends_with(r.response, "\n\n### End"), "row %d: response not in the template", k);
            TL_FUZZ_CHECK(t.kind == TL_TASK_REGRESS ? r.label == -1 : r.label >= 0 && r.label < t.n_labels, "row %d: label %d",
                          k, r.label);
        }
        tl_task_csv_close(tc);
    } else if (n == 2) {
        tl_fuzz_reject(&e);
    }
    /* number rendering on the raw input, as prompts do it */
    tl_buf out = {0};
    tl_task_numbers(&t.numbers, (const char *)part[n - 1].p, part[n - 1].n, &out, &e);
    tl_buf_free(&out);
    tl_task_free(&t);
    return 0;
}
