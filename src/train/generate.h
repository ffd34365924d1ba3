/* Text generation from the fp32 training model: KV-cached decoding + the runtime's sampler. */
#ifndef TL_TRAIN_GENERATE_H
#define TL_TRAIN_GENERATE_H

#include <stdint.h>

#include "base/err.h"
#include "base/vec.h"
#include "model/gpt2.h"
#include "runtime/sampler.h"

/* Called with each new token; return non-zero to stop. */
typedef int (*tl_token_cb)(void *ctx, int32_t token);

/* Feeds prompt[n_prompt] (at least one token), then samples up to n_new tokens, stopping early at
 * `stop_token` (>= 0; not emitted) or the context's end. New tokens are appended to out (may be
 * NULL) and passed to cb (may be NULL). */
int tl_generate(const tl_gpt2 *m, tl_sampler *s, const int32_t *prompt, int n_prompt, int n_new, int stop_token,
                tl_ivec *out, tl_token_cb cb, void *ctx, tl_err *e);

#endif
