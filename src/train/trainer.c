/* The training loop: data -> forward/backward -> clip -> AdamW, with eval, samples, checkpoints. */
#include "train/trainer.h"

#include <dirent.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/file.h"
#include "base/log.h"
#include "base/rng.h"
#include "data/loader.h"
#include "model/gpt2.h"
#include "train/adamw.h"
#include "train/checkpoint.h"
#include "train/generate.h"
#ifdef TL_HAVE_CUDA
#include "cuda/gpt2_cuda.h"
#endif

#define MAX_CONSECUTIVE_SKIPS 10

/* Drops metrics lines of steps after `step` (they were written before a crash and will be
 * written again), so the resumed log reads as one uninterrupted run. First removes the temp files
 * (`metrics.jsonl.tmp.<pid>`) of earlier truncations a crash interrupted: one run writes a folder
 * at a time, so none of them is still being written. */
static int truncate_log(const char *path, uint64_t step, tl_err *e) {
    const char *slash = strrchr(path, '/');
    char dir[4200], stale[4500];
    snprintf(dir, sizeof dir, "%.*s", slash ? (int)(slash - path) : 1, slash ? path : ".");
    const char *base = slash ? slash + 1 : path;
    size_t blen = strlen(base);
    DIR *d = opendir(dir);
    for (struct dirent *de; d && (de = readdir(d));) {
        if (strncmp(de->d_name, base, blen) || strncmp(de->d_name + blen, ".tmp.", 5)) continue;
        snprintf(stale, sizeof stale, "%s/%s", dir, de->d_name);
        unlink(stale);
    }
    if (d) closedir(d);
    FILE *f = fopen(path, "r");
    if (!f) return 0;
    tl_afile af;
    if (tl_afile_open(&af, path, e)) {
        fclose(f);
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t n;
    int rc = 0;
    while (!rc && (n = getline(&line, &cap, f)) > 0) {
        json_t *j = json_loadb(line, (size_t)n, 0, NULL);
        json_t *s = json_object_get(j, "step");
        int keep = !json_is_integer(s) || json_integer_value(s) <= (json_int_t)step;
        json_decref(j);
        if (!j) break; /* a torn last line from the crash */
        if (keep) rc = tl_afile_write(&af, line, (size_t)n, e);
    }
    free(line);
    fclose(f);
    if (rc) {
        tl_afile_abort(&af);
        return -1;
    }
    return tl_afile_commit(&af, e);
}

typedef struct trainer {
    const tl_train_opts *o;
    tl_gpt2 m;
    tl_lora lora;         /* used when m.lora points here */
    tl_adamw opt;
    tl_loader train, val;
    tl_batcher ft, ft_val; /* fine-tuning examples */
    int have_val, accum, eval_batches;
    tl_train_state st;
    tl_rng rng;
    tl_jsonl log;
    struct tl_cuda_gpt2 *gpu; /* device "cuda": the model on the GPU (NULL on the CPU) */
    int ft_T;                 /* fine-tuning: the longest batch's length (longest example - 1) */
    /* CPU LoRA above frozen blocks: each train example's input to the lowest adapted block */
    float *frozen;            /* [sum over examples of (tokens - 1) x C], frozen_off[i] into it */
    size_t *frozen_off;
    unsigned char *frozen_have; /* [examples]: that example's rows are filled */
    float *frozen_x;          /* [B, longest, C]: a batch's inputs to that block */
    double gpu_peak, flops_per_token; /* for the MFU: the device's dense bf16 peak, 6N + 12LCT */
} trainer;

/* The trainable parameters: the LoRA adapters when present, else the whole model. */
typedef struct trainable {
    float *params, *grads;
    size_t n;
    const tl_tensor_info *tensors;
    int n_tensors;
} trainable;

static trainable trainable_of(trainer *t) {
    if (t->m.lora) return (trainable){t->lora.params, t->lora.grads, t->lora.n_params, t->lora.tensors, t->lora.n_tensors};
    return (trainable){t->m.params, t->m.grads, t->m.n_params, t->m.tensors, t->m.n_tensors};
}

/* Fine-tuning val loss: every val example once (fixed batches), averaged over response tokens. */
static int evaluate_ft(trainer *t, double *loss, tl_err *e) {
    double sum = 0, count = 0;
    int nb = (t->o->ft_val->n + t->ft_val.B - 1) / t->ft_val.B;
    if (t->m.lora) t->lora.train = 0;
    for (int i = 0; i < nb; i++) {
        tl_batcher_fixed(&t->ft_val, i);
        const tl_batcher *b = &t->ft_val;
        float mean;
#ifdef TL_HAVE_CUDA
        if (t->gpu) {
            if (tl_cuda_gpt2_eval(t->gpu, b->inputs, b->targets, b->cur_B, b->cur_T, &mean, e)) return -1;
        } else
#endif
        {
            if (tl_gpt2_forward(&t->m, b->inputs, b->targets, b->cur_B, b->cur_T, e)) return -1;
            mean = t->m.mean_loss;
        }
        long counted = 0;
        for (long k = 0; k < (long)b->cur_B * b->cur_T; k++) counted += b->targets[k] >= 0;
        sum += (double)mean * (double)counted;
        count += (double)counted;
    }
    *loss = sum / count;
    return 0;
}

static int evaluate(trainer *t, double *loss, tl_err *e) {
    if (t->o->base) return evaluate_ft(t, loss, e);
    if (tl_loader_seek(&t->val, (tl_loader_pos){0, 0, 0}, e)) return -1;
    double sum = 0;
    for (int i = 0; i < t->eval_batches; i++) {
        tl_loader_next(&t->val);
#ifdef TL_HAVE_CUDA
        if (t->gpu) {
            float l;
            if (tl_cuda_gpt2_eval(t->gpu, t->val.inputs, t->val.targets, t->o->batch_size, t->o->seq_len, &l, e)) return -1;
            sum += l;
            continue;
        }
#endif
        if (tl_gpt2_forward(&t->m, t->val.inputs, t->val.targets, t->o->batch_size, t->o->seq_len, e)) return -1;
        sum += t->m.mean_loss;
    }
    *loss = sum / t->eval_batches;
    return 0;
}

typedef struct sample_ctx {
    const tl_bpe *bpe;
    tl_buf text;
} sample_ctx;

static int sample(trainer *t, tl_err *e) {
    const tl_train_opts *o = t->o;
    tl_sampler s;
    if (tl_sampler_init(&s, t->m.cfg.vocab, 1.0f, 40, 1.0f, 0.0f, tl_rng_u64(&t->rng), e)) return -1;
    int32_t start = tl_bpe_eot(o->bpe);
    tl_ivec ids = {0};
    tl_buf text = {0};
    int n = o->sample_tokens < t->m.cfg.n_ctx - 1 ? o->sample_tokens : t->m.cfg.n_ctx - 1;
    int rc = tl_gpt2_sample(&t->m, &s, &start, 1, n, start, &ids, e);
    if (!rc) rc = tl_bpe_decode(o->bpe, ids.v, ids.n, &text, e);
    if (!rc) {
        json_t *j = json_stringn(text.p ? text.p : "", text.n);
        char *js = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
        if (js) tl_jsonl_write(&t->log, "\"type\":\"sample\",\"step\":%llu,\"text\":%s", (unsigned long long)t->st.step, js);
        fprintf(stderr, "\n--- sample at step %llu ---\n%.*s\n---\n", (unsigned long long)t->st.step, (int)text.n,
                text.p ? text.p : "");
        free(js);
        json_decref(j);
    }
    tl_ivec_free(&ids);
    tl_buf_free(&text);
    tl_sampler_free(&s);
    return rc;
}

static int check_resume_settings(const tl_train_state *st, const tl_train_opts *o, const char *dir, tl_err *e) {
    if (st->batch_size != o->batch_size || st->seq_len != o->seq_len || st->total_batch != o->total_batch ||
        st->seed != (uint64_t)o->seed)
        return tl_errf(e,
                       "%s: the checkpoint was trained with --batch-size %d --seq-len %d --total-batch %lld --seed "
                       "%llu; resume with the same settings or use a new --out",
                       dir, st->batch_size, st->seq_len, st->total_batch, (unsigned long long)st->seed);
    if (strcmp(st->tokenizer, o->tokenizer))
        return tl_errf(e, "%s: the checkpoint uses tokenizer '%s', the data '%s'", dir, st->tokenizer, o->tokenizer);
    return 0;
}

/* Fine-tuning: the base (and on resume the newest checkpoint: model, or adapter), batchers. */
static int open_log(trainer *t, int have_ckpt, tl_err *e) {
    if (t->o->rank > 0) return 0; /* data parallel: rank 0 writes the log */
    char logpath[4200];
    snprintf(logpath, sizeof logpath, "%s/metrics.jsonl", t->o->out_dir);
    if (have_ckpt && truncate_log(logpath, t->st.step, e)) return -1;
    return tl_jsonl_open(&t->log, logpath, have_ckpt, e);
}

/* The frozen blocks' cache (see trainer.h), when o->frozen_cache_mb holds every train example's
 * rows; otherwise a note, and each forward runs every block. */
static int frozen_cache_init(trainer *t, tl_err *e) {
    const tl_examples *x = t->o->ft_train;
    size_t C = (size_t)t->m.cfg.n_embd, rows = 0;
    for (int i = 0; i < x->n; i++) rows += (size_t)x->ex[i].n - 1;
    double mib = (double)(rows * C * sizeof(float)) / (1 << 20);
    int l0 = t->lora.first_layer;
    if (mib > t->o->frozen_cache_mb) {
        fprintf(stderr, "frozen blocks 0..%d: their outputs would take %.0f MiB, more than --frozen-cache-mb %d: recomputed every step\n",
                l0 - 1, mib, t->o->frozen_cache_mb);
        return 0;
    }
    t->frozen = tl_calloc(rows * C, sizeof(float), e);
    t->frozen_off = tl_calloc((size_t)x->n, sizeof(size_t), e);
    t->frozen_have = tl_calloc((size_t)x->n, 1, e);
    t->frozen_x = tl_calloc((size_t)t->ft.B * (size_t)t->ft_T * C, sizeof(float), e);
    if (!t->frozen || !t->frozen_off || !t->frozen_have || !t->frozen_x) return -1;
    for (int i = 1; i < x->n; i++) t->frozen_off[i] = t->frozen_off[i - 1] + ((size_t)x->ex[i - 1].n - 1) * C;
    fprintf(stderr, "frozen blocks 0..%d: each example's output kept (%.0f MiB) and reused after its first pass\n", l0 - 1, mib);
    return 0;
}

static void frozen_cache_free(trainer *t) {
    free(t->frozen);
    free(t->frozen_off);
    free(t->frozen_have);
    free(t->frozen_x);
}

/* The forward of the fine-tuning batch just handed out: from the lowest adapted block when the
 * cache holds every example of the batch (padding rows zero: causal attention keeps them out of
 * the real rows, and they carry no target), otherwise whole, filling the cache. */
static int ft_forward(trainer *t, tl_err *e) {
    const tl_batcher *b = &t->ft;
    if (!t->frozen) return tl_gpt2_forward(&t->m, b->inputs, b->targets, b->cur_B, b->cur_T, e);
    const tl_examples *x = t->o->ft_train;
    size_t C = (size_t)t->m.cfg.n_embd, T = (size_t)b->cur_T;
    int l0 = t->lora.first_layer, hit = 1;
    for (int i = 0; i < b->cur_B; i++) hit &= t->frozen_have[b->cur_ids[i]];
    if (hit) {
        for (int i = 0; i < b->cur_B; i++) {
            int id = b->cur_ids[i];
            size_t n = ((size_t)x->ex[id].n - 1) * C;
            float *row = t->frozen_x + (size_t)i * T * C;
            memcpy(row, t->frozen + t->frozen_off[id], sizeof(float) * n);
            memset(row + n, 0, sizeof(float) * (T * C - n));
        }
        return tl_gpt2_forward_from(&t->m, l0, t->frozen_x, b->inputs, b->targets, b->cur_B, b->cur_T, e);
    }
    if (tl_gpt2_forward(&t->m, b->inputs, b->targets, b->cur_B, b->cur_T, e)) return -1;
    const float *in = tl_gpt2_block_input(&t->m, l0);
    for (int i = 0; i < b->cur_B; i++) {
        int id = b->cur_ids[i];
        if (t->frozen_have[id]) continue;
        memcpy(t->frozen + t->frozen_off[id], in + (size_t)i * T * C, sizeof(float) * ((size_t)x->ex[id].n - 1) * C);
        t->frozen_have[id] = 1;
    }
    return 0;
}

static int setup_ft(trainer *t, int have_ckpt, const char *latest, tl_err *e) {
    const tl_train_opts *o = t->o;
    tl_train_state base_st;
    if (!o->lora && have_ckpt) {
        if (tl_ckpt_load(latest, &t->m, &t->opt, &t->st, e)) return -1;
    } else {
        if (tl_ckpt_load(o->base, &t->m, NULL, &base_st, e)) return -1;
        if (strcmp(base_st.tokenizer, o->tokenizer))
            return tl_errf(e, "%s: the base model uses tokenizer '%s', the examples '%s'", o->base, base_st.tokenizer, o->tokenizer);
    }
    if (o->lora) {
        if (have_ckpt) {
            if (tl_ckpt_load_adapter(latest, &t->m, &t->lora, &t->opt, &t->st, e)) return -1;
            if (t->lora.cfg.rank != o->lora->rank || t->lora.cfg.targets != o->lora->targets ||
                t->lora.cfg.alpha != o->lora->alpha || t->lora.cfg.layers != o->lora->layers)
                return tl_errf(e, "%s: the adapter was started with other --lora-rank/--lora-alpha/--lora-targets/--lora-layers; "
                                  "resume with the same", latest);
        } else {
            if (tl_lora_init(&t->lora, &t->m.cfg, o->lora, e)) return -1;
            tl_lora_init_weights(&t->lora, (uint64_t)o->seed);
        }
        t->m.lora = &t->lora;
    }
    trainable tr = trainable_of(t);
    if (!have_ckpt) {
        if (tl_adamw_init(&t->opt, tr.n, o->beta1, o->beta2, o->eps, o->weight_decay, e)) return -1;
        tl_rng r;
        tl_rng_seed(&r, (uint64_t)o->seed + 1);
        t->st = (tl_train_state){.rng_state = r.state, .seed = (uint64_t)o->seed, .batch_size = o->batch_size,
                                 .total_batch = o->total_batch, .steps = o->steps, .best_val = INFINITY};
        snprintf(t->st.tokenizer, sizeof t->st.tokenizer, "%s", o->tokenizer);
    }
    if (t->m.cfg.vocab != o->vocab)
        return tl_errf(e, "%s: model vocabulary %d differs from the tokenizer's %d", o->base, t->m.cfg.vocab, o->vocab);
    int longest = o->ft_val && o->ft_val->max_len > o->ft_train->max_len ? o->ft_val->max_len : o->ft_train->max_len;
    if (longest > t->m.cfg.n_ctx)
        return tl_errf(e, "the longest example has %d tokens, more than the model's context of %d (shorten the inputs, "
                          "e.g. the task's numbers = round:N, or use a model with a longer context)", longest, t->m.cfg.n_ctx);
    if (tl_batcher_init(&t->ft, o->ft_train, o->batch_size, (uint64_t)o->seed, e)) return -1;
    t->m.head_counted_only = 1; /* the loss is on the response tokens only: the head runs on those alone */
    t->ft_T = longest - 1;
    int on_gpu = o->device && !strcmp(o->device, "cuda"); /* the host model then runs no forward */
    if (!on_gpu && tl_gpt2_reserve(&t->m, t->ft.B, t->ft_T, e)) return -1; /* the largest batch shape, once */
    if (have_ckpt && tl_batcher_seek(&t->ft, t->st.data, e)) return tl_err_wrap(e, "%s", latest);
    if (o->ft_val && o->eval_every > 0) {
        if (tl_batcher_init(&t->ft_val, o->ft_val, o->batch_size, 0, e)) return -1;
        t->have_val = 1;
    }
    if (!on_gpu && o->lora && t->lora.first_layer > 0 && frozen_cache_init(t, e)) return -1;
    char targets[96] = "";
    if (o->lora) tl_lora_targets_str(o->lora->targets, targets, sizeof targets);
    if (o->lora && t->lora.first_layer > 0)
        snprintf(targets + strlen(targets), sizeof targets - strlen(targets), " of blocks %d..%d", t->lora.first_layer,
                 t->m.cfg.n_layer - 1);
    fprintf(stderr,
            "model: %s  layers %d  heads %d  embd %d  ctx %d  vocab %d  params %.2fM\n"
            "fine-tuning: %s%s%s, trainable %zu parameters (%.3f%% of %.2fM)\n"
            "examples: train %d (%llu response tokens, longest %d tokens), val %d; batch %d examples x %d micro-batches;"
            " %d steps = %.2f epochs\n",
            o->base, t->m.cfg.n_layer, t->m.cfg.n_head, t->m.cfg.n_embd, t->m.cfg.n_ctx, t->m.cfg.vocab,
            (double)t->m.n_params / 1e6, o->lora ? "LoRA on " : "full", targets,
            o->lora ? "" : " (every weight)", tr.n, 100.0 * (double)tr.n / (double)t->m.n_params, (double)t->m.n_params / 1e6,
            o->ft_train->n, (unsigned long long)o->ft_train->response_tokens, o->ft_train->max_len,
            o->ft_val ? o->ft_val->n : 0, t->ft.B, t->accum, o->steps,
            (double)o->steps * (double)o->total_batch / o->ft_train->n);
    return 0;
}

/* --device cuda: the GPU model from the host one (new or loaded), after the loaders exist. */
static int setup_gpu(trainer *t, tl_err *e) {
    const tl_train_opts *o = t->o;
#ifdef TL_HAVE_CUDA
    char msg[256], name[256];
    int world = o->world > 1 ? o->world : 1;
    if (o->base && world > 1) return tl_errf(e, "--device cuda: fine-tuning runs on one GPU so far");
    if (!tl_cuda_available(msg, sizeof msg)) return tl_errf(e, "--device cuda: %s", msg);
    if (t->accum % world)
        return tl_errf(e, "--total-batch %lld is %d micro-batches of %d x %d, which %d GPUs cannot share evenly", o->total_batch,
                       t->accum, o->batch_size, o->seq_len, world);
    uint64_t have = o->base ? 0 : tl_loader_total_tokens(&t->train);
    if (world > 1 && have < (uint64_t)o->total_batch + 1)
        return tl_errf(e, "%s: the train split holds %llu tokens, less than one optimizer step of %lld tokens (%d micro-batches "
                          "of %d x %d per GPU on %d GPUs): add data or lower --total-batch", o->train,
                       (unsigned long long)have, o->total_batch, t->accum / world, o->batch_size, o->seq_len, world);
    /* TL_FUSE_GELU (0..3), TL_ATTN_PLAIN, TL_FORCE_NCCL, TL_CUDA_PROFILE: switches for measurements and fallbacks
     * (docs/cuda.md) */
    const char *fuse = getenv("TL_FUSE_GELU");
    tl_cuda_opts co = {.recompute = o->recompute, .fuse_gelu = fuse ? atoi(fuse) : 3, .rank = o->rank, .world = world,
                       .nccl_id_file = o->nccl_id, .force_nccl = getenv("TL_FORCE_NCCL") != NULL,
                       .plain_attention = getenv("TL_ATTN_PLAIN") != NULL, .profile = getenv("TL_CUDA_PROFILE") != NULL};
    /* fine-tuning: micro-batches up to batch-size examples of the longest length; with LoRA
     * (t->m.lora set by setup_ft) the GPU model trains the adapters and t->opt is theirs */
    int T = o->base ? t->ft_T : o->seq_len;
    if (tl_cuda_gpt2_create(&t->gpu, &t->m, &t->opt, o->batch_size, T, &co, e)) return -1;
    tl_cuda_device_info(name, sizeof name, &t->gpu_peak);
    if (o->base) t->gpu_peak = 0; /* no MFU for fine-tuning: ragged batches, and LoRA skips most products */
    const tl_gpt2_config *c = &t->m.cfg;
    t->flops_per_token = 6.0 * (double)t->m.n_params + 12.0 * c->n_layer * c->n_embd * (double)o->seq_len;
    fprintf(stderr, "device: %s x %d, %.2f GiB on each for micro-batches of %d x %d%s; attention: %s\n", name, world,
            (double)tl_cuda_gpt2_memory(t->gpu) / (1 << 30), o->batch_size, T,
            o->recompute ? " (GELU recomputed)" : "",
            tl_cuda_attention_is_flash(c->n_embd / c->n_head) && !co.plain_attention ? "flash kernels"
                                                                                      : "plain kernels (slow)");
    return 0;
#else
    (void)t;
    (void)o;
    return tl_errf(e, "--device cuda: this tinyllm was built without CUDA (needs nvcc and cuBLAS at configure time)");
#endif
}

static int setup(trainer *t, tl_err *e) {
    const tl_train_opts *o = t->o;
    long long bt = o->base ? o->batch_size : (long long)o->batch_size * o->seq_len;
    if (o->batch_size < 1 || (!o->base && o->seq_len < 2)) return tl_errf(e, "--batch-size must be >= 1 and --seq-len >= 2");
    if (o->total_batch % bt)
        return tl_errf(e, o->base ? "--total-batch %lld (examples per step) is not a multiple of --batch-size %lld"
                                  : "--total-batch %lld is not a multiple of --batch-size x --seq-len = %lld", o->total_batch, bt);
    if (o->steps < 1) return tl_errf(e, "--steps must be >= 1");
    if (strcmp(o->on_nonfinite, "skip") && strcmp(o->on_nonfinite, "stop"))
        return tl_errf(e, "--on-nonfinite must be 'skip' or 'stop', not '%s'", o->on_nonfinite);
    t->accum = (int)(o->total_batch / bt);
    if (tl_mkdir_p(o->out_dir, e)) return -1;

    char latest[4200] = "";
    int have_ckpt = 0;
    if (o->resume) {
        int r = tl_ckpt_latest(o->out_dir, latest, sizeof latest, e);
        if (r < 0) return -1;
        have_ckpt = r == 0;
        if (!have_ckpt) fprintf(stderr, "resume: no checkpoint in %s yet, starting from scratch\n", o->out_dir);
    } else if (tl_ckpt_latest(o->out_dir, latest, sizeof latest, e) == 0) {
        return tl_errf(e, "%s already holds a run (%s); pass --resume to continue it or choose another --out",
                       o->out_dir, latest);
    }
    t->opt = (tl_adamw){.beta1 = o->beta1, .beta2 = o->beta2, .eps = o->eps, .weight_decay = o->weight_decay};
    if (o->base) {
        if (setup_ft(t, have_ckpt, latest, e)) return -1;
        if (have_ckpt && check_resume_settings(&t->st, o, latest, e)) return -1;
        t->rng.state = t->st.rng_state;
        if (have_ckpt) fprintf(stderr, "resume: %s (step %llu)\n", latest, (unsigned long long)t->st.step);
        if (o->device && !strcmp(o->device, "cuda") && setup_gpu(t, e)) return -1;
        return open_log(t, have_ckpt, e);
    }
    if (have_ckpt) {
        if (tl_ckpt_load(latest, &t->m, &t->opt, &t->st, e)) return -1;
        if (check_resume_settings(&t->st, o, latest, e)) return -1;
        if (t->m.cfg.vocab != o->vocab)
            return tl_errf(e, "%s: model vocabulary %d differs from the data's %d", latest, t->m.cfg.vocab, o->vocab);
        t->st.steps = o->steps;
        fprintf(stderr, "resume: %s (step %llu)\n", latest, (unsigned long long)t->st.step);
    } else {
        tl_gpt2_config c;
        if (tl_gpt2_config_make(&c, o->model, o->seq_len, o->vocab, e)) return -1;
        if (tl_gpt2_init(&t->m, &c, e)) return -1;
        tl_gpt2_init_weights(&t->m, (uint64_t)o->seed);
        if (tl_adamw_init(&t->opt, t->m.n_params, o->beta1, o->beta2, o->eps, o->weight_decay, e)) return -1;
        tl_rng r;
        tl_rng_seed(&r, (uint64_t)o->seed + 1);
        t->st = (tl_train_state){.rng_state = r.state, .seed = (uint64_t)o->seed, .batch_size = o->batch_size,
                                 .seq_len = o->seq_len, .total_batch = o->total_batch, .steps = o->steps,
                                 .best_val = INFINITY};
        snprintf(t->st.tokenizer, sizeof t->st.tokenizer, "%s", o->tokenizer);
    }
    if (o->seq_len > t->m.cfg.n_ctx) return tl_errf(e, "--seq-len %d exceeds the model's context %d", o->seq_len, t->m.cfg.n_ctx);
    t->rng.state = t->st.rng_state;
    if (tl_loader_init(&t->train, o->train, "train", o->batch_size, o->seq_len, o->vocab, e)) return -1;
    if (have_ckpt && tl_loader_seek(&t->train, t->st.data, e)) return tl_err_wrap(e, "%s", latest);
    if (o->val && o->eval_every > 0) {
        if (tl_loader_init(&t->val, o->val, "val", o->batch_size, o->seq_len, o->vocab, e)) return -1;
        t->have_val = 1;
        uint64_t fit = tl_loader_total_tokens(&t->val) / ((uint64_t)bt + 1);
        t->eval_batches = (int)((uint64_t)o->eval_batches < fit ? (uint64_t)o->eval_batches : fit);
        if (t->eval_batches < 1) t->eval_batches = 1;
    }
    if (o->device && !strcmp(o->device, "cuda") && setup_gpu(t, e)) return -1;
    if (open_log(t, have_ckpt, e)) return -1;

    uint64_t tokens = tl_loader_total_tokens(&t->train);
    fprintf(stderr,
            "model: %s  layers %d  heads %d  embd %d  ctx %d  vocab %d (padded %d)  params %.2fM\n"
            "batch: %d x %d tokens, %d micro-batches -> %lld tokens/step; %d steps = %.1fM tokens = %.2f epochs of %.2fM\n",
            o->model, t->m.cfg.n_layer, t->m.cfg.n_head, t->m.cfg.n_embd, t->m.cfg.n_ctx, t->m.cfg.vocab,
            t->m.cfg.padded_vocab, (double)t->m.n_params / 1e6, o->batch_size, o->seq_len, t->accum, o->total_batch,
            o->steps, (double)o->total_batch * o->steps / 1e6, (double)o->total_batch * o->steps / (double)tokens,
            (double)tokens / 1e6);
    return 0;
}

static int save(trainer *t, tl_err *e) {
    t->st.data = t->o->base ? t->ft.pos : t->train.pos;
    t->st.rng_state = t->rng.state;
    return tl_ckpt_save(t->o->out_dir, &t->m, &t->opt, &t->st, t->o->keep, e);
}

static int gpu_download(trainer *t, int with_opt, tl_err *e);

/* Fine-tuning: a better val loss writes best.safetensors; otherwise one more stale eval. */
static int keep_best(trainer *t, double val, tl_err *e) {
    if (!(val < t->st.best_val)) {
        t->st.stale++;
        return 0;
    }
    t->st.best_val = val;
    t->st.best_step = t->st.step;
    t->st.stale = 0;
    if (t->gpu && gpu_download(t, 0, e)) return -1;
    char path[4200];
    snprintf(path, sizeof path, "%s/best.safetensors", t->o->out_dir);
    return tl_ckpt_write(path, &t->m, NULL, &t->st, e);
}

/* LoRA + --merge: the base with the best adapter (or the last, without val) folded in. */
static int write_merged(trainer *t, tl_err *e) {
    char best[4200], path[4200];
    snprintf(best, sizeof best, "%s/best.safetensors", t->o->out_dir);
    snprintf(path, sizeof path, "%s/merged.safetensors", t->o->out_dir);
    tl_lora lo;
    t->m.lora = NULL;
    if (tl_ckpt_load_adapter(tl_file_exists(best) ? best : t->o->out_dir, &t->m, &lo, NULL, NULL, e)) return -1;
    tl_lora_merge(&lo, &t->m);
    tl_lora_free(&lo);
    int rc = tl_ckpt_write(path, &t->m, NULL, &t->st, e);
    if (!rc) fprintf(stderr, "merged: %s (base + adapter, a full model)\n", path);
    return rc;
}

/* One step's micro-batches on the GPU (rank r of w takes micro-batches r, r + w, ...; every rank
 * reads all of them, so the loader positions agree): the mean loss and the global gradient norm. */
static int gpu_step(trainer *t, double *loss, double *norm, tl_err *e) {
#ifdef TL_HAVE_CUDA
    const tl_train_opts *o = t->o;
    int world = o->world > 1 ? o->world : 1;
    double sum = 0;
    tl_cuda_gpt2_zero_grad(t->gpu);
    for (int a = 0; a < t->accum; a++) {
        const int32_t *in, *tg;
        int B = o->batch_size, T = o->seq_len;
        if (o->base) { /* fine-tuning: examples grouped by length, as on the CPU */
            tl_batcher_next(&t->ft);
            if (t->m.lora) tl_cuda_gpt2_lora_seed(t->gpu, tl_rng_u64(&t->rng)); /* the CPU loop's draw, same stream */
            in = t->ft.inputs, tg = t->ft.targets, B = t->ft.cur_B, T = t->ft.cur_T;
        } else {
            tl_loader_next(&t->train);
            in = t->train.inputs, tg = t->train.targets;
        }
        if (a % world != o->rank) continue;
        if (tl_cuda_gpt2_train_micro(t->gpu, in, tg, B, T, 1.0f / (float)t->accum, e)) return -1;
    }
    if (tl_cuda_gpt2_reduce(t->gpu, &sum, norm, e)) return -1;
    *loss = sum / t->accum;
    return 0;
#else
    (void)t, (void)loss, (void)norm;
    return tl_errf(e, "no CUDA in this build");
#endif
}

/* Clip (the same factor as tl_grad_clip) and AdamW on the GPU. */
static int gpu_update(trainer *t, double norm, float lr, tl_err *e) {
#ifdef TL_HAVE_CUDA
    float max_norm = t->o->grad_clip, k = max_norm > 0 && norm > max_norm ? (float)(max_norm / norm) : 1.0f;
    return tl_cuda_gpt2_update(t->gpu, &t->opt, lr, k, e);
#else
    (void)t, (void)norm, (void)lr;
    return tl_errf(e, "no CUDA in this build");
#endif
}

/* The host copy of the GPU's weights (and moments, for a checkpoint), collective across ranks. */
static int gpu_download(trainer *t, int with_opt, tl_err *e) {
#ifdef TL_HAVE_CUDA
    return tl_cuda_gpt2_download(t->gpu, &t->m, with_opt ? &t->opt : NULL, e);
#else
    (void)t, (void)with_opt;
    return tl_errf(e, "no CUDA in this build");
#endif
}

static int train_loop(trainer *t, tl_err *e) {
    const tl_train_opts *o = t->o;
    uint64_t start_step = t->st.step;
    tl_progress prog; /* counts this session's steps, so rate and ETA stay right after a resume */
    tl_progress_init(&prog, "train", "step", (uint64_t)o->steps > start_step ? (uint64_t)o->steps - start_step : 0);
    double val_loss = NAN;
    int consecutive_skips = 0;
    if (t->have_val && start_step == 0) {
        if (evaluate(t, &val_loss, e)) return -1;
        tl_jsonl_write(&t->log, "\"type\":\"val\",\"step\":0,\"val_loss\":%.6f", val_loss);
        fprintf(stderr, "step 0: val loss %.4f\n", val_loss);
        if (o->base && keep_best(t, val_loss, e)) return -1;
    }
    while (t->st.step < (uint64_t)o->steps) {
        double t0 = tl_now(), loss = 0, norm = 0;
        uint64_t real0 = t->ft.real;
        if (t->gpu && gpu_step(t, &loss, &norm, e)) return -1;
        if (!t->gpu) tl_gpt2_zero_grad(&t->m);
        if (t->m.lora && !t->gpu) tl_lora_zero_grad(&t->lora);
        for (int a = 0; !t->gpu && a < t->accum; a++) {
            if (o->base) {
                tl_batcher_next(&t->ft);
                if (t->m.lora) {
                    t->lora.train = 1;
                    t->lora.drop_seed = tl_rng_u64(&t->rng);
                }
                if (ft_forward(t, e)) return -1;
            } else {
                tl_loader_next(&t->train);
                if (tl_gpt2_forward(&t->m, t->train.inputs, t->train.targets, o->batch_size, o->seq_len, e)) return -1;
            }
            if (tl_gpt2_backward(&t->m, 1.0f / (float)t->accum, e)) return -1;
            loss += t->m.mean_loss;
        }
        trainable tr = trainable_of(t);
        if (!t->gpu) {
            loss /= t->accum;
            norm = tl_grad_norm(tr.grads, tr.n);
        }
        int step = (int)t->st.step; /* 0-based index of this update */
        float lr = tl_lr_cosine(step, o->warmup, o->steps, o->lr, o->lr_final_frac);
        t->st.step++;
        if (!isfinite(loss) || !isfinite(norm)) {
            const char *what = !isfinite(loss) ? "non-finite loss" : "non-finite gradients";
            if (!strcmp(o->on_nonfinite, "stop"))
                return tl_errf(e, "step %d: %s; stopping (--on-nonfinite stop); weights were not updated", step + 1, what);
            t->st.skipped++;
            tl_jsonl_write(&t->log, "\"type\":\"skip\",\"step\":%llu,\"reason\":\"%s\"", (unsigned long long)t->st.step, what);
            fprintf(stderr, "\nstep %d: %s, update skipped (%llu skipped so far)\n", step + 1, what,
                    (unsigned long long)t->st.skipped);
            if (++consecutive_skips > MAX_CONSECUTIVE_SKIPS)
                return tl_errf(e, "step %d: %d consecutive non-finite steps; stopping (lower --lr?)", step + 1, consecutive_skips);
        } else {
            consecutive_skips = 0;
            if (t->gpu) {
                if (gpu_update(t, norm, lr, e)) return -1;
            } else {
                tl_grad_clip(tr.grads, tr.n, norm, o->grad_clip);
                tl_adamw_update(&t->opt, tr.params, tr.grads, tr.tensors, tr.n_tensors, lr);
            }
            tl_jsonl_write(&t->log, "\"type\":\"train\",\"step\":%llu,\"loss\":%.6f,\"lr\":%.6e,\"grad_norm\":%.6f",
                           (unsigned long long)t->st.step, loss, (double)lr, norm);
        }
        double dt = tl_now() - t0, tok_s = (double)(o->base ? t->ft.real - real0 : (uint64_t)o->total_batch) / dt;
        double mfu = t->gpu_peak > 0 ? tok_s * t->flops_per_token / t->gpu_peak : 0;
        if (t->gpu_peak > 0)
            tl_jsonl_write(&t->log, "\"type\":\"perf\",\"step\":%llu,\"ms\":%.1f,\"tok_s\":%.1f,\"mfu\":%.4f",
                           (unsigned long long)t->st.step, dt * 1e3, tok_s, mfu);
        else
            tl_jsonl_write(&t->log, "\"type\":\"perf\",\"step\":%llu,\"ms\":%.1f,\"tok_s\":%.1f", (unsigned long long)t->st.step,
                           dt * 1e3, tok_s);
        int last = t->st.step == (uint64_t)o->steps;
        if (t->have_val && (last || t->st.step % (uint64_t)o->eval_every == 0)) {
            if (evaluate(t, &val_loss, e)) return -1;
            tl_jsonl_write(&t->log, "\"type\":\"val\",\"step\":%llu,\"val_loss\":%.6f", (unsigned long long)t->st.step, val_loss);
            if (!prog.tty) fprintf(stderr, "step %llu: val loss %.4f\n", (unsigned long long)t->st.step, val_loss);
            if (o->base && keep_best(t, val_loss, e)) return -1;
            if (o->base && o->patience > 0 && t->st.stale >= (uint64_t)o->patience && !last) {
                tl_jsonl_write(&t->log, "\"type\":\"stop\",\"step\":%llu,\"reason\":\"no val improvement in %d evals\"",
                               (unsigned long long)t->st.step, o->patience);
                fprintf(stderr, "\nstep %llu: val loss has not improved for %d evals (best %.4f at step %llu); stopping\n",
                        (unsigned long long)t->st.step, o->patience, t->st.best_val, (unsigned long long)t->st.best_step);
                last = 1;
            }
        }
        if (tl_jsonl_status(&t->log, e)) return -1; /* a full disk: stop before the checkpoint, which --resume needs */
        char extra[160];
        if (isnan(val_loss)) snprintf(extra, sizeof extra, "loss %.4f | %.0f tok/s", loss, tok_s); /* no val yet, or none */
        else snprintf(extra, sizeof extra, "loss %.4f | val %.4f | %.0f tok/s", loss, val_loss, tok_s);
        if (t->gpu_peak > 0) snprintf(extra + strlen(extra), sizeof extra - strlen(extra), " | MFU %.1f%%", 100 * mfu);
        if (last) tl_progress_end(&prog, t->st.step - start_step, extra);
        else tl_progress_update(&prog, t->st.step - start_step, extra);
        int want_sample = o->bpe && !o->base && o->sample_every > 0 && (last || t->st.step % (uint64_t)o->sample_every == 0);
        int want_save = last || (o->ckpt_every > 0 && t->st.step % (uint64_t)o->ckpt_every == 0);
        if (t->gpu && (want_sample || want_save) && gpu_download(t, want_save, e)) return -1;
        if (want_sample && o->rank == 0 && sample(t, e)) return -1;
        if (want_save && o->rank == 0 && save(t, e)) return -1;
        if (last) break;
    }
    return 0;
}

int tl_train(const tl_train_opts *o, tl_err *e) {
    trainer t = {.o = o};
    int existed = tl_file_exists(o->out_dir);
    int rc = setup(&t, e);
    if (rc && !existed) rmdir(o->out_dir); /* the run folder setup made, if still empty: a failed start leaves nothing */
    if (!rc) rc = train_loop(&t, e);
    if (!rc && o->base && t.ft.padded)
        fprintf(stderr, "batches: %.1f%% of positions were padding (length-grouped)\n",
                100.0 * (double)(t.ft.padded - t.ft.real) / (double)t.ft.padded);
    if (!rc && o->base && t.have_val)
        fprintf(stderr, "best val loss %.4f at step %llu: %s/best.safetensors\n", t.st.best_val,
                (unsigned long long)t.st.best_step, o->out_dir);
    if (!rc && o->lora && o->merge) rc = write_merged(&t, e);
    if (!rc && !o->base) fprintf(stderr, "checkpoint: %s (tinyllm run -m %s -p \"...\")\n", o->out_dir, o->out_dir);
    tl_err close_e;
    if (tl_jsonl_close(&t.log, &close_e) && !rc) *e = close_e, rc = -1;
    tl_loader_free(&t.train);
    tl_batcher_free(&t.ft);
    if (t.have_val && !o->base) tl_loader_free(&t.val);
    tl_batcher_free(&t.ft_val);
    t.m.lora = NULL;
    tl_lora_free(&t.lora);
    frozen_cache_free(&t);
    tl_adamw_free(&t.opt);
    tl_gpt2_free(&t.m);
#ifdef TL_HAVE_CUDA
    if (t.gpu) tl_cuda_gpt2_profile_print(t.gpu, stderr);
    tl_cuda_gpt2_free(t.gpu);
#endif
    return rc;
}
