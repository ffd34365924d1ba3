/* Byte-level BPE: loading GPT-2's files, GPT-2 pre-tokenization, heap-ordered merges, decoding.
 *
 * Tokens are byte strings; a hash table maps bytes -> id. A merged token's rank is the index of
 * the vocab.bpe line that creates it (for GPT-2, rank = id - 256). Encoding a piece follows
 * tiktoken: a piece that is itself a token is emitted whole; otherwise, starting from single
 * bytes, the adjacent pair whose concatenation has the lowest rank is merged (leftmost on ties)
 * until no pair concatenates to a ranked token. A min-heap keeps this O(n log n) per piece. */
#include "tokenizer/bpe.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "base/paths.h"
#include "tokenizer/pretok.h"
#include "tokenizer/unicode.h"

#define NO_RANK INT32_MAX

typedef struct slot {
    uint32_t id1; /* id + 1, 0 = empty */
    uint32_t tag; /* high hash bits: most mismatches skip the memcmp */
} slot;

struct tl_bpe {
    int n;               /* tokens */
    unsigned char *blob; /* all token bytes */
    uint32_t *off, *len; /* [n] */
    int32_t *rank;       /* [n], NO_RANK for tokens no merge creates */
    int32_t (*merges)[2]; /* [n_merges]: the two parts of each merge, in rank order */
    int n_merges;
    int32_t byte_id[256];
    slot *table;         /* open addressing, load factor <= 1/2 */
    uint32_t mask;
    uint32_t max_len;    /* longest token: longer strings need no lookup */
    tl_pretok pre;       /* GPT-2's pre-tokenizer, digits split for trained vocabularies */
    char name[64];       /* "gpt2", or a trained tokenizer's name */
    int eot;
};

/* Word-at-a-time multiplicative hash (internal only, so byte order does not matter). The tail is
 * read as a last word overlapping the one before, or as two overlapping halves: never past p + n. */
static uint64_t hash_bytes(const unsigned char *p, size_t n) {
    const uint64_t k = 0x9E3779B97F4A7C15ULL;
    uint64_t h = (n + 1) * k, w = 0;
    if (n >= 8) {
        const unsigned char *end = p + n - 8;
        for (; p < end; p += 8) {
            memcpy(&w, p, 8);
            h = (h ^ w) * k;
            h ^= h >> 31;
        }
        memcpy(&w, end, 8);
    } else if (n >= 4) {
        uint32_t a, b;
        memcpy(&a, p, 4);
        memcpy(&b, p + n - 4, 4);
        w = a | (uint64_t)b << 32;
    } else if (n) {
        w = p[0] | (uint32_t)p[n / 2] << 8 | (uint32_t)p[n - 1] << 16;
    }
    h = (h ^ w) * k;
    return h ^ h >> 29;
}

/* The id of bytes p[0..n) whose hash_bytes is h, or -1. */
static int find(const tl_bpe *t, const unsigned char *p, size_t n, uint64_t h) {
    uint32_t tag = (uint32_t)(h >> 32);
    for (uint64_t i = h & t->mask;; i = (i + 1) & t->mask) {
        slot s = t->table[i];
        if (!s.id1) return -1;
        int id = (int)s.id1 - 1;
        if (s.tag == tag && t->len[id] == n && !memcmp(t->blob + t->off[id], p, n)) return id;
    }
}

static int lookup(const tl_bpe *t, const unsigned char *p, size_t n) {
    return n > t->max_len ? -1 : find(t, p, n, hash_bytes(p, n));
}

static void insert(tl_bpe *t, int id) {
    uint64_t h = hash_bytes(t->blob + t->off[id], t->len[id]);
    uint64_t i = h & t->mask;
    while (t->table[i].id1) i = (i + 1) & t->mask;
    t->table[i] = (slot){(uint32_t)id + 1, (uint32_t)(h >> 32)};
    if (t->len[id] > t->max_len) t->max_len = t->len[id];
}

