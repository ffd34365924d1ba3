/* Tests of corpus cleaning: normalisation on hand-written cases, MinHash similarity, tl_clean_run on
 * small corpora (duplicates, near duplicates, tiny documents, sources, determinism, bad JSONL) and
 * the `tinyllm clean` command line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data/clean.h"

static int norm_is(const char *in, size_t n, const char *want, long want_bad) {
    tl_buf b = {0};
    size_t chars;
    tl_err e;
    long bad = tl_clean_normalise(in, n, &b, &chars, &e);
    int ok = bad == want_bad && b.n == strlen(want) && !memcmp(b.p ? b.p : "", want, b.n);
    if (!ok) fprintf(stderr, "normalise: got \"%.*s\" (%ld bad), want \"%s\" (%ld bad)\n", (int)b.n, b.p ? b.p : "", bad, want, want_bad);
    tl_buf_free(&b);
    return ok;
}
#define NORM(in, want, bad) CHECK(norm_is(in, sizeof in - 1, want, bad), "%s", #in)

static void test_normalise(void) {
    NORM("", "", 0);
    NORM(" \t\n \n", "", 0);
    NORM("a", "a", 0);
    NORM("  Title\tline   one  \r\n\n\n\nsecond\x07 para  \n\n", "Title line one\n\nsecond para", 0);
    NORM("a\r\nb\rc\fd\ve", "a\nb\nc\nd\ne", 0);
    NORM("one\n\n\n\n\ntwo\n   \n\t\nthree", "one\n\ntwo\n\nthree", 0);
    NORM("x \xc2\xa0 y\xe2\x80\x83z\xe3\x80\x80w", "x y z w", 0);          /* NBSP, em space, ideographic space */
    NORM("\xef\xbb\xbfzero\xe2\x80\x8bwidth", "zerowidth", 0);             /* BOM and U+200B removed */
    NORM("ctl\x01\x1b[0m\x7f\xc2\x85" "end", "ctl[0mend", 0);                  /* C0, DEL, C1 removed */
    NORM("line\xe2\x80\xa8next", "line\nnext", 0);                          /* U+2028 */
    NORM("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac", 0);
    NORM("bad\xff byte", "bad\xef\xbf\xbd byte", 1);
    NORM("overlong\xc0\xaf", "overlong\xef\xbf\xbd\xef\xbf\xbd", 2);
    NORM("surrogate\xed\xa0\x80", "surrogate\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd", 3);
    NORM("cut\xe6\x97", "cut\xef\xbf\xbd\xef\xbf\xbd", 2);
    NORM("  indented\n    code();\n", "indented\ncode();", 0);
    tl_buf b = {0};
    size_t chars;
    tl_err e;
    CHECK(tl_clean_normalise("h\xc3\xa9llo  w\xc3\xb6rld", 15, &b, &chars, &e) == 0 && chars == 11, "chars %zu", chars);
    tl_buf_free(&b);
}

static unsigned long long lcg(unsigned long long *s) {
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return *s >> 33;
}

static const char *vocab[] = {"sensor", "reading", "the", "value", "of", "a", "gesture", "room", "light",
                              "temperature", "humidity", "is", "and", "when", "motion", "near", "far", "high",
                              "low", "signal", "window", "door", "kitchen", "model", "small", "edge", "device",
                              "sample", "rate", "noise", "filter", "peak", "breath", "minute", "second", "hand"};

/* n random words from the shared vocabulary (so different documents share topic words). */
static char *words(unsigned long long seed, int n) {
    char *s = malloc((size_t)n * 13 + 1);
    size_t k = 0;
    for (int i = 0; i < n; i++) {
        const char *w = vocab[lcg(&seed) % (sizeof vocab / sizeof *vocab)];
        k += (size_t)sprintf(s + k, "%s%s", i ? " " : "", w);
    }
    s[k] = 0;
    return s;
}

