/* Fine-tuning examples: loading (JSONL / task CSV / prepare folder), tokenizing, length-grouped batches. */
#include "data/examples.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "base/rng.h"
#include "data/taskcsv.h"

/* Appends one example: EOT, the prompt's tokens, the response's tokens. */
static int add(tl_examples *x, const tl_bpe *bpe, const char *p, size_t np, const char *r, size_t nr, int max_len,
               const char *path, long line, tl_err *e) {
    if (nr == 0) return tl_errf(e, "%s:%ld: empty response: nothing to learn from this example", path, line);
    if (x->n == x->ex_cap) {
        int cap = x->ex_cap ? 2 * x->ex_cap : 256;
        tl_example *ex = realloc(x->ex, sizeof *ex * (size_t)cap);
        if (!ex) return tl_errf(e, "%s: out of memory", path);
        x->ex = ex;
        x->ex_cap = cap;
    }
    tl_ivec ids = {.v = x->tokens, .n = x->n_tokens, .cap = x->cap};
    int rc = tl_ivec_push(&ids, tl_bpe_eot(bpe), e) || tl_bpe_encode(bpe, p, np, &ids, e);
    size_t after_prompt = ids.n;
    rc = rc || tl_bpe_encode(bpe, r, nr, &ids, e);
    x->tokens = ids.v;
    x->cap = ids.cap;
    if (rc) return -1;
    size_t n = ids.n - x->n_tokens;
    if (n > (size_t)max_len)
        return tl_errf(e, "%s:%ld: example of %zu tokens is longer than the model's context of %d (shorten the input, or "
                          "round numbers with the task's `numbers` setting)", path, line, n, max_len);
    x->ex[x->n++] = (tl_example){x->n_tokens, (int)n, (int)(after_prompt - x->n_tokens)};
    x->response_tokens += ids.n - after_prompt;
    x->n_tokens = ids.n;
    if ((int)n > x->max_len) x->max_len = (int)n;
    return 0;
}

static int load_jsonl(tl_examples *x, const char *path, const tl_bpe *bpe, int max_len, tl_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return tl_errf(e, "%s: cannot open: %s", path, strerror(errno));
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    long lineno = 0;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        lineno++;
        if (strspn(line, " \t\r\n") == (size_t)n) continue;
        json_error_t je;
        json_t *j = json_loadb(line, (size_t)n, JSON_REJECT_DUPLICATES, &je);
        json_t *p = json_object_get(j, "prompt"), *r = json_object_get(j, "response");
        if (!j) rc = tl_errf(e, "%s:%ld: invalid JSON: %s", path, lineno, je.text);
        else if (!json_is_string(p) || !json_is_string(r))
            rc = tl_errf(e, "%s:%ld: expected an object with string fields \"prompt\" and \"response\"", path, lineno);
        else rc = add(x, bpe, json_string_value(p), json_string_length(p), json_string_value(r), json_string_length(r), max_len, path, lineno, e);
        json_decref(j);
    }
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error", path);
    free(line);
    fclose(f);
    return rc;
}

static int load_csv(tl_examples *x, const char *path, const tl_task *t, const tl_bpe *bpe, int max_len, tl_err *e) {
    if (!t) return tl_errf(e, "%s: CSV examples need a task spec (--task FILE; see tasks/)", path);
    tl_task_csv *c;
    if (tl_task_csv_open(&c, path, t, e)) return -1;
    tl_task_row r;
    int got;
    while ((got = tl_task_csv_next(c, &r, e)) > 0)
        if (add(x, bpe, r.prompt->p, r.prompt->n, r.response->p, r.response->n, max_len, path, r.line, e)) {
            got = -1;
            break;
        }
    tl_task_csv_close(c);
    return got;
}

