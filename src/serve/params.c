/* Request parameters: the body parsed by jansson (duplicate keys rejected, depth limited), and typed,
 * range-checked reads of its fields; every fault is a 400 naming the parameter (internal.h). */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/internal.h"

int tl_apierr_set(tl_apierr *a, int status, const char *type, const char *code, const char *param, const char *fmt, ...) {
    a->status = status;
    snprintf(a->type, sizeof a->type, "%s", type);
    snprintf(a->code, sizeof a->code, "%s", code);
    snprintf(a->param, sizeof a->param, "%s", param ? param : "");
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->msg, sizeof a->msg, fmt, ap);
    va_end(ap);
    return -1;
}

json_t *tl_apierr_json(const tl_apierr *a) {
    /* messages quote request text, which is valid UTF-8 (jansson checked it) but may be cut */
    tl_buf b = {0};
    tl_utf8 st = {{0}, 0};
    tl_err e;
    json_t *msg = NULL;
    if (!tl_utf8_clean(&st, a->msg, strlen(a->msg), 1, &b, &e)) msg = json_stringn(b.p ? b.p : "", b.n);
    tl_buf_free(&b);
    return json_pack("{s:{s:o*,s:s,s:o,s:s}}", "error", "message", msg ? msg : json_string("error"), "type", a->type,
                     "param", a->param[0] ? json_string(a->param) : json_null(), "code", a->code);
}

/* Nesting of arrays and objects, counted until it passes max. */
static int depth_over(json_t *v, int depth, int max) {
    if (depth > max) return 1;
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach(v, k, x) if (depth_over(x, depth + 1, max)) return 1;
    } else if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) if (depth_over(x, depth + 1, max)) return 1;
    }
    return 0;
}

json_t *tl_params_parse(const struct tl_serve *s, const char *body, size_t n, tl_apierr *a) {
    json_error_t je;
    if (!n) return TL_BAD(a, "invalid_json", NULL, "the request body is empty: send a JSON object"), NULL;
    json_t *o = json_loadb(body, n, JSON_REJECT_DUPLICATES, &je);
    if (!o) {
        /* jansson's own limit (JSON_PARSER_MAX_DEPTH) reads "maximum parsing depth reached" */
        TL_BAD(a, "invalid_json", NULL, "the request body is not valid JSON: %s (line %d, column %d)", je.text, je.line, je.column);
        return NULL;
    }
    if (!json_is_object(o)) {
        json_decref(o);
        return TL_BAD(a, "invalid_json", NULL, "the request body must be a JSON object"), NULL;
    }
    if (depth_over(o, 1, s->cfg.max_json_depth)) {
        json_decref(o);
        return TL_BAD(a, "json_too_deep", NULL, "the request body nests arrays and objects deeper than %d", s->cfg.max_json_depth), NULL;
    }
    return o;
}

int tl_params_keys(json_t *o, const char *const *allowed, tl_apierr *a) {
    const char *k;
    json_t *v;
    json_object_foreach(o, k, v) {
        int ok = 0;
        for (int i = 0; allowed[i] && !ok; i++) ok = !strcmp(allowed[i], k);
        if (!ok) {
            char q[200];
            tl_err_quote(k, strlen(k), q);
            return TL_BAD(a, "unknown_parameter", q, "unknown parameter '%s' (this server rejects what it does not implement; see docs/serve.md)", q);
        }
    }
    return 0;
}

static const char *type_name(const json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: return "an integer";
    case JSON_REAL: return "a number";
    case JSON_TRUE:
    case JSON_FALSE: return "a boolean";
    default: return "null";
    }
}

