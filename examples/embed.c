/* The smallest program embedding tinyllm's runtime: load a GGUF model, generate a continuation,
 * and label an input when the model carries a task. Build: cc embed.c -Iinclude libtinyllm.a -lm -lpthread */
#include <stdio.h>
#include <stdlib.h>

#include "tinyllm/tinyllm.h"

static int print(void *user, const char *text, size_t len) {
    (void)user;
    fwrite(text, 1, len, stdout);
    return 0; /* non-zero would stop the generation */
}

int main(int argc, char **argv) {
    tl_model *m;
    tl_ctx *c;
    tl_err e;
    if (argc < 3) return fprintf(stderr, "usage: embed MODEL.gguf PROMPT [INPUT]\n"), 2;
    if (tl_model_open(&m, argv[1], &e) || tl_ctx_init(&c, m, 0, 2, &e)) return fprintf(stderr, "embed: %s\n", e.msg), 1;
    tl_gen_params p = tl_gen_default();
    p.sampling.temp = 0; /* greedy */
    p.n_predict = 16;
    p.on_text = print;
    tl_gen_result r;
    if (tl_generate(c, argv[2], &p, &r, &e)) return fprintf(stderr, "embed: %s\n", e.msg), 1;
    printf("\n[%d prompt + %d new tokens, %.0f tok/s]\n", r.n_prompt, r.n_gen, r.n_gen / (r.gen_s + 1e-9));
    const tl_model_info *in = tl_model_get_info(m);
    if (argc > 3 && in->task_name && in->n_labels <= 64) {
        char *prompt = tl_task_prompt_for(m, NULL, argv[3], &e);
        double lp[64], pr[64];
        int best = prompt ? tl_classify(c, prompt, in->task_labels, in->n_labels, "\n\n### End", lp, pr, &e) : -1;
        if (best < 0) return fprintf(stderr, "embed: %s\n", e.msg), 1;
        printf("%s: %s (p = %.3f)\n", in->task_name, in->task_labels[best], pr[best]);
        free(prompt);
    }
    tl_ctx_free(c);
    tl_model_free(m);
    return 0;
}
