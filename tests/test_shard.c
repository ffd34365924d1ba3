/* Token shards: round trip in both versions, and every malformed file rejected with a clear message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data/shard.h"

static void write_bytes(const char *path, const void *p, size_t n) {
    FILE *f = fopen(path, "wb");
    fwrite(p, 1, n, f);
    fclose(f);
}

static void put32(unsigned char *p, uint32_t v) {
    for (int i = 0; i < 4; i++) p[i] = (unsigned char)(v >> (8 * i));
}

/* A version-1 shard of n tokens 0..n-1 as raw bytes, built independently of the writer. */
static size_t make_v1(unsigned char *buf, uint32_t magic, uint32_t version, uint32_t count, int n) {
    memset(buf, 0, 1024);
    put32(buf, magic);
    put32(buf + 4, version);
    put32(buf + 8, count);
    for (int i = 0; i < n; i++) buf[1024 + 2 * i] = (unsigned char)i, buf[1024 + 2 * i + 1] = 0;
    return 1024 + 2 * (size_t)n;
}

int main(void) {
    tl_err e;
    tl_shard s;
    unsigned char raw[1024 + 64];

    /* the writer's bytes equal the layout built by hand */
    int32_t ids[10];
    for (int i = 0; i < 10; i++) ids[i] = i;
    tl_shard_writer w;
    CHECK(tl_shard_writer_open(&w, "t_v1.bin", 50257, &e) == 0, "%s", e.msg);
    CHECK(tl_shard_writer_push(&w, ids, 10, &e) == 0, "%s", e.msg);
    CHECK(access("t_v1.bin", F_OK) != 0, "file visible before commit");
    CHECK(tl_shard_writer_commit(&w, &e) == 0, "%s", e.msg);
    size_t n = make_v1(raw, 20240520, 1, 10, 10);
    FILE *f = fopen("t_v1.bin", "rb");
    unsigned char got[sizeof raw];
    size_t gn = fread(got, 1, sizeof got, f);
    fclose(f);
    CHECK(gn == n && memcmp(got, raw, n) == 0, "writer bytes differ from the llm.c layout");
    CHECK(tl_shard_open(&s, "t_v1.bin", 50257, &e) == 0, "%s", e.msg);
    CHECK(s.version == 1 && s.n_tokens == 10 && tl_shard_get(&s, 9) == 9, "read back");
    tl_shard_close(&s);

    /* version 2 for vocabularies over 65,536 ids */
    int32_t big[3] = {0, 70000, 100000};
    CHECK(tl_shard_writer_open(&w, "t_v2.bin", 200000, &e) == 0, "%s", e.msg);
    CHECK(tl_shard_writer_push(&w, big, 3, &e) == 0 && tl_shard_writer_commit(&w, &e) == 0, "%s", e.msg);
    CHECK(tl_shard_open(&s, "t_v2.bin", 200000, &e) == 0, "%s", e.msg);
    CHECK(s.version == 2 && tl_shard_get(&s, 1) == 70000 && tl_shard_get(&s, 2) == 100000, "v2 read back");
    tl_shard_close(&s);

    /* abort leaves nothing */
    CHECK(tl_shard_writer_open(&w, "t_abort.bin", 100, &e) == 0, "%s", e.msg);
    tl_shard_writer_abort(&w);
    CHECK(access("t_abort.bin", F_OK) != 0, "aborted shard exists");

    struct {
        const char *what, *expect;
        uint32_t magic, version, count;
        int n, vocab;
    } bad[] = {
        {"wrong magic", "magic", 12345, 1, 10, 10, 0},
        {"bad version", "version 3", 20240520, 3, 10, 10, 0},
        {"count larger than data", "truncated", 20240520, 1, 11, 10, 0},
        {"count smaller than data", "truncated", 20240520, 1, 9, 10, 0},
        {"token outside vocabulary", "outside the vocabulary", 20240520, 1, 10, 10, 5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        n = make_v1(raw, bad[i].magic, bad[i].version, bad[i].count, bad[i].n);
        write_bytes("t_bad.bin", raw, n);
        int rc = tl_shard_open(&s, "t_bad.bin", bad[i].vocab, &e);
        CHECK(rc == -1 && strstr(e.msg, bad[i].expect) && strstr(e.msg, "t_bad.bin"), "%s: got '%s'", bad[i].what,
              rc ? e.msg : "success");
    }
    write_bytes("t_bad.bin", raw, 100);
    CHECK(tl_shard_open(&s, "t_bad.bin", 0, &e) == -1 && strstr(e.msg, "shorter than"), "short file: %s", e.msg);
    write_bytes("t_bad.bin", "", 0);
    CHECK(tl_shard_open(&s, "t_bad.bin", 0, &e) == -1 && strstr(e.msg, "shorter than"), "empty file: %s", e.msg);
    CHECK(tl_shard_open(&s, "t_missing.bin", 0, &e) == -1 && strstr(e.msg, "t_missing.bin: cannot open"), "%s", e.msg);
    unlink("t_v1.bin");
    unlink("t_v2.bin");
    unlink("t_bad.bin");
    CHECK_DONE();
}
