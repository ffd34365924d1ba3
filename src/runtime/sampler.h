/* Next-token sampling from logits: temperature, top-k, top-p (nucleus), min-p; seeded. */
#ifndef TL_RUNTIME_SAMPLER_H
#define TL_RUNTIME_SAMPLER_H

#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"

typedef struct tl_cand {
    float w; /* unnormalised probability */
    int id;
} tl_cand;

typedef struct tl_sampler {
    int vocab;
    float temp;   /* 0: greedy (argmax, ties to the lowest id) */
    int top_k;    /* 0: off */
    float top_p;  /* 1: off */
    float min_p;  /* 0: off; keeps tokens with p >= min_p * p_max */
    tl_rng rng;
    struct tl_cand *cand; /* [vocab] scratch */
} tl_sampler;

int tl_sampler_init(tl_sampler *s, int vocab, float temp, int top_k, float top_p, float min_p, uint64_t seed, tl_err *e);
void tl_sampler_free(tl_sampler *s);
/* Picks a token id in [0, vocab) from logits[0..vocab). */
int tl_sampler_sample(tl_sampler *s, const float *logits);

#endif
