/* `tinyllm serve`: an OpenAI-compatible HTTP server for a model on the edge runtime, with
 * llama-server's flag names; it listens first (/health says 503 while the model loads), serves until
 * SIGINT or SIGTERM, then cancels what runs and exits 0. */
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/vec.h"
#include "cli/commands.h"
#include "cli/load.h"
#include "cli/opts.h"
#include "formats/gguf.h"
#include "serve/serve.h"

#define MAX_KEYS 64

/* Splits "a,b" into keys (s is modified); file lines too (blank lines and # comments skipped). */
static int add_keys(char *s, const char *sep, const char **keys, int *n, tl_err *e) {
    char *save = NULL;
    for (char *k = strtok_r(s, sep, &save); k; k = strtok_r(NULL, sep, &save)) {
        while (*k == ' ' || *k == '\t') k++;
        char *end = k + strlen(k);
        while (end > k && (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\r')) *--end = 0;
        if (!*k || *k == '#') continue;
        if (*n == MAX_KEYS) return tl_errf(e, "serve: more than %d API keys", MAX_KEYS);
        keys[(*n)++] = k;
    }
    return 0;
}

static int read_file(const char *path, tl_buf *b, tl_err *e) {
    FILE *f = fopen(path, "rb");
    if (!f) return tl_errf(e, "%s: cannot open", path);
    char buf[4096];
    size_t n;
    int rc = 0;
    while (!rc && (n = fread(buf, 1, sizeof buf, f)) > 0) rc = tl_buf_append(b, buf, n, e);
    fclose(f);
    return rc || tl_buf_append(b, "", 1, e);
}

/* The number rendering of the model's task, which tl_model_info does not carry: the GGUF key
 * tinyllm.task.numbers, or the --task spec of a checkpoint. */
static int task_render(const char *model, const char *task, tl_task *t, tl_err *e) {
    memset(t, 0, sizeof *t);
    if (!tl_cli_is_gguf(model)) {
        if (!task) return 0;
        tl_task spec;
        if (tl_task_load(&spec, task, e)) return -1;
        t->numbers = spec.numbers;
        tl_task_free(&spec);
        return 0;
    }
    tl_gguf g;
    if (tl_gguf_open(&g, model, e)) return -1;
    const tl_gguf_str *num = tl_gguf_get_str(&g, "tinyllm.task.numbers");
    char v[64];
    int rc = 0;
    if (num && num->n < sizeof v) {
        memcpy(v, num->p, num->n);
        v[num->n] = 0;
        rc = tl_task_parse_numbers(&t->numbers, v, "tinyllm.task.numbers: ", e);
    }
    tl_gguf_close(&g);
    return rc;
}

int tl_cmd_serve(int argc, char **argv) {
    tl_serve_config c;
    tl_serve_config_default(&c);
    const char *model = NULL, *alias = NULL, *host = c.host, *key_opt = NULL, *key_file = NULL, *log_path = "-", *cors = NULL;
    const char *kernels = NULL, *task = NULL, *tokenizer = "gpt2";
    int port = c.port, slots = c.n_slots, threads = 0, ctx = 0, n_predict = c.default_tokens, max_tokens = c.max_tokens;
    int queue = c.queue_max, depth = c.max_json_depth, conns = c.max_connections, per_ip = c.max_per_ip, timeout = c.timeout_s;
    int top_k = c.sampling.top_k, last_n = c.sampling.repeat_last_n;
    float temp = c.sampling.temp, top_p = c.sampling.top_p, min_p = c.sampling.min_p, penalty = c.sampling.repeat_penalty;
    float queue_timeout = (float)c.queue_timeout_s;
    long long max_body = (long long)c.max_body;
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "GGUF file (f32, f16, q8_0, q4_0), or a checkpoint / run directory"},
        {"alias", 'a', TL_OPT_STR, &alias, "the model id in /v1/models and responses (default: the file name)"},
        {"host", 0, TL_OPT_STR, &host, "address to listen on (0.0.0.0 or :: for the network: use --api-key)"},
        {"port", 0, TL_OPT_INT, &port, "port (0: any free one, printed)"},
        {"parallel", 0, TL_OPT_INT, &slots, "slots: requests generated at once, each with its own KV cache (also -np)"},
        {"threads", 't', TL_OPT_INT, &threads, "compute threads per slot (0: the cores / slots)"},
        {"ctx-size", 'c', TL_OPT_INT, &ctx, "context of each slot (0: the model's)"},
        {"n-predict", 'n', TL_OPT_INT, &n_predict, "tokens a request generates when it does not say (-1: to the end, within --max-tokens)"},
        {"max-tokens", 0, TL_OPT_INT, &max_tokens, "the most tokens a request may generate (asking for more is a 400)"},
        {"temp", 0, TL_OPT_FLOAT, &temp, "default temperature (0: greedy)"},
        {"top-k", 0, TL_OPT_INT, &top_k, "default top-k (0: off)"},
        {"top-p", 0, TL_OPT_FLOAT, &top_p, "default top-p (1: off)"},
        {"min-p", 0, TL_OPT_FLOAT, &min_p, "default min-p (0: off)"},
        {"repeat-penalty", 0, TL_OPT_FLOAT, &penalty, "default repeat penalty (1: off)"},
        {"repeat-last-n", 0, TL_OPT_INT, &last_n, "default tokens the penalty looks back over (-1: all)"},
        {"queue", 0, TL_OPT_INT, &queue, "requests that may wait for a slot; one more gets 429"},
        {"queue-timeout", 0, TL_OPT_FLOAT, &queue_timeout, "seconds a request may wait for a slot before a 503"},
        {"max-body", 0, TL_OPT_I64, &max_body, "bytes of a request body (413 above; k/M suffix)"},
        {"max-json-depth", 0, TL_OPT_INT, &depth, "nesting of a request body's arrays and objects"},
        {"max-connections", 0, TL_OPT_INT, &conns, "open connections (each has a thread); more are refused"},
        {"max-connections-per-ip", 0, TL_OPT_INT, &per_ip, "open connections per client address (0: no limit)"},
        {"timeout", 0, TL_OPT_INT, &timeout, "seconds a connection may stay silent (reading or writing) before it is closed"},
        {"api-key", 0, TL_OPT_STR, &key_opt, "require 'Authorization: Bearer KEY' (comma-separated keys; prefer --api-key-file)"},
        {"api-key-file", 0, TL_OPT_STR, &key_file, "file of API keys, one per line"},
        {"cors-origin", 0, TL_OPT_STR, &cors, "let pages from this origin (or *) call the API from a browser"},
        {"access-log", 0, TL_OPT_STR, &log_path, "JSON lines, one per request: - (stderr), a file (appended), or none"},
        {"kernels", 0, TL_OPT_STR, &kernels, "force a kernel set: scalar, avx2, avx512, avx512-d256, neon, neon-dot"},
        {"task", 0, TL_OPT_STR, &task, "checkpoints only: the task spec (template and labels) to serve"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "checkpoints only: gpt2, or the trained tokenizer folder"},
    };
    tl_cmd cmd = {"serve", "tinyllm serve -m MODEL [--host ADDR] [--port N] [-np N] [options]",
                  "Serves a model over HTTP with OpenAI's API (llama-server's conventions): /v1/completions,\n"
                  "/v1/chat/completions (the model's task template), /completion, /tokenize, /detokenize,\n"
                  "/v1/classify, /v1/models, /health, /metrics and a web page at /. Listens on 127.0.0.1 unless\n"
                  "--host says otherwise. Stops on SIGINT / SIGTERM. Details: docs/serve.md.\n\n"
                  "example: tinyllm serve -m gesture-q8_0.gguf --port 8080 -np 2 --api-key-file keys.txt",
                  opts, sizeof opts / sizeof *opts};
    /* llama-server's two-letter -np */
    char **args = malloc(((size_t)argc + 1) * sizeof *args);
    if (!args) return 1;
    for (int i = 0; i < argc; i++) args[i] = !strcmp(argv[i], "-np") ? "--parallel" : argv[i];
    args[argc] = NULL;
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, args, pos, 0, &npos);
    free(args);
    if (r >= 0) return r;
    tl_err e;
    if (!model) {
        tl_errf(&e, "serve: -m MODEL is required");
        return tl_cli_fail(&e);
    }
    /* each number against its range, named in the error */
    const struct {
        const char *name;
        long long v, lo, hi;
    } ranges[] = {{"--parallel", slots, 1, INT_MAX},        {"--threads", threads, 0, INT_MAX},
                  {"--n-predict", n_predict, -1, INT_MAX},  {"--max-tokens", max_tokens, 1, INT_MAX},
                  {"--queue", queue, 0, INT_MAX},           {"--max-body", max_body, 1, LLONG_MAX},
                  {"--max-json-depth", depth, 2, INT_MAX},  {"--max-connections", conns, 1, INT_MAX},
                  {"--max-connections-per-ip", per_ip, 0, INT_MAX}, {"--timeout", timeout, 1, INT_MAX},
                  {"--port", port, 0, 65535}};
    for (size_t i = 0; i < sizeof ranges / sizeof *ranges; i++)
        if (ranges[i].v < ranges[i].lo || ranges[i].v > ranges[i].hi) {
            if (ranges[i].hi == INT_MAX || ranges[i].hi == LLONG_MAX)
                tl_errf(&e, "serve: %s must be >= %lld, not %lld", ranges[i].name, ranges[i].lo, ranges[i].v);
            else
                tl_errf(&e, "serve: %s must be in %lld..%lld, not %lld", ranges[i].name, ranges[i].lo, ranges[i].hi, ranges[i].v);
            return tl_cli_fail(&e);
        }
    if (!(queue_timeout > 0)) {
        tl_errf(&e, "serve: --queue-timeout must be > 0 seconds, not %g", (double)queue_timeout);
        return tl_cli_fail(&e);
    }
    if (threads == 0) {
        long cores = sysconf(_SC_NPROCESSORS_ONLN);
        threads = cores / slots > 1 ? (int)(cores / slots) : 1;
    }
    /* API keys, kept out of the settings printout */
    const char *keys[MAX_KEYS];
    int n_keys = 0, rc = 1;
    char *key_copy = key_opt ? strdup(key_opt) : NULL;
    tl_buf kf = {0};
    FILE *log = NULL;
    tl_serve *s = NULL;
    tl_model *m = NULL;
    if (key_opt) key_opt = "(hidden)";
    if (key_copy && add_keys(key_copy, ",", keys, &n_keys, &e)) goto done;
    if (key_file) {
        struct stat st;
        if (read_file(key_file, &kf, &e) || add_keys(kf.p, "\n", keys, &n_keys, &e)) goto done;
        if (!stat(key_file, &st) && (st.st_mode & 077))
            fprintf(stderr, "serve: warning: %s is readable by other users (chmod 600 it)\n", key_file);
        if (!n_keys) {
            tl_errf(&e, "%s: no API key in it", key_file);
            goto done;
        }
    }
    if (!strcmp(log_path, "-")) log = stderr;
    else if (strcmp(log_path, "none") && !(log = fopen(log_path, "a"))) {
        tl_errf(&e, "--access-log %s: cannot open for appending", log_path);
        goto done;
    }
    const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
    c.host = host, c.port = port, c.n_slots = slots, c.n_threads = threads, c.n_ctx = ctx, c.kernels = kernels;
    c.queue_max = queue, c.queue_timeout_s = queue_timeout, c.max_tokens = max_tokens, c.default_tokens = n_predict;
    c.sampling = (tl_sampling){temp, top_k, top_p, min_p, penalty, last_n, 0};
    c.max_body = (size_t)max_body, c.max_json_depth = depth, c.max_connections = conns, c.max_per_ip = per_ip, c.timeout_s = timeout;
    c.api_keys = keys, c.n_api_keys = n_keys, c.cors_origin = cors, c.model_id = alias ? alias : *base ? base : model, c.access_log = log;
    tl_opts_print(&cmd, stderr);

    /* SIGINT / SIGTERM are taken by sigwait below: blocked before any thread starts, so every
     * thread inherits the mask */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (tl_serve_start(&s, &c, &e)) goto done;
    fprintf(stderr, "serve: listening on http://%s%s%s:%d (loading %s)\n", strchr(host, ':') ? "[" : "", host, strchr(host, ':') ? "]" : "",
            tl_serve_port(s), model);
    if (!n_keys && strcmp(host, "127.0.0.1") && strcmp(host, "localhost") && strcmp(host, "::1"))
        fprintf(stderr, "serve: warning: --host %s without --api-key: anyone who reaches this port can use the model\n", host);
    tl_task render;
    if (tl_cli_model_open(&m, model, NULL, tokenizer, task, ctx, &e) || task_render(model, task, &render, &e) ||
        tl_serve_attach(s, m, &render, &e))
        goto done;
    const tl_model_info *in = tl_model_get_info(m);
    fprintf(stderr, "serve: ready: %s (%s, %d layers x %d, task %s), %d slot%s x %d thread%s, context %d\n", c.model_id, in->type_name,
            in->n_layer, in->n_embd, in->task_name ? in->task_name : "none", slots, slots > 1 ? "s" : "", threads, threads > 1 ? "s" : "",
            ctx ? ctx : in->n_ctx);
    int sig = 0;
    sigwait(&sigs, &sig);
    fprintf(stderr, "serve: %s: stopping\n", sig == SIGINT ? "SIGINT" : "SIGTERM");
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_serve_stop(s);
    tl_model_free(m);
    if (log && log != stderr) fclose(log);
    free(key_copy);
    tl_buf_free(&kf);
    return rc;
}
