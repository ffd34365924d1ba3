/* Progress lines (TTY redraw or plain lines) and JSON-lines metrics files. */
#include "base/log.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

double tl_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void tl_fmt_duration(char *buf, size_t n, double s) {
    if (!(s >= 0) || s > 1e8) {
        snprintf(buf, n, "--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ldh%02ldm", t / 3600, t / 60 % 60);
    else if (t >= 60) snprintf(buf, n, "%ldm%02lds", t / 60, t % 60);
    else snprintf(buf, n, "%lds", t);
}

void tl_progress_init(tl_progress *p, const char *what, const char *unit, uint64_t total) {
    p->what = what;
    p->unit = unit;
    p->total = total;
    p->t0 = p->last = tl_now();
    p->tty = isatty(fileno(stderr));
    p->plain_every = 10.0;
}

static void progress_print(tl_progress *p, uint64_t done, const char *extra, int final) {
    double now = tl_now(), el = now - p->t0;
    double rate = el > 0 ? (double)done / el : 0;
    char eta[32], elapsed[32];
    tl_fmt_duration(elapsed, sizeof eta, el);
    tl_fmt_duration(eta, sizeof eta, rate > 0 && p->total >= done ? (double)(p->total - done) / rate : -1);
    const char *scale = "";
    double r = rate;
    if (r >= 1e6) r /= 1e6, scale = "M";
    else if (r >= 1e3) r /= 1e3, scale = "k";
    char line[512];
    int pct = p->total ? (int)(100.0 * (double)done / (double)p->total) : 0;
    if (!p->total && !final)
        snprintf(line, sizeof line, "%s: %llu %s | %.1f %s%s/s%s%s", p->what, (unsigned long long)done, p->unit, r,
                 scale, p->unit, extra ? " | " : "", extra ? extra : "");
    else if (final)
        snprintf(line, sizeof line, "%s: %llu %s in %s (%.1f %s%s/s)%s%s", p->what, (unsigned long long)done,
                 p->unit, elapsed, r, scale, p->unit, extra ? " " : "", extra ? extra : "");
    else
        snprintf(line, sizeof line, "%s: %3d%% %llu/%llu %s | %.1f %s%s/s | ETA %s%s%s", p->what, pct,
                 (unsigned long long)done, (unsigned long long)p->total, p->unit, r, scale, p->unit, eta,
                 extra ? " | " : "", extra ? extra : "");
    if (p->tty) fprintf(stderr, "\r\033[K%s%s", line, final ? "\n" : "");
    else fprintf(stderr, "%s\n", line);
    fflush(stderr);
}

void tl_progress_update(tl_progress *p, uint64_t done, const char *extra) {
    double now = tl_now();
    if (now - p->last < (p->tty ? 0.1 : p->plain_every)) return;
    p->last = now;
    progress_print(p, done, extra, 0);
}

void tl_progress_end(tl_progress *p, uint64_t done, const char *extra) { progress_print(p, done, extra, 1); }

int tl_jsonl_open(tl_jsonl *j, const char *path, int append, tl_err *e) {
    j->err = 0;
    snprintf(j->path, sizeof j->path, "%s", path);
    j->f = fopen(path, append ? "a" : "w");
    if (!j->f) return tl_errf(e, "%s: cannot open for writing: %s", path, strerror(errno));
    return 0;
}

void tl_jsonl_write(tl_jsonl *j, const char *fmt, ...) {
    if (!j->f || j->err) return; /* after a failed write nothing more: no line with a hole in it */
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    int bad = fputc('{', j->f) == EOF;
    bad |= vfprintf(j->f, fmt, ap) < 0;
    bad |= fputs("}\n", j->f) == EOF;
    bad |= fflush(j->f) != 0;
    va_end(ap);
    if (bad) j->err = errno ? errno : EIO;
}

int tl_jsonl_status(const tl_jsonl *j, tl_err *e) {
    if (!j->err) return 0;
    return tl_errf(e, "%s: cannot write: %s (the metrics log is incomplete; free space, then --resume)", j->path,
                   strerror(j->err));
}

int tl_jsonl_close(tl_jsonl *j, tl_err *e) {
    if (j->f && fclose(j->f) && !j->err) j->err = errno ? errno : EIO;
    j->f = NULL;
    return tl_jsonl_status(j, e);
}
