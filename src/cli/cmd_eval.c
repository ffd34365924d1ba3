/* `tinyllm eval`: task accuracy (classification) or error (regression) of a model on a task CSV. */
#include <jansson.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "model/lora.h"
#include "train/checkpoint.h"
#include "train/eval.h"

/* The model: a checkpoint, with an adapter folded in when one is given; it must have been trained
 * with the tokenizer `tok`. */
static int load_model(tl_gpt2 *m, const char *path, const char *adapter, const char *tok, tl_err *e) {
    tl_train_state st;
    if (tl_ckpt_load(path, m, NULL, &st, e)) return -1;
    if (strcmp(st.tokenizer, tok)) {
        tl_gpt2_free(m);
        return tl_errf(e, "%s: the model was trained with tokenizer '%s', not '%s' (give it with --tokenizer)", path, st.tokenizer, tok);
    }
    if (!adapter) return 0;
    tl_lora lo;
    if (tl_ckpt_load_adapter(adapter, m, &lo, NULL, NULL, e)) {
        tl_gpt2_free(m);
        return -1;
    }
    tl_lora_merge(&lo, m);
    tl_lora_free(&lo);
    return 0;
}

static void print_confusion(const tl_confusion *c, const tl_task *t, int with_none) {
    printf("  %-18s %9s %9s %9s %8s\n", "label", "precision", "recall", "f1", "support");
    for (int k = 0; k < c->n; k++) {
        double p, r, f;
        long support = 0;
        for (int j = 0; j <= c->n; j++) support += c->counts[k * (c->n + 1) + j];
        tl_confusion_class(c, k, &p, &r, &f);
        printf("  %-18s %9.3f %9.3f %9.3f %8ld\n", t->labels[k], p, r, f, support);
    }
    printf("  confusion (rows: expected, columns: predicted)\n  %-18s", "");
    for (int j = 0; j < c->n; j++) printf(" %10.10s", t->labels[j]);
    if (with_none) printf(" %10s", "none/ambig");
    printf("\n");
    for (int k = 0; k < c->n; k++) {
        printf("  %-18s", t->labels[k]);
        for (int j = 0; j < c->n + with_none; j++) printf(" %10ld", c->counts[k * (c->n + 1) + j]);
        printf("\n");
    }
}

static json_t *confusion_json(const tl_confusion *c) {
    json_t *rows = json_array();
    for (int k = 0; k < c->n; k++) {
        json_t *row = json_array();
        for (int j = 0; j <= c->n; j++) json_array_append_new(row, json_integer(c->counts[k * (c->n + 1) + j]));
        json_array_append_new(rows, row);
    }
    return json_pack("{s:f, s:I, s:I, s:o}", "accuracy", (double)tl_confusion_correct(c) / (double)tl_confusion_total(c),
                     "correct", (json_int_t)tl_confusion_correct(c), "total", (json_int_t)tl_confusion_total(c), "confusion", rows);
}