/* Replaces word number i (0-based) of s in place by "X" padded to its length. */
static void change_word(char *s, int i) {
    char *p = s;
    for (int k = 0; k < i; k++) p = strchr(p, ' ') + 1;
    for (; *p && *p != ' '; p++) *p = 'X';
}

static int same_hashes(const char *a, const char *b) {
    uint32_t sa[TL_CLEAN_HASHES], sb[TL_CLEAN_HASHES];
    tl_clean_minhash(a, strlen(a), sa);
    tl_clean_minhash(b, strlen(b), sb);
    int same = 0;
    for (int k = 0; k < TL_CLEAN_HASHES; k++) same += sa[k] == sb[k];
    return same;
}

static void test_minhash(void) {
    char *a = words(1, 400), *b = words(1, 400), *c = words(2, 400);
    CHECK(same_hashes(a, b) == TL_CLEAN_HASHES, "identical texts");
    change_word(b, 100), change_word(b, 200), change_word(b, 300);
    int near = same_hashes(a, b), far = same_hashes(a, c);
    CHECK(near >= 48, "3 of 400 words changed: %d of 64 hashes equal", near);
    CHECK(far <= 8, "unrelated texts on the same topic: %d of 64 hashes equal", far);
    CHECK(same_hashes("The Sensor read", "the sensor read") == TL_CLEAN_HASHES, "case-insensitive");
    free(a), free(b), free(c);
}

static char dir[64];

static void write_file(const char *name, const char *text) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "wb");
    fputs(text, f);
    fclose(f);
}

static char *read_all(const char *name) {
    char p[256];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *f = fopen(p, "rb");
    if (!f) return NULL;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *s = malloc((size_t)n + 1);
    s[fread(s, 1, (size_t)n, f)] = 0;
    fclose(f);
    return s;
}

static const tl_clean_stats *find(const tl_clean_report *r, const char *name) {
    for (int i = 0; i < r->n_src; i++)
        if (!strcmp(r->src[i].source, name)) return &r->src[i];
    return NULL;
}