int tl_examples_load(tl_examples *x, const char *path, const char *split, const tl_task *task, const tl_bpe *bpe,
                     int max_len, tl_err *e) {
    memset(x, 0, sizeof *x);
    struct stat sb;
    char file[4200];
    size_t len = strlen(path);
    int rc;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        snprintf(file, sizeof file, "%s/finetune_%s.jsonl", path, split);
        if (!tl_file_exists(file)) return tl_errf(e, "%s: no finetune_%s.jsonl here (write it with 'tinyllm prepare --task ... FILE.csv')", path, split);
        rc = load_jsonl(x, file, bpe, max_len, e);
    } else if (len > 4 && !strcmp(path + len - 4, ".csv")) {
        rc = load_csv(x, path, task, bpe, max_len, e);
    } else {
        rc = load_jsonl(x, path, bpe, max_len, e);
    }
    if (!rc && x->n == 0) rc = tl_errf(e, "%s: no examples", path);
    if (rc) tl_examples_free(x);
    return rc;
}

void tl_examples_free(tl_examples *x) {
    free(x->tokens);
    free(x->ex);
    memset(x, 0, sizeof *x);
}

/* ---- batches ---- */

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Sorts example ids by length (ties by id): keys are (length << 32 | id). */
static void sort_by_len(const tl_examples *x, int *ids, int n, uint64_t *keys) {
    for (int i = 0; i < n; i++) keys[i] = (uint64_t)x->ex[ids[i]].n << 32 | (uint32_t)ids[i];
    qsort(keys, (size_t)n, sizeof *keys, cmp_u64);
    for (int i = 0; i < n; i++) ids[i] = (int)(keys[i] & 0xffffffffu);
}

static int chunk_size(const tl_batcher *b) { return 32 * b->B; }

/* n_batches: 32 per full chunk, then ceil(rest / B). */
static int count_batches(int n, int B) { return n / (32 * B) * 32 + (n % (32 * B) + B - 1) / B; }

/* Lays out epoch `epoch`: permutation, chunks sorted by length, batches in shuffled order. */
static void build_epoch(tl_batcher *b, uint64_t epoch) {
    const tl_examples *x = b->x;
    int n = x->n, B = b->B, nb = b->n_batches, *perm = b->perm, *bstart = b->bstart, *border = b->border;
    tl_rng r;
    tl_rng_seed(&r, b->seed ^ (epoch * 0x9e3779b97f4a7c15ULL));
    for (int i = 0; i < n; i++) perm[i] = i;
    for (int i = n - 1; i > 0; i--) {
        int j = (int)tl_rng_below(&r, (uint64_t)i + 1), t = perm[i];
        perm[i] = perm[j];
        perm[j] = t;
    }
    int k = 0;
    for (int c0 = 0; c0 < n; c0 += chunk_size(b)) {
        int cn = n - c0 < chunk_size(b) ? n - c0 : chunk_size(b);
        sort_by_len(x, perm + c0, cn, b->keys);
        for (int i = 0; i < cn; i += B) bstart[k++] = c0 + i;
    }
    bstart[nb] = n;
    for (int i = 0; i < nb; i++) border[i] = i;
    for (int i = nb - 1; i > 0; i--) {
        int j = (int)tl_rng_below(&r, (uint64_t)i + 1), t = border[i];
        border[i] = border[j];
        border[j] = t;
    }
    int o = 0;
    for (int i = 0; i < nb; i++) { /* batch i of the epoch is the border[i]-th batch laid out */
        b->starts[i] = o;
        for (int j = bstart[border[i]]; j < bstart[border[i] + 1]; j++) b->order[o++] = perm[j];
    }
    b->starts[nb] = o;
}

