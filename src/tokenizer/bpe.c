/* Byte-level BPE: building a tokenizer from its tokens and merges, GPT-2 pre-tokenization,
 * heap-ordered merges, decoding. libc only (the edge runtime builds one from a GGUF file); the
 * loaders of GPT-2's vocabulary files are in bpe_files.c.
 *
 * Tokens are byte strings; a hash table maps bytes -> id. A merged token's rank is the index of
 * the vocab.bpe line that creates it (for GPT-2, rank = id - 256). Encoding a piece follows
 * tiktoken: a piece that is itself a token is emitted whole; otherwise, starting from single
 * bytes, the adjacent pair whose concatenation has the lowest rank is merged (leftmost on ties)
 * until no pair concatenates to a ranked token. A min-heap keeps this O(n log n) per piece. */
#include "tokenizer/bpe.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
    /* while building (tl_bpe_begin .. tl_bpe_merges_done) */
    size_t blob_cap, blob_used;
    int16_t byte_of[324];  /* GPT-2's alphabet: code point -> byte */
    unsigned char *scratch; /* a merge's bytes */
    size_t scratch_cap;
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
    free(t->scratch);
    free(t);
}

/* ---------------------------------------------------------------- building */

int tl_bpe_begin(tl_bpe **out, int n_tokens, size_t spelled_bytes, tl_err *e) {
    *out = NULL;
    if (n_tokens < 256 || n_tokens > (1 << 24)) return tl_errf(e, "a vocabulary of %d tokens (must be 256..16M)", n_tokens);
    if (spelled_bytes >= UINT32_MAX) return tl_errf(e, "%zu bytes of token text is more than 4 GB", spelled_bytes);
    tl_bpe *t = tl_calloc(1, sizeof *t, e);
    if (!t) return -1;
    size_t n = (size_t)n_tokens;
    t->n = n_tokens;
    t->blob = tl_calloc(spelled_bytes + 1, 1, e);
    t->off = tl_calloc(n, sizeof *t->off, e);
    t->len = tl_calloc(n, sizeof *t->len, e);
    t->rank = tl_calloc(n, sizeof *t->rank, e);
    t->merges = tl_calloc(n, sizeof *t->merges, e);
    uint32_t cap = 1;
    while (cap < 2 * n) cap <<= 1;
    t->table = tl_calloc(cap, sizeof *t->table, e);
    t->mask = cap - 1;
    if (!t->blob || !t->off || !t->len || !t->rank || !t->merges || !t->table) {
        tl_bpe_free(t);
        return -1;
    }
    for (size_t i = 0; i < n; i++) t->len[i] = UINT32_MAX; /* marks ids not yet given */
    t->blob_cap = spelled_bytes;
    gpt2_alphabet(t->byte_of);
    tl_pretok_init(&t->pre, 0);
    snprintf(t->name, sizeof t->name, "gpt2");
    *out = t;
    return 0;
}

int tl_bpe_add_token(tl_bpe *t, long long id, const char *s, size_t n, const char *where, tl_err *e) {
    char q[200];
    if (id < 0 || id >= t->n) return tl_errf(e, "%s: token '%s' has id %lld outside 0..%d", where, tl_err_quote(s, n, q), id, t->n - 1);
    if (t->len[id] != UINT32_MAX) return tl_errf(e, "%s: id %lld is used twice (token '%s')", where, id, tl_err_quote(s, n, q));
    if (n > t->blob_cap - t->blob_used) return tl_errf(e, "%s: more token text than announced", where);
    long bl = unspell(s, n, t->byte_of, t->blob + t->blob_used);
    if (bl <= 0)
        return tl_errf(e, "%s: token '%s' (id %lld) is empty or not in GPT-2's byte alphabet", where, tl_err_quote(s, n, q), id);
    if (lookup(t, t->blob + t->blob_used, (size_t)bl) >= 0)
        return tl_errf(e, "%s: token '%s' (id %lld) repeats another token's bytes", where, tl_err_quote(s, n, q), id);
    t->off[id] = (uint32_t)t->blob_used;
    t->len[id] = (uint32_t)bl;
    t->rank[id] = NO_RANK;
    t->blob_used += (size_t)bl;
    insert(t, (int)id);
    return 0;
}

