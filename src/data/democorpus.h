/* The demo's embedded corpus: short English documents about rooms, sensors and gestures, made by a
 * seeded grammar so that the repository ships no third-party text. Words and numbers are
 * correlated (a cold reading is followed by the heater turning on), which gives a small model
 * something learnable beyond word frequencies. */
#ifndef TL_DATA_DEMOCORPUS_H
#define TL_DATA_DEMOCORPUS_H

#include <stdint.h>

#include "base/err.h"

/* Writes n_docs documents separated by blank lines to `path` (atomically). */
int tl_democorpus_write(const char *path, int n_docs, uint64_t seed, tl_err *e);

#endif
