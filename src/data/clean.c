/* Corpus cleaning: normalisation, exact and MinHash/LSH near-duplicate removal, JSONL output. */
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
#include "base/vec.h"
#include "tokenizer/unicode.h"

enum { K = 64, BANDS = 16, ROWS = 4, SHINGLE = 5 };

static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static uint64_t hash_bytes(const char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ (unsigned char)p[i]) * 0x100000001b3ULL;
    return mix(h);
}

/* A set of 64-bit keys (0 is remapped), each with a value: open addressing, grows at half load. */
typedef struct set64 {
    uint64_t *keys;
    uint32_t *vals;
    size_t n, cap;
} set64;

static int set_insert(set64 *s, uint64_t k, uint32_t v, uint32_t *found, tl_err *e) {
    k = k ? k : 1;
    if (2 * (s->n + 1) > s->cap) {
        size_t cap = s->cap ? 2 * s->cap : 1 << 16;
        uint64_t *keys = tl_calloc(cap, sizeof *keys, e);
        uint32_t *vals = keys ? tl_calloc(cap, sizeof *vals, e) : NULL;
        if (!vals) {
            free(keys);
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++)
            if (s->keys[i]) {
                size_t j = s->keys[i] & (cap - 1);
                while (keys[j]) j = (j + 1) & (cap - 1);
                keys[j] = s->keys[i], vals[j] = s->vals[i];
            }
        free(s->keys);
        free(s->vals);
        s->keys = keys, s->vals = vals, s->cap = cap;
    }
    size_t j = k & (s->cap - 1);
    for (; s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (s->keys[j] == k) {
            *found = s->vals[j];
            return 1;
        }
    s->keys[j] = k, s->vals[j] = v, s->n++;
    return 0;
}

static long set_find(const set64 *s, uint64_t k) {
    k = k ? k : 1;
    if (!s->cap) return -1;
    for (size_t j = k & (s->cap - 1); s->keys[j]; j = (j + 1) & (s->cap - 1))
        if (s->keys[j] == k) return s->vals[j];
    return -1;
}

/* Normalises text[0..n) into out (see clean.h); returns -1 if it is not valid UTF-8. */
static int normalise(const char *text, size_t n, tl_buf *out, tl_err *e) {
    out->n = 0;
    int newlines = 0, space = 0, started = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        int k = tl_utf8_next((const unsigned char *)text + i, n - i, &cp);
        if (cp < 0) return -1;
        const char *c = text + i;
        i += (size_t)k;
        if (cp == '\n') {
            newlines++, space = 0;
            continue;
        }
        if (cp == ' ' || cp == '\t' || cp == 0xa0) {
            space = 1;
            continue;
        }
        if (cp < 0x20 || cp == 0x7f || (cp >= 0x80 && cp < 0xa0)) continue; /* control characters */
        if (started && newlines) {
            if (tl_buf_append(out, "\n\n", newlines > 1 ? 2 : 1, e)) return -2;
        } else if (started && space && tl_buf_append(out, " ", 1, e)) {
            return -2;
        }
        newlines = space = 0;
        started = 1;
        if (tl_buf_append(out, c, (size_t)k, e)) return -2;
    }
    return 0;
}

