/* Fine-tuning examples: tokens are <|endoftext|> + encode(prompt) + encode(response) (the tokenizer
 * is checked against tiktoken elsewhere), targets are exactly the response tokens (everything
 * else -1), every example appears once per epoch, order depends only on (seed, epoch), a seek
 * reproduces the same batches, and bad files fail with file:line. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "data/examples.h"

static const char *P[] = {"### Instruction:\nSay hi.\n\n### Input:\n1 2 3\n\n### Response:\n",
                          "### Instruction:\nCount.\n\n### Input:\n4.5, 6.75\n\n### Response:\n",
                          "### Instruction:\nLonger input here with many words to make it long.\n\n### Input:\nx\n\n### Response:\n"};
static const char *R[] = {"Hi\n\n### End", "Two\n\n### End", "Tap\n\n### End"};

static void write_file(const char *path, const char *text) {
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

int main(void) {
    tl_bpe *bpe;
    tl_err e;
    if (tl_bpe_load_gpt2_default(&bpe, &e)) {
        fprintf(stderr, "skip: %s\n", e.msg);
        return 77;
    }
    char dir[] = "/tmp/tl_examples_XXXXXX", path[256];
    if (!mkdtemp(dir)) return 1;
    snprintf(path, sizeof path, "%s/ex.jsonl", dir);
    FILE *f = fopen(path, "w");
    for (int rep = 0; rep < 7; rep++) /* 21 examples: 3 distinct, repeated */
        for (int i = 0; i < 3; i++) {
            fprintf(f, "{\"prompt\": \"");
            for (const char *c = P[i]; *c; c++) fprintf(f, *c == '\n' ? "\\n" : "%c", *c);
            fprintf(f, "\", \"response\": \"");
            for (const char *c = R[i]; *c; c++) fprintf(f, *c == '\n' ? "\\n" : "%c", *c);
            fprintf(f, "\"}\n");
        }
    fclose(f);
    tl_examples x;
    CHECK(tl_examples_load(&x, path, "train", NULL, bpe, 1024, &e) == 0, "%s", e.msg);
    CHECK(x.n == 21, "%d examples", x.n);
    uint64_t resp_total = 0;
    for (int i = 0; i < x.n; i++) { /* tokens: EOT + prompt + response, encoded separately */
        tl_ivec p = {0}, r = {0};
        tl_bpe_encode(bpe, P[i % 3], strlen(P[i % 3]), &p, &e);
        tl_bpe_encode(bpe, R[i % 3], strlen(R[i % 3]), &r, &e);
        const tl_example *ex = &x.ex[i];
        const int32_t *t = x.tokens + ex->off;
        int ok = ex->n == (int)(1 + p.n + r.n) && ex->n_prompt == (int)(1 + p.n) && t[0] == tl_bpe_eot(bpe) &&
                 !memcmp(t + 1, p.v, p.n * 4) && !memcmp(t + 1 + p.n, r.v, r.n * 4);
        CHECK(ok, "example %d tokens", i);
        resp_total += r.n;
        tl_ivec_free(&p);
        tl_ivec_free(&r);
    }
    CHECK(x.response_tokens == resp_total, "response tokens %llu vs %llu", (unsigned long long)x.response_tokens,
          (unsigned long long)resp_total);

    tl_batcher b, c;
    CHECK(tl_batcher_init(&b, &x, 4, 7, &e) == 0, "%s", e.msg);
    CHECK(b.n_batches == 6, "21 examples in batches of 4: %d batches", b.n_batches);
    int seen[21] = {0};
    uint64_t counted = 0;
    int32_t saved[4 * 1024];
    int saved_B = 0, saved_T = 0;
    for (int k = 0; k < b.n_batches; k++) {
        tl_batcher_next(&b);
        for (int i = 0; i < b.cur_B; i++) {
            const int32_t *in = b.inputs + i * b.cur_T, *tg = b.targets + i * b.cur_T;
            int id = -1; /* find the example this row holds: same tokens */
            for (int j = 0; j < x.n && id < 0; j++)
                if (!seen[j] && x.ex[j].n - 1 <= b.cur_T && !memcmp(in, x.tokens + x.ex[j].off, 4 * (x.ex[j].n - 1))) id = j;
            CHECK(id >= 0, "batch %d row %d matches no unseen example", k, i);
            if (id < 0) continue;
            seen[id] = 1;
            const tl_example *ex = &x.ex[id];
            const int32_t *t = x.tokens + ex->off;
            for (int s = 0; s < b.cur_T; s++) {
                int want = s + 1 < ex->n && s + 1 >= ex->n_prompt ? t[s + 1] : -1;
                if (tg[s] != want) {
                    CHECK(0, "batch %d row %d position %d: target %d, want %d", k, i, s, tg[s], want);
                    break;
                }
                counted += tg[s] >= 0;
            }
        }
        if (k == 3) {
            saved_B = b.cur_B, saved_T = b.cur_T;
            memcpy(saved, b.inputs, sizeof(int32_t) * (size_t)(b.cur_B * b.cur_T));
        }
    }
    int all = 1;
    for (int i = 0; i < 21; i++) all &= seen[i];
    CHECK(all, "an example was not seen in the epoch");
    CHECK(counted == resp_total, "targets counted %llu, response tokens %llu", (unsigned long long)counted, (unsigned long long)resp_total);
    CHECK(b.pos.epoch == 1 && b.pos.shard == 0, "epoch wraps");
    /* a fresh batcher seeked to (epoch 0, batch 3) hands out the same batch */
    CHECK(tl_batcher_init(&c, &x, 4, 7, &e) == 0, "%s", e.msg);
    CHECK(tl_batcher_seek(&c, (tl_loader_pos){3, 0, 0}, &e) == 0, "%s", e.msg);
    tl_batcher_next(&c);
    CHECK(c.cur_B == saved_B && c.cur_T == saved_T && !memcmp(c.inputs, saved, sizeof(int32_t) * (size_t)(saved_B * saved_T)),
          "seek does not reproduce batch 3");
    CHECK(tl_batcher_seek(&c, (tl_loader_pos){6, 0, 0}, &e) == -1, "seek past the last batch must fail");
    CHECK(b.padded >= b.real && b.real > 0, "padding accounting");
    tl_batcher_free(&b);
    tl_batcher_free(&c);
    tl_examples_free(&x);

    /* bad files */
    struct {
        const char *text, *want;
    } bad[] = {{"{\"prompt\": \"a\"}\n", "ex.jsonl:1: expected an object with string fields"},
               {"{\"prompt\": \"a\", \"response\": \"b\"}\n{\"prompt\": \"a\", \"response\": \"\"}\n", "ex.jsonl:2: empty response"},
               {"{\"prompt\": \"a\", \"response\": \"b\", \"response\": \"c\"}\n", "ex.jsonl:1: invalid JSON"},
               {"\n\n", "no examples"},
               {"{\"prompt\": \"word word word word word word word word word word\", \"response\": \"b\"}\n", "longer than the model's context of 8"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        write_file(path, bad[i].text);
        int r = tl_examples_load(&x, path, "train", NULL, bpe, 8, &e);
        CHECK(r == -1 && strstr(e.msg, bad[i].want), "bad file %zu: got '%s', want '%s'", i, r ? e.msg : "(accepted)", bad[i].want);
    }
    unlink(path);
    rmdir(dir);
    tl_bpe_free(bpe);
    CHECK_DONE();
}
