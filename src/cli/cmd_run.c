/* `tinyllm run`: generate text from a checkpoint with the fp32 model (KV-cached, seeded). */
#include <omp.h>
#include <stdio.h>
#include <string.h>

#include "base/log.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "model/gpt2.h"
#include "runtime/sampler.h"
#include "tokenizer/bpe.h"
#include "train/checkpoint.h"
#include "train/generate.h"

typedef struct stream {
    const tl_bpe *bpe;
    int n;
} stream;

static int print_token(void *ctx, int32_t t) {
    stream *s = ctx;
    size_t len;
    const char *p = tl_bpe_token(s->bpe, t, &len);
    if (p) fwrite(p, 1, len, stdout);
    fflush(stdout);
    s->n++;
    return 0;
}

int tl_cmd_run(int argc, char **argv) {
    const char *model = NULL, *prompt = "", *tokenizer = "gpt2";
    int n = 128, top_k = 40, threads = 0;
    float temp = 0.8f, top_p = 0.95f, min_p = 0.0f;
    long long seed = 1337;
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "checkpoint file, or a run directory (its newest checkpoint)"},
        {"prompt", 'p', TL_OPT_STR, &prompt, "text to continue (empty: start from <|endoftext|>)"},
        {"n-predict", 'n', TL_OPT_INT, &n, "tokens to generate"},
        {"temp", 0, TL_OPT_FLOAT, &temp, "temperature (0: greedy)"},
        {"top-k", 0, TL_OPT_INT, &top_k, "keep the k most likely tokens (0: off)"},
        {"top-p", 0, TL_OPT_FLOAT, &top_p, "keep the smallest set with this much probability (1: off)"},
        {"min-p", 0, TL_OPT_FLOAT, &min_p, "drop tokens below min-p x the top probability (0: off)"},
        {"seed", 's', TL_OPT_I64, &seed, "sampling seed"},
        {"threads", 't', TL_OPT_INT, &threads, "CPU threads (0: all cores)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the model uses"},
    };
    tl_cmd cmd = {"run", "tinyllm run -m CHECKPOINT [-p PROMPT] [options]",
                  "Generates text from a training checkpoint (fp32). The same seed gives the same text.\n\n"
                  "example: tinyllm run -m runs/tiny -p \"The sensor\" -n 64 --temp 0.7 -s 42",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model) {
        tl_errf(&e, "run: -m CHECKPOINT is required");
        return tl_cli_fail(&e);
    }
    if (threads > 0) omp_set_num_threads(threads);
    tl_opts_print(&cmd, stderr);
    tl_gpt2 m;
    tl_train_state st;
    if (tl_ckpt_load(model, &m, NULL, &st, &e)) return tl_cli_fail(&e);
    tl_bpe *bpe = NULL;
    tl_sampler s = {0};
    tl_ivec ids = {0};
    int rc = 1;
    if (tl_bpe_load(&bpe, tokenizer, &e)) goto done;
    if (strcmp(st.tokenizer, tl_bpe_name(bpe))) {
        tl_errf(&e, "%s: the model was trained with tokenizer '%s', not '%s' (give it with --tokenizer)", model, st.tokenizer,
                tl_bpe_name(bpe));
        goto done;
    }
    if (tl_sampler_init(&s, m.cfg.vocab, temp, top_k, top_p, min_p, (uint64_t)seed, &e)) goto done;
    if (tl_ivec_push(&ids, tl_bpe_eot(bpe), &e)) goto done;
    if (tl_bpe_encode(bpe, prompt, strlen(prompt), &ids, &e)) goto done;
    if (ids.n + (size_t)n > (size_t)m.cfg.n_ctx) {
        tl_errf(&e, "prompt (%zu tokens) + -n %d exceeds the model's context of %d", ids.n, n, m.cfg.n_ctx);
        goto done;
    }
    fwrite(prompt, 1, strlen(prompt), stdout);
    stream sc = {bpe, 0};
    double t0 = tl_now();
    if (tl_generate(&m, &s, ids.v, (int)ids.n, n, tl_bpe_eot(bpe), NULL, print_token, &sc, &e)) goto done;
    double dt = tl_now() - t0;
    printf("\n");
    fprintf(stderr, "run: %zu prompt + %d generated tokens in %.2f s (%.1f tok/s)\n", ids.n, sc.n, dt,
            (double)(ids.n + (size_t)sc.n) / dt);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_ivec_free(&ids);
    tl_sampler_free(&s);
    if (bpe) tl_bpe_free(bpe);
    tl_gpt2_free(&m);
    return rc;
}
