/* `tinyllm classify`: label sensor inputs with a fine-tuned model — the task prompt the model was
 * exported with, each allowed label scored by its log-probability on the prompt's KV cache. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/vec.h"
#include "cli/commands.h"
#include "cli/load.h"
#include "cli/opts.h"
#include "data/taskcsv.h"

/* Splits "a, b ,c" into trimmed labels (pointers into s, which is modified). */
static int split_labels(char *s, const char **out, int max) {
    int n = 0;
    for (char *p = strtok(s, ","); p && n < max; p = strtok(NULL, ",")) {
        while (*p == ' ' || *p == '\t') p++;
        char *end = p + strlen(p);
        while (end > p && (end[-1] == ' ' || end[-1] == '\t')) *--end = 0;
        if (*p) out[n++] = p;
    }
    return n;
}

int tl_cmd_classify(int argc, char **argv) {
    const char *model = NULL, *file = NULL, *labels_opt = NULL, *task = NULL, *tokenizer = "gpt2", *kernels = NULL;
    const char *instruction = NULL, *data = NULL;
    int limit = 0;
    const char *suffix = "\n\n### End";
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN), json = 0, raw = 0;
    tl_opt_list inputs = {0};
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "GGUF file exported with --task (or a checkpoint with --task)"},
        {"input", 'i', TL_OPT_LIST, &inputs, "a sensor input, as the task's CSV input column holds it (repeatable)"},
        {"file", 'f', TL_OPT_STR, &file, "read inputs from this file, one per line"},
        {"data", 0, TL_OPT_STR, &data, "a task CSV (with --task): each row's prompt as in training, and the accuracy against its output column"},
        {"limit", 0, TL_OPT_INT, &limit, "--data: only the first N rows (0: all)"},
        {"labels", 0, TL_OPT_STR, &labels_opt, "comma-separated labels (default: the model's task labels)"},
        {"instruction", 0, TL_OPT_STR, &instruction, "the prompt's instruction, for tasks that take it from a CSV column (gesture's), or to override the task's"},
        {"raw", 0, TL_OPT_FLAG, &raw, "inputs are whole prompts: no task template around them"},
        {"suffix", 0, TL_OPT_STR, &suffix, "text scored after each label (the template's end marker)"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (default: all cores)"},
        {"json", 0, TL_OPT_FLAG, &json, "one JSON object per input on stdout"},
        {"kernels", 0, TL_OPT_STR, &kernels, "force a kernel set: scalar, avx2, avx512, avx512-d256, neon, neon-dot"},
        {"task", 0, TL_OPT_STR, &task, "the task spec: for a checkpoint, and for --data (its columns)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "checkpoints only: gpt2, or the trained tokenizer folder"},
    };
    tl_cmd cmd = {"classify", "tinyllm classify -m MODEL (-i INPUT ... | -f FILE) [options]",
                  "Labels each input: the model's task prompt around it, every allowed label scored by the sum of\n"
                  "its tokens' log-probabilities (label + suffix) on the prompt's KV cache; prints the best label,\n"
                  "the probabilities (softmax over the label scores) and the latency.\n\n"
                  "example: tinyllm classify -m localisation-q8_0.gguf -i \"1003.2,41.5,23.9,40.1,112,98,87,55\"\n"
                  "         tinyllm classify -m gesture-q8_0.gguf --task tasks/gesture.task --data validation.csv",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model || (!inputs.n && !file && !data)) {
        tl_errf(&e, "classify: -m MODEL and at least one -i INPUT, -f FILE or --data CSV are required");
        return tl_cli_fail(&e);
    }
    if (data && (!task || raw || inputs.n || file)) {
        tl_errf(&e, "classify: --data CSV takes the task spec (--task) for its columns, and no -i, -f or --raw");
        return tl_cli_fail(&e);
    }
    if (threads < 1 || threads > 1024) {
        tl_errf(&e, "classify: --threads must be 1..1024, not %d", threads);
        return tl_cli_fail(&e);
    }
    if (limit < 0) {
        tl_errf(&e, "classify: --limit must be >= 0 (0: all rows), not %d", limit);
        return tl_cli_fail(&e);
    }
    if (!json) tl_opts_print(&cmd, stderr);
    tl_model *m = NULL;
    tl_ctx *c = NULL;
    tl_buf lines = {0}, out = {0};
    char *lab_copy = labels_opt ? strdup(labels_opt) : NULL, *prompt = NULL;
    const char *labels[256];
    double lp[256], pr[256];
    int rc = 1, n_labels = 0, right = 0, scored = 0;
    tl_task spec = {0};
    tl_task_csv *csv = NULL;
    if (tl_cli_model_open(&m, model, NULL, tokenizer, task, 0, &e) || tl_ctx_init_kernels(&c, m, 0, threads, kernels, &e)) goto done;
    const tl_model_info *in = tl_model_get_info(m);
    if (lab_copy) n_labels = split_labels(lab_copy, labels, 256);
    else
        for (int i = 0; i < in->n_labels && i < 256; i++) labels[n_labels++] = in->task_labels[i];
    if (n_labels < 2) {
        tl_errf(&e, "%s: %s", model, in->task_name ? "the task needs at least 2 labels" : "the model carries no task: give --labels (and --raw for whole prompts)");
        goto done;
    }
    if (!raw && !in->task_name) {
        tl_errf(&e, "%s: the model carries no task prompt: export it with --task, or give --raw prompts", model);
        goto done;
    }
    /* --data: the CSV's rows rendered by the spec, as prepare / finetune / eval render them */
    if (data && (tl_task_load(&spec, task, &e) || tl_task_csv_open(&csv, data, &spec, &e))) goto done;
    if (data && spec.kind != TL_TASK_CLASSIFY) {
        tl_errf(&e, "%s: task '%s' is a regression: classify scores labels (use tinyllm eval)", task, spec.name);
        goto done;
    }
    /* the inputs: -i values, then the file's lines */
    if (file) {
        FILE *f = fopen(file, "rb");
        if (!f) {
            tl_errf(&e, "%s: cannot open", file);
            goto done;
        }
        char buf[65536];
        size_t k;
        while ((k = fread(buf, 1, sizeof buf, f)) > 0)
            if (tl_buf_append(&lines, buf, k, &e)) break;
        fclose(f);
        if (tl_buf_append(&lines, "", 1, &e)) goto done;
    }
    if (!json) fprintf(stderr, "classify: %s, %d labels, %d threads, kernels %s\n", in->task_name ? in->task_name : "raw prompts",
                       n_labels, threads, tl_ctx_kernels(c));
    char *save = NULL, *line = file ? strtok_r(lines.p, "\n", &save) : NULL;
    for (int i = 0;; i++) {
        const char *input = i < inputs.n ? inputs.v[i] : line;
        int want = -1; /* --data: the row's label, as an index of labels[] */
        long row_line = 0;
        free(prompt);
        prompt = NULL;
        if (csv) {
            tl_task_row row;
            int got = limit > 0 && i >= limit ? 0 : tl_task_csv_next(csv, &row, &e);
            if (got < 0) goto done;
            if (!got) break;
            if (!(prompt = strndup(row.prompt->p, row.prompt->n))) {
                tl_errf(&e, "classify: out of memory");
                goto done;
            }
            for (int k = 0; k < n_labels; k++)
                if (!strcmp(labels[k], spec.labels[row.label])) want = k;
            if (want < 0) {
                tl_errf(&e, "%s:%ld: label '%s' is not among the model's labels", data, row.line, spec.labels[row.label]);
                goto done;
            }
            row_line = row.line;
        } else {
            if (!input) break;
            if (i >= inputs.n) line = strtok_r(NULL, "\n", &save); /* the file's next line, for the next round */
            if (tl_cli_check_utf8(input, strlen(input), i < inputs.n ? "an -i input" : file, &e)) goto done;
            prompt = raw ? strdup(input) : tl_task_prompt_for(m, instruction, input, &e);
            if (!prompt) goto done;
        }
        double t0 = tl_now();
        int best = tl_classify(c, prompt, labels, n_labels, suffix, lp, pr, &e);
        double ms = (tl_now() - t0) * 1e3;
        if (best < 0) goto done;
        if (want >= 0) scored++, right += best == want;
        out.n = 0;
        if (json) {
            json_t *o = json_object(), *probs = json_object();
            for (int k = 0; k < n_labels; k++) json_object_set_new(probs, labels[k], json_real(pr[k]));
            if (csv) {
                json_object_set_new(o, "line", json_integer(row_line));
                json_object_set_new(o, "expected", json_string(labels[want]));
            } else {
                json_object_set_new(o, "input", json_string(input));
            }
            json_object_set_new(o, "label", json_string(labels[best]));
            json_object_set_new(o, "ms", json_real(ms));
            json_object_set_new(o, "probs", probs);
            char *js = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
            json_decref(o);
            if (!js) {
                tl_errf(&e, "classify: cannot write the result as JSON (is the input UTF-8?)");
                goto done;
            }
            int bad = tl_buf_appendf(&out, &e, "%s\n", js);
            free(js);
            if (bad) goto done;
        } else {
            if (csv && tl_buf_appendf(&out, &e, "line %ld, expected %s: ", row_line, labels[want])) goto done;
            if (tl_buf_appendf(&out, &e, "%s\t(%.1f ms)", labels[best], ms)) goto done;
            for (int k = 0; k < n_labels; k++)
                if (tl_buf_appendf(&out, &e, "  %s %.3f", labels[k], pr[k])) goto done;
            if (tl_buf_appendf(&out, &e, "\n")) goto done;
        }
        fwrite(out.p, 1, out.n, stdout);
        fflush(stdout);
    }
    if (csv && !scored) {
        tl_errf(&e, "%s: no rows after the header", data);
        goto done;
    }
    if (csv)
        fprintf(stderr, "classify: accuracy %.2f%% (%d/%d rows of %s)\n", scored ? 100.0 * right / scored : 0.0, right, scored, data);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_task_csv_close(csv);
    tl_task_free(&spec);
    free(prompt);
    free(lab_copy);
    tl_buf_free(&lines);
    tl_buf_free(&out);
    tl_ctx_free(c);
    tl_model_free(m);
    return rc;
}