int tl_batcher_init(tl_batcher *b, const tl_examples *x, int B, uint64_t seed, tl_err *e) {
    memset(b, 0, sizeof *b);
    if (B < 1 || B > 4096) return tl_errf(e, "--batch-size must be in 1..4096");
    b->x = x;
    b->B = B < x->n ? B : x->n;
    b->seed = seed;
    b->n_batches = count_batches(x->n, b->B);
    size_t n = (size_t)x->n, nb = (size_t)b->n_batches;
    b->order = tl_calloc(n, sizeof *b->order, e);
    b->sorted = tl_calloc(n, sizeof *b->sorted, e);
    b->perm = tl_calloc(n, sizeof *b->perm, e);
    b->keys = tl_calloc(n, sizeof *b->keys, e);
    b->starts = tl_calloc(nb + 1, sizeof *b->starts, e);
    b->bstart = tl_calloc(nb + 1, sizeof *b->bstart, e);
    b->border = tl_calloc(nb, sizeof *b->border, e);
    b->inputs = tl_calloc((size_t)b->B * (size_t)x->max_len, sizeof *b->inputs, e);
    b->targets = tl_calloc((size_t)b->B * (size_t)x->max_len, sizeof *b->targets, e);
    b->cur_ids = tl_calloc((size_t)b->B, sizeof *b->cur_ids, e);
    if (!b->order || !b->sorted || !b->perm || !b->keys || !b->starts || !b->bstart || !b->border || !b->inputs || !b->targets ||
        !b->cur_ids) {
        tl_batcher_free(b);
        return -1;
    }
    for (int i = 0; i < x->n; i++) b->sorted[i] = i;
    sort_by_len(x, b->sorted, x->n, b->keys);
    build_epoch(b, 0);
    return 0;
}

void tl_batcher_free(tl_batcher *b) {
    int **a[] = {&b->order, &b->sorted, &b->perm, &b->starts, &b->bstart, &b->border, &b->cur_ids};
    for (size_t i = 0; i < sizeof a / sizeof *a; i++) free(*a[i]);
    free(b->keys);
    free(b->inputs);
    free(b->targets);
    memset(b, 0, sizeof *b);
}

/* Pads examples ids[0..n) into inputs/targets [n, T], T the longest (tokens - 1). */
static void fill(tl_batcher *b, const int *ids, int n) {
    const tl_examples *x = b->x;
    int T = 1;
    for (int i = 0; i < n; i++)
        if (x->ex[ids[i]].n - 1 > T) T = x->ex[ids[i]].n - 1;
    for (int i = 0; i < n; i++) {
        const tl_example *ex = &x->ex[ids[i]];
        const int32_t *seq = x->tokens + ex->off;
        int32_t *in = b->inputs + (long)i * T, *tg = b->targets + (long)i * T;
        b->cur_ids[i] = ids[i];
        for (int t = 0; t < T; t++) {
            int real = t < ex->n - 1;
            in[t] = real ? seq[t] : seq[0];
            tg[t] = real && t + 1 >= ex->n_prompt ? seq[t + 1] : -1;
        }
        b->real += (uint64_t)ex->n - 1;
    }
    b->padded += (uint64_t)n * (uint64_t)T;
    b->cur_B = n;
    b->cur_T = T;
}

void tl_batcher_next(tl_batcher *b) {
    int i = b->pos.shard;
    fill(b, b->order + b->starts[i], b->starts[i + 1] - b->starts[i]);
    if (++b->pos.shard == b->n_batches) {
        b->pos.shard = 0;
        build_epoch(b, ++b->pos.epoch);
    }
}

int tl_batcher_seek(tl_batcher *b, tl_loader_pos pos, tl_err *e) {
    if (pos.shard < 0 || pos.shard >= b->n_batches || pos.offset != 0)
        return tl_errf(e, "checkpoint data position (batch %d) does not fit these examples (%d batches of %d): "
                          "fine-tune on the same data with the same --batch-size", pos.shard, b->n_batches, b->B);
    b->pos = pos;
    build_epoch(b, pos.epoch);
    return 0;
}

void tl_batcher_fixed(tl_batcher *b, int i) {
    int n = b->x->n - i * b->B < b->B ? b->x->n - i * b->B : b->B;
    fill(b, b->sorted + (long)i * b->B, n);
}