static void test_run(void) {
    char *d[6], *near, buf[8192], path[128], out[128], out2[128];
    for (int i = 0; i < 6; i++) d[i] = words(10 + (unsigned)i, 300);
    near = strdup(d[1]);
    change_word(near, 60), change_word(near, 150), change_word(near, 240);
    /* a.jsonl: sources from the field; b.jsonl: no field -> "b" */
    FILE *f = fopen((snprintf(path, sizeof path, "%s/a.jsonl", dir), path), "wb");
    fprintf(f, "{\"text\": \"%s\", \"source\": \"man\"}\n", d[0]);
    fprintf(f, "\n{\"text\": \"%s\", \"source\": \"dict\", \"id\": 7}\n", d[1]);
    fprintf(f, "{\"text\": \"%s\", \"source\": \"man\"}\n", near);               /* near duplicate of d[1] */
    fprintf(f, "{\"text\": \"too short\", \"source\": \"man\"}\n");
    fprintf(f, "{\"text\": \"  %s \\t\\n\\n\\n\", \"source\": \"dict\"}\n", d[0]); /* exact after normalising */
    fprintf(f, "{\"text\": \"bad \xff utf8 %s\", \"source\": \"dict\"}\n", d[2]);    /* one byte replaced: kept */
    fprintf(f, "{\"text\": \"\xff\xfe\xfd\xfc garbage\", \"source\": \"dict\"}\n");   /* mostly invalid: dropped */
    fclose(f);
    f = fopen((snprintf(path, sizeof path, "%s/b.jsonl", dir), path), "wb");
    fprintf(f, "{\"text\": \"%s\"}\n{\"text\": \"%s\"}\n", d[3], d[4]);
    fclose(f);
    snprintf(buf, sizeof buf, "%s/a.jsonl", dir);
    char bpath[128];
    snprintf(bpath, sizeof bpath, "%s/b.jsonl", dir);
    tl_clean_input in[] = {{buf, NULL}, {bpath, NULL}, {bpath, "again"}};
    tl_clean_opts o = {.min_chars = 50, .near_dup = 0.8};
    tl_clean_report r;
    tl_err e;
    snprintf(out, sizeof out, "%s/out.jsonl", dir);
    CHECK(tl_clean_run(in, 3, &o, out, &r, &e) == 0, "run: %s", e.msg);
    const tl_clean_stats *man = find(&r, "man"), *dict = find(&r, "dict"), *b = find(&r, "b"), *again = find(&r, "again");
    CHECK(r.n_src == 4 && man && dict && b && again, "%d sources", r.n_src);
    if (man && dict && b && again) {
        CHECK(man->docs_in == 3 && man->docs_out == 1 && man->near_dups == 1 && man->short_docs == 1, "man");
        CHECK(dict->docs_in == 4 && dict->docs_out == 2 && dict->exact_dups == 1 && dict->bad_utf8 == 1 &&
                  dict->utf8_fixed == 1, "dict: %llu out", (unsigned long long)dict->docs_out);
        CHECK(b->docs_in == 2 && b->docs_out == 2, "b");
        CHECK(again->docs_in == 2 && again->docs_out == 0 && again->exact_dups == 2, "again");
        CHECK(r.total.docs_in == 11 && r.total.docs_out == 5, "total %llu", (unsigned long long)r.total.docs_out);
    }
    tl_clean_report_free(&r);
    char *o1 = read_all("out.jsonl");
    CHECK(o1 && !strncmp(o1, "{\"text\":\"", 9) && strstr(o1, "\"source\":\"man\"}\n") && strstr(o1, "\"source\":\"b\"}") &&
              strstr(o1, "bad \xef\xbf\xbd utf8"),
          "output: %.80s", o1 ? o1 : "(none)");
    /* deterministic */
    snprintf(out2, sizeof out2, "%s/out2.jsonl", dir);
    CHECK(tl_clean_run(in, 3, &o, out2, &r, &e) == 0, "run 2: %s", e.msg);
    tl_clean_report_free(&r);
    char *o2 = read_all("out2.jsonl");
    CHECK(o1 && o2 && !strcmp(o1, o2), "same output twice");
    free(o1), free(o2);
    /* near-duplicate removal off keeps the near copy */
    o.near_dup = 0;
    CHECK(tl_clean_run(in, 1, &o, out2, &r, &e) == 0 && r.total.docs_out == 4 && r.total.near_dups == 0, "--near-dup 0");
    tl_clean_report_free(&r);

    /* bad JSONL: file:line messages, no output file */
    static const struct {
        const char *line, *msg;
    } bad[] = {
        {"{\"text\": \"ok\"", "bad.jsonl:2: invalid JSON"},
        {"[1, 2]", "bad.jsonl:2: not a JSON object"},
        {"{\"txt\": \"x\"}", "bad.jsonl:2: no string field \"text\""},
        {"{\"text\": 5}", "bad.jsonl:2: no string field \"text\""},
        {"{\"text\": \"x\", \"source\": 3}", "bad.jsonl:2: field \"source\" is not a string"},
        {"{\"text\": \"x\", \"text\": \"y\"}", "bad.jsonl:2: invalid JSON"},
    };
    o.near_dup = 0.8;
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        snprintf(buf, sizeof buf, "{\"text\": \"%s\"}\n%s\n", d[5], bad[i].line);
        write_file("bad.jsonl", buf);
        snprintf(path, sizeof path, "%s/bad.jsonl", dir);
        snprintf(out, sizeof out, "%s/never.jsonl", dir);
        tl_clean_input bi = {path, NULL};
        e.msg[0] = 0;
        CHECK(tl_clean_run(&bi, 1, &o, out, &r, &e) == -1 && strstr(e.msg, bad[i].msg) && !strchr(e.msg, '\n'),
              "%s: message '%s'", bad[i].line, e.msg);
        tl_clean_report_free(&r);
        CHECK(access(out, F_OK) != 0, "no output after an error");
    }
    tl_clean_input missing = {"/nonexistent/x.jsonl", NULL};
    CHECK(tl_clean_run(&missing, 1, &o, out, &r, &e) == -1 && strstr(e.msg, "/nonexistent/x.jsonl"), "%s", e.msg);
    tl_clean_report_free(&r);
    CHECK(access(out, F_OK) != 0, "no output after a missing input");
    for (int i = 0; i < 6; i++) free(d[i]);
    free(near);
}

