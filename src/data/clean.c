/* Corpus cleaning: normalisation, exact and MinHash/LSH near-duplicate removal, streamed JSONL output. */
#include "data/clean.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/log.h"
#include "tokenizer/unicode.h"

enum { K = TL_CLEAN_HASHES, BANDS = TL_CLEAN_BANDS, ROWS = TL_CLEAN_HASHES / TL_CLEAN_BANDS, SHINGLE = TL_CLEAN_SHINGLE };
enum { MAX_CANDIDATES = 32 }; /* kept documents compared per band bucket: bounds the time per document */
#define NONE UINT32_MAX

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(const char *p, size_t n, int lower) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        h = (h ^ c) * 0x100000001b3ULL;
    }
    return mix(h ^ n);
}

/* A map from nonzero 64-bit keys (0 is remapped to 1) to uint32 values: open addressing, grown at
 * half load. */
typedef struct map64 {
    uint64_t *keys;
    uint32_t *vals;
    size_t n, cap;
} map64;

static int map_grow(map64 *m, tl_err *e) {
    size_t cap = m->cap ? 2 * m->cap : (size_t)1 << 16;
    uint64_t *keys = tl_calloc(cap, sizeof *keys, e);
    uint32_t *vals = keys ? tl_calloc(cap, sizeof *vals, e) : NULL;
    if (!vals) {
        free(keys);
        return -1;
    }
    for (size_t i = 0; i < m->cap; i++)
        if (m->keys[i]) {
            size_t j = m->keys[i] & (cap - 1);
            while (keys[j]) j = (j + 1) & (cap - 1);
            keys[j] = m->keys[i], vals[j] = m->vals[i];
        }
    free(m->keys);
    free(m->vals);
    m->keys = keys, m->vals = vals, m->cap = cap;
    return 0;
}

/* The value slot of key k, inserted with value NONE when absent; NULL when memory runs out. */
static uint32_t *map_slot(map64 *m, uint64_t k, tl_err *e) {
    k = k ? k : 1;
    if (2 * (m->n + 1) > m->cap && map_grow(m, e)) return NULL;
    size_t j = k & (m->cap - 1);
    for (; m->keys[j]; j = (j + 1) & (m->cap - 1))
        if (m->keys[j] == k) return &m->vals[j];
    m->keys[j] = k, m->vals[j] = NONE, m->n++;
    return &m->vals[j];
}

static void map_free(map64 *m) {
    free(m->keys);
    free(m->vals);
    *m = (map64){0};
}

static int is_space_cp(int32_t cp) {
    return cp == ' ' || cp == '\t' || cp == 0xa0 || cp == 0x1680 || (cp >= 0x2000 && cp <= 0x200a) || cp == 0x202f ||
           cp == 0x205f || cp == 0x3000;
}

static int is_dropped_cp(int32_t cp) { /* control characters, BOM / zero-width */
    return cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0) || cp == 0xfeff || cp == 0x200b;
}

long tl_clean_normalise(const char *text, size_t n, tl_buf *out, size_t *chars, tl_err *e) {
    static const char repl[3] = {(char)0xef, (char)0xbf, (char)0xbd};
    out->n = 0;
    *chars = 0;
    long bad = 0;
    int newlines = 0, space = 0, started = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        const char *c = text + i;
        int k = tl_utf8_next((const unsigned char *)c, n - i, &cp);
        i += (size_t)k;
        if (cp == '\r' && i < n && text[i] == '\n') continue; /* CR LF: the LF counts */
        if (cp == '\n' || cp == '\r' || cp == '\v' || cp == '\f' || cp == 0x2028 || cp == 0x2029) {
            newlines++, space = 0;
            continue;
        }
        if (cp >= 0 && is_space_cp(cp)) {
            space = 1;
            continue;
        }
        if (cp >= 0 && is_dropped_cp(cp)) continue;
        if (started && newlines) {
            if (tl_buf_append(out, "\n\n", newlines > 1 ? 2 : 1, e)) return -1;
            *chars += newlines > 1 ? 2 : 1;
        } else if (started && space) {
            if (tl_buf_append(out, " ", 1, e)) return -1;
            ++*chars;
        }
        newlines = space = 0;
        started = 1;
        if (cp < 0) bad++;
        if (tl_buf_append(out, cp < 0 ? repl : c, cp < 0 ? sizeof repl : (size_t)k, e)) return -1;
        ++*chars;
    }
    /* the terminating NUL (not counted in n) lets callers use out->p as a C string */
    if (tl_buf_reserve(out, 1, e)) return -1;
    out->p[out->n] = 0;
    return bad;
}

