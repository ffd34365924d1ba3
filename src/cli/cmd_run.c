/* `tinyllm run`: generate text from a GGUF file (or a checkpoint) through the edge runtime, with
 * llama.cpp's flag names and defaults. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/vec.h"
#include "cli/commands.h"
#include "cli/load.h"
#include "cli/opts.h"

static int print_text(void *user, const char *s, size_t n) {
    (void)user;
    fwrite(s, 1, n, stdout);
    fflush(stdout);
    return 0;
}

/* Reads a whole prompt file into b (NUL-terminated). */
static int read_prompt(const char *path, tl_buf *b, tl_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return tl_errf(e, "%s: cannot open the prompt file", path);
    char buf[65536];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = tl_buf_append(b, buf, n, e);
    if (!rc && ferror(f)) rc = tl_errf(e, "%s: read error", path);
    fclose(f);
    return rc || tl_buf_append(b, "", 1, e);
}

int tl_cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = "", *file = NULL, *tokenizer = "gpt2", *kernels = NULL;
    int n = -1, ctx = 0, threads = (int)sysconf(_SC_NPROCESSORS_ONLN), top_k = 40, last_n = 64;
    float temp = 0.8f, top_p = 0.95f, min_p = 0.05f, penalty = 1.0f;
    long long seed = -1;
    tl_opt_list stops = {0};
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "GGUF file (f32, f16, q8_0, q4_0), or a checkpoint / run directory"},
        {"prompt", 'p', TL_OPT_STR, &prompt, "text to continue (after <|endoftext|>, as in training)"},
        {"file", 'f', TL_OPT_STR, &file, "read the prompt from this file"},
        {"n-predict", 'n', TL_OPT_INT, &n, "tokens to generate (-1: until <|endoftext|> or the context is full)"},
        {"ctx-size", 'c', TL_OPT_INT, &ctx, "context size (0: the model's)"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (default: all cores)"},
        {"seed", 's', TL_OPT_I64, &seed, "sampling seed (-1: from the clock; printed)"},
        {"temp", 0, TL_OPT_FLOAT, &temp, "temperature (0: greedy)"},
        {"top-k", 0, TL_OPT_INT, &top_k, "keep the k most likely tokens (0: off)"},
        {"top-p", 0, TL_OPT_FLOAT, &top_p, "keep the smallest set with this much probability (1: off)"},
        {"min-p", 0, TL_OPT_FLOAT, &min_p, "drop tokens below min-p x the top probability (0: off)"},
        {"repeat-penalty", 0, TL_OPT_FLOAT, &penalty, "divide the logits of recent tokens by this (1: off)"},
        {"repeat-last-n", 0, TL_OPT_INT, &last_n, "tokens the penalty looks back over (0: none, -1: all)"},
        {"stop", 0, TL_OPT_LIST, &stops, "stop before this text (repeatable)"},
        {"kernels", 0, TL_OPT_STR, &kernels, "force a kernel set: scalar, avx2, avx512, avx512-d256, neon, neon-dot"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "checkpoints only: gpt2, or the trained tokenizer folder"},
    };
    tl_cmd cmd = {"run", "tinyllm run -m MODEL [-p PROMPT | -f FILE] [options]",
                  "Generates text with the edge runtime (the same kernels as classify, bench and serve). A seed gives\n"
                  "the same text for any thread count. Speed goes to stderr.\n\n"
                  "example: tinyllm run -m gesture-q8_0.gguf -p \"The sensor\" -n 64 --temp 0.7 -s 42",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model) {
        tl_errf(&e, "run: -m MODEL is required");
        return tl_cli_fail(&e);
    }
    if (threads < 1 || threads > 1024 || n < -1 || ctx < 0) {
        if (threads < 1 || threads > 1024) tl_errf(&e, "run: --threads must be 1..1024, not %d", threads);
        else if (n < -1) tl_errf(&e, "run: --n-predict must be >= -1 (-1: until the context is full), not %d", n);
        else tl_errf(&e, "run: --ctx-size must be >= 0 (0: the model's context), not %d", ctx);
        return tl_cli_fail(&e);
    }
    if (seed < 0) seed = (long long)time(NULL);
    tl_opts_print(&cmd, stderr);
    tl_buf text = {0};
    tl_model *m = NULL;
    tl_ctx *c = NULL;
    int rc = 1;
    if (file && read_prompt(file, &text, &e)) goto done;
    if (file) prompt = text.p;
    if (tl_cli_check_utf8(prompt, strlen(prompt), file ? file : "the prompt", &e)) goto done;
    if (tl_cli_model_open(&m, model, NULL, tokenizer, NULL, ctx, &e) || tl_ctx_init_kernels(&c, m, ctx, threads, kernels, &e))
        goto done;
    const tl_model_info *in = tl_model_get_info(m);
    fprintf(stderr, "run: %s, %d layers x %d, vocabulary %d, context %d, %d threads, kernels %s, seed %lld\n", in->type_name,
            in->n_layer, in->n_embd, in->vocab, tl_ctx_n_ctx(c), threads, tl_ctx_kernels(c), seed);
    tl_gen_params p = tl_gen_default();
    p.sampling = (tl_sampling){temp, top_k, top_p, min_p, penalty, last_n, (uint64_t)seed};
    p.n_predict = n;
    p.stop = stops.v;
    p.n_stop = stops.n;
    p.on_text = print_text;
    fwrite(prompt, 1, strlen(prompt), stdout);
    tl_gen_result g;
    if (tl_generate(c, prompt, &p, &g, &e)) goto done;
    printf("\n");
    static const char *const why[] = {"stop string", "length", "end of text", "cancelled"};
    fprintf(stderr, "run: prompt %d tokens in %.3f s (%.1f tok/s), generated %d tokens in %.3f s (%.1f tok/s), ended by %s\n",
            g.n_prompt, g.prefill_s, g.n_prompt / (g.prefill_s > 0 ? g.prefill_s : 1e-9), g.n_gen, g.gen_s,
            g.n_gen / (g.gen_s > 0 ? g.gen_s : 1e-9), why[g.finish]);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_ctx_free(c);
    tl_model_free(m);
    tl_buf_free(&text);
    return rc;
}