int tl_params_int(json_t *o, const char *key, long long lo, long long hi, long long *out, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_integer(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be an integer, not %s", key, type_name(v));
    long long x = json_integer_value(v);
    if (x < lo || x > hi) return TL_BAD(a, "out_of_range", key, "'%s' must be in %lld..%lld, got %lld", key, lo, hi, x);
    *out = x;
    return 1;
}

int tl_params_num(json_t *o, const char *key, double lo, double hi, double *out, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_number(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be a number, not %s", key, type_name(v));
    double x = json_number_value(v);
    if (!(x >= lo && x <= hi)) return TL_BAD(a, "out_of_range", key, "'%s' must be in [%g, %g], got %g", key, lo, hi, x);
    *out = x;
    return 1;
}

int tl_params_bool(json_t *o, const char *key, int *out, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_boolean(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be true or false, not %s", key, type_name(v));
    *out = json_is_true(v);
    return 1;
}

int tl_params_str(json_t *o, const char *key, size_t max, const char **out, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (!json_is_string(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be a string, not %s", key, type_name(v));
    if (json_string_length(v) > max) return TL_BAD(a, "out_of_range", key, "'%s' is longer than %zu bytes", key, max);
    *out = json_string_value(v);
    return 1;
}

int tl_params_neutral(json_t *o, const char *key, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    /* the values that mean "not used" for the OpenAI parameters this server does not implement */
    int ok = json_is_false(v) || (json_is_number(v) && json_number_value(v) == 0 && strcmp(key, "n") && strcmp(key, "best_of")) ||
             ((!strcmp(key, "n") || !strcmp(key, "best_of")) && json_is_integer(v) && json_integer_value(v) == 1) ||
             (json_is_object(v) && json_object_size(v) == 0) || (json_is_array(v) && json_array_size(v) == 0) ||
             (json_is_string(v) && json_string_length(v) == 0 && !strcmp(key, "suffix")) ||
             (json_is_string(v) && !strcmp(json_string_value(v), "none") && !strcmp(key, "tool_choice"));
    if (!ok) {
        char shown[64] = "";
        char *dump = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT);
        if (dump) snprintf(shown, sizeof shown, "%.40s%s", dump, strlen(dump) > 40 ? "..." : "");
        free(dump);
        return TL_BAD(a, "unsupported_value", key, "'%s' = %s is not supported by this server (only its neutral value, e.g. %s)", key, shown,
                      !strcmp(key, "n") || !strcmp(key, "best_of") ? "1" : json_is_boolean(v) ? "false" : json_is_number(v) ? "0" : "empty");
    }
    return 1;
}

static int add_stop(json_t *v, const char *key, char **stop, int *n, tl_apierr *a) {
    if (!json_is_string(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be a string or an array of strings", key);
    size_t len = json_string_length(v);
    if (!len || len > TL_SERVE_MAX_STOP_LEN) return TL_BAD(a, "out_of_range", key, "each '%s' string must be 1..%d bytes", key, TL_SERVE_MAX_STOP_LEN);
    if (memchr(json_string_value(v), 0, len)) return TL_BAD(a, "invalid_value", key, "a '%s' string holds a NUL character", key);
    if (*n >= TL_SERVE_MAX_STOP) return TL_BAD(a, "out_of_range", key, "at most %d '%s' strings", TL_SERVE_MAX_STOP - 2, key);
    if (!(stop[*n] = strdup(json_string_value(v)))) return tl_apierr_set(a, 500, "server_error", "out_of_memory", NULL, "out of memory");
    (*n)++;
    return 0;
}

int tl_params_stop(json_t *o, const char *key, char **stop, int *n, tl_apierr *a) {
    json_t *v = json_object_get(o, key);
    if (!v || json_is_null(v)) return 0;
    if (json_is_string(v)) return add_stop(v, key, stop, n, a) ? -1 : 1;
    if (!json_is_array(v)) return TL_BAD(a, "invalid_type", key, "'%s' must be a string or an array of strings", key);
    /* two places stay free for the chat template's own end markers */
    if (json_array_size(v) > TL_SERVE_MAX_STOP - 2) return TL_BAD(a, "out_of_range", key, "at most %d '%s' strings", TL_SERVE_MAX_STOP - 2, key);
    size_t i;
    json_t *x;
    json_array_foreach(v, i, x) if (add_stop(x, key, stop, n, a)) return -1;
    return 1;
}
