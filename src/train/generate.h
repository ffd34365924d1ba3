/* Samples from the fp32 training model during training (KV-cached decoding + the runtime's
 * sampler); inference proper goes through the runtime (include/tinyllm/tinyllm.h). */
#ifndef TL_TRAIN_GENERATE_H
#define TL_TRAIN_GENERATE_H

#include <stdint.h>

#include "base/err.h"
#include "base/vec.h"
#include "model/gpt2.h"
#include "runtime/sampler.h"

/* Feeds prompt[n_prompt] (at least one token), then samples up to n_new tokens, stopping early at
 * `stop_token` (>= 0; not emitted) or the context's end. New tokens are appended to out. */
int tl_gpt2_sample(const tl_gpt2 *m, tl_sampler *s, const int32_t *prompt, int n_prompt, int n_new, int stop_token,
                   tl_ivec *out, tl_err *e);

#endif
