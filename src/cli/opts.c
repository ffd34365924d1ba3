/* Option tables: command line + config file parsing, --help, and the resolved-settings printout. */
#include "cli/opts.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static const tl_opt *find_long(const tl_cmd *c, const char *name, size_t len) {
    for (int i = 0; i < c->n_opts; i++)
        if (strlen(c->opts[i].name) == len && !strncmp(c->opts[i].name, name, len)) return &c->opts[i];
    return NULL;
}

static const tl_opt *find_short(const tl_cmd *c, char s) {
    for (int i = 0; i < c->n_opts; i++)
        if (c->opts[i].short_name == s) return &c->opts[i];
    return NULL;
}

/* Strings from the config file live as long as the process (options point at them): they are
 * owned by this arena, a list reachable from a static, so LeakSanitizer does not count them. */
typedef struct kept {
    struct kept *next;
    char s[];
} kept;
static kept *kept_strings;

static char *keep(const char *s, size_t n) {
    kept *k = malloc(sizeof *k + n + 1);
    if (!k) abort();
    memcpy(k->s, s, n);
    k->s[n] = 0;
    k->next = kept_strings;
    kept_strings = k;
    return k->s;
}

static int set_value(const tl_opt *o, const char *val, const char *where, tl_err *e) {
    char *end = NULL;
    errno = 0;
    switch (o->type) {
    case TL_OPT_INT: {
        long v = strtol(val, &end, 10);
        if (*val == 0 || *end || errno || v < INT_MIN || v > INT_MAX)
            return tl_errf(e, "%s--%s: expected an integer, got '%s'", where, o->name, val);
        *(int *)o->ptr = (int)v;
        break;
    }
    case TL_OPT_I64: {
        double mult = 1;
        long long v = strtoll(val, &end, 10);
        if (*end == 'k' || *end == 'K') mult = 1e3, end++;
        else if (*end == 'M') mult = 1e6, end++;
        else if (*end == 'G') mult = 1e9, end++;
        if (*val == 0 || *end || errno) return tl_errf(e, "%s--%s: expected an integer (k/M/G suffix allowed), got '%s'", where, o->name, val);
        *(long long *)o->ptr = (long long)((double)v * mult);
        break;
    }
    case TL_OPT_FLOAT: {
        float v = strtof(val, &end);
        if (*val == 0 || *end || errno) return tl_errf(e, "%s--%s: expected a number, got '%s'", where, o->name, val);
        *(float *)o->ptr = v;
        break;
    }
    case TL_OPT_STR:
        *(const char **)o->ptr = val;
        break;
    case TL_OPT_LIST: {
        tl_opt_list *l = o->ptr;
        if (!*where && !l->from_cli) l->n = 0, l->from_cli = 1;
        if (l->n == TL_OPT_LIST_MAX) return tl_errf(e, "%s--%s: given more than %d times", where, o->name, TL_OPT_LIST_MAX);
        l->v[l->n++] = val;
        break;
    }
    case TL_OPT_FLAG:
        if (!strcmp(val, "1") || !strcmp(val, "true") || !strcmp(val, "yes")) *(int *)o->ptr = 1;
        else if (!strcmp(val, "0") || !strcmp(val, "false") || !strcmp(val, "no")) *(int *)o->ptr = 0;
        else return tl_errf(e, "%s--%s: expected true or false, got '%s'", where, o->name, val);
        break;
    }
    return 0;
}

static int load_config(const tl_cmd *c, const char *path, tl_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return tl_errf(e, "%s: cannot open config file: %s", path, strerror(errno));
    char line[4096];
    int lineno = 0, rc = 0;
    while (fgets(line, sizeof line, f)) {
        lineno++;
        size_t len = strlen(line);
        if (len == sizeof line - 1 && line[len - 1] != '\n') {
            rc = tl_errf(e, "%s:%d: line too long", path, lineno);
            break;
        }
        char *s = line;
        while (*s == ' ' || *s == '\t') s++;
        if (*s == '#' || *s == '\n' || *s == '\r' || *s == 0) continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            rc = tl_errf(e, "%s:%d: expected 'key = value'", path, lineno);
            break;
        }
        char *ke = eq;
        while (ke > s && (ke[-1] == ' ' || ke[-1] == '\t')) ke--;
        char *v = eq + 1;
        while (*v == ' ' || *v == '\t') v++;
        char *ve = v + strlen(v);
        while (ve > v && (ve[-1] == '\n' || ve[-1] == '\r' || ve[-1] == ' ' || ve[-1] == '\t')) ve--;
        const tl_opt *o = find_long(c, s, (size_t)(ke - s));
        if (!o || !strcmp(o->name, "config")) {
            rc = tl_errf(e, "%s:%d: unknown key '%.*s' for 'tinyllm %s'", path, lineno, (int)(ke - s), s, c->name);
            break;
        }
        char where[512];
        snprintf(where, sizeof where, "%s:%d: ", path, lineno);
        if (set_value(o, keep(v, (size_t)(ve - v)), where, e)) {
            rc = -1;
            break;
        }
    }
    fclose(f);
    return rc;
}

