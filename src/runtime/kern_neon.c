/* ARMv8.0 NEON kernels (kern_neon.h): byte products widened to int16 (vmull/vmlal: a pair of
 * products is at most 2 * 128 * 127, no overflow) and pairwise accumulated into int32 lanes. */
#if defined(__aarch64__)
#include <arm_neon.h>

static inline int32x4_t dot_widen(int32x4_t acc, int8x16_t w, int8x16_t x) {
    int16x8_t p = vmull_s8(vget_low_s8(w), vget_low_s8(x));
    p = vmlal_high_s8(p, w, x);
    return vpadalq_s16(acc, p);
}

#define KERN_NAME "neon"
#define KERN_SET tl_kernels_neon
#define KERN_DOT dot_widen
#include "runtime/kern_neon.h"
#endif
