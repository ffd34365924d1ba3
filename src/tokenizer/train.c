/* BPE training: piece counting, incremental pair counts with a lazy max-heap, the folder writer. */
#include "tokenizer/train.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/vec.h"
#include "tokenizer/bpe.h"
#include "tokenizer/pretok.h"

/* ---- a map from byte strings to ids (pieces while counting, tokens while merging) ---- */

typedef struct strmap {
    tl_buf bytes;       /* every key's bytes */
    size_t *off;        /* [n] */
    uint32_t *len;
    uint64_t *count;
    uint32_t *slots;    /* id + 1, 0 empty */
    size_t n, cap, nslots;
} strmap;

static uint64_t hash(const unsigned char *p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) h = (h ^ p[i]) * 0x100000001b3ULL;
    return h ^ (h >> 32);
}

static long sm_find(const strmap *m, const void *p, size_t n, uint64_t h) {
    if (!m->nslots) return -1;
    for (size_t i = h & (m->nslots - 1);; i = (i + 1) & (m->nslots - 1)) {
        uint32_t s = m->slots[i];
        if (!s) return -1;
        if (m->len[s - 1] == n && !memcmp(m->bytes.p + m->off[s - 1], p, n)) return s - 1;
    }
}

static int sm_grow(strmap *m, tl_err *e) {
    size_t ns = m->nslots ? 2 * m->nslots : 1024, cap = ns / 2;
    uint32_t *slots = tl_calloc(ns, sizeof *slots, e);
    size_t *off = slots ? realloc(m->off, sizeof *off * cap) : NULL;
    if (off) m->off = off;
    uint32_t *len = off ? realloc(m->len, sizeof *len * cap) : NULL;
    if (len) m->len = len;
    uint64_t *count = len ? realloc(m->count, sizeof *count * cap) : NULL;
    if (!count) {
        free(slots);
        return tl_errf(e, "out of memory counting pieces");
    }
    m->count = count;
    for (size_t id = 0; id < m->n; id++) {
        size_t i = hash((unsigned char *)m->bytes.p + m->off[id], m->len[id]) & (ns - 1);
        while (slots[i]) i = (i + 1) & (ns - 1);
        slots[i] = (uint32_t)id + 1;
    }
    free(m->slots);
    m->slots = slots;
    m->nslots = ns;
    m->cap = cap;
    return 0;
}

/* Adds `add` to the count of p[0..n), inserting it first if new. Returns its id or -1. */
static long sm_add(strmap *m, const void *p, size_t n, uint64_t add, tl_err *e) {
    uint64_t h = hash(p, n);
    long id = sm_find(m, p, n, h);
    if (id < 0) {
        if (m->n + 1 > m->cap && sm_grow(m, e)) return -1;
        id = (long)m->n++;
        m->off[id] = m->bytes.n;
        m->len[id] = (uint32_t)n;
        m->count[id] = 0;
        if (tl_buf_append(&m->bytes, p, n, e)) return -1;
        size_t i = h & (m->nslots - 1);
        while (m->slots[i]) i = (i + 1) & (m->nslots - 1);
        m->slots[i] = (uint32_t)id + 1;
    }
    m->count[id] += add;
    return id;
}

static void sm_free(strmap *m) {
    tl_buf_free(&m->bytes);
    free(m->off);
    free(m->len);
    free(m->count);
    free(m->slots);
    memset(m, 0, sizeof *m);
}

/* ---- pair counts ---- */

typedef struct pair {
    int32_t a, b;
    int64_t count;
    int *words;   /* words that held the pair when it was counted up (may repeat, may be stale) */
    int nw, cw;
} pair;

typedef struct heap_ent {
    int64_t count;
    int32_t a, b;
} heap_ent;

typedef struct trainer {
    pair *pairs;
    size_t np, cp;
    int64_t *slots; /* pair index + 1 */
    size_t nslots;
    heap_ent *heap;
    size_t nh, ch;
    int32_t *syms;  /* the words' symbols, word w at woff[w], wlen[w] of them */
    size_t *woff;
    int *wlen;
    uint64_t *wfreq;
    int *stamp;     /* last merge that rewrote the word */
    int nwords;
    int oom;
} trainer;

