/* Synthetic sensor data, physically motivated and seeded, in the CSV shapes of the reference sensing
 * tasks (so their task specs apply unchanged) and as plain "sensor text + label" documents for
 * pre-training. The models and their parameters are documented in docs/synth.md. libc + libm only.
 *
 * A generator (tl_synth) owns its RNG and any state that carries from row to row (the environment's
 * weather and visits, the balanced label order), so the same options and seed give the same rows,
 * and the first N rows do not depend on how many are asked for. */
#ifndef TL_TASKS_SYNTH_H
#define TL_TASKS_SYNTH_H

#include <stdint.h>

#include "base/err.h"
#include "base/rng.h"
#include "base/vec.h"

typedef enum { TL_SYNTH_IMU, TL_SYNTH_ENVIRONMENT, TL_SYNTH_GESTURE, TL_SYNTH_BREATHING, TL_SYNTH_N_KINDS } tl_synth_kind;

enum { TL_SYNTH_STILL, TL_SYNTH_WALKING, TL_SYNTH_RUNNING, TL_SYNTH_CYCLING, TL_SYNTH_VEHICLE, TL_SYNTH_STAIRS };
enum { TL_SYNTH_TAP, TL_SYNTH_DOUBLE, TL_SYNTH_HOLD };

#define TL_SYNTH_MAX_PLACES 64
#define TL_SYNTH_MAX_SAMPLES 1024 /* per channel (imu, breathing) */

typedef struct tl_synth_opts {
    tl_synth_kind kind;
    double hz, seconds;          /* imu (default 10 Hz, 2.5 s) and breathing (31.8 Hz, 15 s); 0 = default */
    double rate_min, rate_max;   /* breathing: target rate drawn uniformly, breaths/min; 0 = 8 and 20 */
    int cycles_per_breath;       /* breathing: chest cycles per labelled breath (1; 2 = breathe/'s relation); 0 = 1 */
    double noise;                /* scale of every noise term; 1 = the documented levels; 0 = 1 (use 1e-9 for none) */
    const char *places;          /* environment: comma-separated place names; NULL = the three reference places */
} tl_synth_opts;

typedef struct tl_synth_place {
    char name[64];
    double mean[8], sd[8];       /* per-visit level of each reading (docs/synth.md) */
    double rgb_ratio[2];         /* green / red, blue / red */
} tl_synth_place;

typedef struct tl_synth {
    tl_synth_opts o;
    tl_rng rng;
    int n;                       /* samples per channel (imu, breathing) */
    int n_labels;
    const char *labels[TL_SYNTH_MAX_PLACES];
    int order[TL_SYNTH_MAX_PLACES], order_left; /* balanced labels: a shuffled block of every label */
    /* environment */
    tl_synth_place place[TL_SYNTH_MAX_PLACES];
    double pressure, temp_off, hum2_off; /* the building's slowly drifting state */
    int visit_left, visit_place;
    double visit[8];             /* the current visit's levels */
} tl_synth;

/* The generator names ("imu", "environment", "gesture", "breathing"); -1 for an unknown name. */
int tl_synth_kind_parse(const char *name);
const char *tl_synth_kind_name(tl_synth_kind k);

/* Checks the options (errors name the option: "--rate-min ...") and seeds the generator. */
int tl_synth_init(tl_synth *s, const tl_synth_opts *o, uint64_t seed, tl_err *e);

/* Draws the next sample: appends its input text (the CSV input field) to `input` and sets *label
 * (index into s->labels) or, for breathing, *label = -1 and *target (breaths per minute, 2 decimals). */
int tl_synth_next(tl_synth *s, tl_buf *input, int *label, double *target, tl_err *e);

/* The CSV header line of the kind ("input,output\n", gesture: "instruction,input,output\n"). */
const char *tl_synth_csv_header(tl_synth_kind k);
/* Draws the next sample and appends it as one CSV row (RFC 4180 quoting), or with text != 0 as one
 * pre-training document: a line describing the sensor, the input, the label line, a blank line. */
int tl_synth_row(tl_synth *s, int text, tl_buf *out, tl_err *e);
/* Appends a CSV field, quoted when it holds a comma, quote or line break (quotes doubled). */
int tl_synth_csv_field(tl_buf *b, const char *p, size_t n, tl_err *e);

/* Raw signals (also used by the tests). `noise` scales every noise term (1 = documented).
 *  breathing: n values 0..100 at hz; the chest goes through cycles * rate cycles per minute.
 *  imu: accel[n] (m/s^2, specific force) and gyro[n] (rad/s) in the phone's frame at hz.
 *  gesture: n readings of proximity (255 = nothing near) and red, green, blue light. */
void tl_synth_breathing_signal(tl_rng *r, double rate, int cycles, double hz, double noise, double *out, int n);
void tl_synth_imu_signal(tl_rng *r, int activity, double hz, double noise, double (*accel)[3], double (*gyro)[3], int n);
void tl_synth_gesture_signal(tl_rng *r, int gesture, double noise, int n, double *prox, double *red, double *green,
                             double *blue);

/* ---- shared by src/tasks/synth*.c ---- */
double tl_synth_uniform(tl_rng *r, double a, double b);
double tl_synth_gauss(tl_rng *r, double sd);
double tl_synth_clamp(double x, double lo, double hi);
/* Appends "Name: [v0, v1, ...]\n" with `decimals` digits after the point (-0 printed as 0). */
int tl_synth_append_list(tl_buf *b, const char *name, const double *v, int n, int decimals, tl_err *e);
/* The next label from a shuffled block holding each label once, so classes stay balanced. */
int tl_synth_draw_label(tl_synth *s);
/* The environment kind: sets up s->place from s->o.places; draws one row of readings. */
int tl_synth_env_init(tl_synth *s, tl_err *e);
int tl_synth_env_next(tl_synth *s, tl_buf *input, int *label, tl_err *e);

#endif
