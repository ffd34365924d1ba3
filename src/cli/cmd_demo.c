/* `tinyllm demo`: the main job on an embedded default, each step shown as the command a user would
 * type. The default is the TinyLLM pipeline: the shipped pretrained base, LoRA fine-tuning on a
 * sensing task (localisation) on the CPU, evaluation, q8_0 quantization, classification through
 * the edge runtime and its speed. `tinyllm demo pretrain` is the other half: pretraining from
 * scratch on an embedded corpus. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "data/democorpus.h"

static int step(const char *title, int (*fn)(int, char **), char **argv) {
    int argc = 0;
    fflush(stdout); /* what the previous step printed comes before this step's header */
    fprintf(stderr, "\n== %s\n$ tinyllm", title);
    for (; argv[argc]; argc++) fprintf(stderr, strchr(argv[argc], ' ') ? " \"%s\"" : " %s", argv[argc]);
    fprintf(stderr, "\n");
    return fn(argc, argv);
}

/* out/name, into buf (4096 bytes); a longer path ends the demo. */
static char *in_dir(char *buf, const char *out, const char *name) {
    if (snprintf(buf, 4096, "%s/%s", out, name) >= 4096) {
        fprintf(stderr, "tinyllm: demo: path too long: %s/%s\n", out, name);
        exit(1);
    }
    return buf;
}

/* Pretraining from scratch: an embedded English corpus about sensors, tokenized, a 4-layer GPT-2
 * trained on the CPU, and a sample. */
static int demo_pretrain(int argc, char **argv) {
    const char *out = "demo-out/pretrain";
    int steps = 300, docs = 6000, threads = 0;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "working directory for the corpus, shards and run"},
        {"steps", 'n', TL_OPT_INT, &steps, "training steps"},
        {"docs", 0, TL_OPT_INT, &docs, "documents in the generated corpus"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
    };
    tl_cmd cmd = {"demo pretrain", "tinyllm demo pretrain [options]",
                  "Generates a small English corpus about sensors and gestures, tokenizes it, pretrains a\n"
                  "4-layer GPT-2 on the CPU for a few minutes (val loss printed as it falls), saves a\n"
                  "checkpoint and samples from it. Re-running starts over in --out.",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    char corpus[4096], data[4096], run[4096], latest[4096], nsteps[32], nthreads[32];
    in_dir(corpus, out, "corpus.txt");
    in_dir(data, out, "data");
    in_dir(run, out, "run");
    snprintf(nsteps, sizeof nsteps, "%d", steps);
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    fprintf(stderr, "== writing the embedded demo corpus (%d documents) to %s\n", docs, corpus);
    if (tl_mkdir_p(out, &e) || tl_democorpus_write(corpus, docs, 1, &e)) return tl_cli_fail(&e);
    remove(in_dir(latest, run, "latest")); /* a fresh run each time: pretrain starts over */
    char *prep[] = {"prepare", "--out", data, "--val-fraction", "0.05", corpus, NULL};
    if (step("tokenize it into train/val shards", tl_cmd_prepare, prep)) return 1;
    char *train[] = {"pretrain", "--train", data, "--model", "4x4x128", "--seq-len", "128", "--batch-size", "8",
                     "--steps", nsteps, "--lr", "3e-3", "--warmup", "30", "--eval-every", "50", "--eval-batches",
                     "10", "--sample-every", nsteps, "--ckpt-every", "200", "--threads", nthreads, "--out", run, NULL};
    if (step("pretrain a 4-layer GPT-2 on the CPU", tl_cmd_pretrain, train)) return 1;
    char *gen[] = {"run", "-m", run, "-p", "At 07:30 the kitchen sensor read", "-n", "48", "--temp", "0.7", "-s", "7",
                   threads > 0 ? "--threads" : NULL, nthreads, NULL}; /* run's own default: all cores */
    if (step("sample from the checkpoint", tl_cmd_run, gen)) return 1;
    fprintf(stderr, "\ndone: corpus %s, shards %s, checkpoint and metrics.jsonl in %s\n", corpus, data, run);
    return 0;
}

/* The sensing tasks the demo knows: spec tasks/<name>.task, data ../shared/datasets/<name>/, the
 * `tinyllm synth` generator that writes rows of the same columns when that folder is missing (and
 * how many), and its LoRA recipe (docs/results.md): gesture r 32, alpha 64, batch 4, lr 1e-3, 6
 * epochs (96.8-100 % over five seeds on the GPU); localisation on the top 2 of 6 blocks (94-100 %,
 * 2.8x faster than every block). */