static uint64_t pkey(int32_t a, int32_t b) { return (uint64_t)(uint32_t)a << 32 | (uint32_t)b; }
static uint64_t mix(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static int heap_before(heap_ent x, heap_ent y) { /* x pops first: higher count, then smaller (a, b) */
    return x.count != y.count ? x.count > y.count : x.a != y.a ? x.a < y.a : x.b < y.b;
}

static void heap_push(trainer *t, heap_ent x) {
    if (t->nh == t->ch) {
        size_t c = t->ch ? 2 * t->ch : 4096;
        heap_ent *h = realloc(t->heap, sizeof *h * c);
        if (!h) {
            t->oom = 1;
            return;
        }
        t->heap = h;
        t->ch = c;
    }
    size_t i = t->nh++;
    while (i && heap_before(x, t->heap[(i - 1) / 2])) t->heap[i] = t->heap[(i - 1) / 2], i = (i - 1) / 2;
    t->heap[i] = x;
}

static heap_ent heap_pop(trainer *t) {
    heap_ent top = t->heap[0], x = t->heap[--t->nh];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= t->nh) break;
        if (c + 1 < t->nh && heap_before(t->heap[c + 1], t->heap[c])) c++;
        if (!heap_before(t->heap[c], x)) break;
        t->heap[i] = t->heap[c];
        i = c;
    }
    t->heap[i] = x;
    return top;
}

/* The pair (a, b), created with count 0 if new; NULL when memory runs out. */
static pair *get_pair(trainer *t, int32_t a, int32_t b) {
    uint64_t k = pkey(a, b);
    if (t->np + 1 > t->nslots / 2) {
        size_t ns = t->nslots ? 2 * t->nslots : 1 << 16;
        int64_t *slots = calloc(ns, sizeof *slots);
        if (!slots) return t->oom = 1, NULL;
        for (size_t p = 0; p < t->np; p++) {
            size_t i = mix(pkey(t->pairs[p].a, t->pairs[p].b)) & (ns - 1);
            while (slots[i]) i = (i + 1) & (ns - 1);
            slots[i] = (int64_t)p + 1;
        }
        free(t->slots);
        t->slots = slots;
        t->nslots = ns;
    }
    size_t i = mix(k) & (t->nslots - 1);
    for (; t->slots[i]; i = (i + 1) & (t->nslots - 1)) {
        pair *p = &t->pairs[t->slots[i] - 1];
        if (p->a == a && p->b == b) return p;
    }
    if (t->np == t->cp) {
        size_t c = t->cp ? 2 * t->cp : 1 << 15;
        pair *ps = realloc(t->pairs, sizeof *ps * c);
        if (!ps) return t->oom = 1, NULL;
        t->pairs = ps;
        t->cp = c;
    }
    t->slots[i] = (int64_t)t->np + 1;
    t->pairs[t->np] = (pair){.a = a, .b = b};
    return &t->pairs[t->np++];
}

static void count_pair(trainer *t, int32_t a, int32_t b, int64_t d, int w) {
    pair *p = get_pair(t, a, b);
    if (!p) return;
    p->count += d;
    if (d > 0) {
        if (p->nw == p->cw) {
            int c = p->cw ? 2 * p->cw : 4;
            int *ws = realloc(p->words, sizeof *ws * (size_t)c);
            if (!ws) {
                t->oom = 1;
                return;
            }
            p->words = ws;
            p->cw = c;
        }
        p->words[p->nw++] = w;
    }
    if (p->count > 0) heap_push(t, (heap_ent){p->count, a, b});
}