/* Copies s[0..n) for an error message: at most 48 bytes, control bytes as \xNN, so the message
 * stays one line whatever a hostile file holds. */
static const char *quote(const char *s, size_t n, char buf[200]) {
    size_t k = 0;
    for (size_t i = 0; i < n && i < 48; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == 0x7f) k += (size_t)snprintf(buf + k, 5, "\\x%02x", c);
        else buf[k++] = (char)c;
    }
    if (n > 48) memcpy(buf + k, "...", 3), k += 3;
    buf[k] = 0;
    return buf;
}

/* GPT-2 spells bytes as printable code points: 33..126, 161..172, 174..255 as themselves, the
 * other 68 bytes as 256, 257, ... in byte order. byte_of[cp] inverts it (-1: not in the alphabet). */
static void gpt2_alphabet(int16_t byte_of[324]) {
    for (int i = 0; i < 324; i++) byte_of[i] = -1;
    int extra = 256;
    for (int b = 0; b < 256; b++) {
        int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255);
        byte_of[printable ? b : extra++] = (int16_t)b;
    }
}

/* Decodes a GPT-2 alphabet string into bytes (at most strlen(s) of them). Returns the count or -1. */
static long unspell(const char *s, size_t n, const int16_t byte_of[324], unsigned char *out) {
    long k = 0;
    for (size_t i = 0; i < n;) {
        int32_t cp;
        i += (size_t)tl_utf8_next((const unsigned char *)s + i, n - i, &cp);
        if (cp < 0 || cp >= 324 || byte_of[cp] < 0) return -1;
        out[k++] = (unsigned char)byte_of[cp];
    }
    return k;
}

void tl_bpe_free(tl_bpe *t) {
    if (!t) return;
    free(t->blob);
    free(t->off);
    free(t->len);
    free(t->rank);
    free(t->merges);
    free(t->table);
    free(t);
}

static int load_encoder(tl_bpe *t, const char *path, const int16_t byte_of[324], tl_err *e) {
    json_error_t je;
    json_t *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!root) {
        if (!tl_file_exists(path)) return tl_errf(e, "%s: missing; run scripts/install-deps to fetch GPT-2's tokenizer files", path);
        return tl_errf(e, "%s: invalid JSON at line %d: %s", path, je.line, je.text);
    }
    int rc = 0;
    size_t n = json_object_size(root), total = 0;
    const char *k;
    json_t *v;
    if (!json_is_object(root) || n < 256 || n > (1u << 24)) {
        rc = tl_errf(e, "%s: expected an object of 256..16M token -> id entries", path);
        goto out;
    }
    json_object_foreach(root, k, v) total += strlen(k);
    if (total >= UINT32_MAX) {
        rc = tl_errf(e, "%s: %zu bytes of token text is more than 4 GB", path, total);
        goto out;
    }
    t->n = (int)n;
    t->blob = tl_calloc(total + 1, 1, e);
    t->off = tl_calloc(n, sizeof *t->off, e);
    t->len = tl_calloc(n, sizeof *t->len, e);
    t->rank = tl_calloc(n, sizeof *t->rank, e);
    t->merges = tl_calloc(n, sizeof *t->merges, e);
    uint32_t cap = 1;
    while (cap < 2 * n) cap <<= 1;
    t->table = tl_calloc(cap, sizeof *t->table, e);
    t->mask = cap - 1;
    if (!t->blob || !t->off || !t->len || !t->rank || !t->merges || !t->table) {
        rc = -1;
        goto out;
    }
    for (size_t i = 0; i < n; i++) t->len[i] = UINT32_MAX; /* marks ids not yet seen */
    size_t used = 0;
    char q[200];
    json_object_foreach(root, k, v) {
        size_t kl = strlen(k);
        if (!json_is_integer(v)) {
            rc = tl_errf(e, "%s: token '%s' has an id that is not an integer", path, quote(k, kl, q));
            goto out;
        }
        json_int_t id = json_integer_value(v);
        if (id < 0 || id >= (json_int_t)n) {
            rc = tl_errf(e, "%s: token '%s' has id %lld outside 0..%zu", path, quote(k, kl, q), (long long)id, n - 1);
            goto out;
        }
        if (t->len[id] != UINT32_MAX) {
            rc = tl_errf(e, "%s: id %lld is used twice (token '%s')", path, (long long)id, quote(k, kl, q));
            goto out;
        }
        long bl = unspell(k, kl, byte_of, t->blob + used);
        if (bl <= 0) {
            rc = tl_errf(e, "%s: token '%s' (id %lld) is empty or not in GPT-2's byte alphabet", path, quote(k, kl, q),
                         (long long)id);
            goto out;
        }
        if (lookup(t, t->blob + used, (size_t)bl) >= 0) {
            rc = tl_errf(e, "%s: token '%s' (id %lld) repeats another token's bytes", path, quote(k, kl, q), (long long)id);
            goto out;
        }
        t->off[id] = (uint32_t)used;
        t->len[id] = (uint32_t)bl;
        t->rank[id] = NO_RANK;
        used += (size_t)bl;
        insert(t, (int)id);
    }
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        if ((t->byte_id[b] = lookup(t, &c, 1)) < 0) {
            rc = tl_errf(e, "%s: no token for byte 0x%02x (a byte-level vocabulary needs all 256)", path, b);
            goto out;
        }
    }
    t->eot = lookup(t, (const unsigned char *)"<|endoftext|>", 13);
    if (t->eot < 0) rc = tl_errf(e, "%s: no <|endoftext|> token", path);
