/* GPT-2's pre-tokenizer, shared by encoding (bpe.c) and training (train.c); optionally splitting
 * digit runs into groups of at most `digits` digits (sensor text is mostly numbers: one digit per
 * piece gives every number the same, consistent tokens). Header-only so the encoder's hot loop
 * inlines it. Pattern (digits = 0 is exactly GPT-2's):
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}{1,digits}| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+          */
#ifndef TL_TOKENIZER_PRETOK_H
#define TL_TOKENIZER_PRETOK_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "tokenizer/unicode.h"

typedef struct tl_pretok {
    uint8_t ascii_class[128]; /* tl_uni_class of ASCII: the fast path */
    int digits;               /* 0: GPT-2 (number runs whole); k: at most k digits per piece */
} tl_pretok;

static inline void tl_pretok_init(tl_pretok *p, int digits) {
    for (int c = 0; c < 128; c++) p->ascii_class[c] = (uint8_t)tl_uni_class(c);
    p->digits = digits;
}

/* The class of the character at s[0..n) (n >= 1); *len gets its byte length. */
static inline int tl_pretok_class(const tl_pretok *p, const unsigned char *s, size_t n, size_t *len) {
    if (s[0] < 0x80) {
        *len = 1;
        return p->ascii_class[s[0]];
    }
    int32_t cp;
    *len = (size_t)tl_utf8_next(s, n, &cp);
    return tl_uni_class(cp);
}

/* Length of the next piece at s[0..n), n >= 1. */
static inline size_t tl_pretok_next(const tl_pretok *p, const unsigned char *s, size_t n) {
    if (s[0] == '\'' && n >= 2) {
        static const char *const tails[] = {"s", "t", "re", "ve", "m", "ll", "d"};
        for (int i = 0; i < 7; i++) {
            size_t k = strlen(tails[i]);
            if (n >= 1 + k && !memcmp(s + 1, tails[i], k)) return 1 + k;
        }
    }
    size_t i, l;
    int cls = tl_pretok_class(p, s, n, &i);
    if (s[0] == ' ' && n > 1) { /* ' ?' then a run of one non-space class */
        int c2 = tl_pretok_class(p, s + 1, n - 1, &l);
        if (c2 != TL_UNI_SPACE) cls = c2, i = 1 + l;
    }
    if (cls != TL_UNI_SPACE) {
        int left = cls == TL_UNI_NUMBER && p->digits > 0 ? p->digits - 1 : -1; /* more digits allowed */
        while (i < n && left != 0 && tl_pretok_class(p, s + i, n - i, &l) == cls) i += l, left--;
        return i;
    }
    /* whitespace: the whole run if it ends the text or is a single character; else all but its
     * last character (which then leads the next piece) */
    size_t last = 0;
    for (i = 0; i < n && tl_pretok_class(p, s + i, n - i, &l) == TL_UNI_SPACE; i += l) last = i;
    return i == n || last == 0 ? i : last;
}

#endif
