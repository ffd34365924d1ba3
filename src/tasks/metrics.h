/* Task metrics, pure and libc-only: confusion matrix with per-class precision/recall/F1, regression
 * errors, and the parsing rules of generated answers (label occurrences, first number). */
#ifndef TL_TASKS_METRICS_H
#define TL_TASKS_METRICS_H

#include <stddef.h>

#include "base/err.h"

/* counts[e * (n + 1) + p]: rows are expected labels, columns predicted labels; column n is
 * "none / ambiguous" (a generated answer naming no label, or several). */
typedef struct tl_confusion {
    int n;
    long *counts;
} tl_confusion;

int tl_confusion_init(tl_confusion *c, int n_labels, tl_err *e);
void tl_confusion_free(tl_confusion *c);
/* predicted -1 counts as none / ambiguous. */
void tl_confusion_add(tl_confusion *c, int expected, int predicted);
long tl_confusion_total(const tl_confusion *c);
long tl_confusion_correct(const tl_confusion *c);
/* Of class k: precision (of predictions of k, the share right; 0 when none), recall, F1. */
void tl_confusion_class(const tl_confusion *c, int k, double *precision, double *recall, double *f1);

typedef struct tl_regress {
    long n, unparsed;          /* scored answers; answers without a number */
    double sum_abs, sum_sq;
    long within1;              /* |error| <= 1 */
} tl_regress;

void tl_regress_add(tl_regress *r, double predicted, double target);
double tl_regress_mae(const tl_regress *r);
double tl_regress_rmse(const tl_regress *r);

/* Non-overlapping occurrences of `label` (nl bytes) in text[0..n). */
int tl_count_label(const char *text, size_t n, const char *label, size_t nl);
/* The paper's reading of a generated answer: the label that occurs, if exactly one label occurs
 * and exactly once; else -1 (none / ambiguous). */
int tl_pick_label(const char *text, size_t n, char *const *labels, int n_labels);
/* The first decimal number in text[0..n) (optional sign, digits, optional fraction): 1 and *out,
 * or 0 when there is none. */
int tl_first_number(const char *text, size_t n, double *out);

#endif