/* MinHash signature over word 5-grams (fewer words: the whole text as one shingle). */
static void signature(const char *t, size_t n, uint32_t sig[K]) {
    uint64_t win[SHINGLE] = {0};
    int words = 0;
    for (int k = 0; k < K; k++) sig[k] = UINT32_MAX;
    for (size_t i = 0; i <= n;) {
        while (i < n && (t[i] == ' ' || t[i] == '\n')) i++;
        if (i >= n) break;
        size_t j = i;
        while (j < n && t[j] != ' ' && t[j] != '\n') j++;
        memmove(win, win + 1, sizeof win - sizeof *win);
        win[SHINGLE - 1] = hash_bytes(t + i, j - i);
        i = j;
        if (++words < SHINGLE) continue;
        uint64_t h = 0;
        for (int s = 0; s < SHINGLE; s++) h = mix(h ^ win[s]);
        for (int k = 0; k < K; k++) {
            uint32_t v = (uint32_t)mix(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
            if (v < sig[k]) sig[k] = v;
        }
    }
    if (words < SHINGLE) {
        uint64_t h = 0;
        for (int s = 0; s < SHINGLE; s++) h = mix(h ^ win[s]);
        for (int k = 0; k < K; k++) sig[k] = (uint32_t)mix(h + 0x9e3779b97f4a7c15ULL * (uint64_t)(k + 1));
    }
}

typedef struct cleaner {
    const tl_clean_opts *o;
    set64 exact, bands[BANDS];
    uint32_t *sigs; /* [kept][K] */
    size_t n_kept, cap_kept;
    tl_buf norm;
    tl_afile out;
    tl_progress prog;
} cleaner;

/* Takes one document: 1 kept, 0 dropped (counted), -1 error. */
static int take(cleaner *c, const char *name, const char *text, size_t n, tl_clean_stats *st, tl_err *e) {
    st->docs_in++;
    st->bytes_in += n;
    int r = normalise(text, n, &c->norm, e);
    if (r == -2) return -1;
    if (r < 0) return st->bad_utf8++, 0;
    if (c->norm.n < c->o->min_chars) return st->short_docs++, 0;
    uint32_t found;
    r = set_insert(&c->exact, hash_bytes(c->norm.p, c->norm.n), (uint32_t)c->n_kept, &found, e);
    if (r < 0) return -1;
    if (r) return st->exact_dups++, 0;
    if (c->o->near_dup > 0) {
        if (c->n_kept == c->cap_kept) {
            size_t cap = c->cap_kept ? 2 * c->cap_kept : 4096;
            uint32_t *s = realloc(c->sigs, sizeof *s * K * cap);
            if (!s) return tl_errf(e, "out of memory (near-duplicate signatures)");
            c->sigs = s, c->cap_kept = cap;
        }
        uint32_t *sig = c->sigs + c->n_kept * K;
        uint64_t band[BANDS];
        signature(c->norm.p, c->norm.n, sig);
        for (int b = 0; b < BANDS; b++) { /* candidates: kept documents sharing a band */
            band[b] = (uint64_t)b;
            for (int k = 0; k < ROWS; k++) band[b] = mix(band[b] ^ sig[b * ROWS + k]);
            long f = set_find(&c->bands[b], band[b]);
            if (f >= 0) { /* estimate the similarity from the signatures */
                const uint32_t *o = c->sigs + (size_t)f * K;
                int same = 0;
                for (int k = 0; k < K; k++) same += o[k] == sig[k];
                if (same >= c->o->near_dup * K) return st->near_dups++, 0;
            }
        }
        for (int b = 0; b < BANDS; b++)
            if (set_insert(&c->bands[b], band[b], (uint32_t)c->n_kept, &found, e) < 0) return -1;
    }
    c->n_kept++;
    json_t *j = json_pack("{s:s%, s:s}", "text", c->norm.p, c->norm.n, "source", name);
    char *s = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
    json_decref(j);
    r = !s ? tl_errf(e, "out of memory") : (tl_afile_write(&c->out, s, strlen(s), e) || tl_afile_write(&c->out, "\n", 1, e)) ? -1 : 0;
    free(s);
    st->docs_out++;
    st->bytes_out += c->norm.n;
    return r ? -1 : 1;
}

static int read_folder(cleaner *c, const tl_clean_source *s, tl_clean_stats *st, tl_err *e) {
    struct dirent **list;
    int n = scandir(s->path, &list, NULL, alphasort), rc = 0;
    if (n < 0) return tl_errf(e, "%s: cannot open folder: %s", s->path, strerror(errno));
    tl_buf doc = {0};
    for (int i = 0; i < n; i++) {
        char path[4400];
        snprintf(path, sizeof path, "%s/%s", s->path, list[i]->d_name);
        struct stat sb;
        if (!rc && list[i]->d_name[0] != '.' && stat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
            FILE *f = fopen(path, "rb");
            if (!f) rc = tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
            char chunk[65536];
            size_t k;
            doc.n = 0;
            while (!rc && (k = fread(chunk, 1, sizeof chunk, f)) > 0) rc = tl_buf_append(&doc, chunk, k, e);
            if (f && !rc && ferror(f)) rc = tl_errf(e, "%s: read error", path);
            if (f) fclose(f);
            if (!rc && take(c, s->name, doc.p ? doc.p : "", doc.n, st, e) < 0) rc = -1;
            tl_progress_update(&c->prog, st->docs_in, s->name);
        }
        free(list[i]);
    }
    free(list);
    tl_buf_free(&doc);
    return rc;
}

static int read_jsonl(cleaner *c, const tl_clean_source *s, tl_clean_stats *st, tl_err *e) {
    FILE *f = fopen(s->path, "rb");
    if (!f) return tl_errf(e, "%s: cannot open: %s", s->path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)n) continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je), *t = json_object_get(j, "text");
        if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", s->path, lineno, je.text);
        else if (!json_is_string(t)) rc = tl_errf(e, "%s:%ld: no string field \"text\"", s->path, lineno);
        else if (take(c, s->name, json_string_value(t), json_string_length(t), st, e) < 0) rc = -1;
        json_decref(j);
        tl_progress_update(&c->prog, st->docs_in, s->name);
    }
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error", s->path);
    free(line);
    fclose(f);
    return rc;
}

int tl_clean(const tl_clean_source *src, int n_sources, const tl_clean_opts *o, const char *out, tl_clean_stats *st,
             tl_err *e) {
    memset(st, 0, sizeof *st * (size_t)(n_sources + 1));
    if (!(o->near_dup >= 0 && o->near_dup <= 1)) return tl_errf(e, "--near-dup must be in [0, 1]");
    cleaner c = {.o = o};
    if (tl_afile_open(&c.out, out, e)) return -1;
    tl_progress_init(&c.prog, "clean", "doc", 0);
    int rc = 0;
    for (int i = 0; i < n_sources && !rc; i++) {
        struct stat sb;
        tl_clean_stats *s = &st[i];
        rc = stat(src[i].path, &sb) == 0 && S_ISDIR(sb.st_mode) ? read_folder(&c, &src[i], s, e) : read_jsonl(&c, &src[i], s, e);
        uint64_t *a = (uint64_t *)&st[n_sources], *b = (uint64_t *)s;
        for (size_t k = 0; k < sizeof *s / sizeof(uint64_t); k++) a[k] += b[k];
    }
    if (!rc) {
        tl_progress_end(&c.prog, st[n_sources].docs_in, NULL);
        rc = tl_afile_commit(&c.out, e);
    } else {
        tl_afile_abort(&c.out);
    }
    free(c.exact.keys);
    free(c.exact.vals);
    for (int b = 0; b < BANDS; b++) free(c.bands[b].keys), free(c.bands[b].vals);
    free(c.sigs);
    tl_buf_free(&c.norm);
    return rc;
}
