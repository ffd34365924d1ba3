/* Kernel-set selection: the CPU's features at run time, or a set forced by name. */
#include "runtime/kernels.h"

#include <stddef.h>
#include <string.h>

#if defined(__x86_64__)
#include <cpuid.h>
#endif

#if defined(__aarch64__) && defined(__linux__)
#include <sys/auxv.h>
#ifndef HWCAP_ASIMDDP
#define HWCAP_ASIMDDP (1 << 20)
#endif
#endif

/* this build's sets, best first */
static const tl_kernels *const sets[] = {
#if defined(__x86_64__)
    &tl_kernels_avx512_d256, &tl_kernels_avx512, &tl_kernels_avx2,
#elif defined(__aarch64__)
    &tl_kernels_neon_dot, &tl_kernels_neon,
#endif
    &tl_kernels_scalar};
#define N_SETS (sizeof sets / sizeof *sets)

static int runs_here(const tl_kernels *k) {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (k == &tl_kernels_avx512 || k == &tl_kernels_avx512_d256)
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

/* 0 for a set that runs here but is not the one to pick: avx512-d256 is picked on AMD family 19h
 * only (Zen 4 is its one with AVX-512: 512-bit instructions as two 256-bit halves). */
static int preferred(const tl_kernels *k) {
#if defined(__x86_64__)
    if (k == &tl_kernels_avx512_d256) {
        unsigned a, b, c, d;
        if (!__get_cpuid(0, &a, &b, &c, &d) || b != 0x68747541u || d != 0x69746e65u || c != 0x444d4163u) return 0; /* AuthenticAMD */
        if (!__get_cpuid(1, &a, &b, &c, &d)) return 0;
        unsigned family = (a >> 8) & 0xf;
        if (family == 0xf) family += (a >> 20) & 0xff;
        return family == 0x19;
    }
#endif
    (void)k;
    return 1;
}

const tl_kernels *tl_kernels_best(void) {
    for (size_t i = 0; i < N_SETS; i++)
        if (runs_here(sets[i]) && preferred(sets[i])) return sets[i];
    return &tl_kernels_scalar;
}

const tl_kernels *tl_kernels_get(const char *name) {
    for (size_t i = 0; i < N_SETS; i++)
        if (!strcmp(sets[i]->name, name)) return runs_here(sets[i]) ? sets[i] : NULL;
    return NULL;
}

const tl_kernels *tl_kernels_at(int i) { return i >= 0 && (size_t)i < N_SETS ? sets[i] : NULL; }
