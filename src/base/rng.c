/* Deterministic random numbers: splitmix64, with float, normal and bounded-integer draws. */
#include "base/rng.h"

#include <math.h>

void tl_rng_seed(tl_rng *r, uint64_t seed) { r->state = seed ^ 0x6a09e667f3bcc909ULL; }

uint64_t tl_rng_u64(tl_rng *r) {
    uint64_t z = (r->state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

float tl_rng_f32(tl_rng *r) { return (float)(tl_rng_u64(r) >> 40) / 16777216.0f; }

float tl_rng_normal(tl_rng *r) {
    double u1 = ((double)(tl_rng_u64(r) >> 11) + 1.0) / 9007199254740993.0; /* (0, 1] */
    double u2 = (double)(tl_rng_u64(r) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

uint64_t tl_rng_below(tl_rng *r, uint64_t n) {
    uint64_t limit = UINT64_MAX - UINT64_MAX % n, x;
    do x = tl_rng_u64(r);
    while (x >= limit);
    return x % n;
}
