/* UTF-8 decoding (strict, byte-wise fallback) and Unicode class lookup by binary search. */
#include "tokenizer/unicode.h"

int tl_utf8_next(const unsigned char *s, size_t n, int32_t *cp) {
    unsigned char c = s[0];
    int len;
    int32_t v, min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1F, min = 0x80;
    else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0F, min = 0x800;
    else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07, min = 0x10000;
    else goto invalid;
    if ((size_t)len > n) goto invalid;
    for (int i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) goto invalid;
        v = v << 6 | (s[i] & 0x3F);
    }
    if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) goto invalid;
    *cp = v;
    return len;
invalid:
    *cp = -1;
    return 1;
}

static int in_ranges(const uint32_t (*r)[2], int n, uint32_t cp) {
    int lo = 0, hi = n - 1;
    while (lo <= hi) {
        int mid = (lo + hi) / 2;
        if (cp < r[mid][0]) hi = mid - 1;
        else if (cp > r[mid][1]) lo = mid + 1;
        else return 1;
    }
    return 0;
}

int tl_uni_class(int32_t cp) {
    if (cp < 0) return TL_UNI_OTHER;
    if (cp < 128) {
        if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z')) return TL_UNI_LETTER;
        if (cp >= '0' && cp <= '9') return TL_UNI_NUMBER;
        if (cp == ' ' || (cp >= 9 && cp <= 13)) return TL_UNI_SPACE;
        return TL_UNI_OTHER;
    }
    uint32_t u = (uint32_t)cp;
    if (in_ranges(tl_uni_letter, tl_uni_letter_count, u)) return TL_UNI_LETTER;
    if (in_ranges(tl_uni_number, tl_uni_number_count, u)) return TL_UNI_NUMBER;
    if (in_ranges(tl_uni_space, tl_uni_space_count, u)) return TL_UNI_SPACE;
    return TL_UNI_OTHER;
}
