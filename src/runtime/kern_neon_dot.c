/* ARMv8.2 NEON kernels with the dot-product extension (kern_neon.h); this file is compiled with
 * -march=armv8.2-a+dotprod and used only when the CPU reports asimddp. */
#if defined(__aarch64__)
#include <arm_neon.h>

#define KERN_NAME "neon-dot"
#define KERN_SET tl_kernels_neon_dot
#define KERN_DOT vdotq_s32
#include "runtime/kern_neon.h"
#endif
