/* Task specs (parsing, checking) and the paper's instruction template (contracts in task.h). */
#include "tasks/task.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; }

static void trim(const char **s, size_t *n) {
    while (*n && is_space(**s)) (*s)++, (*n)--;
    while (*n && is_space((*s)[*n - 1])) (*n)--;
}

/* Copies a spec value, turning \n into a newline and \\ into a backslash. */
static char *unescape(const char *v, size_t n) {
    char *out = malloc(n + 1), *o = out;
    if (!out) return NULL;
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n && (v[i + 1] == 'n' || v[i + 1] == '\\')) {
            *o++ = v[i + 1] == 'n' ? '\n' : '\\';
            i++;
        } else {
            *o++ = v[i];
        }
    }
    *o = 0;
    return out;
}

static int parse_labels(tl_task *t, const char *v, const char *where, tl_err *e) {
    for (const char *p = v; *p;) {
        const char *q = strchr(p, ',');
        size_t n = q ? (size_t)(q - p) : strlen(p);
        const char *s = p;
        trim(&s, &n);
        if (!n) return tl_errf(e, "%s: empty label in '%s'", where, v);
        if (tl_task_label(t, s, n) >= 0) return tl_errf(e, "%s: label '%.*s' is listed twice", where, (int)n, s);
        char **l = realloc(t->labels, sizeof *l * (size_t)(t->n_labels + 1));
        if (!l) return tl_errf(e, "%s: out of memory", where);
        t->labels = l;
        if (!(l[t->n_labels] = unescape(s, n))) return tl_errf(e, "%s: out of memory", where);
        t->n_labels++;
        if (!q) break;
        p = q + 1;
    }
    return 0;
}

/* Parses `<mode>` or `<mode> spaced` (see task.h). */
int tl_task_parse_numbers(tl_numfmt *f, const char *spec, const char *where, tl_err *e) {
    char *end, v[64];
    memset(f, 0, sizeof *f);
    size_t n = strlen(spec);
    if (n > 7 && !strcmp(spec + n - 7, " spaced")) f->spaced = 1, n -= 7;
    if (n >= sizeof v) n = 0; /* matches no mode below */
    memcpy(v, spec, n);
    v[n] = 0;
    if (!strcmp(v, "keep")) f->mode = TL_NUM_KEEP;
    else if (!strncmp(v, "round:", 6)) {
        long d = strtol(v + 6, &end, 10);
        if (end == v + 6 || *end || d < 0 || d > 9) return tl_errf(e, "%s: numbers = round:N needs N in 0..9", where);
        f->mode = TL_NUM_ROUND;
        f->digits = (int)d;
    } else if (!strncmp(v, "scale:", 6)) {
        double k = strtod(v + 6, &end);
        if (end == v + 6 || *end || !(k > 0) || k > 1e9) return tl_errf(e, "%s: numbers = scale:K needs K > 0", where);
        f->mode = TL_NUM_SCALE;
        f->scale = k;
    } else if (!strncmp(v, "minmax:", 7)) {
        long l = strtol(v + 7, &end, 10);
        if (end == v + 7 || *end || l < 2 || l > 1000) return tl_errf(e, "%s: numbers = minmax:L needs L in 2..1000", where);
        f->mode = TL_NUM_MINMAX;
        f->levels = (int)l;
    } else return tl_errf(e, "%s: numbers must be keep, round:N, scale:K or minmax:L (then optionally ' spaced'), not '%s'", where, spec);
    return 0;
}

void tl_task_numbers_spell(const tl_numfmt *f, char out[32]) {
    const char *sp = f->spaced ? " spaced" : "";
    switch (f->mode) {
    case TL_NUM_KEEP: snprintf(out, 32, "keep%s", sp); break;
    case TL_NUM_ROUND: snprintf(out, 32, "round:%d%s", f->digits, sp); break;
    case TL_NUM_SCALE: snprintf(out, 32, "scale:%.9g%s", f->scale, sp); break;
    case TL_NUM_MINMAX: snprintf(out, 32, "minmax:%d%s", f->levels, sp); break;
    }
}