out:
    json_decref(root);
    return rc;
}

static int load_merges(tl_bpe *t, const char *path, const int16_t byte_of[324], tl_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) {
        if (errno == ENOENT) return tl_errf(e, "%s: missing; run scripts/install-deps to fetch GPT-2's tokenizer files", path);
        return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0, rank = 0;
    int rc = 0;
    unsigned char *buf = NULL;
    size_t bufcap = 0;
    char q[200];
    while ((n = getline(&line, &cap, f)) > 0) {
        lineno++;
        while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r')) line[--n] = 0;
        if (n == 0 || (lineno == 1 && !strncmp(line, "#version", 8))) continue;
        char *sp = memchr(line, ' ', (size_t)n);
        if (!sp || sp == line || sp == line + n - 1 || memchr(sp + 1, ' ', (size_t)(line + n - sp - 1))) {
            rc = tl_errf(e, "%s:%ld: merge '%s' is not two tokens separated by one space", path, lineno,
                         quote(line, (size_t)n, q));
            break;
        }
        if (bufcap < (size_t)n) {
            free(buf);
            if (!(buf = malloc(bufcap = (size_t)n))) {
                rc = tl_errf(e, "%s: out of memory", path);
                break;
            }
        }
        long a = unspell(line, (size_t)(sp - line), byte_of, buf);
        long b = a < 0 ? -1 : unspell(sp + 1, (size_t)(line + n - sp - 1), byte_of, buf + a);
        int parts = b >= 0 && lookup(t, buf, (size_t)a) >= 0 && lookup(t, buf + a, (size_t)b) >= 0;
        int id = parts ? lookup(t, buf, (size_t)(a + b)) : -1;
        const char *why = b < 0                   ? "has a part outside GPT-2's byte alphabet"
                          : !parts                ? "has a part that is not a token of the vocabulary"
                          : id < 0                ? "makes a token that is not in the vocabulary"
                          : t->rank[id] != NO_RANK ? "repeats an earlier merge's result"
                                                   : NULL;
        if (why) {
            rc = tl_errf(e, "%s:%ld: merge '%s' %s", path, lineno, quote(line, (size_t)n, q), why);
            break;
        }
        if (rank == t->n) { /* more merges than tokens: each must make a distinct token anyway */
            rc = tl_errf(e, "%s:%ld: more merges than tokens", path, lineno);
            break;
        }
        t->merges[rank][0] = lookup(t, buf, (size_t)a);
        t->merges[rank][1] = lookup(t, buf + a, (size_t)b);
        t->rank[id] = (int32_t)rank++;
        t->n_merges = (int)rank;
    }
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error: %s", path, strerror(errno));
    /* every multi-byte token but specials (<|...|>) must come from a merge: catches a file cut at a
     * line boundary, and a vocabulary that does not belong to these merges */
    for (int id = 0; id < t->n && !rc; id++) {
        const char *tok = (const char *)t->blob + t->off[id];
        size_t len = t->len[id];
        int special = len >= 4 && !memcmp(tok, "<|", 2) && !memcmp(tok + len - 2, "|>", 2);
        if (len > 1 && t->rank[id] == NO_RANK && !special)
            rc = tl_errf(e, "%s: %ld merges, but no merge makes token id %d ('%s'): truncated file?", path, rank, id,
                         quote(tok, len, q));
    }
    free(buf);
    free(line);
    fclose(f);
    return rc;
}

