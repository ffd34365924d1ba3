/* What quantization costs in quality: bench_quality SHARD N_WINDOWS REF.gguf MODEL.gguf...
 * Runs every model on the same windows of a token shard (n_ctx tokens each, from the shard's start)
 * through the runtime and prints, per model: perplexity, the mean KL divergence of its next-token
 * distribution from REF's (the f32 file), and how often its top token is REF's top token. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "data/shard.h"
#include "tinyllm/tinyllm.h"

/* log-softmax of logits[0..V) into out (double) */
static void log_softmax(const float *logits, int V, double *out) {
    double mx = -INFINITY, z = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < V; i++) z += exp(logits[i] - mx);
    double lz = mx + log(z);
    for (int i = 0; i < V; i++) out[i] = logits[i] - lz;
}

static int argmax(const float *x, int V) {
    int b = 0;
    for (int i = 1; i < V; i++)
        if (x[i] > x[b]) b = i;
    return b;
}

int main(int argc, char **argv) {
    if (argc < 4) return fprintf(stderr, "usage: bench_quality SHARD N_WINDOWS REF.gguf [MODEL.gguf...]\n"), 2;
    tl_err e;
    tl_shard sh;
    if (tl_shard_open(&sh, argv[1], 0, &e)) return fprintf(stderr, "bench_quality: %s\n", e.msg), 1;
    int nwin = atoi(argv[2]), nm = argc - 3;
    tl_model **m = calloc((size_t)nm, sizeof *m);
    tl_ctx **c = calloc((size_t)nm, sizeof *c);
    for (int i = 0; i < nm; i++)
        if (tl_model_open(&m[i], argv[3 + i], &e) || tl_ctx_init(&c[i], m[i], 0, 2, &e))
            return fprintf(stderr, "bench_quality: %s\n", e.msg), 1;
    int V = tl_model_get_info(m[0])->vocab, T = tl_model_get_info(m[0])->n_ctx;
    float **lg = calloc((size_t)nm, sizeof *lg);
    for (int i = 0; i < nm; i++) lg[i] = malloc(sizeof(float) * (size_t)T * (size_t)V);
    double *lp_ref = malloc(sizeof(double) * (size_t)V), *lp = malloc(sizeof(double) * (size_t)V);
    double *nll = calloc((size_t)nm, sizeof *nll), *kl = calloc((size_t)nm, sizeof *kl);
    long *agree = calloc((size_t)nm, sizeof *agree), count = 0;
    int32_t *tok = malloc(sizeof(int32_t) * ((size_t)T + 1));
    for (int w = 0; w < nwin; w++) {
        if ((uint64_t)(w + 1) * (uint64_t)T + 1 > sh.n_tokens) break;
        for (int t = 0; t <= T; t++) tok[t] = (int32_t)tl_shard_get(&sh, (uint64_t)w * (uint64_t)T + (uint64_t)t);
        for (int i = 0; i < nm; i++) {
            tl_ctx_rewind(c[i], 0);
            if (!tl_ctx_eval(c[i], tok, T, lg[i], &e)) return fprintf(stderr, "bench_quality: %s\n", e.msg), 1;
        }
        for (int t = 0; t < T; t++) {
            log_softmax(lg[0] + (size_t)t * V, V, lp_ref);
            int top = argmax(lg[0] + (size_t)t * V, V);
            for (int i = 0; i < nm; i++) {
                log_softmax(lg[i] + (size_t)t * V, V, lp);
                nll[i] -= lp[tok[t + 1]];
                double d = 0;
                for (int v = 0; v < V; v++) d += exp(lp_ref[v]) * (lp_ref[v] - lp[v]);
                kl[i] += d;
                agree[i] += argmax(lg[i] + (size_t)t * V, V) == top;
            }
            count++;
        }
    }
    printf("| model | type | perplexity | KL vs %s | top-1 = ref |\n|---|---|---|---|---|\n", tl_model_get_info(m[0])->type_name);
    for (int i = 0; i < nm; i++)
        printf("| %s | %s | %.4f | %.3g | %.2f%% |\n", argv[3 + i], tl_model_get_info(m[i])->type_name, exp(nll[i] / (double)count),
               kl[i] / (double)count, 100.0 * (double)agree[i] / (double)count);
    printf("(%ld tokens in windows of %d)\n", count, T);
    return 0;
}
