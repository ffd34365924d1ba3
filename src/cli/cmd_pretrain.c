/* `tinyllm pretrain`: train a GPT-2 from scratch, or resume, on token shards. */
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/prepare.h"
#include "train/trainer.h"
#ifdef TL_HAVE_CUDA
#include "cuda/gpt2_cuda.h"
#endif

int tl_cmd_pretrain(int argc, char **argv) {
    tl_train_opts o = {.train = NULL, .val = NULL, .out_dir = "out", .model = "30M", .batch_size = 4, .seq_len = 256,
                       .total_batch = 0, .steps = 1000, .warmup = 0, .lr = 6e-4f, .lr_final_frac = 0.1f,
                       .weight_decay = 0.1f, .grad_clip = 1.0f, .beta1 = 0.9f, .beta2 = 0.95f, .eps = 1e-8f,
                       .eval_every = 100, .eval_batches = 20, .sample_every = 0, .sample_tokens = 64,
                       .ckpt_every = 500, .keep = 3, .seed = 1337, .on_nonfinite = "skip", .device = "cpu"};
    int threads = 0, vocab = 0, gpus = 1;
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
        {"device", 0, TL_OPT_STR, &o.device, "cpu (fp32) or cuda (bf16 on NVIDIA GPUs, fp32 master weights)"},
        {"gpus", 0, TL_OPT_INT, &gpus, "cuda: data parallel over this many GPUs, one process each (NCCL)"},
        {"recompute", 0, TL_OPT_FLAG, &o.recompute, "cuda: recompute GELU outputs in the backward (less memory)"},
    };
    tl_cmd cmd = {"pretrain", "tinyllm pretrain --train DIR [options]",
                  "Trains a GPT-2 (fp32 on the CPU, or bf16 on NVIDIA GPUs with --device cuda) with AdamW on a\n"
                  "cosine schedule. Writes checkpoints and metrics.jsonl to --out (the same files on either device);\n"
                  "--resume continues bit-exactly from the newest checkpoint.\n\n"
                  "example: tinyllm pretrain --train data/tiny --model 4x4x128 --seq-len 128 --steps 500 -o runs/tiny\n"
                  "         tinyllm pretrain --train data/web --device cuda --model 124M --seq-len 1024 --batch-size 64 \\\n"
                  "                          --total-batch 524288 --steps 10000 -o runs/124M",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (strcmp(o.device, "cpu") && strcmp(o.device, "cuda")) {
        tl_errf(&e, "pretrain: --device must be cpu or cuda, not '%s'", o.device);
        return tl_cli_fail(&e);
    }
    if (gpus < 1 || (gpus > 1 && strcmp(o.device, "cuda"))) {
        tl_errf(&e, "pretrain: --gpus %d needs --device cuda and a count >= 1", gpus);
        return tl_cli_fail(&e);
    }
#ifdef TL_HAVE_CUDA
    const char *id_file = NULL;
    if (tl_cuda_rank_env(&o.rank, &o.world, &id_file)) {
        o.nccl_id = id_file; /* a rank started by the launch below */
    } else if (gpus > 1) {
        if (tl_cuda_launch(gpus, argv - 1, &e)) return tl_cli_fail(&e); /* argv - 1: the program's own argv */
        return 0;
    }
#else
    if (gpus > 1) {
        tl_errf(&e, "pretrain: --gpus needs a build with CUDA");
        return tl_cli_fail(&e);
    }
#endif
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