/* Rewrites every word holding (a, b) with z in its place, updating the neighbouring pairs' counts. */
static void apply_merge(trainer *t, int32_t a, int32_t b, int32_t z, int merge_no) {
    pair *p = get_pair(t, a, b);
    if (!p) return;
    int nw = p->nw, *ws = p->words;
    p->words = NULL;
    p->nw = p->cw = 0;
    for (int k = 0; k < nw; k++) {
        int w = ws[k];
        if (t->stamp[w] == merge_no) continue;
        t->stamp[w] = merge_no;
        int32_t *s = t->syms + t->woff[w];
        int n = t->wlen[w], out = 0;
        int64_t f = (int64_t)t->wfreq[w];
        for (int i = 0; i < n; i++) {
            if (i + 1 < n && s[i] == a && s[i + 1] == b) {
                if (out > 0) {
                    count_pair(t, s[out - 1], a, -f, w);
                    count_pair(t, s[out - 1], z, f, w);
                }
                if (i + 2 < n) {
                    count_pair(t, b, s[i + 2], -f, w);
                    count_pair(t, z, s[i + 2], f, w);
                }
                count_pair(t, a, b, -f, w);
                s[out++] = z;
                i++;
            } else {
                s[out++] = s[i];
            }
        }
        t->wlen[w] = out;
    }
    free(ws);
}

static void trainer_free(trainer *t) {
    for (size_t p = 0; p < t->np; p++) free(t->pairs[p].words);
    free(t->pairs);
    free(t->slots);
    free(t->heap);
    free(t->syms);
    free(t->woff);
    free(t->wlen);
    free(t->wfreq);
    free(t->stamp);
}

/* ---- input ---- */

static int count_text(strmap *pieces, const tl_pretok *pre, const unsigned char *s, size_t n, tl_bpe_train_stats *st, tl_err *e) {
    for (size_t i = 0; i < n;) {
        size_t k = tl_pretok_next(pre, s + i, n - i);
        if (sm_add(pieces, s + i, k, 1, e) < 0) return -1;
        st->pieces++;
        i += k;
    }
    st->bytes += n;
    return 0;
}

static int read_inputs(strmap *pieces, const tl_pretok *pre, const char *const *files, int n_files, const tl_bpe_train_opts *o,
                       tl_bpe_train_stats *st, tl_err *e) {
    for (int f = 0; f < n_files; f++) {
        FILE *fp = fopen(files[f], "rb");
        if (!fp) return tl_errf(e, "%s: cannot open: %s", files[f], strerror(errno));
        size_t nl = strlen(files[f]);
        int jsonl = nl > 6 && !strcmp(files[f] + nl - 6, ".jsonl");
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        long lineno = 0;
        int rc = 0;
        while (!rc && (!o->max_bytes || st->bytes < o->max_bytes) && (n = getline(&line, &cap, fp)) > 0) {
            lineno++;
            if (!jsonl) {
                rc = count_text(pieces, pre, (unsigned char *)line, (size_t)n, st, e);
                continue;
            }
            if (strspn(line, " \t\r\n") == (size_t)n) continue;
            json_error_t je;
            json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je), *v = json_object_get(j, o->field);
            if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", files[f], lineno, je.text);
            else if (!json_is_string(v)) rc = tl_errf(e, "%s:%ld: no string field \"%s\"", files[f], lineno, o->field);
            else rc = count_text(pieces, pre, (const unsigned char *)json_string_value(v), json_string_length(v), st, e);
            json_decref(j);
        }
        if (!rc && ferror(fp)) rc = tl_errf(e, "%s: read error", files[f]);
        free(line);
        fclose(fp);
        if (rc) return -1;
    }
    if (st->bytes) return 0;
    return n_files == 1 ? tl_errf(e, "%s: no text in it", files[0]) : tl_errf(e, "no text in the %d inputs (%s, ...)", n_files, files[0]);
}

/* ---- output ---- */

static int write_text(const char *path, const char *s, size_t n, tl_err *e) {
    tl_afile af;
    if (tl_afile_open(&af, path, e)) return -1;
    if (tl_afile_write(&af, s, n, e) || tl_afile_commit(&af, e)) {
        tl_afile_abort(&af);
        return -1;
    }
    return 0;
}