int tl_bpe_tokens_done(tl_bpe *t, const char *where, tl_err *e) {
    for (int id = 0; id < t->n; id++)
        if (t->len[id] == UINT32_MAX) return tl_errf(e, "%s: no token has id %d", where, id);
    for (int b = 0; b < 256; b++) {
        unsigned char c = (unsigned char)b;
        if ((t->byte_id[b] = lookup(t, &c, 1)) < 0)
            return tl_errf(e, "%s: no token for byte 0x%02x (a byte-level vocabulary needs all 256)", where, b);
    }
    t->eot = lookup(t, (const unsigned char *)"<|endoftext|>", 13);
    return t->eot < 0 ? tl_errf(e, "%s: no <|endoftext|> token", where) : 0;
}

int tl_bpe_add_merge(tl_bpe *t, const char *s, size_t n, const char *where, tl_err *e) {
    char q[200];
    const char *sp = memchr(s, ' ', n);
    if (!sp || sp == s || sp == s + n - 1 || memchr(sp + 1, ' ', (size_t)(s + n - sp - 1)))
        return tl_errf(e, "%s: merge '%s' is not two tokens separated by one space", where, tl_err_quote(s, n, q));
    if (t->scratch_cap < n) {
        unsigned char *p = realloc(t->scratch, n);
        if (!p) return tl_errf(e, "%s: out of memory", where);
        t->scratch = p;
        t->scratch_cap = n;
    }
    unsigned char *buf = t->scratch;
    long a = unspell(s, (size_t)(sp - s), t->byte_of, buf);
    long b = a < 0 ? -1 : unspell(sp + 1, (size_t)(s + n - sp - 1), t->byte_of, buf + a);
    int l = b >= 0 ? lookup(t, buf, (size_t)a) : -1, r = b >= 0 ? lookup(t, buf + a, (size_t)b) : -1;
    int id = l >= 0 && r >= 0 ? lookup(t, buf, (size_t)(a + b)) : -1;
    const char *why = b < 0                    ? "has a part outside GPT-2's byte alphabet"
                      : l < 0 || r < 0         ? "has a part that is not a token of the vocabulary"
                      : id < 0                 ? "makes a token that is not in the vocabulary"
                      : t->rank[id] != NO_RANK ? "repeats an earlier merge's result"
                                               : NULL;
    if (why) return tl_errf(e, "%s: merge '%s' %s", where, tl_err_quote(s, n, q), why);
    if (t->n_merges == t->n) return tl_errf(e, "%s: more merges than tokens", where); /* each makes a distinct token */
    t->merges[t->n_merges][0] = l;
    t->merges[t->n_merges][1] = r;
    t->rank[id] = (int32_t)t->n_merges++;
    return 0;
}

int tl_bpe_merges_done(tl_bpe *t, const char *where, tl_err *e) {
    free(t->scratch);
    t->scratch = NULL;
    t->scratch_cap = 0;
    /* every multi-byte token but specials (<|...|>) must come from a merge: catches merges cut at
     * an entry boundary, and a vocabulary that does not belong to these merges */
    for (int id = 0; id < t->n; id++) {
        const char *tok = (const char *)t->blob + t->off[id];
        size_t len = t->len[id];
        char q[200];
        int special = len >= 4 && !memcmp(tok, "<|", 2) && !memcmp(tok + len - 2, "|>", 2);
        if (len > 1 && t->rank[id] == NO_RANK && !special)
            return tl_errf(e, "%s: %d merges, but no merge makes token id %d ('%s'): truncated file?", where, t->n_merges, id,
                           tl_err_quote(tok, len, q));
    }
    return 0;
}

int tl_bpe_set_pretok(tl_bpe *t, const char *name, int digits, tl_err *e) {
    if (strlen(name) >= sizeof t->name || !name[0]) return tl_errf(e, "tokenizer name '%.64s' is empty or too long", name);
    if (digits < 0 || digits > 64) return tl_errf(e, "digit groups of %d (must be 0..64)", digits);
    snprintf(t->name, sizeof t->name, "%s", name);
    t->pre.digits = digits;
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