int tl_bpe_load_gpt2(tl_bpe **out, const char *encoder_json, const char *vocab_bpe, tl_err *e) {
    *out = NULL;
    tl_bpe *t = tl_calloc(1, sizeof *t, e);
    if (!t) return -1;
    int16_t byte_of[324];
    gpt2_alphabet(byte_of);
    tl_pretok_init(&t->pre, 0);
    snprintf(t->name, sizeof t->name, "gpt2");
    if (load_encoder(t, encoder_json, byte_of, e) || load_merges(t, vocab_bpe, byte_of, e)) {
        tl_bpe_free(t);
        return -1;
    }
    *out = t;
    return 0;
}

int tl_bpe_load_gpt2_default(tl_bpe **out, tl_err *e) {
    char enc[4096], merges[4096];
    if (tl_data_path(enc, sizeof enc, "gpt2/encoder.json") || tl_data_path(merges, sizeof merges, "gpt2/vocab.bpe"))
        return tl_errf(e, "data directory path too long");
    return tl_bpe_load_gpt2(out, enc, merges, e);
}

/* tokenizer.cfg of a trained tokenizer: `key = value` lines (format, version, name, digits). */
static int load_cfg(tl_bpe *t, const char *path, tl_err *e) {
    FILE *f = fopen(path, "r");
    if (!f) return tl_errf(e, "%s: cannot open: %s (a trained tokenizer folder holds tokenizer.cfg, encoder.json, vocab.bpe)",
                           path, strerror(errno));
    char line[256];
    int lineno = 0, rc = 0, have_format = 0;
    while (!rc && fgets(line, sizeof line, f)) {
        lineno++;
        char key[64], val[128];
        if (line[0] == '#' || line[strspn(line, " \t\r\n")] == 0) continue;
        if (sscanf(line, " %63[a-z_] = %127[^\r\n]", key, val) != 2) rc = tl_errf(e, "%s:%d: expected 'key = value'", path, lineno);
        else if (!strcmp(key, "format")) {
            have_format = !strcmp(val, "tinyllm.bpe");
            if (!have_format) rc = tl_errf(e, "%s:%d: format '%s' is not tinyllm.bpe", path, lineno, val);
        } else if (!strcmp(key, "version")) {
            if (strcmp(val, "1")) rc = tl_errf(e, "%s:%d: version %s is not supported (this build reads 1)", path, lineno, val);
        } else if (!strcmp(key, "name")) {
            if (strlen(val) >= sizeof t->name || strspn(val, "abcdefghijklmnopqrstuvwxyz0123456789-_.") != strlen(val))
                rc = tl_errf(e, "%s:%d: name must be up to 63 of [a-z0-9-_.]", path, lineno);
            else snprintf(t->name, sizeof t->name, "%s", val);
        } else if (!strcmp(key, "digits")) {
            char *end;
            long d = strtol(val, &end, 10);
            if (*end || d < 0 || d > 64) rc = tl_errf(e, "%s:%d: digits must be 0..64, not '%s'", path, lineno, val);
            else t->pre.digits = (int)d;
        } else if (strcmp(key, "pretokenizer") && strcmp(key, "vocab_size") && strcmp(key, "eot")) {
            rc = tl_errf(e, "%s:%d: unknown key '%s'", path, lineno, key);
        }
    }
    fclose(f);
    if (!rc && !have_format) rc = tl_errf(e, "%s: no 'format = tinyllm.bpe' line", path);
    return rc;
}

