/* `tinyllm eval`: task accuracy (classification) or error (regression) of a model on a task CSV. */
#include <errno.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "train/eval.h"

/* Fails early (before minutes of scoring) when an output file cannot be created. */
static int check_writable(const char *path, tl_err *e) {
    tl_afile af;
    if (!path || !*path) return 0;
    if (tl_afile_open(&af, path, e)) {
        int err = errno;
        return tl_errf(e, "%s: cannot create: %s", path, strerror(err));
    }
    tl_afile_abort(&af);
    return 0;
}

int tl_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *task_path = NULL, *data = NULL, *mode = "both", *rows_out = NULL,
               *json_out = NULL, *tokenizer = "gpt2";
    int max_new = 30, threads = 0, quiet = 0;
    float penalty = 1.3f;
    long long limit = 0;
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "checkpoint file or run directory (its newest checkpoint)"},
        {"adapter", 0, TL_OPT_STR, &adapter, "LoRA adapter folded into the model (a fine-tuning run's best.safetensors)"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec (tasks/*.task): columns, labels or regression, number rendering"},
        {"data", 0, TL_OPT_STR, &data, "task CSV to evaluate (header row first)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the model uses"},
        {"mode", 0, TL_OPT_STR, &mode, "likelihood (score each label), generate (greedy answer, the paper's way), or both"},
        {"max-new", 'n', TL_OPT_INT, &max_new, "generate: new tokens at most"},
        {"repeat-penalty", 0, TL_OPT_FLOAT, &penalty, "generate: HF repetition penalty on tokens of prompt and answer (1: off)"},
        {"limit", 0, TL_OPT_I64, &limit, "evaluate only the first N rows (0: all)"},
        {"out", 'o', TL_OPT_STR, &rows_out, "per-row JSONL: expected, label log-likelihoods and probabilities, answer, flags"},
        {"json", 0, TL_OPT_STR, &json_out, "summary as JSON (the printed report, machine-readable)"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
        {"quiet", 'q', TL_OPT_FLAG, &quiet, "no progress line"},
    };
    tl_cmd cmd = {"eval", "tinyllm eval -m MODEL --task TASK --data CSV [options]",
                  "Scores a model on a task CSV, each row rendered as for fine-tuning (<|endoftext|> + prompt).\n"
                  "Classification, two ways: label likelihood (each allowed label's log P(\"<label>\\n\\n### End\" |\n"
                  "prompt); the best is the prediction, always a valid label) and generation (greedy, repetition\n"
                  "penalty, stop at ### End; correct when the expected label occurs exactly once in the answer,\n"
                  "the paper's rule); each reports accuracy, per-class precision/recall/F1 and the confusion\n"
                  "matrix. Regression: the first number of the generated answer; MAE, RMSE, share within +-1 and\n"
                  "the count of answers without a number. docs/eval.md explains the report.\n\n"
                  "example: tinyllm eval -m runs/gesture/merged.safetensors --task tasks/gesture.task \\\n"
                  "             --data ../shared/datasets/gesture/validation.csv --out rows.jsonl --json summary.json",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model || !task_path || !data) {
        tl_errf(&e, "eval: -m, --task and --data are required (see 'tinyllm eval --help')");
        return tl_cli_fail(&e);
    }
    tl_eval_opts o = {.likelihood = !strcmp(mode, "both") || !strcmp(mode, "likelihood"),
                      .generate = !strcmp(mode, "both") || !strcmp(mode, "generate"),
                      .max_new = max_new,
                      .repeat_penalty = penalty,
                      .limit = (long)limit,
                      .rows_out = rows_out,
                      .quiet = quiet};
    if (!o.likelihood && !o.generate) tl_errf(&e, "--mode: expected likelihood, generate or both, not '%s'", mode);
    else if (max_new < 1) tl_errf(&e, "--max-new: must be at least 1, not %d", max_new);
    else if (!(penalty > 0)) tl_errf(&e, "--repeat-penalty: must be > 0 (1: off), not %g", (double)penalty);
    else if (limit < 0) tl_errf(&e, "--limit: must be >= 0 (0: all rows), not %lld", limit);
    else if (threads < 0) tl_errf(&e, "--threads: must be >= 0 (0: all cores), not %d", threads);
    else e.msg[0] = 0;
    if (e.msg[0]) return tl_cli_fail(&e);
    if (threads > 0) omp_set_num_threads(threads);
    tl_opts_print(&cmd, stderr);

    tl_task t;
    tl_gpt2 m = {0};
    tl_bpe *bpe = NULL;
    tl_eval_result res = {0};
    int rc = 1, have_task = 0;
    if (tl_task_load(&t, task_path, &e)) goto done;
    have_task = 1;
    if (t.kind == TL_TASK_REGRESS) {
        if (!o.generate) {
            tl_errf(&e, "%s: a regression task is scored by generation (--mode generate or both)", task_path);
            goto done;
        }
        o.likelihood = 0;
    }
    if (check_writable(json_out, &e) || check_writable(rows_out, &e)) goto done;
    if (tl_bpe_load(&bpe, tokenizer, &e) || tl_eval_load_model(&m, model, adapter, bpe, &e)) goto done;
    if (tl_eval_run(&m, bpe, &t, data, &o, &res, &e)) goto done;
    printf("eval: task %s on %s: %ld rows; model %s%s%s (%.2fM parameters, context %d)\n", t.name, data, res.rows, model,
           adapter ? " + adapter " : "", adapter ? adapter : "", (double)m.n_params / 1e6, m.cfg.n_ctx);
    tl_eval_print(stdout, &t, &o, &res);
    if (json_out && tl_eval_write_summary(json_out, &t, model, adapter, data, &o, &res, &e)) goto done;
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_eval_result_free(&res);
    tl_bpe_free(bpe);
    tl_gpt2_free(&m);
    if (have_task) tl_task_free(&t);
    return rc;
}