int tl_cmd_eval(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *task_path = NULL, *data = NULL, *mode = "both", *rows_out = NULL, *json_out = NULL,
               *tokenizer = "gpt2";
    tl_eval_opts o = {.max_new = 30, .repeat_penalty = 1.3f};
    long long limit = 0;
    int threads = 0;
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "checkpoint file or run directory (e.g. runs/gesture/best.safetensors)"},
        {"adapter", 0, TL_OPT_STR, &adapter, "LoRA adapter to apply to the model (a fine-tuning run's best.safetensors)"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec (tasks/*.task): columns, labels or regression, number rendering"},
        {"data", 0, TL_OPT_STR, &data, "task CSV to evaluate (header row first)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the model uses"},
        {"mode", 0, TL_OPT_STR, &mode, "likelihood (score each label), generate (greedy answer, the paper's way), or both"},
        {"max-new", 'n', TL_OPT_INT, &o.max_new, "generate: new tokens at most"},
        {"repeat-penalty", 0, TL_OPT_FLOAT, &o.repeat_penalty, "generate: penalty on tokens already in prompt or answer (1: off)"},
        {"limit", 0, TL_OPT_I64, &limit, "evaluate only the first N rows (0: all)"},
        {"out", 'o', TL_OPT_STR, &rows_out, "per-row JSONL: expected, label probabilities, generated text, parsed answer"},
        {"json", 0, TL_OPT_STR, &json_out, "summary as JSON"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
    };
    tl_cmd cmd = {"eval", "tinyllm eval -m MODEL --task TASK --data CSV [options]",
                  "Scores a model on a task CSV. Classification: accuracy, per-class precision/recall/F1 and\n"
                  "the confusion matrix, by label likelihood (each allowed label scored after the prompt; the\n"
                  "prediction is always a valid label) and by generation (greedy, repetition penalty; correct\n"
                  "when the expected label occurs exactly once in the answer, the paper's rule). Regression:\n"
                  "the first number of the generated answer; MAE, RMSE, share within +-1, unparseable answers.\n\n"
                  "example: tinyllm eval -m runs/gesture/merged.safetensors --task tasks/gesture.task \\\n"
                  "             --data ../shared/datasets/gesture/validation.csv --out rows.jsonl",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model || !task_path || !data) {
        tl_errf(&e, "eval: -m, --task and --data are required (see 'tinyllm eval --help')");
        return tl_cli_fail(&e);
    }
    o.likelihood = !strcmp(mode, "both") || !strcmp(mode, "likelihood");
    o.generate = !strcmp(mode, "both") || !strcmp(mode, "generate");
    if (!o.likelihood && !o.generate) {
        tl_errf(&e, "--mode must be likelihood, generate or both, not '%s'", mode);
        return tl_cli_fail(&e);
    }
    if (o.max_new < 1 || !(o.repeat_penalty > 0)) {
        tl_errf(&e, "--max-new must be >= 1 and --repeat-penalty > 0");
        return tl_cli_fail(&e);
    }
    o.limit = limit;
    o.rows_out = rows_out;
    if (threads > 0) omp_set_num_threads(threads);
    tl_opts_print(&cmd, stderr);
    tl_task t;
    tl_gpt2 m = {0};
    tl_bpe *bpe = NULL;
    tl_eval_result res = {0};
    int rc = 1, have_task = 0;
    if (tl_task_load(&t, task_path, &e)) goto done;
    have_task = 1;
    if (t.kind == TL_TASK_REGRESS && !o.generate) {
        tl_errf(&e, "%s: a regression task is scored by generation (--mode generate or both)", task_path);
        goto done;
    }
    if (tl_bpe_load(&bpe, tokenizer, &e) || load_model(&m, model, adapter, tl_bpe_name(bpe), &e)) goto done;
    if (tl_eval_run(&m, bpe, &t, data, &o, &res, &e)) goto done;
    printf("eval: %s on %s: %ld rows, model %s%s%s (%.2fM params), %.1f s (%.2f rows/s)\n", t.name, data, res.rows, model,
           adapter ? " + " : "", adapter ? adapter : "", (double)m.n_params / 1e6, res.seconds, (double)res.rows / res.seconds);
    json_t *sum = json_pack("{s:s, s:s, s:I}", "task", t.name, "data", data, "rows", (json_int_t)res.rows);
    if (t.kind == TL_TASK_CLASSIFY) {
        if (o.likelihood) {
            long ok = tl_confusion_correct(&res.likelihood);
            printf("\nlabel likelihood: accuracy %.2f%% (%ld/%ld)\n", 100.0 * (double)ok / (double)res.rows, ok, res.rows);
            print_confusion(&res.likelihood, &t, 0);
            json_object_set_new(sum, "likelihood", confusion_json(&res.likelihood));
        }
        if (o.generate) {
            printf("\ngeneration (greedy, %d tokens, repeat penalty %.2f): accuracy %.2f%% (%ld/%ld: expected label exactly once)\n",
                   o.max_new, (double)o.repeat_penalty, 100.0 * (double)res.gen_exactly_once / (double)res.rows,
                   res.gen_exactly_once, res.rows);
            print_confusion(&res.generation, &t, 1);
            json_t *g = confusion_json(&res.generation);
            json_object_set_new(g, "exactly_once", json_integer(res.gen_exactly_once));
            json_object_set_new(g, "paper_accuracy", json_real((double)res.gen_exactly_once / (double)res.rows));
            json_object_set_new(sum, "generation", g);
        }
    } else {
        const tl_regress *g = &res.regress;
        printf("\nregression (generation, first number of the answer): MAE %.3f, RMSE %.3f, within +-1: %.1f%% (%ld/%ld), "
               "unparseable %ld/%ld\n", tl_regress_mae(g), tl_regress_rmse(g), g->n ? 100.0 * (double)g->within1 / (double)g->n : 0.0,
               g->within1, g->n, g->unparsed, res.rows);
        json_object_set_new(sum, "regression", json_pack("{s:f, s:f, s:I, s:I, s:I}", "mae", g->n ? tl_regress_mae(g) : -1.0,
                                                         "rmse", g->n ? tl_regress_rmse(g) : -1.0, "within1", (json_int_t)g->within1,
                                                         "scored", (json_int_t)g->n, "unparseable", (json_int_t)g->unparsed));
    }
    char *s = json_out ? json_dumps(sum, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(sum);
    if (json_out) {
        tl_afile af;
        if (!s || tl_afile_open(&af, json_out, &e) || tl_afile_write(&af, s, strlen(s), &e) || tl_afile_write(&af, "\n", 1, &e) ||
            tl_afile_commit(&af, &e)) {
            free(s);
            if (!s) tl_errf(&e, "%s: out of memory", json_out);
            goto done;
        }
        free(s);
    }
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_eval_result_free(&res);
    tl_bpe_free(bpe);
    tl_gpt2_free(&m);
    if (have_task) tl_task_free(&t);
    return rc;
}
