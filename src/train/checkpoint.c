/* Checkpoints: save/load model + optimizer + progress as safetensors, with an atomic manifest. */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "formats/safetensors.h"

#define CKPT_FORMAT "tinyllm.checkpoint"
#define CKPT_VERSION "1"

enum { K_N_LAYER, K_N_HEAD, K_N_EMBD, K_N_CTX, K_VOCAB, K_PADDED_VOCAB, K_STEP, K_ADAM_T, K_SHARD, K_OFFSET, K_EPOCH,
       K_RNG, K_SEED, K_BATCH, K_SEQ, K_TOTAL_BATCH, K_STEPS, K_SKIPPED, K_COUNT };
static const char *const num_keys[K_COUNT] = {"n_layer", "n_head", "n_embd", "n_ctx", "vocab", "padded_vocab",
                                              "step", "adam_t", "data_shard", "data_offset", "data_epoch",
                                              "rng_state", "seed", "batch_size", "seq_len", "total_batch",
                                              "steps", "skipped"};

int tl_ckpt_save(const char *dir, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, int keep, tl_err *e) {
    if (tl_mkdir_p(dir, e)) return -1;
    uint64_t v[K_COUNT] = {(uint64_t)m->cfg.n_layer, (uint64_t)m->cfg.n_head, (uint64_t)m->cfg.n_embd,
                           (uint64_t)m->cfg.n_ctx, (uint64_t)m->cfg.vocab, (uint64_t)m->cfg.padded_vocab,
                           st->step, opt->t, (uint64_t)st->data.shard, st->data.offset, st->data.epoch,
                           st->rng_state, st->seed, (uint64_t)st->batch_size, (uint64_t)st->seq_len,
                           (uint64_t)st->total_batch, (uint64_t)st->steps, st->skipped};
    char vals[K_COUNT][24];
    const char *keys[K_COUNT + 3], *mv[K_COUNT + 3];
    keys[0] = "format", mv[0] = CKPT_FORMAT;
    keys[1] = "format_version", mv[1] = CKPT_VERSION;
    keys[2] = "tokenizer", mv[2] = st->tokenizer;
    for (int i = 0; i < K_COUNT; i++) {
        snprintf(vals[i], sizeof vals[i], "%" PRIu64, v[i]);
        keys[3 + i] = num_keys[i];
        mv[3 + i] = vals[i];
    }
    int nt = m->n_tensors + 2;
    tl_st_tensor *ts = tl_calloc((size_t)nt, sizeof *ts, e);
    if (!ts) return -1;
    for (int i = 0; i < m->n_tensors; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        ts[i] = (tl_st_tensor){.name = (char *)t->name, .dtype = TL_ST_F32, .ndim = t->ndim,
                               .data = m->params + t->offset, .nbytes = t->numel * sizeof(float)};
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
    }
    ts[nt - 2] = (tl_st_tensor){.name = "optim.m", .dtype = TL_ST_F32, .ndim = 1, .shape = {(int64_t)opt->n},
                                .data = opt->m, .nbytes = opt->n * sizeof(float)};
    ts[nt - 1] = ts[nt - 2];
    ts[nt - 1].name = "optim.v";
    ts[nt - 1].data = opt->v;
    char path[4200], name[64];
    snprintf(name, sizeof name, "step_%08" PRIu64 ".safetensors", st->step);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    int rc = tl_st_write(path, ts, nt, keys, mv, K_COUNT + 3, e);
    free(ts);
    if (rc) return -1;

    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/latest", dir);
    tl_afile af;
    if (tl_afile_open(&af, manifest, e) || tl_afile_write(&af, name, strlen(name), e) ||
        tl_afile_write(&af, "\n", 1, e) || tl_afile_commit(&af, e)) {
        tl_afile_abort(&af);
        return -1;
    }
    /* prune: keep the newest `keep` step files (names sort by step) */
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), kept = 0;
    for (int i = n - 1; i >= 0; i--) {
        const char *f = list[i]->d_name;
        size_t len = strlen(f);
        if (!strncmp(f, "step_", 5) && len > 12 && !strcmp(f + len - 12, ".safetensors") && ++kept > keep) {
            snprintf(path, sizeof path, "%s/%s", dir, f);
            unlink(path);
        }
        free(list[i]);
    }
    if (n >= 0) free(list);
    return 0;
}

int tl_ckpt_latest(const char *dir, char *path, size_t n, tl_err *e) {
    char manifest[4200], name[256];
    snprintf(manifest, sizeof manifest, "%s/latest", dir);
    FILE *f = fopen(manifest, "r");
    if (!f) return errno == ENOENT ? 1 : tl_errf(e, "%s: cannot open: %s", manifest, strerror(errno));
    int ok = fgets(name, sizeof name, f) != NULL;
    fclose(f);
    name[strcspn(name, "\r\n")] = 0;
    size_t len = strlen(name);
    if (!ok || strncmp(name, "step_", 5) || strchr(name, '/') || len < 17 || strcmp(name + len - 12, ".safetensors"))
        return tl_errf(e, "%s: corrupt manifest (expected a step_*.safetensors name)", manifest);
    if ((size_t)snprintf(path, n, "%s/%s", dir, name) >= n) return tl_errf(e, "%s: path too long", dir);
    if (!tl_file_exists(path)) return tl_errf(e, "%s: names %s, which does not exist", manifest, name);
    return 0;
}

