/* Batch loader over token shards: sequential B x T windows with a saveable position. */
#include "data/loader.h"

#include <glob.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int is_dir(const char *p) {
    struct stat st;
    return stat(p, &st) == 0 && S_ISDIR(st.st_mode);
}

int tl_loader_init(tl_loader *l, const char *pattern, const char *split, int B, int T, int vocab, tl_err *e) {
    memset(l, 0, sizeof *l);
    l->B = B;
    l->T = T;
    char pat[4200];
    if (is_dir(pattern)) snprintf(pat, sizeof pat, "%s/%s_*.bin", pattern, split);
    else snprintf(pat, sizeof pat, "%s", pattern);
    glob_t g;
    int gr = glob(pat, 0, NULL, &g);
    if (gr != 0 || g.gl_pathc == 0) {
        if (gr == 0) globfree(&g);
        return tl_errf(e, "%s: no %s shards found (run 'tinyllm prepare' first)", pat, split);
    }
    int rc = 0;
    l->shards = tl_calloc(g.gl_pathc, sizeof *l->shards, e);
    l->inputs = tl_calloc((size_t)B * T, sizeof *l->inputs, e);
    l->targets = tl_calloc((size_t)B * T, sizeof *l->targets, e);
    if (!l->shards || !l->inputs || !l->targets) rc = -1;
    for (size_t i = 0; i < g.gl_pathc && !rc; i++) {
        if (tl_shard_open(&l->shards[i], g.gl_pathv[i], vocab, e)) {
            rc = -1;
            break;
        }
        l->n_shards++;
        if (l->shards[i].n_tokens < (uint64_t)B * T + 1)
            rc = tl_errf(e,
                         "%s: %llu tokens, too few for one batch of --batch-size %d x --seq-len %d (+1); "
                         "lower them or prepare more data",
                         g.gl_pathv[i], (unsigned long long)l->shards[i].n_tokens, B, T);
    }
    globfree(&g);
    if (rc) tl_loader_free(l);
    return rc;
}

void tl_loader_free(tl_loader *l) {
    for (int i = 0; i < l->n_shards; i++) tl_shard_close(&l->shards[i]);
    free(l->shards);
    free(l->inputs);
    free(l->targets);
    memset(l, 0, sizeof *l);
}

void tl_loader_next(tl_loader *l) {
    uint64_t need = (uint64_t)l->B * l->T + 1;
    if (l->pos.offset + need > l->shards[l->pos.shard].n_tokens) {
        l->pos.offset = 0;
        if (++l->pos.shard == l->n_shards) {
            l->pos.shard = 0;
            l->pos.epoch++;
        }
    }
    const tl_shard *s = &l->shards[l->pos.shard];
    for (uint64_t i = 0; i + 1 < need; i++) {
        l->inputs[i] = (int32_t)tl_shard_get(s, l->pos.offset + i);
        l->targets[i] = (int32_t)tl_shard_get(s, l->pos.offset + i + 1);
    }
    l->pos.offset += need - 1;
}

int tl_loader_seek(tl_loader *l, tl_loader_pos pos, tl_err *e) {
    if (pos.shard < 0 || pos.shard >= l->n_shards || pos.offset > l->shards[pos.shard].n_tokens)
        return tl_errf(e, "data position (shard %d, offset %llu) does not exist in the %d shards given", pos.shard,
                       (unsigned long long)pos.offset, l->n_shards);
    l->pos = pos;
    return 0;
}

uint64_t tl_loader_total_tokens(const tl_loader *l) {
    uint64_t n = 0;
    for (int i = 0; i < l->n_shards; i++) n += l->shards[i].n_tokens;
    return n;
}
