/* Synthetic sensor data, physically motivated and seeded, in the shapes of the reference sensing
 * tasks (so their task specs apply unchanged) and as plain "sensor text + label" documents for
 * pre-training. Each generator appends one sample's input text to a buffer and reports its label
 * or target; the models and their parameters are documented in docs/synth.md. libc + libm only. */
#ifndef TL_TASKS_SYNTH_H
#define TL_TASKS_SYNTH_H

#include "base/err.h"
#include "base/rng.h"
#include "base/vec.h"

typedef enum { TL_SYNTH_IMU, TL_SYNTH_ENVIRONMENT, TL_SYNTH_GESTURE, TL_SYNTH_BREATHING, TL_SYNTH_N_KINDS } tl_synth_kind;

typedef struct tl_synth_opts {
    tl_synth_kind kind;
    double hz, seconds;        /* imu: sampling rate and window (20 Hz, 2 s) */
    double rate_min, rate_max; /* breathing: breaths per minute drawn uniformly (8..20) */
} tl_synth_opts;

/* The generator names ("imu", "environment", "gesture", "breathing"); -1 for an unknown name. */
int tl_synth_kind_parse(const char *name);
const char *tl_synth_kind_name(tl_synth_kind k);
/* Labels of a classification kind (NULL and 0 for breathing, a regression). */
const char *const *tl_synth_labels(tl_synth_kind k, int *n);
/* The instruction text of the kind's task (the gesture CSV carries it in a column). */
const char *tl_synth_instruction(tl_synth_kind k);

/* Draws one sample: appends its input text to `input` and sets *label (classification, index in
 * tl_synth_labels) or *target (breathing rate in breaths per minute). */
int tl_synth_sample(const tl_synth_opts *o, tl_rng *r, tl_buf *input, int *label, double *target, tl_err *e);

/* Raw signals for tests: the breathing trace (n values, 0..100, at 31.8 Hz) for `rate`, and an IMU
 * window (accel[n][3] m/s^2, gyro[n][3] rad/s, device frame) for activity `act`. */
void tl_synth_breathing_signal(tl_rng *r, double rate, double *out, int n);
void tl_synth_imu_signal(tl_rng *r, int act, double hz, double (*accel)[3], double (*gyro)[3], int n);

#endif
