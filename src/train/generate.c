/* Samples from the fp32 training model (contract in generate.h). */
#include "train/generate.h"

int tl_gpt2_sample(const tl_gpt2 *m, tl_sampler *s, const int32_t *prompt, int n_prompt, int n_new, int stop_token,
                   tl_ivec *out, tl_err *e) {
    if (n_prompt < 1) return tl_errf(e, "generate: empty prompt");
    if (n_prompt > m->cfg.n_ctx) return tl_errf(e, "prompt of %d tokens exceeds the context of %d", n_prompt, m->cfg.n_ctx);
    for (int i = 0; i < n_prompt; i++)
        if (prompt[i] < 0 || prompt[i] >= m->cfg.vocab) return tl_errf(e, "prompt token %d is outside the vocabulary", prompt[i]);
    tl_gpt2_kv kv;
    if (tl_gpt2_kv_init(&kv, &m->cfg, m->cfg.n_ctx, e)) return -1;
    const float *logits = NULL;
    for (int i = 0; i < n_prompt; i++) logits = tl_gpt2_decode(m, &kv, prompt[i]);
    int rc = 0;
    for (int i = 0; i < n_new; i++) {
        int32_t t = tl_sampler_sample(s, logits);
        if (t == stop_token) break;
        if ((rc = tl_ivec_push(out, t, e))) break;
        if (kv.pos >= kv.n_ctx) break;
        logits = tl_gpt2_decode(m, &kv, t);
    }
    tl_gpt2_kv_free(&kv);
    return rc;
}