int tl_task_load(tl_task *t, const char *path, tl_err *e) {
    memset(t, 0, sizeof *t);
    FILE *f = fopen(path, "r");
    if (!f) return tl_errf(e, "%s: cannot open task spec: %s", path, strerror(errno));
    char *line = NULL, where[4200];
    size_t cap = 0;
    ssize_t len;
    int lineno = 0, rc = 0, regression = 0;
    while (!rc && (len = getline(&line, &cap, f)) > 0) {
        lineno++;
        snprintf(where, sizeof where, "%s:%d", path, lineno);
        if (memchr(line, 0, (size_t)len)) { /* a NUL would cut the value short unseen */
            rc = tl_errf(e, "%s: NUL byte in the line (not a text file?)", where);
            break;
        }
        const char *s = line;
        size_t n = (size_t)len;
        trim(&s, &n);
        if (!n || *s == '#') continue;
        const char *eq = memchr(s, '=', n);
        if (!eq) {
            rc = tl_errf(e, "%s: expected 'key = value'", where);
            break;
        }
        const char *k = s, *v = eq + 1;
        size_t kn = (size_t)(eq - s), vn = n - kn - 1;
        trim(&k, &kn);
        trim(&v, &vn);
        char *val = unescape(v, vn);
        if (!val) {
            rc = tl_errf(e, "%s: out of memory", where);
            break;
        }
        char **slot = NULL;
#define KEY(name) (kn == strlen(name) && !strncmp(k, name, kn))
        if (KEY("name")) slot = &t->name;
        else if (KEY("instruction")) slot = &t->instruction;
        else if (KEY("instruction_column")) slot = &t->instruction_col;
        else if (KEY("input_column")) slot = &t->input_col;
        else if (KEY("output_column")) slot = &t->output_col;
        else if (KEY("labels")) rc = parse_labels(t, val, where, e);
        else if (KEY("numbers")) rc = tl_task_parse_numbers(&t->numbers, val, where, e);
        else if (KEY("kind")) {
            if (!strcmp(val, "regression")) regression = 1;
            else if (strcmp(val, "classification")) rc = tl_errf(e, "%s: kind must be classification or regression", where);
        } else rc = tl_errf(e, "%s: unknown key '%.*s'", where, (int)kn, k);
#undef KEY
        if (slot) {
            if (*slot) rc = tl_errf(e, "%s: '%.*s' is set twice", where, (int)kn, k);
            else *slot = val, val = NULL;
        }
        free(val);
    }
    free(line);
    fclose(f);
    if (!rc && !t->input_col) rc = tl_errf(e, "%s: input_column is required", path);
    if (!rc && !t->output_col) rc = tl_errf(e, "%s: output_column is required", path);
    if (!rc && !!t->instruction == !!t->instruction_col)
        rc = tl_errf(e, "%s: set exactly one of instruction and instruction_column", path);
    if (!rc && regression && t->n_labels) rc = tl_errf(e, "%s: kind = regression takes no labels", path);
    if (!rc && !regression && t->n_labels < 2) rc = tl_errf(e, "%s: a classification task needs labels (at least 2)", path);
    t->kind = regression ? TL_TASK_REGRESS : TL_TASK_CLASSIFY;
    if (rc) tl_task_free(t);
    return rc;
}

void tl_task_free(tl_task *t) {
    free(t->name);
    free(t->instruction);
    free(t->instruction_col);
    free(t->input_col);
    free(t->output_col);
    for (int i = 0; i < t->n_labels; i++) free(t->labels[i]);
    free(t->labels);
    memset(t, 0, sizeof *t);
}

int tl_task_label(const tl_task *t, const char *s, size_t n) {
    trim(&s, &n);
    for (int i = 0; i < t->n_labels; i++)
        if (strlen(t->labels[i]) == n && !memcmp(t->labels[i], s, n)) return i;
    return -1;
}

/* A number starts at a digit, or at '-'/'.' followed by a digit, not inside a word or number. */
static size_t number_at(const char *s, size_t n, size_t i) {
    if (i > 0 && (s[i - 1] == '.' || s[i - 1] == '_' || (s[i - 1] >= '0' && s[i - 1] <= '9') ||
                  ((s[i - 1] | 32) >= 'a' && (s[i - 1] | 32) <= 'z')))
        return 0;
    size_t j = i;
    if (j < n && s[j] == '-') j++;
    size_t d0 = j;
    while (j < n && s[j] >= '0' && s[j] <= '9') j++;
    size_t digits = j - d0;
    if (j < n && s[j] == '.') {
        size_t k = j + 1;
        while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        digits += k - j - 1;
        if (k > j + 1) j = k;
    }
    if (!digits) return 0;
    if (j < n && (s[j] == 'e' || s[j] == 'E')) {
        size_t k = j + 1;
        if (k < n && (s[k] == '-' || s[k] == '+')) k++;
        size_t k0 = k;
        while (k < n && s[k] >= '0' && s[k] <= '9') k++;
        if (k > k0) j = k;
    }
    if (j < n && (((s[j] | 32) >= 'a' && (s[j] | 32) <= 'z') || s[j] == '_')) return 0; /* part of a word: 3rd, 0x1F */
    return j - i;
}

