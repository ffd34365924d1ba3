/* Progress and logs: a live progress line on a terminal (plain lines otherwise), and JSON-lines
 * metrics files that plots are made from. */
#ifndef TL_BASE_LOG_H
#define TL_BASE_LOG_H

#include <stdint.h>
#include <stdio.h>

#include "base/err.h"

/* Seconds on a monotonic clock. */
double tl_now(void);

/* Progress over `total` units of work ("tok", "B", "step"); `tl_progress_update` redraws at most
 * ~10 times a second on a TTY, and prints a plain line every `plain_every` seconds otherwise. */
typedef struct tl_progress {
    const char *what;
    const char *unit;
    uint64_t total;
    double t0, last;
    int tty;
    double plain_every;
} tl_progress;

void tl_progress_init(tl_progress *p, const char *what, const char *unit, uint64_t total);
/* done: units finished so far; extra: text appended to the line (may be NULL). */
void tl_progress_update(tl_progress *p, uint64_t done, const char *extra);
/* Ends the line (final rate and elapsed time). */
void tl_progress_end(tl_progress *p, uint64_t done, const char *extra);

/* Formats seconds as "1h02m", "3m05s" or "12s". */
void tl_fmt_duration(char *buf, size_t n, double seconds);

/* Appends one JSON object per line to a metrics file; each line is flushed when written. A failed
 * write (a full disk) is remembered: tl_jsonl_status reports the first one, naming the file. */
typedef struct tl_jsonl {
    FILE *f;
    int err;               /* errno of the first failed write, 0: none */
    char path[4096];
} tl_jsonl;

int tl_jsonl_open(tl_jsonl *j, const char *path, int append, tl_err *e);
/* Writes `{...}\n` from a printf format producing the object's inside (without braces). */
void tl_jsonl_write(tl_jsonl *j, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* 0, or -1 with "<path>: cannot write: <reason>" when a write so far has failed. */
int tl_jsonl_status(const tl_jsonl *j, tl_err *e);
/* Closes the file; -1 (as tl_jsonl_status) when a write or the close failed. */
int tl_jsonl_close(tl_jsonl *j, tl_err *e);

#endif
