/* The server's UTF-8 cleaning (src/serve/utf8.c, compiled in here: the test programs do not link
 * tl_serve): known cases against their Unicode "maximal subpart" answers (the same as WHATWG's
 * TextDecoder; test_serve_api.mjs checks 200 more against Node's), well-formed text passes
 * unchanged, and cutting any input into pieces of any size (as a stream is cut) gives exactly the
 * output of the whole, with at most 3 bytes held between pieces. */
#include <stdlib.h>
#include <string.h>

#include "../src/serve/utf8.c"
#include "check.h"

static char *clean_whole(const char *s, size_t n, size_t *out_n) {
    tl_buf b = {0};
    tl_utf8 st = {{0}, 0};
    tl_err e;
    if (tl_utf8_clean(&st, s, n, 1, &b, &e) || tl_buf_append(&b, "", 1, &e)) abort();
    *out_n = b.n - 1;
    return b.p;
}

static char *clean_pieces(const char *s, size_t n, unsigned *seed, size_t *out_n, int *held_max) {
    tl_buf b = {0};
    tl_utf8 st = {{0}, 0};
    tl_err e;
    size_t i = 0;
    while (i < n) {
        size_t k = 1 + (size_t)(rand_r(seed) % 5);
        if (k > n - i) k = n - i;
        if (tl_utf8_clean(&st, s + i, k, 0, &b, &e)) abort();
        if (st.n > *held_max) *held_max = st.n;
        i += k;
    }
    if (tl_utf8_clean(&st, "", 0, 1, &b, &e) || tl_buf_append(&b, "", 1, &e)) abort();
    *out_n = b.n - 1;
    return b.p;
}

int main(void) {
    static const struct {
        const char *in, *want;
    } cases[] = {
        {"plain", "plain"},
        {"\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x91\x8D", "\xC3\xA9t\xC3\xA9 \xE2\x82\xAC \xF0\x9F\x91\x8D"},
        {"\xC0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD"},                 /* overlong: two bad bytes */
        {"\xE0\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* E0 needs A0..BF next */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* a surrogate */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xE2\x82", "\xEF\xBF\xBD"},                             /* cut at the end: one */
        {"\xE2\x82" "A", "\xEF\xBF\xBD" "A"},
        {"\xF0\x9F\x98", "\xEF\xBF\xBD"},
        {"A\xE2(\xA1", "A\xEF\xBF\xBD(\xEF\xBF\xBD"},
        {"\xE1\x80\xE2\xF0\x91\x92\xF1\xBF\x41", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD" "A"},
        {"\xFF\xFE", "\xEF\xBF\xBD\xEF\xBF\xBD"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        size_t n;
        char *got = clean_whole(cases[i].in, strlen(cases[i].in), &n);
        CHECK(n == strlen(cases[i].want) && !memcmp(got, cases[i].want, n), "case %zu", i);
        CHECK(tl_utf8_valid(got, n), "case %zu: output is well-formed", i);
        CHECK(tl_utf8_valid(cases[i].in, strlen(cases[i].in)) == !strcmp(cases[i].in, cases[i].want), "case %zu: tl_utf8_valid", i);
        free(got);
    }
    /* random bytes, biased to the ones UTF-8 decisions turn on, cut at random */
    static const unsigned char pool[] = {0x41, 0x20, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC2, 0xDF, 0xE0, 0xE1,
                                         0xED, 0xEF, 0xF0, 0xF1, 0xF4, 0xF5, 0xFF};
    unsigned seed = 7;
    int mismatches = 0, invalid = 0, held_max = 0;
    for (int t = 0; t < 20000; t++) {
        char s[40];
        size_t n = (size_t)(rand_r(&seed) % 40);
        for (size_t i = 0; i < n; i++) s[i] = (char)pool[rand_r(&seed) % sizeof pool];
        size_t a, b;
        char *whole = clean_whole(s, n, &a), *parts = clean_pieces(s, n, &seed, &b, &held_max);
        mismatches += a != b || memcmp(whole, parts, a);
        invalid += !tl_utf8_valid(whole, a);
        free(whole);
        free(parts);
    }
    CHECK(mismatches == 0, "%d inputs cleaned differently in pieces than whole", mismatches);
    CHECK(invalid == 0, "%d outputs not well-formed", invalid);
    CHECK(held_max <= 3, "held %d bytes between pieces", held_max);
    CHECK_DONE();
}
