/* Deterministic random numbers: a 64-bit state (splitmix64 step) that checkpoints save and restore. */
#ifndef TL_BASE_RNG_H
#define TL_BASE_RNG_H

#include <stdint.h>

typedef struct tl_rng {
    uint64_t state;
} tl_rng;

void tl_rng_seed(tl_rng *r, uint64_t seed);
uint64_t tl_rng_u64(tl_rng *r);
/* Uniform in [0, 1) with 24 random bits. */
float tl_rng_f32(tl_rng *r);
/* Standard normal (Box-Muller; consumes two draws per call, no cached second value). */
float tl_rng_normal(tl_rng *r);
/* Uniform integer in [0, n), n > 0. */
uint64_t tl_rng_below(tl_rng *r, uint64_t n);

#endif
