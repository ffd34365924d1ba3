/* `tinyllm finetune`: full or LoRA fine-tuning of a checkpoint on prompt/response examples. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/examples.h"
#include "tasks/task.h"
#include "train/trainer.h"

int tl_cmd_finetune(int argc, char **argv) {
    tl_train_opts o = {.out_dir = "finetune-out", .batch_size = 8, .total_batch = 0, .steps = 0, .warmup = 0,
                       .lr = 3e-4f, .lr_final_frac = 0.1f, .weight_decay = 0.0f, .grad_clip = 1.0f, .beta1 = 0.9f,
                       .beta2 = 0.999f, .eps = 1e-8f, .eval_every = 0, .ckpt_every = 0, .keep = 2, .seed = 1337,
                       .on_nonfinite = "skip", .patience = 0, .device = "cpu", .frozen_cache_mb = 2048};
    const char *task_path = NULL, *targets = "all", *tokenizer = "gpt2";
    float epochs = 3, alpha = 16, dropout = 0.05f;
    int threads = 0, lora = 0, rank = 8, lora_layers = 0;
    tl_opt opts[] = {
        {"base", 'm', TL_OPT_STR, &o.base, "checkpoint to fine-tune (a file, or a run directory's newest)"},
        {"train", 0, TL_OPT_STR, &o.train, "examples: a prepare output folder (finetune_train.jsonl), a .jsonl of {prompt, response}, or a task .csv"},
        {"val", 0, TL_OPT_STR, &o.val, "val examples, same forms (default: the --train folder's finetune_val.jsonl)"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec for .csv examples (tasks/*.task)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the base was pre-trained with"},
        {"out", 'o', TL_OPT_STR, &o.out_dir, "run directory: checkpoints, best.safetensors, metrics.jsonl"},
        {"lora", 0, TL_OPT_FLAG, &lora, "train LoRA adapters only (base frozen) instead of every weight"},
        {"lora-rank", 'r', TL_OPT_INT, &rank, "LoRA rank"},
        {"lora-alpha", 0, TL_OPT_FLOAT, &alpha, "LoRA scale numerator (the update is alpha / rank x B A)"},
        {"lora-dropout", 0, TL_OPT_FLOAT, &dropout, "dropout on the LoRA branch's input"},
        {"lora-targets", 0, TL_OPT_STR, &targets, "adapted modules: attn.qkv, attn.proj, mlp.fc, mlp.proj, attn, mlp, all"},
        {"lora-layers", 0, TL_OPT_INT, &lora_layers, "adapt the top N blocks only (0: all); the frozen blocks below run forward once per example"},
        {"frozen-cache-mb", 0, TL_OPT_INT, &o.frozen_cache_mb, "CPU, --lora-layers: memory for the frozen blocks' outputs, reused every epoch (0: recompute)"},
        {"merge", 0, TL_OPT_FLAG, &o.merge, "LoRA: also write merged.safetensors (base + best adapter, a full model)"},
        {"batch-size", 'b', TL_OPT_INT, &o.batch_size, "examples per micro-batch (grouped by length, padded to the longest)"},
        {"total-batch", 0, TL_OPT_I64, &o.total_batch, "examples per optimizer step, by gradient accumulation (0: one micro-batch)"},
        {"epochs", 0, TL_OPT_FLOAT, &epochs, "passes over the train examples (sets --steps)"},
        {"steps", 'n', TL_OPT_INT, &o.steps, "optimizer steps (0: from --epochs)"},
        {"lr", 0, TL_OPT_FLOAT, &o.lr, "peak learning rate"},
        {"warmup", 0, TL_OPT_INT, &o.warmup, "linear warmup steps"},
        {"lr-final-frac", 0, TL_OPT_FLOAT, &o.lr_final_frac, "cosine decays to lr x this at the last step"},
        {"weight-decay", 0, TL_OPT_FLOAT, &o.weight_decay, "AdamW decoupled weight decay"},
        {"grad-clip", 0, TL_OPT_FLOAT, &o.grad_clip, "clip the global gradient norm to this (0: off)"},
        {"eval-every", 0, TL_OPT_INT, &o.eval_every, "val loss (and best.safetensors) every N steps (0: once per epoch)"},
        {"patience", 0, TL_OPT_INT, &o.patience, "stop after N evals without a better val loss (0: never)"},
        {"ckpt-every", 0, TL_OPT_INT, &o.ckpt_every, "checkpoint every N steps (0: at evals; always at the end)"},
        {"keep", 0, TL_OPT_INT, &o.keep, "checkpoints kept"},
        {"resume", 0, TL_OPT_FLAG, &o.resume, "continue from the newest checkpoint in --out"},
        {"seed", 's', TL_OPT_I64, &o.seed, "seed for adapters, example order and dropout"},
        {"device", 0, TL_OPT_STR, &o.device, "cpu (fp32) or cuda (bf16 on one NVIDIA GPU, fp32 master weights; full or LoRA)"},
        {"recompute", 0, TL_OPT_FLAG, &o.recompute, "cuda: recompute GELU outputs in the backward (less memory)"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
    };
    tl_cmd cmd = {"finetune", "tinyllm finetune --base CKPT --train EXAMPLES [options]",
                  "Fine-tunes a checkpoint on instruction examples with the loss on the response only (the\n"
                  "text after '### Response:', including '### End'). Full fine-tuning trains every weight;\n"
                  "--lora trains low-rank adapters on the chosen modules with the base frozen (small memory:\n"
                  "fits an edge board). Each val eval that improves the loss writes best.safetensors (a model,\n"
                  "or an adapter for use with the base); --patience stops early; --resume continues exactly.\n"
                  "--device cuda runs the same loop on a GPU (bf16, fp32 master weights; LoRA skips the base's\n"
                  "weight gradients); its checkpoints and adapters are the CPU's files, resumable on either device.\n\n"
                  "example: tinyllm prepare --task tasks/gesture.task --val-fraction 0.1 --out data/gesture gesture.csv\n"
                  "         tinyllm finetune --base runs/30M --train data/gesture --lora --merge -o runs/gesture\n"
                  "         tinyllm finetune --base runs/30M --train data/gesture --device cuda -o runs/gesture-gpu",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!o.base || !o.train) {
        tl_errf(&e, "finetune: --base and --train are required (see 'tinyllm finetune --help')");
        return tl_cli_fail(&e);
    }
    if (strcmp(o.device, "cpu") && strcmp(o.device, "cuda")) {
        tl_errf(&e, "finetune: --device must be cpu or cuda, not '%s'", o.device);
        return tl_cli_fail(&e);
    }
    tl_lora_config lc = {.rank = rank, .alpha = alpha, .dropout = dropout, .layers = lora_layers};
    if (lora && tl_lora_parse_targets(targets, &lc.targets, &e)) return tl_cli_fail(&e);
    if (!(epochs > 0) && o.steps <= 0) {
        tl_errf(&e, "finetune: --epochs must be > 0 (or give --steps)");
        return tl_cli_fail(&e);
    }
    o.lora = lora ? &lc : NULL;
    struct stat sb;
    int train_is_dir = stat(o.train, &sb) == 0 && S_ISDIR(sb.st_mode);
    if (!o.val && train_is_dir) {
        char p[4200];
        snprintf(p, sizeof p, "%s/finetune_val.jsonl", o.train);
        if (stat(p, &sb) == 0) o.val = o.train;
    }
    if (threads > 0) omp_set_num_threads(threads);
    tl_task task;
    tl_bpe *bpe = NULL;
    tl_examples tr = {0}, va = {0};
    int rc = 1, have_task = 0;
    if (task_path) {
        if (tl_task_load(&task, task_path, &e)) goto done;
        have_task = 1;
    }
    if (tl_bpe_load(&bpe, tokenizer, &e)) goto done;
    if (tl_examples_load(&tr, o.train, "train", have_task ? &task : NULL, bpe, 1 << 20, &e)) goto done;
    if (o.val && tl_examples_load(&va, o.val, "val", have_task ? &task : NULL, bpe, 1 << 20, &e)) goto done;
    o.ft_train = &tr;
    o.ft_val = o.val ? &va : NULL;
    o.tokenizer = tl_bpe_name(bpe);
    o.vocab = tl_bpe_vocab_size(bpe);
    if (o.total_batch == 0) o.total_batch = o.batch_size;
    long long per_epoch = (tr.n + o.total_batch - 1) / o.total_batch;
    if (o.steps <= 0) o.steps = (int)ceil(epochs * (double)per_epoch);
    if (o.eval_every <= 0) o.eval_every = (int)per_epoch;
    if (o.ckpt_every <= 0) o.ckpt_every = o.eval_every;
    if (!o.val) o.eval_every = 0;
    tl_opts_print(&cmd, stderr);
    fprintf(stderr, "  %-20s %d steps, eval every %d, %d threads\n", "resolved", o.steps, o.eval_every, omp_get_max_threads());
    rc = tl_train(&o, &e) ? 1 : 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_examples_free(&tr);
    tl_examples_free(&va);
    tl_bpe_free(bpe);
    if (have_task) tl_task_free(&task);
    return rc;
}
