/* Synthetic sensors, checked by their statistics (not bytes): breathing's dominant frequency is the
 * requested rate, IMU gravity and gait frequencies, environment class means as documented, gesture
 * shapes (Double has two proximity dips, Hold the longest), and same seed = same output. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tasks/synth.h"

/* Frequency (Hz) in [lo, hi] with the largest periodogram power of x[n] sampled at hz (mean removed). */
static double peak_freq(const double *x, int n, double hz, double lo, double hi) {
    double mean = 0, best = lo, bp = -1;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (double f = lo; f <= hi; f += 0.001) {
        double re = 0, im = 0;
        for (int i = 0; i < n; i++) {
            re += (x[i] - mean) * cos(6.283185307179586 * f * i / hz);
            im += (x[i] - mean) * sin(6.283185307179586 * f * i / hz);
        }
        if (re * re + im * im > bp) bp = re * re + im * im, best = f;
    }
    return best;
}

static void test_breathing(void) {
    tl_rng r;
    tl_rng_seed(&r, 3);
    double x[477], worst = 0, sum = 0;
    int n = 40;
    for (int k = 0; k < n; k++) {
        double rate = 8 + 12.0 * k / (n - 1);
        tl_synth_breathing_signal(&r, rate, x, 477);
        for (int i = 0; i < 477; i++) CHECK(x[i] >= 0 && x[i] <= 100 && x[i] == round(x[i]), "value %g", x[i]);
        double got = 60 * peak_freq(x, 477, 31.8, 6 / 60.0, 26 / 60.0), err = fabs(got - rate);
        worst = fmax(worst, err);
        sum += err;
    }
    fprintf(stderr, "breathing: rate error mean %.3f bpm, worst %.3f bpm over %d signals\n", sum / n, worst, n);
    CHECK(worst < 1.5 && sum / n < 0.5, "dominant frequency vs requested rate: mean %g, worst %g bpm", sum / n, worst);
}

static void test_imu(void) {
    enum { N = 200 };
    double acc[N][3], gyr[N][3], mag[N];
    tl_rng r;
    tl_rng_seed(&r, 5);
    for (int act = 0; act < 6; act++) {
        double mean = 0, var = 0;
        for (int k = 0; k < 10; k++) {
            tl_synth_imu_signal(&r, act, 50, acc, gyr, N);
            double m = 0, v = 0;
            for (int i = 0; i < N; i++) m += (mag[i] = sqrt(acc[i][0] * acc[i][0] + acc[i][1] * acc[i][1] + acc[i][2] * acc[i][2])) / N;
            for (int i = 0; i < N; i++) v += (mag[i] - m) * (mag[i] - m) / N;
            mean += m / 10;
            var += v / 10;
            if (act == 1 && k < 5) { /* walking: |a| oscillates at the step rate */
                double f = peak_freq(mag, N, 50, 0.5, 5);
                CHECK(f > 1.6 && f < 2.3, "walking step frequency %g Hz", f);
            }
        }
        CHECK(fabs(mean - 9.81) < (act == 2 ? 2.5 : 0.8), "activity %d: mean |a| %g, not gravity", act, mean);
        if (act == 0) CHECK(var < 0.01, "still: variance of |a| %g", var);
        if (act == 2) CHECK(var > 5, "running: variance of |a| %g", var);
    }
}

static void test_env_and_gesture(void) {
    tl_synth_opts o = {.kind = TL_SYNTH_ENVIRONMENT, .hz = 20, .seconds = 2, .rate_min = 8, .rate_max = 20};
    tl_rng r;
    tl_rng_seed(&r, 9);
    tl_buf b = {0};
    double sum[3][8] = {{0}};
    int count[3] = {0};
    tl_err e;
    for (int k = 0; k < 3000; k++) {
        int label;
        double t;
        b.n = 0;
        tl_synth_sample(&o, &r, &b, &label, &t, &e);
        tl_buf_append(&b, "", 1, &e);
        double v[8];
        CHECK(sscanf(b.p, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8, "%s", b.p);
        for (int c = 0; c < 8; c++) sum[label][c] += v[c];
        count[label]++;
    }
    /* documented means: red 8 / 121 / 27, sound 201 / 215 / 493 */
    double red[3] = {8.0, 120.8, 26.7}, sound[3] = {201, 215, 493};
    for (int p = 0; p < 3; p++) {
        CHECK(count[p] > 800, "place %d drawn %d times of 3000", p, count[p]);
        CHECK(fabs(sum[p][4] / count[p] - red[p]) < 2 && fabs(sum[p][7] / count[p] - sound[p]) < 5, "place %d means: red %g sound %g",
              p, sum[p][4] / count[p], sum[p][7] / count[p]);
    }
    o.kind = TL_SYNTH_GESTURE;
    int dips[3] = {0}, len[3] = {0}, n[3] = {0};
    for (int k = 0; k < 600; k++) {
        int label;
        double t;
        b.n = 0;
        tl_synth_sample(&o, &r, &b, &label, &t, &e);
        tl_buf_append(&b, "", 1, &e);
        CHECK(!strncmp(b.p, "Proximity: [", 12) && strstr(b.p, "]\nRed: [") && strstr(b.p, "]\nBlue: ["), "format");
        const char *s = b.p + 12;
        int prev_low = 0, d = 0, low = 0;
        for (int i = 0; i < 51; i++) {
            int v = (int)strtol(s, (char **)&s, 10);
            s += 2;
            int is_low = v < 230;
            d += is_low && !prev_low;
            low += is_low;
            prev_low = is_low;
        }
        dips[label] += d, len[label] += low, n[label]++;
    }
    CHECK(fabs((double)dips[1] / n[1] - 2) < 0.2 && fabs((double)dips[0] / n[0] - 1) < 0.1, "dips: Tap %g, Double %g",
          (double)dips[0] / n[0], (double)dips[1] / n[1]);
    CHECK(len[2] / n[2] > 2 * len[0] / n[0], "Hold stays low longer than Tap: %d vs %d samples", len[2] / n[2], len[0] / n[0]);
    tl_buf_free(&b);
}

static void test_seed(void) {
    tl_synth_opts o = {.kind = TL_SYNTH_IMU, .hz = 20, .seconds = 2, .rate_min = 8, .rate_max = 20};
    tl_buf a = {0}, b = {0};
    tl_err e;
    int la, lb;
    double t;
    for (int kind = 0; kind < TL_SYNTH_N_KINDS; kind++) {
        o.kind = (tl_synth_kind)kind;
        tl_rng r1, r2, r3;
        tl_rng_seed(&r1, 42), tl_rng_seed(&r2, 42), tl_rng_seed(&r3, 43);
        a.n = b.n = 0;
        tl_synth_sample(&o, &r1, &a, &la, &t, &e);
        tl_synth_sample(&o, &r2, &b, &lb, &t, &e);
        CHECK(a.n == b.n && !memcmp(a.p, b.p, a.n) && la == lb, "kind %d: same seed, different output", kind);
        b.n = 0;
        tl_synth_sample(&o, &r3, &b, &lb, &t, &e);
        CHECK(a.n != b.n || memcmp(a.p, b.p, a.n), "kind %d: different seeds, same output", kind);
    }
    tl_buf_free(&a);
    tl_buf_free(&b);
}

int main(void) {
    test_breathing();
    test_imu();
    test_env_and_gesture();
    test_seed();
    CHECK_DONE();
}