static int parse_u64(const tl_st_file *f, const char *path, const char *key, uint64_t *out, tl_err *e) {
    const char *s = tl_st_meta(f, key);
    if (!s) return tl_errf(e, "%s: not a tinyllm checkpoint: metadata '%s' is missing", path, key);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (!*s || *end || errno || *s == '-') return tl_errf(e, "%s: metadata '%s' = '%s' is not a number", path, key, s);
    *out = v;
    return 0;
}

int tl_ckpt_load(const char *path, tl_gpt2 *m, tl_adamw *opt, tl_train_state *st, tl_err *e) {
    char file[4200];
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        int r = tl_ckpt_latest(path, file, sizeof file, e);
        if (r > 0) return tl_errf(e, "%s: no checkpoint here (no 'latest' manifest)", path);
        if (r < 0) return -1;
    } else {
        snprintf(file, sizeof file, "%s", path);
    }
    tl_st_file f;
    if (tl_st_open(&f, file, e)) return -1;
    uint64_t v[K_COUNT];
    int rc = 0;
    const char *fmt = tl_st_meta(&f, "format"), *ver = tl_st_meta(&f, "format_version");
    if (!fmt || strcmp(fmt, CKPT_FORMAT)) rc = tl_errf(e, "%s: not a tinyllm checkpoint (metadata format is not '%s')", file, CKPT_FORMAT);
    else if (!ver || strcmp(ver, CKPT_VERSION))
        rc = tl_errf(e, "%s: checkpoint format_version '%s' is not supported (this build reads %s)", file, ver ? ver : "", CKPT_VERSION);
    for (int i = 0; i < K_COUNT && !rc; i++) rc = parse_u64(&f, file, num_keys[i], &v[i], e);
    if (rc) goto done;
    for (int i = K_N_LAYER; i <= K_PADDED_VOCAB; i++)
        if (v[i] > 1u << 30) {
            rc = tl_errf(e, "%s: metadata '%s' = %" PRIu64 " is out of range", file, num_keys[i], v[i]);
            goto done;
        }
    tl_gpt2_config c = {(int)v[K_N_LAYER], (int)v[K_N_HEAD], (int)v[K_N_EMBD], (int)v[K_N_CTX], (int)v[K_VOCAB],
                        (int)v[K_PADDED_VOCAB]};
    if (tl_gpt2_config_check(&c, e)) {
        rc = tl_err_wrap(e, "%s", file);
        goto done;
    }
    if ((rc = tl_gpt2_init(m, &c, e))) goto done;
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        const tl_st_tensor *s = tl_st_find(&f, t->name);
        if (!s) rc = tl_errf(e, "%s: tensor '%s' is missing", file, t->name);
        else if (s->dtype != TL_ST_F32 || s->nbytes != t->numel * sizeof(float) || s->ndim != t->ndim ||
                 s->shape[0] != t->shape[0] || (t->ndim > 1 && s->shape[1] != t->shape[1]))
            rc = tl_errf(e, "%s: tensor '%s' has the wrong dtype or shape for this model config", file, t->name);
        else memcpy(m->params + t->offset, s->data, s->nbytes);
    }
    if (!rc && opt) {
        const tl_st_tensor *tm = tl_st_find(&f, "optim.m"), *tv = tl_st_find(&f, "optim.v");
        size_t bytes = m->n_params * sizeof(float);
        if (!tm || !tv || tm->dtype != TL_ST_F32 || tv->dtype != TL_ST_F32 || tm->nbytes != bytes || tv->nbytes != bytes)
            rc = tl_errf(e, "%s: optimizer state 'optim.m'/'optim.v' missing or of the wrong size", file);
        else if (!(rc = tl_adamw_init(opt, m->n_params, opt->beta1, opt->beta2, opt->eps, opt->weight_decay, e))) {
            memcpy(opt->m, tm->data, bytes);
            memcpy(opt->v, tv->data, bytes);
            opt->t = v[K_ADAM_T];
        }
    }
    if (!rc && st) {
        *st = (tl_train_state){.step = v[K_STEP], .data = {(int)v[K_SHARD], v[K_OFFSET], v[K_EPOCH]},
                               .rng_state = v[K_RNG], .seed = v[K_SEED], .batch_size = (int)v[K_BATCH],
                               .seq_len = (int)v[K_SEQ], .total_batch = (long long)v[K_TOTAL_BATCH],
                               .steps = (int)v[K_STEPS], .skipped = v[K_SKIPPED]};
        const char *tok = tl_st_meta(&f, "tokenizer");
        snprintf(st->tokenizer, sizeof st->tokenizer, "%s", tok ? tok : "gpt2");
    }
    if (rc) tl_gpt2_free(m);
done:
    tl_st_close(&f);
    return rc;
}
