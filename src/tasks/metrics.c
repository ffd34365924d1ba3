/* Task metrics: confusion counts, per-class scores, regression errors, answer parsing. */
#include "tasks/metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

int tl_confusion_init(tl_confusion *c, int n_labels, tl_err *e) {
    c->n = n_labels;
    c->counts = tl_calloc((size_t)n_labels * (size_t)(n_labels + 1), sizeof *c->counts, e);
    return c->counts ? 0 : -1;
}

void tl_confusion_free(tl_confusion *c) {
    free(c->counts);
    c->counts = NULL;
}

void tl_confusion_add(tl_confusion *c, int expected, int predicted) {
    c->counts[expected * (c->n + 1) + (predicted < 0 ? c->n : predicted)]++;
}

long tl_confusion_total(const tl_confusion *c) {
    long s = 0;
    for (int i = 0; i < c->n * (c->n + 1); i++) s += c->counts[i];
    return s;
}

long tl_confusion_correct(const tl_confusion *c) {
    long s = 0;
    for (int k = 0; k < c->n; k++) s += c->counts[k * (c->n + 1) + k];
    return s;
}

void tl_confusion_class(const tl_confusion *c, int k, double *precision, double *recall, double *f1) {
    long tp = c->counts[k * (c->n + 1) + k], predicted = 0, actual = 0;
    for (int i = 0; i < c->n; i++) predicted += c->counts[i * (c->n + 1) + k];
    for (int j = 0; j <= c->n; j++) actual += c->counts[k * (c->n + 1) + j];
    *precision = predicted ? (double)tp / (double)predicted : 0;
    *recall = actual ? (double)tp / (double)actual : 0;
    *f1 = *precision + *recall > 0 ? 2 * *precision * *recall / (*precision + *recall) : 0;
}

void tl_regress_add(tl_regress *r, double predicted, double target) {
    double d = fabs(predicted - target);
    r->n++;
    r->sum_abs += d;
    r->sum_sq += d * d;
    r->within1 += d <= 1.0;
}

double tl_regress_mae(const tl_regress *r) { return r->n ? r->sum_abs / (double)r->n : NAN; }
double tl_regress_rmse(const tl_regress *r) { return r->n ? sqrt(r->sum_sq / (double)r->n) : NAN; }

int tl_count_label(const char *text, size_t n, const char *label, size_t nl) {
    int count = 0;
    if (nl == 0) return 0;
    for (size_t i = 0; i + nl <= n;)
        if (!memcmp(text + i, label, nl)) count++, i += nl;
        else i++;
    return count;
}

int tl_pick_label(const char *text, size_t n, char *const *labels, int n_labels) {
    int found = -1;
    for (int k = 0; k < n_labels; k++) {
        int c = tl_count_label(text, n, labels[k], strlen(labels[k]));
        if (c == 0) continue;
        if (c > 1 || found >= 0) return -1;
        found = k;
    }
    return found;
}

int tl_first_number(const char *text, size_t n, double *out) {
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        if ((text[j] == '-' || text[j] == '+') && j + 1 < n) j++;
        if (text[j] < '0' || text[j] > '9') continue;
        double v = 0, scale = 1;
        while (j < n && text[j] >= '0' && text[j] <= '9') v = v * 10 + (text[j++] - '0');
        if (j + 1 < n && text[j] == '.' && text[j + 1] >= '0' && text[j + 1] <= '9')
            for (j++; j < n && text[j] >= '0' && text[j] <= '9'; j++) v += (text[j] - '0') * (scale /= 10);
        *out = text[i] == '-' ? -v : v;
        return 1;
    }
    return 0;
}
