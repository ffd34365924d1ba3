/* GPT-2 BPE: tiktoken's known vectors, decode(encode(x)) == x for arbitrary bytes (invalid UTF-8
 * included), hostile megabyte pieces, merge order on a hand-made vocabulary, and a table of
 * malformed encoder.json / vocab.bpe files each rejected with a message naming the problem. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/paths.h"
#include "base/rng.h"
#include "check.h"
#include "tokenizer/bpe.h"

static int same_ids(const tl_ivec *v, const int32_t *want, size_t n) {
    return v->n == n && !memcmp(v->v, want, n * sizeof *want);
}

static void roundtrip(const tl_bpe *t, const char *s, size_t n, const char *what) {
    tl_ivec ids = {0};
    tl_buf out = {0};
    tl_err e;
    CHECK(tl_bpe_encode(t, s, n, &ids, &e) == 0, "%s: %s", what, e.msg);
    CHECK(tl_bpe_decode(t, ids.v, ids.n, &out, &e) == 0, "%s: %s", what, e.msg);
    CHECK(out.n == n && (n == 0 || !memcmp(out.p, s, n)), "%s: decode(encode(x)) != x (%zu bytes)", what, n);
    tl_ivec_free(&ids);
    tl_buf_free(&out);
}

typedef struct job {
    const tl_bpe *t;
    const tl_buf *text;
    tl_ivec ids;
    int rc;
} job;

static void *encode_job(void *arg) {
    job *j = arg;
    tl_err e;
    j->rc = tl_bpe_encode(j->t, j->text->p, j->text->n, &j->ids, &e);
    return NULL;
}

/* A loaded tl_bpe is shared by threads that encode at the same time (run under TSan to be sure). */
static void test_threads(const tl_bpe *t, const tl_buf *text) {
    tl_ivec want = {0};
    tl_err e;
    CHECK(tl_bpe_encode(t, text->p, text->n, &want, &e) == 0, "%s", e.msg);
    job jobs[4];
    pthread_t th[4];
    for (int k = 0; k < 4; k++) {
        jobs[k] = (job){t, text, {0}, -1};
        CHECK(pthread_create(&th[k], NULL, encode_job, &jobs[k]) == 0, "pthread_create");
    }
    for (int k = 0; k < 4; k++) {
        pthread_join(th[k], NULL);
        CHECK(jobs[k].rc == 0 && jobs[k].ids.n == want.n && !memcmp(jobs[k].ids.v, want.v, want.n * sizeof *want.v),
              "thread %d encodes differently", k);
        tl_ivec_free(&jobs[k].ids);
    }
    tl_ivec_free(&want);
}

