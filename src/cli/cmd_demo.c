/* `tinyllm demo`: the main job on an embedded default — write a corpus, prepare it, pretrain a
 * small GPT-2 on the CPU, and sample from it, showing each command as a user would type it. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "base/file.h"
#include "data/democorpus.h"

static int step(const char *title, int (*fn)(int, char **), char **argv) {
    int argc = 0;
    fprintf(stderr, "\n== %s\n$ tinyllm", title);
    for (; argv[argc]; argc++) fprintf(stderr, strchr(argv[argc], ' ') ? " \"%s\"" : " %s", argv[argc]);
    fprintf(stderr, "\n");
    return fn(argc, argv);
}

int tl_cmd_demo(int argc, char **argv) {
    const char *out = "demo-out";
    int steps = 300, docs = 6000, threads = 0;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "working directory for the corpus, shards and run"},
        {"steps", 'n', TL_OPT_INT, &steps, "training steps"},
        {"docs", 0, TL_OPT_INT, &docs, "documents in the generated corpus"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
    };
    tl_cmd cmd = {"demo", "tinyllm demo [options]",
                  "Generates a small English corpus about sensors and gestures, tokenizes it, pretrains a\n"
                  "4-layer GPT-2 on the CPU for a few minutes (val loss printed as it falls), saves a\n"
                  "checkpoint and samples from it. Re-running starts over in --out.",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    char corpus[4096], data[4096], run[4096], nsteps[32], nthreads[32];
    snprintf(corpus, sizeof corpus, "%s/corpus.txt", out);
    snprintf(data, sizeof data, "%s/data", out);
    snprintf(run, sizeof run, "%s/run", out);
    snprintf(nsteps, sizeof nsteps, "%d", steps);
    snprintf(nthreads, sizeof nthreads, "%d", threads);
    fprintf(stderr, "== writing the embedded demo corpus (%d documents) to %s\n", docs, corpus);
    if (tl_mkdir_p(out, &e) || tl_democorpus_write(corpus, docs, 1, &e)) return tl_cli_fail(&e);
    /* a fresh run each time: drop the previous run's manifest so pretrain starts over */
    char latest[4200];
    snprintf(latest, sizeof latest, "%s/latest", run);
    remove(latest);
    char *prep[] = {"prepare", "--out", data, "--val-fraction", "0.05", corpus, NULL};
    if (step("tokenize it into train/val shards", tl_cmd_prepare, prep)) return 1;
    char *train[] = {"pretrain", "--train", data, "--model", "4x4x128", "--seq-len", "128", "--batch-size", "8",
                     "--steps", nsteps, "--lr", "3e-3", "--warmup", "30", "--eval-every", "50", "--eval-batches",
                     "10", "--sample-every", nsteps, "--ckpt-every", "200", "--threads", nthreads, "--out", run, NULL};
    if (step("pretrain a 4-layer GPT-2 on the CPU", tl_cmd_pretrain, train)) return 1;
    char *gen[] = {"run", "-m", run, "-p", "At 07:30 the kitchen sensor read", "-n", "48", "--temp", "0.7", "-s", "7",
                   "--threads", nthreads, NULL};
    if (step("sample from the checkpoint", tl_cmd_run, gen)) return 1;
    fprintf(stderr, "\ndone: corpus %s, shards %s, checkpoint and metrics.jsonl in %s\n", corpus, data, run);
    return 0;
}
