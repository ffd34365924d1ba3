/* Kernel-set selection: the CPU's features at run time, or a set forced by name. */
#include "runtime/kernels.h"

#include <stddef.h>
#include <string.h>

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* this build's sets, best first */
static const tl_kernels *const sets[] = {
#if defined(__x86_64__)
    &tl_kernels_avx512, &tl_kernels_avx2,
#elif defined(__aarch64__)
    &tl_kernels_neon_dot, &tl_kernels_neon,
#endif
    &tl_kernels_scalar};
#define N_SETS (sizeof sets / sizeof *sets)

static int runs_here(const tl_kernels *k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &tl_kernels_avx512)
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
               __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    if (k == &tl_kernels_avx2) return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#elif defined(__aarch64__)
    if (k == &tl_kernels_neon_dot) {
#if defined(__linux__)
        return (getauxval(AT_HWCAP) & HWCAP_ASIMDDP) != 0;
#else
        return 0;
#endif
    }
#endif
    (void)k;
    return 1;
}

const tl_kernels *tl_kernels_best(void) {
    for (size_t i = 0; i < N_SETS; i++)
        if (runs_here(sets[i])) return sets[i];
    return &tl_kernels_scalar;
}

const tl_kernels *tl_kernels_get(const char *name) {
    for (size_t i = 0; i < N_SETS; i++)
        if (!strcmp(sets[i]->name, name)) return runs_here(sets[i]) ? sets[i] : NULL;
    return NULL;
}

const tl_kernels *tl_kernels_at(int i) { return i >= 0 && (size_t)i < N_SETS ? sets[i] : NULL; }
