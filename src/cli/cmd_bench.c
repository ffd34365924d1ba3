/* `tinyllm bench`: llama-bench's measurements on the runtime — prompt processing (pp: one batch of
 * N random tokens) and text generation (tg: N tokens decoded one at a time from an empty
 * context), tokens per second as the median of repetitions, for each model and thread count; load
 * time and peak RSS. A table on stdout, and JSON lines with --json. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "base/log.h"
#include "base/rng.h"
#include "cli/commands.h"
#include "cli/load.h"
#include "cli/opts.h"

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n) {
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

/* Resident memory now and at its peak, in MB. */
static void rss_mb(double *now, double *peak) {
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    *peak = (double)u.ru_maxrss / 1024.0;
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) == 2) *now = (double)resident * (double)sysconf(_SC_PAGESIZE) / 1e6; // NOLINT(cert-err34-c): the kernel's /proc/self/statm
    else *now = 0;
    if (f) fclose(f);
}

/* Times one pp and one tg run on c: seconds for n_pp tokens in one batch, n_tg tokens one by one. */
static int run_once(tl_ctx *c, const int32_t *toks, int n_pp, int n_tg, double *pp_s, double *tg_s, tl_err *e) {
    tl_ctx_rewind(c, 0);
    double t0 = tl_now();
    if (n_pp && !tl_ctx_eval(c, toks, n_pp, NULL, e)) return -1;
    *pp_s = tl_now() - t0;
    tl_ctx_rewind(c, 0);
    t0 = tl_now();
    for (int i = 0; i < n_tg; i++)
        if (!tl_ctx_eval(c, toks + i, 1, NULL, e)) return -1;
    *tg_s = tl_now() - t0;
    return 0;
}

