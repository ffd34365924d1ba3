/* Well-formed UTF-8 for JSON: model output is bytes, and a token may hold part of a character or a
 * byte no character has; each ill-formed subsequence becomes one U+FFFD (contract in internal.h). */
#include <string.h>

#include "serve/internal.h"

/* Length of the well-formed sequence at p[0..n) (1..4), 0 when ill-formed, or -k when the k bytes
 * that are there begin a sequence but it is cut short. *sub gets the maximal subpart's length. */
static int seq_at(const unsigned char *p, size_t n, int *sub) {
    unsigned char b = p[0];
    int need;
    unsigned char lo = 0x80, hi = 0xBF;
    *sub = 1;
    if (b < 0x80) return 1;
    if (b >= 0xC2 && b <= 0xDF) need = 1;
    else if (b == 0xE0) need = 2, lo = 0xA0;
    else if (b == 0xED) need = 2, hi = 0x9F;
    else if (b >= 0xE1 && b <= 0xEF) need = 2;
    else if (b == 0xF0) need = 3, lo = 0x90;
    else if (b == 0xF4) need = 3, hi = 0x8F;
    else if (b >= 0xF1 && b <= 0xF3) need = 3;
    else return 0;
    int k = 0;
    for (; k < need; k++) {
        if ((size_t)k + 1 >= n) return -(k + 1); /* no byte there yet */
        unsigned char c = p[k + 1], l = k ? 0x80 : lo, h = k ? 0xBF : hi;
        if (c < l || c > h) break;
    }
    *sub = k + 1;
    return k == need ? need + 1 : 0;
}

int tl_utf8_valid(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < n;) {
        int sub, k = seq_at(p + i, n - i, &sub);
        if (k <= 0) return 0;
        i += (size_t)k;
    }
    return 1;
}

static int clean(const unsigned char *p, size_t n, int last, tl_utf8 *st, tl_buf *out, tl_err *e) {
    static const char fffd[] = "\xEF\xBF\xBD";
    size_t run = 0; /* start of the well-formed bytes not yet appended */
    for (size_t i = 0; i < n;) {
        int sub, k = seq_at(p + i, n - i, &sub);
        if (k > 0) {
            i += (size_t)k;
            continue;
        }
        if (tl_buf_append(out, p + run, i - run, e)) return -1;
        if (k < 0 && !last) { /* cut at the end: keep for the next piece */
            memcpy(st->held, p + i, (size_t)-k);
            st->n = -k;
            return 0;
        }
        if (tl_buf_append(out, fffd, 3, e)) return -1;
        i += k < 0 ? (size_t)-k : (size_t)sub;
        run = i;
    }
    return tl_buf_append(out, p + run, n - run, e);
}

int tl_utf8_clean(tl_utf8 *st, const char *s, size_t n, int last, tl_buf *out, tl_err *e) {
    if (!st->n) return clean((const unsigned char *)s, n, last, st, out, e);
    /* the held bytes and the start of this piece, up to where the held sequence must end */
    unsigned char tmp[8];
    size_t take = n < 4 ? n : 4, k = (size_t)st->n;
    memcpy(tmp, st->held, k);
    memcpy(tmp + k, s, take);
    st->n = 0;
    int sub, len = seq_at(tmp, k + take, &sub);
    if (len < 0 && (size_t)-len == k + take) { /* still cut short: everything is held */
        if (!last) {
            memcpy(st->held, tmp, k + take);
            st->n = (int)(k + take);
            return 0;
        }
        return tl_buf_append(out, "\xEF\xBF\xBD", 3, e);
    }
    if (len > 0) { /* completed: append it, go on after its bytes in s */
        if (tl_buf_append(out, tmp, (size_t)len, e)) return -1;
        size_t used = (size_t)len - k;
        return clean((const unsigned char *)s + used, n - used, last, st, out, e);
    }
    /* ill-formed: one U+FFFD for the maximal subpart, which holds every held byte (they began a
     * sequence) and ends in s */
    if (tl_buf_append(out, "\xEF\xBF\xBD", 3, e)) return -1;
    size_t used = (size_t)sub - k;
    return clean((const unsigned char *)s + used, n - used, last, st, out, e);
}
