/* Task metrics: confusion counts, per-class scores, regression errors, answer parsing. */
#include "tasks/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tl_metrics_confusion_init(tl_confusion *c, int n_labels, tl_err *e) {
    c->n = n_labels;
    c->counts = tl_calloc((size_t)n_labels * (size_t)(n_labels + 1), sizeof *c->counts, e);
    return c->counts ? 0 : -1;
}

void tl_metrics_confusion_free(tl_confusion *c) {
    free(c->counts);
    c->counts = NULL;
}

void tl_metrics_confusion_add(tl_confusion *c, int expected, int predicted) {
    c->counts[expected * (c->n + 1) + (predicted < 0 ? c->n : predicted)]++;
}

long tl_metrics_confusion_get(const tl_confusion *c, int expected, int predicted) {
    return c->counts[expected * (c->n + 1) + (predicted < 0 ? c->n : predicted)];
}

long tl_metrics_confusion_total(const tl_confusion *c) {
    long s = 0;
    for (int i = 0; i < c->n * (c->n + 1); i++) s += c->counts[i];
    return s;
}

long tl_metrics_confusion_correct(const tl_confusion *c) {
    long s = 0;
    for (int k = 0; k < c->n; k++) s += c->counts[k * (c->n + 1) + k];
    return s;
}

double tl_metrics_accuracy(long correct, long total) { return total > 0 ? (double)correct / (double)total : 0.0; }

tl_class_scores tl_metrics_class(const tl_confusion *c, int k) {
    tl_class_scores s = {0};
    long tp = tl_metrics_confusion_get(c, k, k), predicted = 0;
    for (int i = 0; i < c->n; i++) predicted += tl_metrics_confusion_get(c, i, k);
    for (int j = 0; j <= c->n; j++) s.support += c->counts[k * (c->n + 1) + j];
    s.precision = predicted ? (double)tp / (double)predicted : 0.0;
    s.recall = s.support ? (double)tp / (double)s.support : 0.0;
    s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
    return s;
}

double tl_metrics_macro_f1(const tl_confusion *c) {
    double s = 0;
    for (int k = 0; k < c->n; k++) s += tl_metrics_class(c, k).f1;
    return c->n > 0 ? s / c->n : 0.0;
}

int tl_metrics_softmax(const double *scores, int n, double *probs) {
    int best = 0;
    for (int k = 1; k < n; k++)
        if (scores[k] > scores[best]) best = k;
    double z = 0;
    for (int k = 0; k < n; k++) z += (probs[k] = exp(scores[k] - scores[best]));
    for (int k = 0; k < n; k++) probs[k] /= z;
    return best;
}

void tl_metrics_regress_add(tl_regress *r, double predicted, double target) {
    double d = fabs(predicted - target);
    r->n++;
    r->sum_abs += d;
    r->sum_sq += d * d;
    r->within1 += d <= 1.0;
}

double tl_metrics_mae(const tl_regress *r) { return r->n ? r->sum_abs / (double)r->n : NAN; }
double tl_metrics_rmse(const tl_regress *r) { return r->n ? sqrt(r->sum_sq / (double)r->n) : NAN; }
double tl_metrics_within1(const tl_regress *r) { return r->n ? (double)r->within1 / (double)r->n : NAN; }

int tl_metrics_count(const char *text, size_t n, const char *label, size_t nl) {
    int count = 0;
    if (nl == 0) return 0;
    for (size_t i = 0; i + nl <= n;) {
        if (!memcmp(text + i, label, nl)) {
            count++;
            i += nl;
        } else {
            i++;
        }
    }
    return count;
}

/* Whether labels[k] at text[i..) lies inside an occurrence of a longer label of the set. */
static int inside_longer(const char *text, size_t n, size_t i, char *const *labels, int n_labels, int k) {
    size_t nk = strlen(labels[k]);
    for (int j = 0; j < n_labels; j++) {
        size_t nj = strlen(labels[j]);
        if (nj <= nk) continue;
        /* a start p of labels[j] with p <= i and p + nj >= i + nk, inside the text */
        size_t lo = i + nk > nj ? i + nk - nj : 0;
        for (size_t p = lo; p <= i && p + nj <= n; p++)
            if (!memcmp(text + p, labels[j], nj)) return 1;
    }
    return 0;
}

void tl_metrics_label_counts(const char *text, size_t n, char *const *labels, int n_labels, int *counts) {
    for (int k = 0; k < n_labels; k++) {
        size_t nk = strlen(labels[k]);
        counts[k] = 0;
        if (nk == 0) continue;
        for (size_t i = 0; i + nk <= n;) {
            if (!memcmp(text + i, labels[k], nk) && !inside_longer(text, n, i, labels, n_labels, k)) {
                counts[k]++;
                i += nk;
            } else {
                i++;
            }
        }
    }
}

int tl_metrics_pick_label(const char *text, size_t n, char *const *labels, int n_labels) {
    int small[16], *counts = n_labels <= 16 ? small : malloc(sizeof(int) * (size_t)n_labels), found = -1;
    if (!counts) return -1;
    tl_metrics_label_counts(text, n, labels, n_labels, counts);
    for (int k = 0; k < n_labels; k++) {
        if (counts[k] == 0) continue;
        if (counts[k] > 1 || found >= 0) {
            found = -1;
            break;
        }
        found = k;
    }
    if (counts != small) free(counts);
    return found;
}

int tl_metrics_exactly_once(const char *text, size_t n, const char *label) {
    return tl_metrics_count(text, n, label, strlen(label)) == 1;
}

static int is_digit(char c) { return c >= '0' && c <= '9'; }

/* Length of the number starting at text[i] (0 if none starts there): sign, digits, fraction,
 * exponent. */
static size_t number_at(const char *text, size_t n, size_t i) {
    size_t j = i, digits = 0;
    if (j < n && (text[j] == '-' || text[j] == '+')) j++;
    while (j < n && is_digit(text[j])) j++, digits++;
    if (j < n && text[j] == '.') {
        size_t f = j + 1;
        while (f < n && is_digit(text[f])) f++;
        if (f > j + 1 || digits) { /* "12." is 12 (the dot is kept harmlessly), ".5" is 0.5 */
            digits += f - (j + 1);
            j = f;
        }
    }
    if (!digits) return 0;
    if (j < n && (text[j] == 'e' || text[j] == 'E')) {
        size_t x = j + 1;
        if (x < n && (text[x] == '-' || text[x] == '+')) x++;
        if (x < n && is_digit(text[x])) {
            while (x < n && is_digit(text[x])) x++;
            j = x;
        }
    }
    return j - i;
}

int tl_metrics_first_number(const char *text, size_t n, double *out) {
    for (size_t i = 0; i < n; i++) {
        size_t len = number_at(text, n, i);
        if (!len) continue;
        /* the span holds only [-+0-9.eE], so strtod reads exactly it (correctly rounded) */
        char small[64], *buf = len < sizeof small ? small : malloc(len + 1);
        if (!buf) return 0;
        memcpy(buf, text + i, len);
        buf[len] = 0;
        double v = strtod(buf, NULL);
        if (buf != small) free(buf);
        if (!isfinite(v)) return 0;
        *out = v;
        return 1;
    }
    return 0;
}