static const struct {
    const char *name, *synth;
    int synth_rows, batch;
    const char *rank, *alpha, *lr, *warmup, *lora_layers;
    float epochs;
} demo_tasks[] = {{"gesture", "gesture", 408, 4, "32", "64", "1e-3", "20", "0", 6},
                  {"localisation", "environment", 600, 8, "16", "16", "2e-3", "0", "2", 8}};

int tl_cmd_demo(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "pretrain")) return demo_pretrain(argc - 1, argv + 1);
    const char *out = "demo-out", *base = "models/tinyllm-sensor8192-30M-base-q8_0.gguf",
               *tok = "models/sensor8192-d1", *name = "gesture", *data = NULL, *layers = NULL;
    int batch = 0, eval_rows = 60, threads = 0, synth_rows = 0, full = 0;
    float epochs = 0;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "working directory"},
        {"base", 'm', TL_OPT_STR, &base, "the pretrained base model: what tinyllm import reads (GGUF, HF directory, llm.c file)"},
        {"tokenizer", 0, TL_OPT_STR, &tok, "the base's tokenizer: gpt2 or a trained tokenizer's folder"},
        {"task", 0, TL_OPT_STR, &name, "gesture or localisation (tasks/<task>.task)"},
        {"data", 0, TL_OPT_STR, &data, "folder with the task's train.csv and validation.csv (default ../shared/datasets/<task>; missing: synthetic rows)"},
        {"epochs", 0, TL_OPT_FLOAT, &epochs, "passes over the training rows (0: the task's recipe, 6 gesture, 8 localisation)"},
        {"full", 0, TL_OPT_FLAG, &full, "fine-tune every weight instead of LoRA adapters"},
        {"lora-layers", 0, TL_OPT_STR, &layers, "adapted top blocks (0: all; default: the task's recipe, 0 gesture, 2 localisation)"},
        {"batch-size", 'b', TL_OPT_INT, &batch, "examples per step (0: the task's recipe, 4 gesture, 8 localisation)"},
        {"eval-rows", 0, TL_OPT_INT, &eval_rows, "validation rows scored"},
        {"synth-rows", 0, TL_OPT_INT, &synth_rows, "training rows generated when --data has none (0: the task's recipe, 408 gesture as in its real set, 600 localisation)"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
    };
    tl_cmd cmd = {"demo", "tinyllm demo [options]  |  tinyllm demo pretrain [options]",
                  "The TinyLLM pipeline on the CPU, in a few minutes: the shipped pretrained base (models/),\n"
                  "LoRA fine-tuning on a sensing task (the real rows of --data when present, otherwise\n"
                  "`tinyllm synth` rows of the same columns), evaluation on validation rows, q8_0 export,\n"
                  "labels with probabilities from the quantized file through the edge runtime, its speed.\n"
                  "`tinyllm demo pretrain` instead pretrains a small GPT-2 from scratch on an embedded corpus.",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    int which = -1;
    for (int i = 0; i < (int)(sizeof demo_tasks / sizeof *demo_tasks); i++)
        if (!strcmp(name, demo_tasks[i].name)) which = i;
    if (which < 0) {
        tl_errf(&e, "demo: --task '%s': the demo knows gesture and localisation", name);
        return tl_cli_fail(&e);
    }
    if (!layers) layers = demo_tasks[which].lora_layers;
    if (epochs <= 0) epochs = demo_tasks[which].epochs;
    char task[4096], datadir[4096];
    snprintf(task, sizeof task, "tasks/%s.task", name);
    snprintf(datadir, sizeof datadir, "../shared/datasets/%s", name);
    if (!data) data = datadir;
    if (!tl_file_exists(base)) {
        tl_errf(&e, "demo: base model %s not found (run from the repository root, or give --base)", base);
        return tl_cli_fail(&e);
    }
    char ckpt[4096], train[4096], val[4096], ft[4096], merged[4096], gguf[4096], latest[4096];
    char nepochs[32], nbatch[32], nrows[32], nthreads[32], nsynth[32], file[256];
    snprintf(nepochs, sizeof nepochs, "%g", epochs);
    snprintf(nbatch, sizeof nbatch, "%d", batch > 0 ? batch : demo_tasks[which].batch);
    snprintf(nrows, sizeof nrows, "%d", eval_rows);
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    snprintf(nsynth, sizeof nsynth, "%d", synth_rows > 0 ? synth_rows : demo_tasks[which].synth_rows);
    if (tl_mkdir_p(out, &e)) return tl_cli_fail(&e);
    in_dir(ft, out, "finetune");
    remove(in_dir(latest, ft, "latest")); /* a fresh run each time */
    char *imp[] = {"import", (char *)base, "--tokenizer", (char *)tok, "-o", in_dir(ckpt, out, "base.safetensors"), NULL};
    if (step("the shipped pretrained base as a checkpoint to fine-tune", tl_cmd_import, imp)) return 1;
    in_dir(train, data, "train.csv");
    in_dir(val, data, "validation.csv");
    if (!tl_file_exists(train) || !tl_file_exists(val)) {
        const char *gen = demo_tasks[which].synth;
        fprintf(stderr, "\n(no %s: the demo fine-tunes on synthetic %s rows)\n", train, gen);
        snprintf(file, sizeof file, "%s-train.csv", name);
        char *st[] = {"synth", (char *)gen, "--rows", nsynth, "--seed", "1", "-o", in_dir(train, out, file), NULL};
        snprintf(file, sizeof file, "%s-val.csv", name);
        char *sv[] = {"synth", (char *)gen, "--rows", nrows, "--seed", "2", "-o", in_dir(val, out, file), NULL};
        if (step("synthetic recordings", tl_cmd_synth, st) || step("and validation rows", tl_cmd_synth, sv)) return 1;
    }
    char *lora[] = {"finetune", "--base", ckpt, "--tokenizer", (char *)tok, "--train", train, "--task", task, "--lora",
                    "--lora-rank", (char *)demo_tasks[which].rank, "--lora-alpha", (char *)demo_tasks[which].alpha,
                    "--lora-layers", (char *)layers, "--lr", (char *)demo_tasks[which].lr, "--warmup",
                    (char *)demo_tasks[which].warmup, "--epochs", nepochs, "--batch-size", nbatch, "--merge",
                    "--threads", nthreads, "-o", ft, NULL};
    char *every[] = {"finetune", "--base", ckpt, "--tokenizer", (char *)tok, "--train", train, "--task", task,
                     "--lr", "3e-4", "--epochs", nepochs, "--batch-size", nbatch, "--threads", nthreads, "-o", ft, NULL};
    if (full ? step("full fine-tuning on the CPU (loss on the response only)", tl_cmd_finetune, every)
             : step("LoRA fine-tuning on the CPU (the base stays frozen; loss on the response only)", tl_cmd_finetune, lora))
        return 1;
    if (full) snprintf(merged, sizeof merged, "%s", ft); /* the run's newest checkpoint */
    else in_dir(merged, ft, "merged.safetensors");
    char *ev[] = {"eval", "-m", merged, "--tokenizer", (char *)tok, "--task", task, "--data", val, "--limit", nrows,
                  "--mode", "likelihood", "--threads", nthreads, NULL};
    if (step("accuracy on validation rows (label likelihood)", tl_cmd_eval, ev)) return 1;
    char model_name[300];
    snprintf(model_name, sizeof model_name, "tinyllm-%s", name);
    snprintf(file, sizeof file, "%s-q8_0.gguf", name);
    char *ex[] = {"export", "-m", merged, "--tokenizer", (char *)tok, "--task", task, "--type", "q8_0", "--name", model_name,
                  "-o", in_dir(gguf, out, file), NULL};
    if (step("quantize to q8_0 GGUF (llama.cpp's format, with the task inside)", tl_cmd_export, ex)) return 1;
    char *cl[] = {"classify", "-m", gguf, "--task", task, "--data", val, "--limit", "5",
                  "--threads", threads > 0 ? nthreads : "2", NULL};
    if (step("label recordings with the quantized model (the edge runtime)", tl_cmd_classify, cl)) return 1;
    char *be[] = {"bench", "-m", gguf, "-p", "256", "-n", "64", "-r", "2", "-t", threads > 0 ? nthreads : "1,2", NULL};
    if (step("its speed on this CPU", tl_cmd_bench, be)) return 1;
    fprintf(stderr, "\ndone. Next:\n"
                    "  tinyllm serve -m %s        # OpenAI-style HTTP API + web page on 127.0.0.1:8080\n"
                    "  tinyllm classify -m %s --task %s --data <recordings.csv>\n"
                    "  tinyllm export -m %s -f hf -o %s/hf   # a transformers directory\n"
                    "  make arm64                    # one static tinyllm for a Raspberry Pi: copy it and the .gguf\n"
                    "  tinyllm demo pretrain         # pretraining from scratch on the CPU\n"
                    "README.md, section \"Train your own sensing model\", does the same on your CSV.\n",
            gguf, gguf, task, merged, out);
    return 0;
}
