/* UTF-8 decoding and the Unicode classes of GPT-2's pre-tokenizer (letter, number, space, other). */
#ifndef TL_TOKENIZER_UNICODE_H
#define TL_TOKENIZER_UNICODE_H

#include <stddef.h>
#include <stdint.h>

enum { TL_UNI_OTHER, TL_UNI_LETTER, TL_UNI_NUMBER, TL_UNI_SPACE };

/* Sorted, disjoint [lo, hi] ranges (unicode_tables.c, generated). */
extern const uint32_t tl_uni_letter[][2], tl_uni_number[][2], tl_uni_space[][2];
extern const int tl_uni_letter_count, tl_uni_number_count, tl_uni_space_count;

/* Decodes one code point at s[0..n) (n >= 1) into *cp and returns its byte length. An invalid or
 * truncated sequence, overlong form or surrogate yields *cp = -1 and length 1: that byte alone. */
int tl_utf8_next(const unsigned char *s, size_t n, int32_t *cp);

/* The class of a code point (-1, an invalid byte, is OTHER). */
int tl_uni_class(int32_t cp);

#endif