int tl_bpe_load(tl_bpe **out, const char *spec, tl_err *e) {
    if (!spec || !strcmp(spec, "gpt2")) return tl_bpe_load_gpt2_default(out, e);
    char cfg[4200], enc[4200], merges[4200];
    snprintf(cfg, sizeof cfg, "%s/tokenizer.cfg", spec);
    snprintf(enc, sizeof enc, "%s/encoder.json", spec);
    snprintf(merges, sizeof merges, "%s/vocab.bpe", spec);
    if (!tl_file_exists(cfg))
        return tl_errf(e, "%s: not a tokenizer folder (no tokenizer.cfg): give 'gpt2' or a folder from 'tinyllm tokenizer train'", spec);
    if (tl_bpe_load_gpt2(out, enc, merges, e)) return -1;
    snprintf((*out)->name, sizeof (*out)->name, "trained");
    if (load_cfg(*out, cfg, e)) {
        tl_bpe_free(*out);
        *out = NULL;
        return -1;
    }
    return 0;
}

const char *tl_bpe_name(const tl_bpe *t) { return t->name; }
int tl_bpe_n_merges(const tl_bpe *t) { return t->n_merges; }
void tl_bpe_merge(const tl_bpe *t, int rank, int *left, int *right) {
    *left = t->merges[rank][0];
    *right = t->merges[rank][1];
}