int tl_opts_parse(const tl_cmd *c, int argc, char **argv, const char **pos, int max_pos, int *n_pos, tl_err *e) {
    *n_pos = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            tl_opts_help(c, stdout);
            return 1;
        }
    }
    for (int i = 1; i < argc; i++) { /* the config file first, so the command line wins */
        const char *path = NULL;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) path = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9)) path = argv[i] + 9;
        if (path && load_config(c, path, e)) return -1;
    }
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const tl_opt *o = NULL;
        const char *val = NULL;
        if (!strcmp(a, "--")) {
            for (i++; i < argc; i++) {
                if (*n_pos >= max_pos) return tl_errf(e, "%s: too many arguments ('%s')", c->name, argv[i]);
                pos[(*n_pos)++] = argv[i];
            }
            break;
        }
        if (a[0] == '-' && a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t len = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            if (len == 6 && !strncmp(a + 2, "config", 6)) {
                if (!eq) i++;
                continue;
            }
            o = find_long(c, a + 2, len);
            if (!o) return tl_errf(e, "%s: unknown option '%s' (see 'tinyllm %s --help')", c->name, a, c->name);
            if (eq) val = eq + 1;
        } else if (a[0] == '-' && a[1] && a[2] == 0 && !(a[1] >= '0' && a[1] <= '9')) {
            o = find_short(c, a[1]);
            if (!o) return tl_errf(e, "%s: unknown option '%s' (see 'tinyllm %s --help')", c->name, a, c->name);
        } else {
            if (*n_pos >= max_pos) return tl_errf(e, "%s: unexpected argument '%s'", c->name, a);
            pos[(*n_pos)++] = a;
            continue;
        }
        if (!val) {
            if (o->type == TL_OPT_FLAG) val = "1";
            else if (i + 1 < argc) val = argv[++i];
            else return tl_errf(e, "%s: option --%s needs a value", c->name, o->name);
        }
        if (set_value(o, val, "", e)) return -1;
    }
    return 0;
}

/* Appends s to buf with control characters escaped (\n, \t, \xNN), so that a value holding a
 * line break (classify's --suffix) stays on its line of the help and the settings block. */
static void append_escaped(char *buf, size_t n, const char *s) {
    size_t len = strlen(buf);
    for (; *s && len + 5 < n; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n') len += (size_t)snprintf(buf + len, n - len, "\\n");
        else if (c == '\t') len += (size_t)snprintf(buf + len, n - len, "\\t");
        else if (c < 0x20 || c == 0x7f) len += (size_t)snprintf(buf + len, n - len, "\\x%02x", c);
        else {
            buf[len++] = (char)c;
            buf[len] = 0;
        }
    }
}

static void value_str(const tl_opt *o, char *buf, size_t n) {
    buf[0] = 0;
    switch (o->type) {
    case TL_OPT_INT: snprintf(buf, n, "%d", *(int *)o->ptr); break;
    case TL_OPT_I64: snprintf(buf, n, "%lld", *(long long *)o->ptr); break;
    case TL_OPT_FLOAT: snprintf(buf, n, "%g", (double)*(float *)o->ptr); break;
    case TL_OPT_STR: append_escaped(buf, n, *(const char **)o->ptr ? *(const char **)o->ptr : "(none)"); break;
    case TL_OPT_FLAG: snprintf(buf, n, "%s", *(int *)o->ptr ? "true" : "false"); break;
    case TL_OPT_LIST: {
        const tl_opt_list *l = o->ptr;
        snprintf(buf, n, "%s", l->n ? "" : "(none)");
        for (int i = 0; i < l->n && strlen(buf) + 1 < n; i++) {
            if (i) append_escaped(buf, n, " ");
            append_escaped(buf, n, l->v[i]);
        }
        break;
    }
    }
}

void tl_opts_help(const tl_cmd *c, FILE *f) {
    fprintf(f, "usage: %s\n\n%s\n\noptions:\n", c->usage, c->summary);
    for (int i = 0; i < c->n_opts; i++) {
        const tl_opt *o = &c->opts[i];
        char left[64], def[256];
        static const char *meta[] = {"N", "N", "X", "S", "", "S"};
        if (o->short_name) snprintf(left, sizeof left, "-%c, --%s %s", o->short_name, o->name, meta[o->type]);
        else snprintf(left, sizeof left, "    --%s %s", o->name, meta[o->type]);
        value_str(o, def, sizeof def);
        fprintf(f, "  %-26s %s", left, o->help);
        if (o->type != TL_OPT_FLAG && strcmp(def, "(none)") && def[0]) fprintf(f, " [%s]", def);
        fputc('\n', f);
    }
    fprintf(f, "  %-26s %s\n  %-26s %s\n", "    --config FILE", "read 'key = value' lines (keys: the long names above); the command line wins",
            "-h, --help", "show this help");
}

void tl_opts_print(const tl_cmd *c, FILE *f) {
    fprintf(f, "settings (tinyllm %s):\n", c->name);
    for (int i = 0; i < c->n_opts; i++) {
        char v[256];
        value_str(&c->opts[i], v, sizeof v);
        fprintf(f, "  %-20s %s\n", c->opts[i].name, v);
    }
}

int tl_cli_parse(const tl_cmd *c, int argc, char **argv, const char **pos, int max_pos, int *n_pos) {
    tl_err e;
    int r = tl_opts_parse(c, argc, argv, pos, max_pos, n_pos, &e);
    return r == 0 ? -1 : r > 0 ? 0 : tl_cli_fail(&e);
}

int tl_cli_fail(const tl_err *e) {
    fprintf(stderr, "tinyllm: %s\n", e->msg);
    return 1;
}
