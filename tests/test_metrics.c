/* Task metrics against hand-computed values: confusion matrix, per-class precision/recall/F1,
 * label probabilities, regression errors, whole-label counting and first-number parsing. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "tasks/metrics.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-12)

static void test_confusion(void) {
    tl_confusion c;
    tl_err e;
    CHECK(tl_metrics_confusion_init(&c, 3, &e) == 0, "%s", e.msg);
    /* expected -> predicted: Tap(0) -> Tap x3, Double; Double(1) -> Double x2, none; Hold(2) -> Hold, Tap */
    int pairs[][2] = {{0, 0}, {0, 0}, {0, 0}, {0, 1}, {1, 1}, {1, 1}, {1, -1}, {2, 2}, {2, 0}};
    for (size_t i = 0; i < sizeof pairs / sizeof *pairs; i++) tl_metrics_confusion_add(&c, pairs[i][0], pairs[i][1]);
    CHECK(tl_metrics_confusion_total(&c) == 9 && tl_metrics_confusion_correct(&c) == 6, "totals");
    CHECK(NEAR(tl_metrics_accuracy(6, 9), 2.0 / 3) && tl_metrics_accuracy(0, 0) == 0, "accuracy");
    CHECK(tl_metrics_confusion_get(&c, 0, 0) == 3 && tl_metrics_confusion_get(&c, 0, 1) == 1 && tl_metrics_confusion_get(&c, 1, -1) == 1 &&
              tl_metrics_confusion_get(&c, 2, 0) == 1 && tl_metrics_confusion_get(&c, 2, 1) == 0,
          "cells");
    /* Tap: predicted 4 times (3 right), 4 rows -> P 3/4, R 3/4, F1 3/4 */
    tl_class_scores s = tl_metrics_class(&c, 0);
    CHECK(NEAR(s.precision, 0.75) && NEAR(s.recall, 0.75) && NEAR(s.f1, 0.75) && s.support == 4, "Tap: %g %g %g %ld", s.precision,
          s.recall, s.f1, s.support);
    /* Double: predicted 3 times (2 right), 3 rows (one answered none) -> P 2/3, R 2/3 */
    s = tl_metrics_class(&c, 1);
    CHECK(NEAR(s.precision, 2.0 / 3) && NEAR(s.recall, 2.0 / 3) && NEAR(s.f1, 2.0 / 3) && s.support == 3, "Double: %g %g %g", s.precision,
          s.recall, s.f1);
    /* Hold: predicted once (right), 2 rows -> P 1, R 1/2, F1 2 * 0.5 / 1.5 = 2/3 */
    s = tl_metrics_class(&c, 2);
    CHECK(NEAR(s.precision, 1) && NEAR(s.recall, 0.5) && NEAR(s.f1, 2.0 / 3) && s.support == 2, "Hold: %g %g %g", s.precision, s.recall,
          s.f1);
    CHECK(NEAR(tl_metrics_macro_f1(&c), (0.75 + 2.0 / 3 + 2.0 / 3) / 3), "macro F1 %g", tl_metrics_macro_f1(&c));
    tl_metrics_confusion_free(&c);

    /* a class never predicted and one never expected: scores 0, no division by zero */
    CHECK(tl_metrics_confusion_init(&c, 2, &e) == 0, "%s", e.msg);
    tl_metrics_confusion_add(&c, 0, 0);
    tl_metrics_confusion_add(&c, 0, 0);
    s = tl_metrics_class(&c, 1);
    CHECK(s.precision == 0 && s.recall == 0 && s.f1 == 0 && s.support == 0, "empty class");
    CHECK(NEAR(tl_metrics_macro_f1(&c), 0.5), "macro F1 with an empty class: %g", tl_metrics_macro_f1(&c));
    tl_metrics_confusion_free(&c);
}

static void test_softmax(void) {
    double sc[3] = {-2, -1, -3}, p[3];
    int best = tl_metrics_softmax(sc, 3, p);
    double z = exp(-1.0) + exp(-2.0) + exp(-3.0);
    CHECK(best == 1 && NEAR(p[0], exp(-2.0) / z) && NEAR(p[1], exp(-1.0) / z) && NEAR(p[2], exp(-3.0) / z), "softmax %g %g %g", p[0], p[1],
          p[2]);
    double tie[2] = {-5, -5};
    CHECK(tl_metrics_softmax(tie, 2, p) == 0 && NEAR(p[0], 0.5), "tie goes to the first label");
    double far[2] = {-1000, -1}; /* exp(-1000) underflows in a naive softmax of the raw scores */
    CHECK(tl_metrics_softmax(far, 2, p) == 1 && p[1] == 1 && p[0] >= 0 && isfinite(p[0]), "stable softmax %g %g", p[0], p[1]);
}

static void test_regression(void) {
    tl_regress g = {0};
    CHECK(isnan(tl_metrics_mae(&g)) && isnan(tl_metrics_rmse(&g)) && isnan(tl_metrics_within1(&g)), "no answers: NAN");
    tl_metrics_regress_add(&g, 10, 12); /* errors 2, 0.5, 1 (the last exactly on the +-1 edge) */
    tl_metrics_regress_add(&g, 12.5, 12);
    tl_metrics_regress_add(&g, 11, 12);
    g.unparsed++; /* the caller counts answers without a number; they do not move the errors */
    CHECK(NEAR(tl_metrics_mae(&g), 3.5 / 3) && NEAR(tl_metrics_rmse(&g), sqrt((4 + 0.25 + 1) / 3.0)) && g.within1 == 2 &&
              NEAR(tl_metrics_within1(&g), 2.0 / 3) && g.n == 3,
          "mae %g rmse %g within %ld", tl_metrics_mae(&g), tl_metrics_rmse(&g), g.within1);
}

