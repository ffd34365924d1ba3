/* Task rows from a CSV: the header names the columns, each record is checked against the task spec
 * (label in the label set, numeric target for regression) and rendered into the paper's prompt and
 * response. One reader for prepare, fine-tuning and eval, so they all see the same text. */
#ifndef TL_DATA_TASKCSV_H
#define TL_DATA_TASKCSV_H

#include "base/err.h"
#include "base/vec.h"
#include "tasks/task.h"

typedef struct tl_task_row {
    const tl_buf *prompt;   /* "### Instruction:\n...### Response:\n" */
    const tl_buf *response; /* "<output>\n\n### End" */
    const char *output;     /* the raw target field, and its length */
    size_t output_len;
    int label;              /* index in the label set (classification), else -1 */
    double value;           /* the target (regression) */
    long line;              /* line the record starts on */
} tl_task_row;

typedef struct tl_task_csv tl_task_csv;

/* Opens `path` and reads its header; missing columns are an error listing the header's columns. */
int tl_task_csv_open(tl_task_csv **out, const char *path, const tl_task *t, tl_err *e);
/* The next row: 1 (row valid until the next call), 0 at the end, -1 with e naming path:line. */
int tl_task_csv_next(tl_task_csv *c, tl_task_row *row, tl_err *e);
void tl_task_csv_close(tl_task_csv *c);

#endif
