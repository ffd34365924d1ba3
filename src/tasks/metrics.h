/* Task metrics, pure and libc/libm only: confusion matrix with per-class precision/recall/F1,
 * regression errors, label probabilities from scores, and the rules that read a generated answer
 * (whole-label occurrence counts, the paper's exactly-once rule, the first number). */
#ifndef TL_TASKS_METRICS_H
#define TL_TASKS_METRICS_H

#include <stddef.h>

#include "base/err.h"

/* ---------------------------------------------------------------- classification */

/* counts[e * (n + 1) + p]: rows are expected labels, columns predicted labels; the extra column n
 * is "none / ambiguous" (a generated answer that names no label, or several). Likelihood scoring
 * always predicts a label, so its column n stays 0. */
typedef struct tl_confusion {
    int n;
    long *counts;
} tl_confusion;

typedef struct tl_class_scores {
    double precision; /* of the rows predicted as the class, the share that is right (0 if none) */
    double recall;    /* of the rows of the class, the share predicted as it (0 if none) */
    double f1;        /* harmonic mean of the two (0 when both are 0) */
    long support;     /* rows whose expected label is the class */
} tl_class_scores;

int tl_metrics_confusion_init(tl_confusion *c, int n_labels, tl_err *e);
void tl_metrics_confusion_free(tl_confusion *c);
/* Counts one row; predicted -1 means none / ambiguous. */
void tl_metrics_confusion_add(tl_confusion *c, int expected, int predicted);
long tl_metrics_confusion_get(const tl_confusion *c, int expected, int predicted);
long tl_metrics_confusion_total(const tl_confusion *c);
/* The diagonal: rows whose prediction is their expected label. */
long tl_metrics_confusion_correct(const tl_confusion *c);
/* correct / total, 0 for an empty matrix. */
double tl_metrics_accuracy(long correct, long total);
/* Scores of class k. Rows predicted none / ambiguous lower its recall, never its precision. */
tl_class_scores tl_metrics_class(const tl_confusion *c, int k);
/* Unweighted mean of the per-class F1 over all n classes. */
double tl_metrics_macro_f1(const tl_confusion *c);

/* Softmax of scores[n] (log-likelihoods) into probs[n], computed stably in double; returns the
 * index of the largest score (ties: the lowest index), i.e. the likelihood prediction. */
int tl_metrics_softmax(const double *scores, int n, double *probs);

/* ---------------------------------------------------------------- regression */

typedef struct tl_regress {
    long n;          /* answers with a number (they enter the errors) */
    long unparsed;   /* answers without one (they do not) */
    double sum_abs, sum_sq;
    long within1;    /* |error| <= 1 */
} tl_regress;

void tl_metrics_regress_add(tl_regress *r, double predicted, double target);
/* Mean absolute and root-mean-square error over the scored answers; NAN when there are none. */
double tl_metrics_mae(const tl_regress *r);
double tl_metrics_rmse(const tl_regress *r);
/* Share of scored answers within +-1 of the target; NAN when there are none. */
double tl_metrics_within1(const tl_regress *r);

/* ---------------------------------------------------------------- reading generated answers */

/* Non-overlapping occurrences of label[0..nl) in text[0..n), left to right (Python's str.count):
 * "Double Double" holds "Double" twice. 0 for an empty label. */
int tl_metrics_count(const char *text, size_t n, const char *label, size_t nl);
/* Whole-label counts for a label set: counts[k] is the number of occurrences of labels[k] that do
 * not lie inside an occurrence of a longer label of the set (with labels "Tap" and "Double Tap",
 * the text "Double Tap" names "Double Tap" once and "Tap" zero times). */
void tl_metrics_label_counts(const char *text, size_t n, char *const *labels, int n_labels, int *counts);
/* The label a generated answer names: k when counts[k] == 1 and every other count is 0; else -1
 * (none / ambiguous). Uses tl_metrics_label_counts. */
int tl_metrics_pick_label(const char *text, size_t n, char *const *labels, int n_labels);
/* The paper's rule: the expected label occurs exactly once in the answer (tl_metrics_count), no
 * matter what else it says. */
int tl_metrics_exactly_once(const char *text, size_t n, const char *label);

/* The first number in text[0..n), strtod-style but locale-free and decimal only: an optional sign,
 * digits with an optional fraction (or a fraction alone, ".5"), an optional exponent ("1e3",
 * taken only when digits follow the e). A sign counts only right before the number ("x-3" is -3).
 * Returns 1 and sets *out, or 0 when there is no number (or it overflows a double). */
int tl_metrics_first_number(const char *text, size_t n, double *out);

#endif