static int write_folder(const char *dir, const strmap *tok, const int32_t (*merges)[2], int n_merges, const tl_bpe_train_opts *o,
                        tl_err *e) {
    char path[4400];
    tl_buf b = {0}, sp = {0};
    json_t *enc = json_object();
    int rc = enc ? 0 : tl_errf(e, "out of memory");
    for (size_t id = 0; id < tok->n && !rc; id++) {
        sp.n = 0;
        if (tl_bpe_spell(&sp, (unsigned char *)tok->bytes.p + tok->off[id], tok->len[id], e) || tl_buf_append(&sp, "", 1, e)) rc = -1;
        else if (json_object_set_new(enc, sp.p, json_integer((json_int_t)id))) rc = tl_errf(e, "out of memory");
    }
    char *js = rc ? NULL : json_dumps(enc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(enc);
    snprintf(path, sizeof path, "%s/encoder.json", dir);
    if (!rc) rc = !js ? tl_errf(e, "out of memory") : write_text(path, js, strlen(js), e);
    free(js);
    rc = rc || tl_buf_append(&b, "#version: 0.2\n", 14, e);
    for (int m = 0; m < n_merges && !rc; m++)
        for (int side = 0; side < 2 && !rc; side++) {
            int32_t id = merges[m][side];
            rc = tl_bpe_spell(&b, (unsigned char *)tok->bytes.p + tok->off[id], tok->len[id], e) || tl_buf_append(&b, side ? "\n" : " ", 1, e);
        }
    snprintf(path, sizeof path, "%s/vocab.bpe", dir);
    if (!rc) rc = write_text(path, b.p, b.n, e);
    b.n = 0;
    char cfg[512];
    int n = snprintf(cfg, sizeof cfg,
                     "# tinyllm trained BPE tokenizer (docs/formats.md)\nformat = tinyllm.bpe\nversion = 1\nname = %s\n"
                     "pretokenizer = gpt2\ndigits = %d\nvocab_size = %zu\neot = %zu\n",
                     o->name, o->digits, tok->n, tok->n - 1);
    snprintf(path, sizeof path, "%s/tokenizer.cfg", dir);
    if (!rc) rc = write_text(path, cfg, (size_t)n, e);
    tl_buf_free(&b);
    tl_buf_free(&sp);
    return rc ? -1 : 0;
}

int tl_bpe_train(const char *const *files, int n_files, const tl_bpe_train_opts *o, const char *out_dir,
                 tl_bpe_train_stats *st, tl_err *e) {
    memset(st, 0, sizeof *st);
    if (o->vocab_size < 258 || o->vocab_size > 65536) return tl_errf(e, "--vocab-size must be in 258..65536");
    if (o->digits < 0 || o->digits > 64) return tl_errf(e, "--digits must be in 0..64");
    if (!o->name || !*o->name || strlen(o->name) > 63 || strspn(o->name, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(o->name))
        return tl_errf(e, "--name must be 1..63 of [a-z0-9-_.]");
    struct stat sb;
    if (stat(out_dir, &sb) == 0) return tl_errf(e, "%s already exists; choose another --out or remove it", out_dir);
    tl_pretok pre;
    tl_pretok_init(&pre, o->digits);
    strmap pieces = {0}, tok = {0};
    trainer t = {0};
    int32_t (*merges)[2] = NULL;
    int ok = 0, n_merges = 0;
    char stage[4200];
    snprintf(stage, sizeof stage, "%s.tmp.%ld", out_dir, (long)getpid());
    double t0 = tl_now();
    if (read_inputs(&pieces, &pre, files, n_files, o, st, e)) goto done;
    st->unique_pieces = pieces.n;
    st->seconds_count = tl_now() - t0;
    /* words: each unique piece as bytes; tokens: the 256 bytes */
    t.nwords = (int)pieces.n;
    t.syms = tl_calloc(pieces.bytes.n + 1, sizeof *t.syms, e);
    t.woff = tl_calloc(pieces.n + 1, sizeof *t.woff, e);
    t.wlen = tl_calloc(pieces.n + 1, sizeof *t.wlen, e);
    t.wfreq = tl_calloc(pieces.n + 1, sizeof *t.wfreq, e);
    t.stamp = tl_calloc(pieces.n + 1, sizeof *t.stamp, e);
    merges = tl_calloc((size_t)o->vocab_size, sizeof *merges, e);
    if (!t.syms || !t.woff || !t.wlen || !t.wfreq || !t.stamp || !merges) goto done;
    for (int c = 0; c < 256; c++) {
        unsigned char byte = (unsigned char)c;
        if (sm_add(&tok, &byte, 1, 0, e) < 0) goto done;
    }
    for (size_t w = 0, at = 0; w < pieces.n; w++) {
        t.woff[w] = at;
        t.wlen[w] = (int)pieces.len[w];
        t.wfreq[w] = pieces.count[w];
        t.stamp[w] = -1;
        for (uint32_t i = 0; i < pieces.len[w]; i++) t.syms[at++] = (unsigned char)pieces.bytes.p[pieces.off[w] + i];
        for (int i = 0; i + 1 < t.wlen[w]; i++) count_pair(&t, t.syms[t.woff[w] + i], t.syms[t.woff[w] + i + 1], (int64_t)t.wfreq[w], (int)w);
    }
    t0 = tl_now();
    tl_progress prog;
    tl_progress_init(&prog, "merges", "tok", (uint64_t)(o->vocab_size - 257));
    tl_buf cat = {0};
    while (!t.oom && (int)tok.n < o->vocab_size - 1 && t.nh) {
        heap_ent x = heap_pop(&t);
        pair *p = get_pair(&t, x.a, x.b);
        if (!p || p->count != x.count) continue; /* stale */
        if (x.count < 2) break;                 /* what is left occurs once: nothing to learn */
        cat.n = 0;
        if (tl_buf_append(&cat, tok.bytes.p + tok.off[x.a], tok.len[x.a], e) ||
            tl_buf_append(&cat, tok.bytes.p + tok.off[x.b], tok.len[x.b], e)) {
            t.oom = 1;
            break;
        }
        long z = sm_find(&tok, cat.p, cat.n, hash((unsigned char *)cat.p, cat.n));
        if (z < 0) { /* a new token; an existing one (reached by other merges) needs no line */
            if ((z = sm_add(&tok, cat.p, cat.n, 0, e)) < 0) {
                t.oom = 1;
                break;
            }
            merges[n_merges][0] = x.a;
            merges[n_merges][1] = x.b;
            n_merges++;
        }
        apply_merge(&t, x.a, x.b, (int32_t)z, n_merges);
        tl_progress_update(&prog, (uint64_t)n_merges, NULL);
    }
    tl_buf_free(&cat);
    if (t.oom) {
        tl_errf(e, "out of memory while merging (use --max-bytes to train on a smaller sample)");
        goto done;
    }
    if ((int)tok.n < o->vocab_size - 1) {
        /* fewer distinct pairs than asked for: a smaller vocabulary, said plainly */
        fprintf(stderr, "\nnote: only %zu tokens could be learned from this text (no pair occurs twice more)\n", tok.n + 1);
    }
    if (sm_add(&tok, "<|endoftext|>", 13, 0, e) < 0) goto done;
    tl_progress_end(&prog, (uint64_t)n_merges, NULL);
    st->merges = n_merges;
    st->seconds_merge = tl_now() - t0;
    if (tl_mkdir_p(stage, e) || write_folder(stage, &tok, (const int32_t(*)[2])merges, n_merges, o, e)) goto done;
    if (rename(stage, out_dir)) {
        tl_errf(e, "%s: cannot move into place: %s", out_dir, strerror(errno));
        goto done;
    }
    ok = 1;
done:
    if (!ok) { /* failed: remove the staging folder's files */
        static const char *names[] = {"encoder.json", "vocab.bpe", "tokenizer.cfg"};
        char path[4400];
        for (int i = 0; i < 3; i++) {
            snprintf(path, sizeof path, "%s/%s", stage, names[i]);
            unlink(path);
        }
        rmdir(stage);
    }
    sm_free(&pieces);
    sm_free(&tok);
    trainer_free(&t);
    free(merges);
    return ok ? 0 : -1;
}
