/* Hand gestures over a proximity + RGB light sensor: one hand trajectory per gesture (Tap, Double,
 * Hold) read by an inverse-square proximity channel and a shadowed ambient-light channel, with the
 * reference gesture/ file's levels, timings and saturation (docs/synth.md). */
#include <math.h>

#include "tasks/synth.h"

#define TWO_PI 6.283185307179586

static double smoothstep(double u) { return u <= 0 ? 0 : u >= 1 ? 1 : u * u * (3 - 2 * u); }

/* Closeness of the hand (0: away, 1: closest point) at sample t for one approach starting at t0:
 * `a` samples coming in, `h` staying, `rel` leaving. */
static double segment(double t, double t0, double a, double h, double rel) {
    if (t < t0) return 0;
    if (t < t0 + a) return smoothstep((t - t0) / a);
    if (t < t0 + a + h) return 1;
    return 1 - smoothstep((t - t0 - a - h) / rel);
}

void tl_synth_gesture_signal(tl_rng *r, int g, double noise, int n, double *prox, double *red, double *green, double *blue) {
    double t0[2], a[2], h[2], rel[2], drift = 0;
    int segs = g == TL_SYNTH_DOUBLE ? 2 : 1;
    if (g == TL_SYNTH_TAP) {
        t0[0] = tl_synth_uniform(r, 17, 26), a[0] = tl_synth_uniform(r, 1.5, 3.5), h[0] = tl_synth_uniform(r, 0, 3),
        rel[0] = tl_synth_uniform(r, 1.5, 6);
    } else if (g == TL_SYNTH_DOUBLE) {
        t0[0] = tl_synth_uniform(r, 14, 24);
        for (int k = 0; k < 2; k++)
            a[k] = tl_synth_uniform(r, 1, 3), h[k] = tl_synth_uniform(r, 0, 1.5), rel[k] = tl_synth_uniform(r, 1.5, 4);
        t0[1] = t0[0] + a[0] + h[0] + rel[0] + tl_synth_uniform(r, 0.5, 5);
    } else { /* hold: the hand stays 14..30 samples, drifting closer or away */
        t0[0] = tl_synth_uniform(r, 5, 20), a[0] = tl_synth_uniform(r, 1.5, 5), h[0] = tl_synth_uniform(r, 14, 30),
        rel[0] = tl_synth_uniform(r, 1.5, 4), drift = tl_synth_uniform(r, -0.5, 0.5);
        h[0] = fmin(h[0], n - 2 - t0[0] - a[0] - rel[0]);
    }
    /* How close the hand comes, shared by both channels: proximity gain s (s >= 1 saturates at 0)
     * and the light left at the deepest shadow, m; both spread log-uniformly like the reference. */
    double u = g == TL_SYNTH_HOLD ? tl_synth_uniform(r, -0.15, 0.9) : tl_synth_uniform(r, 0, 1), s = 0.1 * pow(50, u);
    double m = 0.7 * pow(0.05, tl_synth_clamp(u + tl_synth_gauss(r, 0.15), 0, 1)), gamma = tl_synth_uniform(r, 0.4, 0.8);
    /* Ambient light: a dim room (28 %) or a lit one, a lamp's tint, slow flicker / wander. */
    double level = tl_rng_f32(r) < 0.28f ? exp(tl_synth_uniform(r, log(18), log(70))) : tl_synth_uniform(r, 120, 1550);
    double gr = tl_synth_uniform(r, 0.76, 1.12), tint[3] = {1, gr, gr * tl_synth_uniform(r, 0.82, 1.02)};
    double wa = tl_synth_uniform(r, 0, 0.03), wf = tl_synth_uniform(r, 0.01, 0.05), wp = tl_synth_uniform(r, 0, TWO_PI);
    double *rgb[3] = {red, green, blue};
    for (int i = 0; i < n; i++) {
        double e = 0;
        for (int k = 0; k < segs; k++) e = fmax(e, segment(i, t0[k], a[k], h[k], rel[k]));
        if (drift != 0 && i >= t0[0] + a[0]) e *= 1 + drift * (fmin(i - t0[0] - a[0], h[0]) / h[0] - 0.5);
        double p = 253.6 + tl_synth_gauss(r, 0.9 * noise) - 256 * fmin(1, s * e * e); /* IR echo ~ 1 / distance^2 */
        prox[i] = tl_synth_clamp(round(p), 0, 255);
        double shade = 1 - (1 - m) * pow(fmin(1, e), gamma), amb = level * (1 + wa * sin(TWO_PI * wf * i + wp));
        for (int c = 0; c < 3; c++) {
            double v = amb * tint[c] * shade;
            rgb[c][i] = fmax(0, round(v + tl_synth_gauss(r, (0.3 + 0.002 * v) * noise)));
        }
    }
}
