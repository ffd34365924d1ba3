/* The training loop, for pretraining and fine-tuning: batches (token shards through the loader,
 * or fine-tuning examples through the batcher), forward/backward with gradient accumulation,
 * clipping, AdamW on a cosine schedule, periodic eval, samples and checkpoints, a progress line
 * and a JSON-lines metrics file.
 *
 * Fine-tuning starts from `base` and trains every weight, or only LoRA adapters (`lora`), with the
 * loss on response tokens. Each eval that improves the val loss writes best.safetensors (the model
 * without optimizer state, or the adapter); `patience` evals without improvement stop the run. With
 * LoRA and `merge`, merged.safetensors gets the base with the best adapter folded in. LoRA on the
 * top blocks only (lora->layers) leaves the blocks below frozen whole: on the CPU their output for
 * each train example is computed in its first epoch and reused after (frozen_cache_mb), and the
 * backward stops at the lowest adapted block.
 *
 * Output directory: step_XXXXXXXX.safetensors + latest (checkpoint.h), metrics.jsonl with one
 * object per line: {"type":"train","step","loss","lr","grad_norm"}, {"type":"val","step",
 * "val_loss"}, {"type":"perf","step","ms","tok_s"}, {"type":"sample","step","text"},
 * {"type":"skip","step","reason"}. train/val lines are deterministic: a resumed run's log is
 * byte-identical to an uninterrupted one (perf lines carry timings and differ; on a GPU they also
 * carry "mfu", the model FLOPs utilisation against the device's dense bf16 peak).
 *
 * With device "cuda" the model lives on the GPU (cuda/gpt2_cuda.h) and the host copy is refreshed
 * only for checkpoints and samples; checkpoints are the same files on either device. With world > 1
 * each rank takes every world-th micro-batch of the step, rank 0 alone writes files and output. */
#ifndef TL_TRAIN_TRAINER_H
#define TL_TRAIN_TRAINER_H

#include "base/err.h"
#include "data/examples.h"
#include "model/lora.h"
#include "tokenizer/bpe.h"

typedef struct tl_train_opts {
    const char *train, *val;   /* shard directory, glob or file */
    const char *out_dir;
    const char *model;         /* preset, see tl_gpt2_config_make */
    int batch_size, seq_len;
    long long total_batch;     /* tokens per optimizer step (a multiple of batch_size * seq_len) */
    int steps, warmup;
    float lr, lr_final_frac, weight_decay, grad_clip, beta1, beta2, eps;
    int eval_every, eval_batches, sample_every, sample_tokens, ckpt_every, keep;
    int resume;
    long long seed;
    const char *on_nonfinite;  /* "skip" or "stop" */
    const tl_bpe *bpe;         /* for decoding samples; may be NULL (no samples) */
    const char *tokenizer;     /* name stored in checkpoints */
    int vocab;                 /* vocabulary of the shards */
    /* fine-tuning (base NULL: pretraining from scratch on shards) */
    const char *base;          /* checkpoint to start from */
    const tl_examples *ft_train, *ft_val; /* examples; total_batch counts examples, seq_len is unused */
    const tl_lora_config *lora;           /* NULL: full fine-tuning */
    int patience;              /* evals without a better val loss before stopping; 0: never */
    int merge;                 /* LoRA: also write merged.safetensors */
    int frozen_cache_mb;       /* CPU LoRA on the top blocks: keep each train example's input to the
                                * lowest adapted block (MiB at most; 0: off), reused every epoch */
    /* device: NULL or "cpu", or "cuda" (src/cuda: bf16, fp32 master weights; fine-tuning, full or
     * LoRA, on one GPU) */
    const char *device;
    int recompute;             /* cuda: recompute GELU outputs in the backward (less memory) */
    int rank, world;           /* cuda data parallel: this process's rank of `world` (tl_cuda_launch) */
    const char *nccl_id;       /* cuda, world > 1: the file the ranks exchange NCCL's id through */
} tl_train_opts;

int tl_train(const tl_train_opts *o, tl_err *e);

#endif