/* The CLI ($TINYLLM, set by ctest): NAME=folder and JSONL inputs, --stats, one-line errors. */
static void test_cli(void) {
    const char *tl = getenv("TINYLLM");
    if (!tl) {
        fprintf(stderr, "TINYLLM not set: CLI checks skipped\n");
        return;
    }
    char cmd[1024], *doc = words(99, 200), *doc2 = words(98, 200), buf[4096];
    if (system((snprintf(cmd, sizeof cmd, "mkdir -p %s/folder", dir), cmd))) CHECK(0, "mkdir");
    write_file("folder/1.txt", doc);
    write_file("folder/2.txt", "tiny");
    snprintf(buf, sizeof buf, "{\"text\": \"%s\", \"source\": \"j\"}\n{\"text\": \"%s\"}\n", doc, doc2);
    write_file("in.jsonl", buf);
    snprintf(cmd, sizeof cmd, "%s clean -o %s/c.jsonl --stats %s/c.tsv --min-chars 100 notes=%s/folder %s/in.jsonl > %s/stdout 2> %s/stderr",
             tl, dir, dir, dir, dir, dir, dir);
    CHECK(system(cmd) == 0, "clean CLI failed");
    char *tsv = read_all("c.tsv"), *so = read_all("stdout"), *c = read_all("c.jsonl");
    CHECK(tsv && !strncmp(tsv, "source\tdocs_in\tdocs_out\t", 24) && strstr(tsv, "\nnotes\t2\t1\t") && strstr(tsv, "\nj\t1\t0\t") &&
              strstr(tsv, "\nin\t1\t1\t") && strstr(tsv, "\ntotal\t4\t2\t"),
          "stats: %s", tsv ? tsv : "(none)");
    CHECK(so && strstr(so, "clean: 2 of 4 documents kept"), "summary: %s", so ? so : "(none)");
    CHECK(c && strstr(c, "\"source\":\"notes\"") && strstr(c, "\"source\":\"in\""), "corpus");
    free(tsv), free(so), free(c);
    write_file("bad.jsonl", "{\"text\": \"fine\"}\n{\"text\": \"x\"\n");
    snprintf(cmd, sizeof cmd, "%s clean -o %s/x.jsonl %s/bad.jsonl > /dev/null 2> %s/stderr", tl, dir, dir, dir);
    CHECK(system(cmd) != 0, "bad JSONL accepted");
    char *se = read_all("stderr");
    const char *msg = se ? strstr(se, "tinyllm: ") : NULL;
    CHECK(msg && strstr(msg, "bad.jsonl:2: invalid JSON") && strchr(msg, '\n') == msg + strlen(msg) - 1,
          "one-line error: %s", se ? se : "(none)");
    free(se);
    snprintf(cmd, sizeof cmd, "%s/x.jsonl", dir);
    CHECK(access(cmd, F_OK) != 0, "an output file after an error");
    snprintf(cmd, sizeof cmd, "%s clean -o %s/x.jsonl > /dev/null 2>&1", tl, dir);
    CHECK(system(cmd) != 0, "no inputs accepted");
    free(doc), free(doc2);
}

int main(void) {
    snprintf(dir, sizeof dir, "/tmp/test_clean.XXXXXX");
    if (!mkdtemp(dir)) return perror("mkdtemp"), 1;
    test_normalise();
    test_minhash();
    test_run();
    test_cli();
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    if (system(cmd)) fprintf(stderr, "could not remove %s\n", dir);
    CHECK_DONE();
}