static void test_gpt2(const tl_bpe *t) {
    static const struct {
        const char *text;
        int32_t ids[20];
        size_t n;
    } vec[] = {
        {"hello world", {31373, 995}, 2},
        {"Hello, world!", {15496, 11, 995, 0}, 4},
        {"  two  spaces\n\nnewline", {220, 734, 220, 9029, 198, 198, 3605, 1370}, 8},
        {"naïve café 日本", {2616, 38776, 40304, 10545, 245, 98, 17312, 105}, 8},
        /* more, from js-tiktoken 1.0.21's gpt2: numbers, contractions, merges, non-ASCII spaces */
        {"23.51, -0.004, 1e-3, 1,024", {1954, 13, 4349, 11, 532, 15, 13, 22914, 11, 352, 68, 12, 18, 11, 352, 11, 40839}, 17},
        {"I'm he's 'S   \tx\r\n", {40, 1101, 339, 338, 705, 50, 220, 220, 220, 197, 87, 201, 198}, 13},
        {"unbelievably Tokenization!!", {403, 6667, 11203, 1346, 29130, 1634, 3228}, 7},
        {" \u00a0x\u3000 y \n\n z  ", {220, 1849, 87, 5099, 222, 331, 220, 628, 1976, 220, 220}, 11},
    };
    for (size_t i = 0; i < sizeof vec / sizeof *vec; i++) {
        tl_ivec ids = {0};
        tl_err e;
        CHECK(tl_bpe_encode(t, vec[i].text, strlen(vec[i].text), &ids, &e) == 0, "%s", e.msg);
        CHECK(same_ids(&ids, vec[i].ids, vec[i].n), "tiktoken vector %zu differs", i);
        tl_ivec_free(&ids);
    }
    CHECK(tl_bpe_vocab_size(t) == 50257 && tl_bpe_eot(t) == 50256, "GPT-2 vocabulary / <|endoftext|>");

    tl_err e0;
    tl_rng r;
    tl_rng_seed(&r, 42);
    static const char *pieces[] = {"a", " the", "Ö", "日本", "🙂", "\xe2\x80", "\xff", "\xc0\xaf", "\xed\xa0\x80", "  ",
                                   "\n", "'s", "'ll", "12.5", "\t", "\r\n", "\xf0\x9f", "é"};
    for (int k = 0; k < 300; k++) { /* random mixes of valid text, broken sequences and raw bytes */
        char buf[512];
        size_t n = 0;
        while (n < 400) {
            if (tl_rng_below(&r, 3) == 0) buf[n++] = (char)tl_rng_below(&r, 256);
            else {
                const char *p = pieces[tl_rng_below(&r, sizeof pieces / sizeof *pieces)];
                memcpy(buf + n, p, strlen(p));
                n += strlen(p);
            }
        }
        roundtrip(t, buf, n, "random bytes");
    }
    /* long texts memoize pieces that needed merging: same ids as short calls, which do not */
    const char *line = "Tokenization unbelievably xyzzy 12345 naïve!!\n";
    tl_ivec one = {0}, all = {0};
    tl_buf text = {0};
    for (int k = 0; k < 200; k++) {
        tl_bpe_encode(t, line, strlen(line), &one, &e0);
        tl_buf_append(&text, line, strlen(line), &e0);
    }
    CHECK(text.n >= 4096 && tl_bpe_encode(t, text.p, text.n, &all, &e0) == 0 && all.n == one.n &&
              !memcmp(all.v, one.v, one.n * sizeof *one.v), "long text (memo) and short calls disagree");
    test_threads(t, &text);
    tl_ivec_free(&one);
    tl_ivec_free(&all);
    tl_buf_free(&text);
    /* hostile pieces: one megabyte of a single class must tokenize (no quadratic merge loop) */
    size_t big = 1 << 20;
    char *s = malloc(big);
    memset(s, ' ', big);
    roundtrip(t, s, big, "1 MB of spaces");
    for (size_t i = 0; i < big; i++) s[i] = (char)('0' + i % 10);
    roundtrip(t, s, big, "1 MB of digits");
    for (size_t i = 0; i < big; i++) s[i] = "ab"[i % 2];
    roundtrip(t, s, big, "1 MB of letters");
    free(s);

    tl_buf out = {0};
    tl_err e;
    int32_t bad[1] = {50257};
    CHECK(tl_bpe_decode(t, bad, 1, &out, &e) == -1 && strstr(e.msg, "outside the vocabulary"), "decode bad id: %s", e.msg);
    tl_buf_free(&out);
}

/* GPT-2's byte alphabet, written out independently of the tokenizer: bytes that are printable
 * stand for themselves, the others take code points 256.. in order. */
static void spell(unsigned char b, char *out) {
    int printable = (b >= 33 && b <= 126) || (b >= 161 && b <= 172) || b >= 174, cp = b;
    if (!printable) {
        cp = 256;
        for (int x = 0; x < b; x++)
            if (!((x >= 33 && x <= 126) || (x >= 161 && x <= 172) || x >= 174)) cp++;
    }
    if (cp < 0x80) out[0] = (char)cp, out[1] = 0;
    else out[0] = (char)(0xC0 | cp >> 6), out[1] = (char)(0x80 | (cp & 0x3F)), out[2] = 0;
}

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

/* A small vocabulary: 256 bytes, then merges, then <|endoftext|>; `extra` is spliced into the
 * JSON object, `skip_byte` >= 0 leaves one byte out, -2 leaves <|endoftext|> out. */
static void mini_vocab(const char *path, const char *extra, int skip_byte) {
    FILE *f = fopen(path, "w");
    fputc('{', f);
    for (int b = 0; b < 256; b++) {
        if (b == skip_byte) continue;
        char s[4];
        spell((unsigned char)b, s);
        fprintf(f, "%s\"%s%s\": %d", b ? ", " : "", s[0] == '"' || s[0] == '\\' ? "\\" : "", s, b);
    }
    fprintf(f, ", \"he\": 256, \"the\": 257, \"ll\": 258%s%s}", skip_byte == -2 ? "" : ", \"<|endoftext|>\": 259", extra);
    fclose(f);
}