/* The value of the number s[i, i + k) (however many digits: parsed whole). */
static int number_value(const char *s, size_t i, size_t k, double *x, tl_err *e) {
    char small[64], *num = k < sizeof small ? small : malloc(k + 1);
    if (!num) return tl_errf(e, "out of memory");
    memcpy(num, s + i, k);
    num[k] = 0;
    *x = strtod(num, NULL);
    if (num != small) free(num);
    return 0;
}

/* The lowest and highest number of the line s[0, n) (lo > hi when it has none). */
static int line_range(const char *s, size_t n, double *lo, double *hi, tl_err *e) {
    *lo = INFINITY, *hi = -INFINITY;
    for (size_t i = 0; i < n;) {
        size_t k = number_at(s, n, i);
        double x;
        if (!k) {
            i++;
            continue;
        }
        if (number_value(s, i, k, &x, e)) return -1;
        *lo = fmin(*lo, x), *hi = fmax(*hi, x);
        i += k;
    }
    return 0;
}

/* 1 when s[i, j) separates two numbers of a line: only commas, semicolons, spaces and tabs. */
static int separator(const char *s, size_t i, size_t j) {
    if (i == j) return 0;
    for (; i < j; i++)
        if (s[i] != ',' && s[i] != ';' && s[i] != ' ' && s[i] != '\t') return 0;
    return 1;
}

int tl_task_numbers(const tl_numfmt *f, const char *s, size_t n, tl_buf *out, tl_err *e) {
    if (f->mode == TL_NUM_KEEP && !f->spaced) return tl_buf_append(out, s, n, e);
    int after_number = 0; /* lit is where the last number ended */
    size_t lit = 0, eol = 0;
    double lo = 0, hi = 0;
    for (size_t i = 0; i < n;) {
        if (f->mode == TL_NUM_MINMAX && i >= eol) { /* a new line: its range first */
            const char *nl = memchr(s + i, '\n', n - i);
            eol = nl ? (size_t)(nl - s) + 1 : n;
            if (line_range(s + i, eol - i, &lo, &hi, e)) return -1;
        }
        size_t k = number_at(s, n, i);
        if (!k) {
            i++;
            continue;
        }
        if (f->spaced && after_number && separator(s, lit, i) ? tl_buf_append(out, " ", 1, e)
                                                              : tl_buf_append(out, s + lit, i - lit, e))
            return -1;
        after_number = 1;
        if (f->mode == TL_NUM_KEEP) {
            if (tl_buf_append(out, s + i, k, e)) return -1;
            lit = i += k;
            continue;
        }
        /* a double prints in at most 1 + 309 + 1 + 9 characters (sign, integer digits, point,
         * round:9 decimals) */
        char txt[400];
        double x;
        if (number_value(s, i, k, &x, e)) return -1;
        int w;
        if (f->mode == TL_NUM_MINMAX) {
            double v = floor((x - lo) / (hi - lo) * f->levels); /* NaN when hi == lo, or inf - inf */
            w = snprintf(txt, sizeof txt, "%d", v >= 0 ? (int)fmin(v, f->levels - 1) : 0);
        } else {
            w = f->mode == TL_NUM_ROUND ? snprintf(txt, sizeof txt, "%.*f", f->digits, x)
                                        : snprintf(txt, sizeof txt, "%.0f", round(x * f->scale));
        }
        assert(w > 0 && (size_t)w < sizeof txt);
        if (txt[0] == '-' && strspn(txt + 1, "0.") == strlen(txt + 1)) memmove(txt, txt + 1, (size_t)w--); /* -0.0 */
        if (tl_buf_append(out, txt, (size_t)w, e)) return -1;
        i += k;
        lit = i;
    }
    return tl_buf_append(out, s + lit, n - lit, e);
}

int tl_task_prompt(const tl_task *t, const char *instruction, size_t ni, const char *input, size_t nn, tl_buf *out,
                   tl_err *e) {
    trim(&instruction, &ni);
    trim(&input, &nn);
    if (tl_buf_append(out, "### Instruction:\n", 17, e) || tl_buf_append(out, instruction, ni, e) ||
        tl_buf_append(out, "\n\n### Input:\n", 13, e) || tl_task_numbers(&t->numbers, input, nn, out, e) ||
        tl_buf_append(out, "\n\n### Response:\n", 16, e))
        return -1;
    return 0;
}

int tl_task_response(const char *output, size_t n, tl_buf *out, tl_err *e) {
    trim(&output, &n);
    if (tl_buf_append(out, output, n, e) || tl_buf_append(out, "\n\n### End", 9, e)) return -1;
    return 0;
}
