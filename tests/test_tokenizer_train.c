/* BPE training: the merges of a hand-worked example, digits always alone in digits=1 mode, any
 * bytes round-trip through a trained tokenizer, training twice gives identical files, and the
 * trained folder's loader rejects broken folders with a clear message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/rng.h"
#include "check.h"
#include "tokenizer/bpe.h"
#include "tokenizer/train.h"

static char dir[64];

static void write_file(const char *name, const char *text, size_t n) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fwrite(text, 1, n, f);
    fclose(f);
}

static char *read_file(const char *path, size_t *n) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long k = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *b = malloc((size_t)k + 1);
    *n = fread(b, 1, (size_t)k, f);
    b[*n] = 0;
    fclose(f);
    return b;
}

static int train(const char *in, const char *out, int vocab, int digits, tl_err *e) {
    char pin[256], pout[256];
    snprintf(pin, sizeof pin, "%s/%s", dir, in);
    snprintf(pout, sizeof pout, "%s/%s", dir, out);
    const char *files[1] = {pin};
    tl_bpe_train_opts o = {.vocab_size = vocab, .digits = digits, .name = "test", .field = "text"};
    tl_bpe_train_stats st;
    return tl_bpe_train(files, 1, &o, pout, &st, e);
}

int main(void) {
    tl_err e;
    snprintf(dir, sizeof dir, "/tmp/tl_toktrain_XXXXXX");
    if (!mkdtemp(dir)) return 1;
    /* by hand: "aaabdaaabac" is one piece; counts aa 4, ab 2 -> "a a"; then "ZabdZabac": Za 2, ab 2,
     * tie to the smaller ids (a=97, b=98) < (Z=256, a) -> "a b"; then ZY 2 -> "aa ab"; then no pair twice */
    write_file("hand.txt", "aaabdaaabac", 11);
    CHECK(train("hand.txt", "hand", 300, 1, &e) == 0, "%s", e.msg);
    char p[600];
    size_t n;
    snprintf(p, sizeof p, "%s/hand/vocab.bpe", dir);
    char *merges = read_file(p, &n);
    CHECK(merges && !strcmp(merges, "#version: 0.2\na a\na b\naa ab\n"), "hand merges:\n%s", merges ? merges : "(none)");
    free(merges);
    snprintf(p, sizeof p, "%s/hand", dir);
    tl_bpe *t;
    CHECK(tl_bpe_load(&t, p, &e) == 0, "%s", e.msg);
    tl_ivec ids = {0};
    tl_bpe_encode(t, "aaabdaaabac", 11, &ids, &e);
    int want[] = {258, 'd', 258, 'a', 'c'};
    CHECK(ids.n == 5 && !memcmp(ids.v, want, sizeof want), "hand encode: %zu ids", ids.n);
    CHECK(tl_bpe_vocab_size(t) == 260 && tl_bpe_eot(t) == 259 && !strcmp(tl_bpe_name(t), "test"), "vocab %d eot %d name %s",
          tl_bpe_vocab_size(t), tl_bpe_eot(t), tl_bpe_name(t));
    tl_bpe_free(t);

    /* a sensor-like corpus: numbers everywhere */
    tl_rng r;
    tl_rng_seed(&r, 1);
    tl_buf text = {0};
    for (int i = 0; i < 4000; i++) {
        char line[128];
        int k = snprintf(line, sizeof line, "temp=%.2f hum=%d%% acc=[%.3f, %.3f] room %s\n", 20 + 5 * tl_rng_normal(&r),
                         (int)tl_rng_below(&r, 100), tl_rng_normal(&r), tl_rng_normal(&r), i % 3 ? "kitchen" : "hall");
        tl_buf_append(&text, line, (size_t)k, &e);
    }
    write_file("sensor.txt", text.p, text.n);
    CHECK(train("sensor.txt", "s1", 600, 1, &e) == 0, "%s", e.msg);
    CHECK(train("sensor.txt", "s1b", 600, 1, &e) == 0, "%s", e.msg);
    const char *names[] = {"encoder.json", "vocab.bpe", "tokenizer.cfg"};
    for (int i = 0; i < 3; i++) {
        size_t n1, n2;
        char p1[256], p2[256];
        snprintf(p1, sizeof p1, "%s/s1/%s", dir, names[i]);
        snprintf(p2, sizeof p2, "%s/s1b/%s", dir, names[i]);
        char *a = read_file(p1, &n1), *b = read_file(p2, &n2);
        CHECK(a && b && n1 == n2 && !memcmp(a, b, n1), "training is not deterministic: %s differs", names[i]);
        free(a);
        free(b);
    }
    CHECK(train("sensor.txt", "s1", 600, 1, &e) == -1 && strstr(e.msg, "already exists"), "existing output: %s", e.msg);
    snprintf(p, sizeof p, "%s/s1", dir);
    CHECK(tl_bpe_load(&t, p, &e) == 0, "%s", e.msg);
    CHECK(tl_bpe_vocab_size(t) > 270 && tl_bpe_vocab_size(t) <= 600 && tl_bpe_digits(t) == 1, "vocab %d", tl_bpe_vocab_size(t));
    ids.n = 0;
    const char *num = "temp=1003.45 x 20.25";
    tl_bpe_encode(t, num, strlen(num), &ids, &e);
    for (size_t i = 0; i < ids.n; i++) { /* no token holds two digits */
        size_t len;
        const char *tok = tl_bpe_token(t, ids.v[i], &len);
        int digits = 0;
        for (size_t k = 0; k < len; k++) digits += tok[k] >= '0' && tok[k] <= '9';
        CHECK(digits <= 1, "token '%.*s' holds %d digits", (int)len, tok, digits);
    }
    for (int round = 0; round < 200; round++) { /* arbitrary bytes, invalid UTF-8 included, round-trip */
        unsigned char buf[300];
        int len = (int)tl_rng_below(&r, 300);
        for (int i = 0; i < len; i++) buf[i] = round % 2 ? (unsigned char)tl_rng_below(&r, 256) : (unsigned char)text.p[tl_rng_below(&r, text.n)];
        tl_buf dec = {0};
        ids.n = 0;
        CHECK(tl_bpe_encode(t, (char *)buf, (size_t)len, &ids, &e) == 0 && tl_bpe_decode(t, ids.v, ids.n, &dec, &e) == 0 &&
                  dec.n == (size_t)len && (len == 0 || !memcmp(dec.p, buf, (size_t)len)),
              "round %d: bytes do not round-trip", round);
        tl_buf_free(&dec);
    }
    tl_bpe_free(t);

    /* broken folders */
    struct {
        const char *file, *text, *want;
    } bad[] = {{"tokenizer.cfg", "format = tinyllm.bpe\nversion = 2\n", "version 2 is not supported"},
               {"tokenizer.cfg", "format = other\n", "format 'other' is not tinyllm.bpe"},
               {"tokenizer.cfg", "format = tinyllm.bpe\ndigits = 99\n", "digits must be 0..64"},
               {"tokenizer.cfg", "format = tinyllm.bpe\ncolour = red\n", "unknown key 'colour'"},
               {"tokenizer.cfg", "version = 1\n", "no 'format = tinyllm.bpe' line"},
               {"vocab.bpe", "#version: 0.2\nq z\n", "makes a token that is not in the vocabulary"},
               {"vocab.bpe", "#version: 0.2\n", "no merge makes token id"},
               {"vocab.bpe", "#version: 0.2\nab\n", "is not two tokens separated by one space"},
               {"encoder.json", "{\"a\": 0}", "expected an object of 256..16M"},
               {"encoder.json", "{\"a\": 0, ", "invalid JSON"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char from[128], to[128], cmd[300];
        snprintf(from, sizeof from, "%s/s1", dir);
        snprintf(to, sizeof to, "%s/bad%zu", dir, i);
        snprintf(cmd, sizeof cmd, "cp -r %s %s", from, to);
        CHECK(system(cmd) == 0, "cp");
        snprintf(p, sizeof p, "%s/%s", to, bad[i].file);
        FILE *f = fopen(p, "w");
        fputs(bad[i].text, f);
        fclose(f);
        int rc = tl_bpe_load(&t, to, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].want), "bad %zu (%s): got '%s', want '%s'", i, bad[i].file, rc ? e.msg : "(loaded)", bad[i].want);
        if (!rc) tl_bpe_free(t);
    }
    CHECK(tl_bpe_load(&t, dir, &e) == -1 && strstr(e.msg, "not a tokenizer folder"), "%s", e.msg);
    snprintf(p, sizeof p, "rm -rf %s", dir);
    CHECK(system(p) == 0, "cleanup");
    tl_ivec_free(&ids);
    tl_buf_free(&text);
    CHECK_DONE();
}