int tl_cmd_bench(int argc, char **argv) {
    const char *threads_opt = NULL, *json_path = NULL, *kernels = NULL, *tokenizer = "gpt2";
    int n_pp = 512, n_tg = 128, reps = 5;
    tl_opt_list models = {0};
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_LIST, &models, "GGUF file or checkpoint (repeatable)"},
        {"n-prompt", 'p', TL_OPT_INT, &n_pp, "prompt tokens processed in one batch (0: skip)"},
        {"n-gen", 'n', TL_OPT_INT, &n_tg, "tokens generated one at a time (0: skip)"},
        {"threads", 't', TL_OPT_STR, &threads_opt, "comma-separated thread counts (default: 1 and all cores)"},
        {"repetitions", 'r', TL_OPT_INT, &reps, "timed repetitions per test; the median is reported"},
        {"json", 0, TL_OPT_STR, &json_path, "also append one JSON object per result to this file"},
        {"kernels", 0, TL_OPT_STR, &kernels, "force a kernel set: scalar, avx2, avx512, avx512-d256, neon, neon-dot"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "checkpoints only: gpt2, or the trained tokenizer folder"},
    };
    tl_cmd cmd = {"bench", "tinyllm bench -m MODEL [-m MODEL ...] [-p 512] [-n 128] [-t 1,2] [-r 5]",
                  "Measures prompt processing (pp) and generation (tg) speed like llama-bench: pp feeds -p random\n"
                  "tokens in one batch, tg decodes -n tokens one by one from an empty context; each is repeated -r\n"
                  "times after a warm-up run and the median is reported, with load time and peak RSS.\n\n"
                  "example: tinyllm bench -m m-q8_0.gguf -m m-q4_0.gguf -t 1,2 --json bench.jsonl",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    int nthreads[16], nt = 0, cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (!models.n) {
        tl_errf(&e, "bench: at least one -m MODEL is required");
        return tl_cli_fail(&e);
    }
    if (n_pp < 0 || n_tg < 0 || reps < 1 || (n_pp == 0 && n_tg == 0)) {
        tl_errf(&e, "bench: -p and -n must be >= 0 (not both 0) and -r >= 1");
        return tl_cli_fail(&e);
    }
    if (threads_opt) {
        for (const char *p = threads_opt; *p && nt < 16;) {
            char *end;
            long v = strtol(p, &end, 10);
            if (end == p || v < 1 || v > 1024 || (*end && *end != ',')) {
                tl_errf(&e, "bench: --threads '%s' must be a comma-separated list of counts >= 1", threads_opt);
                return tl_cli_fail(&e);
            }
            nthreads[nt++] = (int)v;
            p = *end ? end + 1 : end;
        }
    } else {
        nthreads[nt++] = 1;
        if (cores > 1) nthreads[nt++] = cores;
    }
    tl_opts_print(&cmd, stderr);
    FILE *jf = json_path ? fopen(json_path, "a") : NULL;
    if (json_path && !jf) {
        tl_errf(&e, "%s: cannot open for appending", json_path);
        return tl_cli_fail(&e);
    }
    int n_tok = n_pp > n_tg ? n_pp : n_tg, rc = 0;
    int32_t *toks = calloc((size_t)n_tok + 1, sizeof *toks);
    double *pp = calloc((size_t)reps, sizeof *pp), *tg = calloc((size_t)reps, sizeof *tg);
    printf("| model | type | size MB | params M | threads | kernels | test | tok/s | load s | RSS MB |\n");
    printf("|---|---|---|---|---|---|---|---|---|---|\n");
    for (int mi = 0; mi < models.n && !rc; mi++) {
        double t0 = tl_now();
        tl_model *m = NULL;
        if (tl_cli_model_open(&m, models.v[mi], NULL, tokenizer, NULL, n_tok, &e)) {
            rc = 1;
            break;
        }
        double load_s = tl_now() - t0;
        const tl_model_info *in = tl_model_get_info(m);
        if (n_tok > in->n_ctx) {
            tl_errf(&e, "%s: -p / -n of %d tokens exceed the model's context of %d", models.v[mi], n_tok, in->n_ctx);
            tl_model_free(m);
            rc = 1;
            break;
        }
        tl_rng g;
        tl_rng_seed(&g, 1234);
        for (int i = 0; i < n_tok; i++) toks[i] = (int32_t)tl_rng_below(&g, (uint64_t)in->vocab);
        for (int ti = 0; ti < nt && !rc; ti++) {
            tl_ctx *c;
            if (tl_ctx_init_kernels(&c, m, n_tok, nthreads[ti], kernels, &e)) {
                rc = 1;
                break;
            }
            double pp_s, tg_s, now, peak;
            if (run_once(c, toks, n_pp, n_tg, &pp_s, &tg_s, &e)) rc = 1; /* warm-up */
            for (int k = 0; k < reps && !rc; k++) {
                if (run_once(c, toks, n_pp, n_tg, &pp_s, &tg_s, &e)) rc = 1;
                pp[k] = n_pp / pp_s;
                tg[k] = n_tg / tg_s;
            }
            rss_mb(&now, &peak);
            for (int test = 0; test < 2 && !rc; test++) {
                int n = test ? n_tg : n_pp;
                if (!n) continue;
                double v = median(test ? tg : pp, reps);
                printf("| %s | %s | %.1f | %.2f | %d | %s | %s%d | %.1f | %.3f | %.1f |\n", in->name[0] ? in->name : models.v[mi],
                       in->type_name, (double)in->weight_bytes / 1e6, (double)in->n_params / 1e6, nthreads[ti], tl_ctx_kernels(c),
                       test ? "tg" : "pp", n, v, load_s, peak);
                if (jf) {
                    json_t *runs = json_array();
                    for (int k = 0; k < reps; k++) json_array_append_new(runs, json_real((test ? tg : pp)[k]));
                    char name[16];
                    snprintf(name, sizeof name, "%s%d", test ? "tg" : "pp", n);
                    json_t *o = json_pack("{s:s, s:s, s:I, s:I, s:i, s:s, s:s, s:f, s:o, s:f, s:f, s:f}", "model", models.v[mi],
                                          "type", in->type_name, "bytes", (json_int_t)in->weight_bytes, "params",
                                          (json_int_t)in->n_params, "threads", nthreads[ti], "kernels", tl_ctx_kernels(c), "test",
                                          name, "tok_s", v, "runs", runs, "load_s", load_s, "rss_mb", now, "peak_rss_mb", peak);
                    char *js = o ? json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;
                    if (js) fprintf(jf, "%s\n", js);
                    free(js);
                    json_decref(o);
                }
            }
            fflush(stdout);
            tl_ctx_free(c);
        }
        tl_model_free(m);
    }
    if (jf) fclose(jf);
    free(toks), free(pp), free(tg);
    return rc ? tl_cli_fail(&e) : 0;
}