void tl_clean_minhash(const char *t, size_t n, uint32_t sig[TL_CLEAN_HASHES]) {
    uint64_t win[SHINGLE] = {0};
    int words = 0;
    for (int k = 0; k < K; k++) sig[k] = UINT32_MAX;
    for (size_t i = 0;;) {
        while (i < n && (t[i] == ' ' || t[i] == '\n')) i++;
        if (i >= n) break;
        size_t j = i;
        while (j < n && t[j] != ' ' && t[j] != '\n') j++;
        memmove(win, win + 1, sizeof win - sizeof *win);
        win[SHINGLE - 1] = hash_bytes(t + i, j - i, 1);
        i = j;
        if (++words < SHINGLE) continue;
        uint64_t h = 0;
        for (int s = 0; s < SHINGLE; s++) h = mix(h ^ win[s]);
        for (int k = 0; k < K; k++) {
            uint32_t v = (uint32_t)mix(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
            if (v < sig[k]) sig[k] = v;
        }
    }
    if (words < SHINGLE) { /* the whole (short) text as one shingle */
        uint64_t h = 0;
        for (int s = 0; s < SHINGLE; s++) h = mix(h ^ win[s]);
        for (int k = 0; k < K; k++) sig[k] = (uint32_t)mix(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
    }
}

typedef struct cleaner {
    const tl_clean_opts *o;
    tl_clean_report *rep;
    int last_src;
    map64 exact, bands[BANDS]; /* band value -> newest kept document with it */
    uint32_t *sigs;            /* [kept][K] */
    uint32_t *next;            /* [kept][BANDS]: the previous kept document in the same band bucket */
    size_t n_kept, cap_kept;
    tl_buf norm, line;
    tl_afile out;
    tl_progress prog;
} cleaner;

/* The statistics of source `name` (added on first sight); NULL when memory runs out. */
static tl_clean_stats *source_stats(cleaner *c, const char *name, size_t len, tl_err *e) {
    tl_clean_report *r = c->rep;
    if (len >= sizeof r->src[0].source) len = sizeof r->src[0].source - 1;
    if (c->last_src >= 0 && strlen(r->src[c->last_src].source) == len && !memcmp(r->src[c->last_src].source, name, len))
        return &r->src[c->last_src];
    for (int i = 0; i < r->n_src; i++)
        if (strlen(r->src[i].source) == len && !memcmp(r->src[i].source, name, len)) return &r->src[c->last_src = i];
    tl_clean_stats *s = realloc(r->src, sizeof *s * (size_t)(r->n_src + 1));
    if (!s) return tl_errf(e, "out of memory"), NULL;
    r->src = s;
    s = &r->src[r->n_src];
    memset(s, 0, sizeof *s);
    memcpy(s->source, name, len);
    c->last_src = r->n_src++;
    return s;
}

/* 1 when the kept near-duplicate index says `sig` is a near duplicate of a kept document. */
static int near_duplicate(const cleaner *c, const uint32_t *sig, const uint32_t *heads) {
    int need = (int)(c->o->near_dup * K + 0.999999);
    for (int b = 0; b < BANDS; b++) {
        uint32_t f = heads[b];
        for (int tries = 0; f != NONE && tries < MAX_CANDIDATES; tries++) {
            const uint32_t *o = c->sigs + (size_t)f * K;
            int same = 0, rows_same = 1;
            for (int r = 0; r < ROWS; r++) rows_same &= o[b * ROWS + r] == sig[b * ROWS + r];
            if (rows_same) { /* a true band match (not a hash collision): estimate the similarity */
                for (int k = 0; k < K; k++) same += o[k] == sig[k];
                if (same >= need) return 1;
            }
            f = c->next[(size_t)f * BANDS + (size_t)b];
        }
    }
    return 0;
}

/* Takes one document with its source name; `fixed` invalid bytes were already replaced by U+FFFD
 * in it (JSONL lines are repaired before parsing). Returns 0, or -1 on error. */
static int take(cleaner *c, const char *src, size_t src_len, const char *text, size_t n, long fixed, tl_err *e) {
    tl_clean_stats *st = source_stats(c, src, src_len, e);
    if (!st) return -1;
    st->docs_in++;
    st->bytes_in += n;
    size_t chars;
    long bad = tl_clean_normalise(text, n, &c->norm, &chars, e);
    if (bad < 0) return -1;
    bad += fixed;
    if (bad && (size_t)bad * 100 > n) return st->bad_utf8++, 0;
    if (chars < c->o->min_chars) return st->short_docs++, 0;
    uint32_t *slot = map_slot(&c->exact, hash_bytes(c->norm.p, c->norm.n, 0), e);
    if (!slot) return -1;
    if (*slot != NONE) return st->exact_dups++, 0;
    if (c->o->near_dup > 0) {
        if (c->n_kept == c->cap_kept) {
            size_t cap = c->cap_kept ? 2 * c->cap_kept : 4096;
            uint32_t *s = realloc(c->sigs, sizeof *s * K * cap);
            if (s) c->sigs = s;
            uint32_t *nx = s ? realloc(c->next, sizeof *nx * BANDS * cap) : NULL;
            if (!nx) return tl_errf(e, "out of memory (near-duplicate signatures)");
            c->next = nx, c->cap_kept = cap;
        }
        uint32_t *sig = c->sigs + c->n_kept * K, *heads[BANDS], headv[BANDS];
        tl_clean_minhash(c->norm.p, c->norm.n, sig);
        for (int b = 0; b < BANDS; b++) {
            uint64_t h = mix((uint64_t)b + 1);
            for (int r = 0; r < ROWS; r++) h = mix(h ^ sig[b * ROWS + r]);
            if (!(heads[b] = map_slot(&c->bands[b], h, e))) return -1;
            headv[b] = *heads[b];
        }
        if (near_duplicate(c, sig, headv)) {
            *slot = 0; /* an exact copy of it is a duplicate too */
            return st->near_dups++, 0;
        }
        for (int b = 0; b < BANDS; b++) {
            c->next[c->n_kept * BANDS + (size_t)b] = headv[b];
            *heads[b] = (uint32_t)c->n_kept;
        }
    }
    *slot = (uint32_t)c->n_kept;
    if (bad) st->utf8_fixed++;
    c->n_kept++;
    json_t *j = json_pack("{s:s%, s:s%}", "text", c->norm.p, c->norm.n, "source", st->source, strlen(st->source));
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    int r = !s ? tl_errf(e, "out of memory") : (tl_afile_write(&c->out, s, strlen(s), e) || tl_afile_write(&c->out, "\n", 1, e)) ? -1 : 0;
    free(s);
    st->docs_out++;
    st->bytes_out += c->norm.n;
    return r;
}

/* The file name of path without folders and extension, as a source name. */
static void stem(const char *path, const char **p, size_t *n) {
    const char *b = strrchr(path, '/');
    b = b ? b + 1 : path;
    const char *dot = strchr(b, '.');
    *p = b;
    *n = dot && dot > b ? (size_t)(dot - b) : strlen(b);
}

static int read_folder(cleaner *c, const tl_clean_input *in, tl_err *e) {
    struct dirent **list;
    int n = scandir(in->path, &list, NULL, alphasort), rc = 0;
    if (n < 0) return tl_errf(e, "%s: cannot open folder: %s", in->path, strerror(errno));
    const char *name;
    size_t name_len;
    if (in->name) name = in->name, name_len = strlen(in->name);
    else stem(in->path, &name, &name_len);
    for (int i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", in->path, list[i]->d_name);
        struct stat sb;
        if (!rc && list[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            FILE *f = fopen(path, "rb");
            if (!f) rc = tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
            char chunk[65536];
            size_t k;
            c->line.n = 0;
            while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = tl_buf_append(&c->line, chunk, k, e);
            if (f && !rc && ferror(f)) rc = tl_errf(e, "%s: read error", path);
            if (f) fclose(f);
            if (!rc) rc = take(c, name, name_len, c->line.p ? c->line.p : "", c->line.n, 0, e);
            tl_progress_update(&c->prog, c->rep->total.docs_in + 1, name);
        }
        free(list[i]);
    }
    free(list);
    return rc;
}

/* Copies line[0..n) into c->line with each invalid UTF-8 byte replaced by U+FFFD; returns how many
 * were replaced (0: c->line is untouched and the caller keeps using line), or -1. */
static long repair_line(cleaner *c, const char *line, size_t n, tl_err *e) {
    long bad = 0;
    size_t i = 0;
    for (; i < n;) {
        int32_t cp;
        int k = tl_utf8_next((const unsigned char *)line + i, n - i, &cp);
        if (cp < 0) break;
        i += (size_t)k;
    }
    if (i == n) return 0;
    c->line.n = 0;
    if (tl_buf_append(&c->line, line, i, e)) return -1;
    while (i < n) {
        int32_t cp;
        int k = tl_utf8_next((const unsigned char *)line + i, n - i, &cp);
        if (cp < 0) bad++;
        if (tl_buf_append(&c->line, cp < 0 ? "\xef\xbf\xbd" : line + i, cp < 0 ? 3 : (size_t)k, e)) return -1;
        i += (size_t)k;
    }
    return bad;
}

static int read_jsonl(cleaner *c, const tl_clean_input *in, tl_err *e) {
    FILE *f = fopen(in->path, "rb");
    if (!f) return tl_errf(e, "%s: cannot open: %s", in->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    const char *fallback;
    size_t fallback_len;
    stem(in->path, &fallback, &fallback_len);
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)n) continue;
        long fixed = repair_line(c, line, (size_t)n, e);
        if (fixed < 0) {
            rc = -1;
            break;
        }
        const char *p = fixed ? c->line.p : line;
        size_t pn = fixed ? c->line.n : (size_t)n;
        json_error_t je;
        json_t *j = json_loadb(p, pn, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &je);
        json_t *t = json_object_get(j, "text"), *s = json_object_get(j, "source");
        if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", in->path, lineno, je.text);
        else if (!json_is_object(j)) rc = tl_errf(e, "%s:%ld: not a JSON object", in->path, lineno);
        else if (!json_is_string(t)) rc = tl_errf(e, "%s:%ld: no string field \"text\"", in->path, lineno);
        else if (s && !json_is_string(s)) rc = tl_errf(e, "%s:%ld: field \"source\" is not a string", in->path, lineno);
        else if (!in->name && s && json_string_length(s) == 0) rc = tl_errf(e, "%s:%ld: empty \"source\"", in->path, lineno);
        else {
            const char *name = in->name ? in->name : s ? json_string_value(s) : fallback;
            size_t name_len = in->name ? strlen(in->name) : s ? json_string_length(s) : fallback_len;
            rc = take(c, name, name_len, json_string_value(t), json_string_length(t), fixed, e);
        }
        json_decref(j);
        tl_progress_update(&c->prog, c->rep->total.docs_in + (uint64_t)lineno, in->path);
    }
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error", in->path);
    free(line);
    fclose(f);
    return rc;
}

static void sum_report(tl_clean_report *r) {
    tl_clean_stats *t = &r->total;
    memset(t, 0, sizeof *t);
    snprintf(t->source, sizeof t->source, "total");
    for (int i = 0; i < r->n_src; i++) {
        const tl_clean_stats *s = &r->src[i];
        t->docs_in += s->docs_in, t->docs_out += s->docs_out, t->bytes_in += s->bytes_in, t->bytes_out += s->bytes_out;
        t->short_docs += s->short_docs, t->bad_utf8 += s->bad_utf8, t->exact_dups += s->exact_dups;
        t->near_dups += s->near_dups, t->utf8_fixed += s->utf8_fixed;
    }
}

int tl_clean_run(const tl_clean_input *in, int n_in, const tl_clean_opts *o, const char *out, tl_clean_report *rep,
                 tl_err *e) {
    memset(rep, 0, sizeof *rep);
    if (!(o->near_dup >= 0 && o->near_dup <= 1)) return tl_errf(e, "--near-dup must be in [0, 1]");
    for (int i = 0; i < n_in; i++)
        if (in[i].name && !in[i].name[0]) return tl_errf(e, "%s: empty source name", in[i].path);
    cleaner c = {.o = o, .rep = rep, .last_src = -1};
    if (tl_afile_open(&c.out, out, e)) return -1;
    tl_progress_init(&c.prog, "clean", "doc", 0);
    int rc = 0;
    for (int i = 0; i < n_in && !rc; i++) {
        struct stat sb;
        if (stat(in[i].path, &sb) != 0) rc = tl_errf(e, "%s: %s", in[i].path, strerror(errno));
        else rc = S_ISDIR(sb.st_mode) ? read_folder(&c, &in[i], e) : read_jsonl(&c, &in[i], e);
        sum_report(rep);
    }
    if (!rc) {
        tl_progress_end(&c.prog, rep->total.docs_in, NULL);
        rc = tl_afile_commit(&c.out, e);
    } else {
        tl_afile_abort(&c.out);
    }
    map_free(&c.exact);
    for (int b = 0; b < BANDS; b++) map_free(&c.bands[b]);
    free(c.sigs);
    free(c.next);
    tl_buf_free(&c.norm);
    tl_buf_free(&c.line);
    return rc;
}

void tl_clean_report_free(tl_clean_report *rep) {
    free(rep->src);
    memset(rep, 0, sizeof *rep);
}
