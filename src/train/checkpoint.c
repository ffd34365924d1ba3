/* Checkpoints: save/load model + optimizer + progress as safetensors, with an atomic manifest. */
#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "formats/safetensors.h"
#include "model/lora.h"

#define CKPT_FORMAT "tinyllm.checkpoint"
#define CKPT_VERSION "1"

enum { K_N_LAYER, K_N_HEAD, K_N_EMBD, K_N_CTX, K_VOCAB, K_PADDED_VOCAB, K_STEP, K_ADAM_T, K_SHARD, K_OFFSET, K_EPOCH,
       K_RNG, K_SEED, K_BATCH, K_SEQ, K_TOTAL_BATCH, K_STEPS, K_SKIPPED, K_COUNT };
static const char *const num_keys[K_COUNT] = {"n_layer", "n_head", "n_embd", "n_ctx", "vocab", "padded_vocab",
                                              "step", "adam_t", "data_shard", "data_offset", "data_epoch",
                                              "rng_state", "seed", "batch_size", "seq_len", "total_batch",
                                              "steps", "skipped"};

uint64_t tl_ckpt_model_hash(const tl_gpt2 *m) {
    const tl_gpt2_config *c = &m->cfg;
    uint64_t h = 0xcbf29ce484222325ULL;
    int dims[6] = {c->n_layer, c->n_head, c->n_embd, c->n_ctx, c->vocab, c->padded_vocab};
    for (int i = 0; i < 6; i++) h = (h ^ (uint64_t)dims[i]) * 0x100000001b3ULL;
    for (size_t i = 0; i < m->n_params; i++) { /* word-wise FNV-1a with a final avalanche */
        uint32_t w;
        memcpy(&w, &m->params[i], sizeof w); /* the float's bits (no aliasing cast) */
        h = (h ^ w) * 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    return h ^ (h >> 33);
}

/* Index of the first non-finite value of x[0..n), or n. */
static size_t first_nonfinite(const float *x, size_t n) {
    size_t i = 0;
    while (i < n && isfinite(x[i])) i++;
    return i;
}

int tl_ckpt_write(const char *path, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, tl_err *e) {
    const tl_lora *lo = m->lora;
    uint64_t v[K_COUNT] = {(uint64_t)m->cfg.n_layer, (uint64_t)m->cfg.n_head, (uint64_t)m->cfg.n_embd,
                           (uint64_t)m->cfg.n_ctx, (uint64_t)m->cfg.vocab, (uint64_t)m->cfg.padded_vocab,
                           st->step, opt ? opt->t : 0, (uint64_t)st->data.shard, st->data.offset, st->data.epoch,
                           st->rng_state, st->seed, (uint64_t)st->batch_size, (uint64_t)st->seq_len,
                           (uint64_t)st->total_batch, (uint64_t)st->steps, st->skipped};
    enum { MAXK = K_COUNT + 16 };
    char vals[MAXK][72];
    const char *keys[MAXK], *mv[MAXK];
    int nk = 0;
#define META(k, ...) (keys[nk] = (k), snprintf(vals[nk], sizeof vals[nk], __VA_ARGS__), mv[nk] = vals[nk], nk++)
    META("format", "%s", CKPT_FORMAT);
    META("format_version", "%s", CKPT_VERSION);
    META("tokenizer", "%s", st->tokenizer);
    META("kind", "%s", lo ? "lora" : "model");
    for (int i = 0; i < K_COUNT; i++) META(num_keys[i], "%" PRIu64, v[i]);
    META("best_step", "%" PRIu64, st->best_step);
    META("stale", "%" PRIu64, st->stale);
    META("best_val", "%.9g", st->best_val);
    if (lo) {
        char targets[64];
        tl_lora_targets_str(lo->cfg.targets, targets, sizeof targets);
        META("lora_rank", "%d", lo->cfg.rank);
        META("lora_alpha", "%.9g", (double)lo->cfg.alpha);
        META("lora_dropout", "%.9g", (double)lo->cfg.dropout);
        META("lora_targets", "%s", targets);
        if (lo->cfg.layers) META("lora_layers", "%d", lo->cfg.layers); /* absent: every block (older files too) */
        META("base_hash", "%016" PRIx64, tl_ckpt_model_hash(m));
    }
#undef META
    const tl_tensor_info *tab = lo ? lo->tensors : m->tensors;
    const float *params = lo ? lo->params : m->params;
    int n = lo ? lo->n_tensors : m->n_tensors, nt = n + (opt ? 2 : 0);
    /* a non-finite value is never saved (the trainer skips such updates; this holds it for any caller) */
    for (int i = 0; i < n; i++)
        if (first_nonfinite(params + tab[i].offset, tab[i].numel) < tab[i].numel)
            return tl_errf(e, "%s: not written: tensor '%s' holds a non-finite value", path, tab[i].name);
    if (opt && (first_nonfinite(opt->m, opt->n) < opt->n || first_nonfinite(opt->v, opt->n) < opt->n))
        return tl_errf(e, "%s: not written: the AdamW moments hold a non-finite value", path);
    tl_st_tensor *ts = tl_calloc((size_t)nt, sizeof *ts, e);
    if (!ts) return -1;
    for (int i = 0; i < n; i++) {
        const tl_tensor_info *t = &tab[i];
        ts[i] = (tl_st_tensor){.name = (char *)t->name, .dtype = TL_ST_F32, .ndim = t->ndim,
                               .data = (void *)(params + t->offset), .nbytes = t->numel * sizeof(float)};
        for (int d = 0; d < t->ndim; d++) ts[i].shape[d] = t->shape[d];
    }
    if (opt) {
        ts[n] = (tl_st_tensor){.name = "optim.m", .dtype = TL_ST_F32, .ndim = 1, .shape = {(int64_t)opt->n},
                               .data = opt->m, .nbytes = opt->n * sizeof(float)};
        ts[n + 1] = ts[n];
        ts[n + 1].name = "optim.v";
        ts[n + 1].data = opt->v;
    }
    int rc = tl_st_write(path, ts, nt, keys, mv, nk, e);
    free(ts);
    return rc;
}

int tl_ckpt_save(const char *dir, const tl_gpt2 *m, const tl_adamw *opt, const tl_train_state *st, int keep, tl_err *e) {
    if (tl_mkdir_p(dir, e)) return -1;
    char path[4200], name[64];
    snprintf(name, sizeof name, "step_%08" PRIu64 ".safetensors", st->step);
    snprintf(path, sizeof path, "%s/%s", dir, name);
    if (tl_ckpt_write(path, m, opt, st, e)) return -1;

    char manifest[4200];
    snprintf(manifest, sizeof manifest, "%s/latest", dir);
    tl_afile af;
    if (tl_afile_open(&af, manifest, e) || tl_afile_write(&af, name, strlen(name), e) ||
        tl_afile_write(&af, "\n", 1, e) || tl_afile_commit(&af, e)) {
        tl_afile_abort(&af);
        return -1;
    }
    /* prune: keep the newest `keep` step files (names sort by step), and remove the temp files of
     * saves a crash interrupted (ours are renamed by now; one run writes a directory at a time) */
    struct dirent **list;
    int n = scandir(dir, &list, NULL, alphasort), kept = 0;
    for (int i = n - 1; i >= 0; i--) {
        const char *f = list[i]->d_name;
        size_t len = strlen(f);
        int stale = (!strncmp(f, "step_", 5) && strstr(f, ".safetensors.tmp.")) || !strncmp(f, "latest.tmp.", 11);
        if (stale || (!strncmp(f, "step_", 5) && len > 12 && !strcmp(f + len - 12, ".safetensors") && ++kept > keep)) {
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

/* Opens a checkpoint file (or a directory's newest), checks its format and reads the numeric
 * metadata into v; `file` receives the resolved path. */
static int open_ckpt(const char *path, tl_st_file *f, char *file, size_t fn, uint64_t *v, tl_err *e) {
    struct stat sb;
    if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode)) {
        int r = tl_ckpt_latest(path, file, fn, e);
        if (r > 0) return tl_errf(e, "%s: no checkpoint here (no 'latest' manifest)", path);
        if (r < 0) return -1;
    } else {
        snprintf(file, fn, "%s", path);
    }
    if (tl_st_open(f, file, e)) return -1;
    int rc = 0;
    const char *fmt = tl_st_meta(f, "format"), *ver = tl_st_meta(f, "format_version");
    if (!fmt || strcmp(fmt, CKPT_FORMAT)) rc = tl_errf(e, "%s: not a tinyllm checkpoint (metadata format is not '%s')", file, CKPT_FORMAT);
    else if (!ver || strcmp(ver, CKPT_VERSION))
        rc = tl_errf(e, "%s: checkpoint format_version '%s' is not supported (this build reads %s)", file, ver ? ver : "", CKPT_VERSION);
    for (int i = 0; i < K_COUNT && !rc; i++) rc = parse_u64(f, file, num_keys[i], &v[i], e);
    for (int i = K_N_LAYER; i <= K_PADDED_VOCAB && !rc; i++)
        if (v[i] > 1u << 30) rc = tl_errf(e, "%s: metadata '%s' = %" PRIu64 " is out of range", file, num_keys[i], v[i]);
    if (rc) tl_st_close(f);
    return rc;
}

static int is_kind(const tl_st_file *f, const char *kind) {
    const char *k = tl_st_meta(f, "kind");
    return !strcmp(k ? k : "model", kind);
}

/* Copies every tensor of the table from the file after checking dtype and shape. */
static int load_tensors(const tl_st_file *f, const char *file, const tl_tensor_info *tab, int n, float *params, tl_err *e) {
    for (int i = 0; i < n; i++) {
        const tl_tensor_info *t = &tab[i];
        const tl_st_tensor *s = tl_st_find(f, t->name);
        if (!s) return tl_errf(e, "%s: tensor '%s' is missing", file, t->name);
        if (s->dtype != TL_ST_F32 || s->nbytes != t->numel * sizeof(float) || s->ndim != t->ndim ||
            s->shape[0] != t->shape[0] || (t->ndim > 1 && s->shape[1] != t->shape[1]))
            return tl_errf(e, "%s: tensor '%s' has the wrong dtype or shape for this model config", file, t->name);
        memcpy(params + t->offset, s->data, s->nbytes);
        size_t bad = first_nonfinite(params + t->offset, t->numel);
        if (bad < t->numel)
            return tl_errf(e, "%s: tensor '%s' holds a non-finite value (element %zu): the file is corrupt", file, t->name, bad);
    }
    return 0;
}

static int load_opt(const tl_st_file *f, const char *file, tl_adamw *opt, size_t n, uint64_t t, tl_err *e) {
    const tl_st_tensor *tm = tl_st_find(f, "optim.m"), *tv = tl_st_find(f, "optim.v");
    size_t bytes = n * sizeof(float);
    if (!tm || !tv || tm->dtype != TL_ST_F32 || tv->dtype != TL_ST_F32 || tm->nbytes != bytes || tv->nbytes != bytes)
        return tl_errf(e, "%s: optimizer state 'optim.m'/'optim.v' missing or of the wrong size", file);
    if (tl_adamw_init(opt, n, opt->beta1, opt->beta2, opt->eps, opt->weight_decay, e)) return -1;
    memcpy(opt->m, tm->data, bytes);
    memcpy(opt->v, tv->data, bytes);
    opt->t = t;
    if (first_nonfinite(opt->m, n) < n || first_nonfinite(opt->v, n) < n) {
        tl_adamw_free(opt);
        return tl_errf(e, "%s: the AdamW moments hold a non-finite value: the file is corrupt", file);
    }
    return 0;
}

static void fill_state(const tl_st_file *f, const uint64_t *v, tl_train_state *st) {
    *st = (tl_train_state){.step = v[K_STEP], .data = {(int)v[K_SHARD], v[K_OFFSET], v[K_EPOCH]},
                           .rng_state = v[K_RNG], .seed = v[K_SEED], .batch_size = (int)v[K_BATCH],
                           .seq_len = (int)v[K_SEQ], .total_batch = (long long)v[K_TOTAL_BATCH],
                           .steps = (int)v[K_STEPS], .skipped = v[K_SKIPPED], .best_val = INFINITY};
    const char *tok = tl_st_meta(f, "tokenizer"), *bs = tl_st_meta(f, "best_step"), *sl = tl_st_meta(f, "stale"),
               *bv = tl_st_meta(f, "best_val");
    snprintf(st->tokenizer, sizeof st->tokenizer, "%s", tok ? tok : "gpt2");
    if (bs) st->best_step = strtoull(bs, NULL, 10);
    if (sl) st->stale = strtoull(sl, NULL, 10);
    if (bv) st->best_val = strtod(bv, NULL);
}

int tl_ckpt_load(const char *path, tl_gpt2 *m, tl_adamw *opt, tl_train_state *st, tl_err *e) {
    char file[4200];
    tl_st_file f;
    uint64_t v[K_COUNT];
    if (open_ckpt(path, &f, file, sizeof file, v, e)) return -1;
    int rc = 0;
    tl_gpt2_config c = {(int)v[K_N_LAYER], (int)v[K_N_HEAD], (int)v[K_N_EMBD], (int)v[K_N_CTX], (int)v[K_VOCAB],
                        (int)v[K_PADDED_VOCAB]};
    if (!is_kind(&f, "model"))
        rc = tl_errf(e, "%s: is a LoRA adapter, not a model: give the base model and this file as the adapter", file);
    else if (tl_gpt2_config_check(&c, e)) rc = tl_err_wrap(e, "%s", file);
    else if (tl_gpt2_num_params(&c) > f.map.size / sizeof(float)) /* before allocating what the metadata says */
        rc = tl_errf(e, "%s: the config in the metadata needs %zu parameters, more than the file's %zu bytes hold", file,
                     tl_gpt2_num_params(&c), f.map.size);
    else if (!(rc = tl_gpt2_init(m, &c, e))) {
        rc = load_tensors(&f, file, m->tensors, m->n_tensors, m->params, e);
        if (!rc && opt) rc = load_opt(&f, file, opt, m->n_params, v[K_ADAM_T], e);
        if (!rc && st) fill_state(&f, v, st);
        if (rc) tl_gpt2_free(m);
    }
    tl_st_close(&f);
    return rc;
}

/* The adapter settings from their metadata strings, each parsed whole (tl_lora_init checks the ranges). */
static int lora_config(const char *rank, const char *alpha, const char *drop, const char *targets, const char *layers,
                       const char *file, tl_lora_config *lc, tl_err *e) {
    char *end;
    errno = 0;
    long r = strtol(rank, &end, 10);
    if (!*rank || *end || errno || r < 1 || r > INT32_MAX)
        return tl_errf(e, "%s: metadata 'lora_rank' = '%s' is not a rank", file, rank);
    lc->rank = (int)r;
    lc->alpha = strtof(alpha, &end);
    if (!*alpha || *end || !isfinite(lc->alpha)) return tl_errf(e, "%s: metadata 'lora_alpha' = '%s' is not a number", file, alpha);
    lc->dropout = strtof(drop, &end);
    if (!*drop || *end) return tl_errf(e, "%s: metadata 'lora_dropout' = '%s' is not a number", file, drop);
    if (tl_lora_parse_targets(targets, &lc->targets, e)) return tl_err_wrap(e, "%s", file);
    if (layers) {
        errno = 0;
        long n = strtol(layers, &end, 10);
        if (!*layers || *end || errno || n < 1 || n > INT32_MAX)
            return tl_errf(e, "%s: metadata 'lora_layers' = '%s' is not a block count", file, layers);
        lc->layers = (int)n;
    }
    return 0;
}

int tl_ckpt_load_adapter(const char *path, const tl_gpt2 *m, tl_lora *lo, tl_adamw *opt, tl_train_state *st, tl_err *e) {
    char file[4200];
    tl_st_file f;
    uint64_t v[K_COUNT];
    if (open_ckpt(path, &f, file, sizeof file, v, e)) return -1;
    const tl_gpt2_config *c = &m->cfg;
    const char *hash = tl_st_meta(&f, "base_hash"), *targets = tl_st_meta(&f, "lora_targets");
    const char *rank = tl_st_meta(&f, "lora_rank"), *alpha = tl_st_meta(&f, "lora_alpha"), *drop = tl_st_meta(&f, "lora_dropout");
    char mine[24];
    snprintf(mine, sizeof mine, "%016" PRIx64, tl_ckpt_model_hash(m));
    tl_lora_config lc = {0};
    int rc = 0;
    if (!is_kind(&f, "lora")) rc = tl_errf(e, "%s: is a model, not a LoRA adapter", file);
    else if (!hash || !targets || !rank || !alpha || !drop)
        rc = tl_errf(e, "%s: LoRA metadata (lora_rank, lora_alpha, lora_dropout, lora_targets, base_hash) incomplete", file);
    else if (v[K_N_LAYER] != (uint64_t)c->n_layer || v[K_N_HEAD] != (uint64_t)c->n_head || v[K_N_EMBD] != (uint64_t)c->n_embd ||
             v[K_N_CTX] != (uint64_t)c->n_ctx || v[K_VOCAB] != (uint64_t)c->vocab)
        rc = tl_errf(e, "%s: adapter is for a %" PRIu64 "x%" PRIu64 "x%" PRIu64 " model, the base is %dx%dx%d", file,
                     v[K_N_LAYER], v[K_N_HEAD], v[K_N_EMBD], c->n_layer, c->n_head, c->n_embd);
    else if (strcmp(hash, mine))
        rc = tl_errf(e, "%s: adapter was trained on a different base model (base_hash %s, this base %s)", file, hash, mine);
    else if (lora_config(rank, alpha, drop, targets, tl_st_meta(&f, "lora_layers"), file, &lc, e)) rc = -1;
    if (!rc) {
        if (tl_lora_init(lo, c, &lc, e)) rc = tl_err_wrap(e, "%s", file);
        else {
            rc = load_tensors(&f, file, lo->tensors, lo->n_tensors, lo->params, e);
            if (!rc && opt) rc = load_opt(&f, file, opt, lo->n_params, v[K_ADAM_T], e);
            if (!rc && st) fill_state(&f, v, st);
            if (rc) tl_lora_free(lo);
        }
    }
    tl_st_close(&f);
    return rc;
}