static void test_bad_files(void) {
    const char *ej = "t_encoder.json", *vb = "t_vocab.bpe";
    tl_bpe *t;
    tl_err e;
    /* the hand-made vocabulary works and merges in rank order */
    mini_vocab(ej, "", -1);
    write_file(vb, "#version: 0.2\nh e\nt he\nl l\n");
    CHECK(tl_bpe_load_gpt2(&t, ej, vb, &e) == 0, "mini vocabulary: %s", e.msg);
    if (t) {
        tl_ivec ids = {0};
        tl_bpe_encode(t, "hehe thell", 10, &ids, &e);
        /* "hehe" -> he he; " thell" is no token, so from bytes: h+e (rank 0), t+he (1), l+l (2) */
        CHECK(ids.n == 5 && ids.v[0] == 256 && ids.v[1] == 256 && ids.v[2] == ' ' && ids.v[3] == 257 && ids.v[4] == 258,
              "mini merges: got %zu ids", ids.n);
        ids.n = 0;
        tl_bpe_encode(t, "lllll", 5, &ids, &e); /* equal ranks: leftmost first -> ll ll l */
        CHECK(ids.n == 3 && ids.v[0] == 258 && ids.v[1] == 258 && ids.v[2] == 'l', "ties must merge leftmost first");
        tl_ivec_free(&ids);
        tl_bpe_free(t);
    }
    struct {
        const char *what, *encoder, *merges, *expect;
        int skip;
    } bad[] = {
        {"missing encoder.json", NULL, "h e\n", "missing; run scripts/install-deps", -1},
        {"not JSON", "{\"a\": 1,", "h e\n", "invalid JSON", -1},
        {"not an object", "[1, 2, 3]", "h e\n", "expected an object", -1},
        {"id out of range", ", \"zz\": 9999", "h e\n", "outside", -1},
        {"id used twice", ", \"zz\": 3", "h e\n", "used twice", -1},
        {"duplicate key", ", \"he\": 260", "h e\n", "invalid JSON", -1},
        {"not an integer id", ", \"zz\": \"x\"", "h e\n", "not an integer", -1},
        {"negative id", ", \"zz\": -1", "h e\n", "token 'zz' has id -1 outside 0..260", -1},
        {"control byte in a token", ", \"a\\nb\": 260", "h e\n", "'a\\x0ab' (id 260) is empty or not in GPT-2", -1},
        {"empty token", ", \"\": 260", "h e\n", "is empty", -1},
        {"truncated encoder.json", "{\"!\": 0, \"\\\"\": 1, \"#\": 2", "h e\n", "invalid JSON", -1},
        {"too few tokens", "{\"!\": 0}", "h e\n", "expected an object of 256", -1},
        {"missing <|endoftext|>", "", "h e\n", "no <|endoftext|> token", -2},
        {"token outside the alphabet", ", \"a b\": 260", "h e\n", "byte alphabet", -1},
        {"missing byte token", ", \"zz\": 65", "h e\n", "no token for byte 0x41", 'A'},
        {"merge without a space", "", "he\n", "two tokens separated", -1},
        {"merge with two spaces", "", "h e x\n", "two tokens separated", -1},
        {"merge result not a token", "", "x y\n", "merge 'x y' makes a token that is not in the vocabulary", -1},
        {"merge part not a token", "", "h e\nth e\n", ":2: merge 'th e' has a part that is not a token", -1},
        {"vocab.bpe cut mid-line", "", "#version: 0.2\nh e\nt h", ":3: merge 't h' makes a token", -1},
        {"vocab.bpe cut at a line end", "", "#version: 0.2\nh e\nt he\n", "no merge makes token id 258 ('ll'): truncated", -1},
        {"empty vocab.bpe", "", "", "0 merges, but no merge makes token id 256", -1},
        {"merge repeated", "", "h e\nh e\n", "repeats an earlier merge", -1},
        {"merge outside the alphabet", "", "h \x01\n", "merge 'h \\x01' has a part outside", -1},
        {"missing vocab.bpe", "", NULL, "t_vocab.bpe: missing; run scripts/install-deps", -1},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        unlink(ej);
        if (bad[i].encoder && bad[i].encoder[0] != ',' && bad[i].encoder[0]) write_file(ej, bad[i].encoder);
        else if (bad[i].encoder) mini_vocab(ej, bad[i].encoder, bad[i].skip);
        unlink(vb);
        if (bad[i].merges) write_file(vb, bad[i].merges);
        int rc = tl_bpe_load_gpt2(&t, ej, vb, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].expect) && (strstr(e.msg, ej) || strstr(e.msg, vb)) && !strchr(e.msg, '\n'),
              "%s: got '%s'", bad[i].what, rc ? e.msg : "success");
        if (!rc) tl_bpe_free(t);
    }
    unlink(ej);
    unlink(vb);
}

int main(void) {
    test_bad_files();
    tl_bpe *t;
    tl_err e;
    if (tl_bpe_load_gpt2_default(&t, &e)) {
        fprintf(stderr, "%s\n", e.msg);
        return 1;
    }
    test_gpt2(t);
    tl_bpe_free(t);
    CHECK_DONE();
}
