/* `tinyllm pretrain`: train a GPT-2 from scratch, or resume, on token shards. */
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/prepare.h"
#include "train/trainer.h"

int tl_cmd_pretrain(int argc, char **argv) {
    tl_train_opts o = {.train = NULL, .val = NULL, .out_dir = "out", .model = "30M", .batch_size = 4, .seq_len = 256,
                       .total_batch = 0, .steps = 1000, .warmup = 0, .lr = 6e-4f, .lr_final_frac = 0.1f,
                       .weight_decay = 0.1f, .grad_clip = 1.0f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .eval_every = 100, .eval_batches = 20, .sample_every = 0, .sample_tokens = 64,
                       .ckpt_every = 500, .keep = 3, .seed = 1337, .on_nonfinite = "skip"};
    int threads = 0, vocab = 0;
    tl_opt opts[] = {
        {"train", 0, TL_OPT_STR, &o.train, "train shards: a prepare output directory, a glob, or a file"},
        {"val", 0, TL_OPT_STR, &o.val, "val shards (default: the --train directory)"},
        {"out", 'o', TL_OPT_STR, &o.out_dir, "run directory: checkpoints, latest, metrics.jsonl"},
        {"model", 'm', TL_OPT_STR, &o.model, "preset 30M|51M|82M|101M|124M or LAYERSxHEADSxEMBD, e.g. 4x4x128"},
        {"batch-size", 'b', TL_OPT_INT, &o.batch_size, "sequences per micro-batch"},
        {"seq-len", 'T', TL_OPT_INT, &o.seq_len, "tokens per sequence (also the model's context when new)"},
        {"total-batch", 0, TL_OPT_I64, &o.total_batch, "tokens per optimizer step, by gradient accumulation (0: one micro-batch)"},
        {"steps", 'n', TL_OPT_INT, &o.steps, "optimizer steps"},
        {"lr", 0, TL_OPT_FLOAT, &o.lr, "peak learning rate"},
        {"warmup", 0, TL_OPT_INT, &o.warmup, "linear warmup steps"},
        {"lr-final-frac", 0, TL_OPT_FLOAT, &o.lr_final_frac, "cosine decays to lr x this at the last step"},
        {"weight-decay", 0, TL_OPT_FLOAT, &o.weight_decay, "AdamW decoupled weight decay (matrices, embeddings)"},
        {"grad-clip", 0, TL_OPT_FLOAT, &o.grad_clip, "clip the global gradient norm to this (0: off)"},
        {"eval-every", 0, TL_OPT_INT, &o.eval_every, "val loss every N steps (0: never)"},
        {"eval-batches", 0, TL_OPT_INT, &o.eval_batches, "micro-batches per val loss"},
        {"sample-every", 0, TL_OPT_INT, &o.sample_every, "print a sample every N steps (0: never)"},
        {"sample-tokens", 0, TL_OPT_INT, &o.sample_tokens, "tokens per sample"},
        {"ckpt-every", 0, TL_OPT_INT, &o.ckpt_every, "checkpoint every N steps (and always at the end)"},
        {"keep", 0, TL_OPT_INT, &o.keep, "checkpoints kept"},
        {"resume", 0, TL_OPT_FLAG, &o.resume, "continue from the newest checkpoint in --out"},
        {"seed", 's', TL_OPT_I64, &o.seed, "seed for initialisation and samples"},
        {"on-nonfinite", 0, TL_OPT_STR, &o.on_nonfinite, "non-finite loss/gradients: skip the update (stop after 10 in a row) or stop"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
        {"vocab", 0, TL_OPT_INT, &vocab, "vocabulary size when the shards have no meta.json (default 50257)"},
    };
    tl_cmd cmd = {"pretrain", "tinyllm pretrain --train DIR [options]",
                  "Trains a GPT-2 (fp32, CPU, multi-threaded) with AdamW on a cosine schedule. Writes checkpoints\n"
                  "and metrics.jsonl to --out; --resume continues bit-exactly from the newest checkpoint.\n\n"
                  "example: tinyllm pretrain --train data/tiny --model 4x4x128 --seq-len 128 --steps 500 -o runs/tiny",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!o.train) {
        tl_errf(&e, "pretrain: --train is required (a directory made by 'tinyllm prepare')");
        return tl_cli_fail(&e);
    }
    struct stat sb;
    int train_is_dir = stat(o.train, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!o.val && train_is_dir) o.val = o.train;
    char tokname[64] = "gpt2", tokspec[4096] = "gpt2";
    int meta_vocab = 50257;
    if (train_is_dir && tl_prepare_meta_read(o.train, &meta_vocab, tokname, sizeof tokname, tokspec, sizeof tokspec, &e) < 0)
        return tl_cli_fail(&e);
    o.vocab = vocab > 0 ? vocab : meta_vocab;
    o.tokenizer = tokname;
    if (o.total_batch == 0) o.total_batch = (long long)o.batch_size * o.seq_len;
    if (threads > 0) omp_set_num_threads(threads);
    tl_opts_print(&cmd, stderr);
    fprintf(stderr, "  %-20s %d\n", "threads (resolved)", omp_get_max_threads());
    tl_bpe *bpe = NULL;
    if (o.sample_every > 0 && tl_bpe_load(&bpe, tokspec, &e)) return tl_cli_fail(&e);
    o.bpe = bpe;
    r = tl_train(&o, &e);
    if (bpe) tl_bpe_free(bpe);
    return r ? tl_cli_fail(&e) : 0;
}