int tl_bpe_spell(tl_buf *out, const void *bytes, size_t n, tl_err *e) {
    const unsigned char *p = bytes;
    for (size_t i = 0; i < n; i++) {
        int b = p[i], cp = b;
        if (!((b >= 33 && b <= 126) || (b >= 161 && b <= 172) || (b >= 174 && b <= 255))) {
            cp = 256;
            for (int x = 0; x < b; x++) cp += !((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || (x >= 174 && x <= 255));
        }
        char u[2] = {(char)(cp < 0x80 ? cp : 0xc0 | cp >> 6), (char)(0x80 | (cp & 0x3f))};
        if (tl_buf_append(out, u, cp < 0x80 ? 1 : 2, e)) return -1;
    }
    return 0;
}

int tl_bpe_token_spelled(const tl_bpe *t, int id, tl_buf *out, tl_err *e) {
    size_t len = 0;
    const char *tok = tl_bpe_token(t, id, &len);
    int special = len >= 4 && !memcmp(tok, "<|", 2) && !memcmp(tok + len - 2, "|>", 2);
    out->n = 0;
    if ((special ? tl_buf_append(out, tok, len, e) : tl_bpe_spell(out, tok, len, e)) || tl_buf_append(out, "", 1, e))
        return -1;
    return special;
}

int tl_bpe_merge_spelled(const tl_bpe *t, int rank, tl_buf *out, tl_err *e) {
    int a, b;
    size_t la = 0, lb = 0;
    tl_bpe_merge(t, rank, &a, &b);
    const char *ta = tl_bpe_token(t, a, &la), *tb = tl_bpe_token(t, b, &lb);
    out->n = 0;
    return tl_bpe_spell(out, ta, la, e) || tl_buf_append(out, " ", 1, e) || tl_bpe_spell(out, tb, lb, e) ||
                   tl_buf_append(out, "", 1, e)
               ? -1
               : 0;
}

int tl_bpe_digits(const tl_bpe *t) { return t->pre.digits; }

int tl_bpe_same(const tl_bpe *a, const tl_bpe *b, int check_digits, char *why, size_t n) {
    if (a->n != b->n) return snprintf(why, n, "%d tokens, not %d", b->n, a->n), 0;
    for (int i = 0; i < a->n; i++)
        if (a->len[i] != b->len[i] || memcmp(a->blob + a->off[i], b->blob + b->off[i], a->len[i]))
            return snprintf(why, n, "token %d differs", i), 0;
    int na = tl_bpe_n_merges(a), nb = tl_bpe_n_merges(b);
    if (na != nb) return snprintf(why, n, "%d merges, not %d", nb, na), 0;
    for (int r = 0; r < na; r++) {
        int l1, r1, l2, r2;
        tl_bpe_merge(a, r, &l1, &r1);
        tl_bpe_merge(b, r, &l2, &r2);
        if (l1 != l2 || r1 != r2) return snprintf(why, n, "merge %d differs", r), 0;
    }
    if (check_digits && a->pre.digits != b->pre.digits)
        return snprintf(why, n, "digit groups of %d, not %d", b->pre.digits, a->pre.digits), 0;
    return 1;
}

int tl_bpe_vocab_size(const tl_bpe *t) { return t->n; }
int tl_bpe_eot(const tl_bpe *t) { return t->eot; }

const char *tl_bpe_token(const tl_bpe *t, int id, size_t *len) {
    if (id < 0 || id >= t->n) return NULL;
    *len = t->len[id];
    return (const char *)t->blob + t->off[id];
}

/* ---------------------------------------------------------------- merging one piece */

typedef struct heap_ent {
    int32_t rank;
    int32_t start; /* byte offset of the left part: the leftmost-first tie break */
    int32_t span;  /* bytes of the pair when pushed; stale if the parts changed since */
} heap_ent;

/* A memo of recent pieces that needed merging (real text repeats them: about +20% on prose):
 * direct-mapped by the piece's hash, keyed by its bytes in the caller's text. It lives in the
 * per-call scratch, so the tl_bpe stays immutable. */
enum { MEMO_SLOTS = 2048, MEMO_BYTES = 24, MEMO_IDS = 6, MEMO_MIN_TEXT = 4096 };
typedef struct memo {
    const unsigned char *p;
    int32_t n, k;
    int32_t ids[MEMO_IDS];
} memo;

typedef struct scratch {
    int32_t *next, *prev; /* part links by start offset; next == n ends */
    heap_ent *heap;
    size_t cap, heap_n;
    memo *memo;           /* [MEMO_SLOTS], or NULL for short texts */
} scratch;

static int ent_less(heap_ent a, heap_ent b) { return a.rank < b.rank || (a.rank == b.rank && a.start < b.start); }

static void heap_push(scratch *s, heap_ent x) {
    size_t i = s->heap_n++;
    while (i > 0 && ent_less(x, s->heap[(i - 1) / 2])) {
        s->heap[i] = s->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    s->heap[i] = x;
}

static heap_ent heap_pop(scratch *s) {
    heap_ent top = s->heap[0], x = s->heap[--s->heap_n];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= s->heap_n) break;
        if (c + 1 < s->heap_n && ent_less(s->heap[c + 1], s->heap[c])) c++;
        if (!ent_less(s->heap[c], x)) break;
        s->heap[i] = s->heap[c];
        i = c;
    }
    if (s->heap_n) s->heap[i] = x;
    return top;
}

/* Pushes the pair starting at part `i` if its concatenation is a ranked token. */
static void push_pair(const tl_bpe *t, scratch *s, const unsigned char *p, int32_t n, int32_t i) {
    if (i < 0 || s->next[i] >= n) return;
    int32_t end = s->next[s->next[i]];
    int id = lookup(t, p + i, (size_t)(end - i));
    if (id >= 0 && t->rank[id] != NO_RANK) heap_push(s, (heap_ent){t->rank[id], i, end - i});
}

static inline int emit(tl_ivec *out, int id, tl_err *e) {
    if (out->n == out->cap) return tl_ivec_push(out, id, e);
    out->v[out->n++] = id;
    return 0;
}

