/* Chest-movement breathing signal: a skewed periodic breath waveform with phase jitter, amplitude
 * modulation, baseline wander, sensor noise and occasional motion artefacts, min-max scaled to 0..100
 * like the breathe/ reference rows (docs/synth.md). */
#include <math.h>

#include "tasks/synth.h"

#define TWO_PI 6.283185307179586

static double smoothstep(double u) { return u <= 0 ? 0 : u >= 1 ? 1 : u * u * (3 - 2 * u); }

/* One breath cycle at phase fraction u in [0, 1): rise (inhale), top pause, fall (exhale), rest. */
static double breath_shape(double u, double rise, double top, double fall) {
    if (u < rise) return smoothstep(u / rise);
    if (u < rise + top) return 1;
    if (u < rise + top + fall) return 1 - smoothstep((u - rise - top) / fall);
    return 0;
}

void tl_synth_breathing_signal(tl_rng *r, double rate, int cycles, double hz, double noise, double *out, int n) {
    double f = rate * cycles / 60, T = n / hz, ph0 = tl_synth_uniform(r, 0, 1);
    double rise = tl_synth_uniform(r, 0.35, 0.5), top = tl_synth_uniform(r, 0, 0.1), fall = tl_synth_uniform(r, 0.35, 0.5);
    if (rise + top + fall > 0.97) { /* keep a short rest at the bottom */
        double k = 0.97 / (rise + top + fall);
        rise *= k, top *= k, fall *= k;
    }
    double am = tl_synth_uniform(r, 0, 0.2), am_f = tl_synth_uniform(r, 0.02, 0.1), am_p = tl_synth_uniform(r, 0, TWO_PI);
    double wander = tl_synth_uniform(r, 0.05, 0.3), w_f = tl_synth_uniform(r, 0.01, 0.05), w_p = tl_synth_uniform(r, 0, TWO_PI);
    double trend = tl_synth_uniform(r, -0.15, 0.15), sigma = tl_synth_uniform(r, 0.012, 0.05) * noise;
    double jitter = tl_synth_uniform(r, 0.05, 0.3) * noise; /* rad: breath-to-breath timing variability */
    int art_at = -1, art_len = 0;
    double art_amp = 0;
    if (tl_rng_f32(r) < 0.3f) { /* a body movement: a half-sine bump of 0.15..0.8 s */
        art_len = (int)fmax(2, round(tl_synth_uniform(r, 0.15, 0.8) * hz));
        art_at = (int)tl_rng_below(r, (uint64_t)n);
        art_amp = tl_synth_uniform(r, 0.3, 1.0) * (tl_rng_f32(r) < 0.5f ? -1 : 1) * noise;
    }
    /* Phase jitter: a Brownian bridge (zero at both ends), so the window holds exactly f * T cycles
     * and the labelled rate is the window's mean rate. out[] holds the walk until it is replaced. */
    double w = 0;
    for (int i = 0; i < n; i++) out[i] = (w += tl_synth_gauss(r, 1) / sqrt((double)n));
    double lo = INFINITY, hi = -INFINITY;
    for (int i = 0; i < n; i++) {
        double t = i / hz, j = jitter * (out[i] - (i + 1.0) / n * out[n - 1]);
        double u = f * t + ph0 + j / TWO_PI;
        double x = (1 + am * sin(TWO_PI * am_f * t + am_p)) * breath_shape(u - floor(u), rise, top, fall) +
                   wander * sin(TWO_PI * w_f * t + w_p) + trend * t / T + tl_synth_gauss(r, sigma);
        if (art_at >= 0 && i >= art_at && i < art_at + art_len) x += art_amp * sin(TWO_PI / 2 * (i - art_at + 0.5) / art_len);
        out[i] = x;
        lo = fmin(lo, x), hi = fmax(hi, x);
    }
    /* min-max scaling as in the reference rows: minimum 0..1.5, maximum 94..100 */
    double off = tl_synth_uniform(r, 0, 1.5), top_v = tl_synth_uniform(r, 94, 100);
    for (int i = 0; i < n; i++) out[i] = tl_synth_clamp(round(off + (out[i] - lo) / (hi - lo) * (top_v - off)), 0, 100);
}