static int pick(const char *text, char **labels, int n) { return tl_metrics_pick_label(text, strlen(text), labels, n); }
static int once(const char *text, const char *label) { return tl_metrics_exactly_once(text, strlen(text), label); }

static void test_labels(void) {
    char *g[] = {"Tap", "Double", "Hold"};
    CHECK(pick("Double\n\n### End", g, 3) == 1 && once("Double\n\n### End", "Double"), "one label once");
    CHECK(tl_metrics_count("Double Double", 13, "Double", 6) == 2, "Double twice");
    CHECK(pick("Double Double", g, 3) == -1 && !once("Double Double", "Double"), "a label twice is not exactly once");
    CHECK(pick("Tap or Hold", g, 3) == -1, "two labels: ambiguous");
    CHECK(once("Tap or Hold", "Tap") && once("Tap or Hold", "Hold"), "the paper's rule looks at the expected label only");
    CHECK(pick("nothing", g, 3) == -1 && !once("nothing", "Tap"), "no label");
    CHECK(pick("", g, 3) == -1 && !once("", "Tap"), "empty answer");
    CHECK(pick("tap", g, 3) == -1, "case matters");
    CHECK(tl_metrics_count("aaaa", 4, "aa", 2) == 2 && tl_metrics_count("aaa", 3, "aa", 2) == 1, "non-overlapping");
    CHECK(tl_metrics_count("abc", 3, "", 0) == 0, "empty label");
    CHECK(tl_metrics_count("DoubleX", 6, "Double", 6) == 1 && tl_metrics_count("Doubl", 5, "Double", 6) == 0, "length-bounded");

    /* a label inside a longer one: the whole longer label is what the text names */
    char *s[] = {"Tap", "Double Tap"};
    int c[2];
    tl_metrics_label_counts("Double Tap", 10, s, 2, c);
    CHECK(c[0] == 0 && c[1] == 1, "Double Tap: counts %d %d", c[0], c[1]);
    CHECK(pick("Double Tap\n\n### End", s, 2) == 1 && pick("Tap\n\n### End", s, 2) == 0, "superstring and substring labels");
    tl_metrics_label_counts("Tap, then Double Tap", 20, s, 2, c);
    CHECK(c[0] == 1 && c[1] == 1 && pick("Tap, then Double Tap", s, 2) == -1, "both named: %d %d", c[0], c[1]);
    tl_metrics_label_counts("Double Tap Tap", 14, s, 2, c);
    CHECK(c[0] == 1 && c[1] == 1, "Double Tap Tap: %d %d", c[0], c[1]);
    char *loc[] = {"Charging Station", "Entrance", "Server Rack"};
    CHECK(pick("Server Rack\n\n### End", loc, 3) == 2 && pick("Charging Station Charging Station", loc, 3) == -1, "localisation labels");
}

static int num(const char *s, double *v) { return tl_metrics_first_number(s, strlen(s), v); }

static void test_numbers(void) {
    double v = -99;
    CHECK(num("about 12.5 bpm", &v) == 1 && v == 12.5, "12.5: %g", v);
    CHECK(num("-3", &v) == 1 && v == -3, "-3: %g", v);
    v = -99;
    CHECK(num("no number", &v) == 0 && v == -99, "no number leaves *out alone");
    CHECK(num("", &v) == 0, "empty");
    CHECK(num("-3 then 4", &v) == 1 && v == -3, "first of two: %g", v);
    CHECK(num("rate: 11.\n", &v) == 1 && v == 11, "11.: %g", v);
    CHECK(num("x-y 7", &v) == 1 && v == 7, "a lone minus is no sign: %g", v);
    CHECK(num("- 5", &v) == 1 && v == 5, "sign must touch the digits: %g", v);
    CHECK(num("+4 bpm", &v) == 1 && v == 4, "+4: %g", v);
    CHECK(num("rate .5", &v) == 1 && v == 0.5, ".5: %g", v);
    CHECK(num("-.25", &v) == 1 && v == -0.25, "-.25: %g", v);
    CHECK(num("1.5.2", &v) == 1 && v == 1.5, "1.5.2: %g", v);
    CHECK(num("1e3 bpm", &v) == 1 && v == 1000, "1e3: %g", v);
    CHECK(num("12e bpm", &v) == 1 && v == 12, "12e: %g", v);
    CHECK(num("11.8\n\n### End", &v) == 1 && v == 11.8, "11.8: %g", v);
    CHECK(num("1e999", &v) == 0, "overflow is no number");
    CHECK(tl_metrics_first_number("12345", 3, &v) == 1 && v == 123, "length-bounded: %g", v);
    char longnum[200];
    memset(longnum, '1', sizeof longnum - 1);
    longnum[sizeof longnum - 1] = 0;
    CHECK(num(longnum, &v) == 1 && v > 1.1e198 && v < 1.2e198, "a 199-digit number: %g", v);
}

int main(void) {
    test_confusion();
    test_softmax();
    test_regression();
    test_labels();
    test_numbers();
    CHECK_DONE();
}