static int bpe_piece(const tl_bpe *t, scratch *s, const unsigned char *p, int32_t n, tl_ivec *out, tl_err *e) {
    if (n == 1) return emit(out, t->byte_id[p[0]], e);
    uint64_t h = hash_bytes(p, (size_t)n);
    int whole = (size_t)n <= t->max_len ? find(t, p, (size_t)n, h) : -1;
    if (whole >= 0) return emit(out, whole, e);
    memo *m = s->memo && n <= MEMO_BYTES ? &s->memo[h & (MEMO_SLOTS - 1)] : NULL;
    if (m && m->n == n && !memcmp(m->p, p, (size_t)n)) {
        for (int k = 0; k < m->k; k++)
            if (emit(out, m->ids[k], e)) return -1;
        return 0;
    }
    size_t first = out->n;
    if ((size_t)n + 1 > s->cap) {
        size_t cap = (size_t)n + 1;
        int32_t *nx = realloc(s->next, cap * sizeof *nx), *pv = nx ? realloc(s->prev, cap * sizeof *pv) : NULL;
        heap_ent *hp = pv ? realloc(s->heap, 3 * cap * sizeof *hp) : NULL; /* n-1 pairs + 2 per merge */
        if (nx) s->next = nx;
        if (pv) s->prev = pv;
        if (hp) s->heap = hp;
        if (!hp) return tl_errf(e, "out of memory tokenizing a %d-byte piece", n);
        s->cap = cap;
    }
    for (int32_t i = 0; i < n; i++) {
        s->next[i] = i + 1;
        s->prev[i] = i - 1;
    }
    s->heap_n = 0;
    for (int32_t i = 0; i + 1 < n; i++) push_pair(t, s, p, n, i);
    while (s->heap_n) {
        heap_ent x = heap_pop(s);
        int32_t i = x.start, j = s->next[i];
        /* stale: i was absorbed into its left neighbour, or its pair has changed since */
        if (s->prev[i] == -2 || j >= n || s->next[j] - i != x.span) continue;
        s->next[i] = s->next[j];
        if (s->next[i] < n) s->prev[s->next[i]] = i;
        s->prev[j] = -2;
        push_pair(t, s, p, n, s->prev[i]);
        push_pair(t, s, p, n, i);
    }
    for (int32_t i = 0; i < n; i = s->next[i])
        if (emit(out, lookup(t, p + i, (size_t)(s->next[i] - i)), e)) return -1;
    if (m && out->n - first <= MEMO_IDS) {
        *m = (memo){p, n, (int32_t)(out->n - first), {0}};
        memcpy(m->ids, out->v + first, (out->n - first) * sizeof *m->ids);
    }
    return 0;
}

/* ---------------------------------------------------------------- pre-tokenization */

int tl_bpe_encode(const tl_bpe *t, const char *text, size_t len, tl_ivec *out, tl_err *e) {
    const unsigned char *s = (const unsigned char *)text;
    scratch sc = {0};
    if (len >= MEMO_MIN_TEXT) sc.memo = calloc(MEMO_SLOTS, sizeof *sc.memo); /* optional: NULL is fine */
    int rc = 0;
    for (size_t i = 0; i < len && !rc;) {
        size_t k = tl_pretok_next(&t->pre, s + i, len - i);
        if (k > INT32_MAX / 2) rc = tl_errf(e, "a single piece of %zu bytes is too long to tokenize", k);
        else rc = bpe_piece(t, &sc, s + i, (int32_t)k, out, e);
        i += k;
    }
    free(sc.next);
    free(sc.prev);
    free(sc.heap);
    free(sc.memo);
    return rc;
}

int tl_bpe_decode(const tl_bpe *t, const int32_t *ids, size_t n, tl_buf *out, tl_err *e) {
    for (size_t i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= t->n) return tl_errf(e, "token id %d is outside the vocabulary (0..%d)", ids[i], t->n - 1);
        if (tl_buf_append(out, t->blob + t->off[ids[i]], t->len[ids[i]], e)) return -1;
    }
    return 0;
}
