/* Synthetic sensors, checked by their statistics rather than bytes: breathing's dominant frequency is
 * the requested rate (or twice it with 2 cycles per breath); IMU gravity, gait and cadence
 * frequencies and still's low variance; environment class means as documented, slow drift and the
 * pressure-humidity coupling; gesture shapes (Tap one proximity dip, Double two, Hold the longest
 * plateau); balanced labels, CSV quoting, option errors, and same seed = same bytes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "tasks/synth.h"

#define TWO_PI 6.283185307179586

/* Frequency (Hz) in [lo, hi] (step `step`) with the largest periodogram power of x[n] sampled at hz,
 * mean removed, Hann window. */
static double peak_freq(const double *x, int n, double hz, double lo, double hi, double step) {
    double mean = 0, best = lo, bp = -1;
    for (int i = 0; i < n; i++) mean += x[i] / n;
    for (double f = lo; f <= hi + 1e-12; f += step) {
        double re = 0, im = 0;
        for (int i = 0; i < n; i++) {
            double w = 0.5 - 0.5 * cos(TWO_PI * i / (n - 1)), v = (x[i] - mean) * w;
            re += v * cos(TWO_PI * f * i / hz);
            im += v * sin(TWO_PI * f * i / hz);
        }
        if (re * re + im * im > bp) bp = re * re + im * im, best = f;
    }
    return best;
}

/* Subtracts the least-squares line. */
static void detrend(double *x, int n) {
    double st = 0, sx = 0, stt = 0, stx = 0;
    for (int i = 0; i < n; i++) st += i, sx += x[i], stt += (double)i * i, stx += i * x[i];
    double b = (n * stx - st * sx) / (n * stt - st * st), a = (sx - b * st) / n;
    for (int i = 0; i < n; i++) x[i] -= a + b * i;
}

/* Least-squares periodogram (a sinusoid fitted on top of a line, as in a floating-mean Lomb-Scargle
 * periodogram): the sum of squares that a sinusoid of frequency f (Hz) explains in x[n] (n <= 1024)
 * sampled at hz. Unlike the plain periodogram it is unbiased with only 2 cycles in the window. */
static double lsq_power(const double *xd, int n, double hz, double f) {
    double c[1024], s[1024], cc = 0, ss = 0, cs = 0, xc = 0, xs = 0;
    for (int i = 0; i < n; i++) c[i] = cos(TWO_PI * f * i / hz), s[i] = sin(TWO_PI * f * i / hz);
    detrend(c, n), detrend(s, n);
    for (int i = 0; i < n; i++) cc += c[i] * c[i], ss += s[i] * s[i], cs += c[i] * s[i], xc += xd[i] * c[i], xs += xd[i] * s[i];
    double det = cc * ss - cs * cs, a = (xc * ss - xs * cs) / det, b = (xs * cc - xc * cs) / det;
    return a * xc + b * xs;
}

/* The frequency in [lo, hi] (Hz) of the largest least-squares power: a 0.002 Hz grid, refined to
 * 0.00005 Hz around the best point. */
static double lsq_peak(const double *x, int n, double hz, double lo, double hi) {
    double xd[1024], best = lo, bp = -1;
    memcpy(xd, x, sizeof *x * (size_t)n);
    detrend(xd, n);
    for (double f = lo; f <= hi + 1e-12; f += 0.002) {
        double p = lsq_power(xd, n, hz, f);
        if (p > bp) bp = p, best = f;
    }
    for (double f = best - 0.002, c = best; f <= c + 0.002; f += 0.00005) {
        double p = lsq_power(xd, n, hz, f);
        if (p > bp) bp = p, best = f;
    }
    return best;
}

static void test_breathing(void) {
    double x[477];
    for (int cycles = 1; cycles <= 2; cycles++) {
        double worst = 0, sum = 0;
        int n = 60;
        for (int k = 0; k < n; k++) {
            tl_rng r;
            tl_rng_seed(&r, 1000 + (uint64_t)k);
            double rate = 8 + 12.0 * k / (n - 1);
            tl_synth_breathing_signal(&r, rate, cycles, 31.8, 1, x, 477);
            double lo = 100, hi = 0;
            for (int i = 0; i < 477; i++) {
                CHECK(x[i] >= 0 && x[i] <= 100 && x[i] == round(x[i]), "value %g", x[i]);
                lo = fmin(lo, x[i]), hi = fmax(hi, x[i]);
            }
            CHECK(lo <= 2 && hi >= 93, "scaled like the reference rows (min 0..1, max 95..100): %g..%g", lo, hi);
            double want = rate * cycles, got = 60 * lsq_peak(x, 477, 31.8, (want - 6) / 60, (want + 6) / 60);
            double err = fabs(got - want) / cycles; /* in breaths per minute */
            CHECK(err <= 0.5, "cycles %d: rate %.2f bpm, periodogram peak %.2f cycles/min", cycles, rate, got);
            worst = fmax(worst, err), sum += err;
        }
        fprintf(stderr, "breathing (%d cycle%s per breath): rate error mean %.3f bpm, worst %.3f bpm over %d signals\n", cycles,
                cycles > 1 ? "s" : "", sum / n, worst, n);
    }
}

/* mean and variance of |v| over a window */
static void mag_stats(double (*v)[3], int n, double *mag, double *mean, double *var) {
    *mean = *var = 0;
    for (int i = 0; i < n; i++) *mean += (mag[i] = sqrt(v[i][0] * v[i][0] + v[i][1] * v[i][1] + v[i][2] * v[i][2])) / n;
    for (int i = 0; i < n; i++) *var += (mag[i] - *mean) * (mag[i] - *mean) / n;
}

static void test_imu(void) {
    enum { N = 200, W = 20 }; /* 4 s at 50 Hz, 20 windows per activity */
    static double acc[N][3], gyr[N][3], mag[N], gmag[N];
    static const double f_lo[6] = {0, 1.8, 2.5, 1.2, 0, 1.4}, f_hi[6] = {0, 2.2, 3.0, 1.6, 0, 2.0};
    double var_of[6], zsum = 0;
    for (int act = 0; act < 6; act++) {
        tl_rng r;
        tl_rng_seed(&r, 50 + (uint64_t)act);
        double mean = 0, var = 0, gyro = 0;
        int in_band = 0;
        for (int k = 0; k < W; k++) {
            tl_synth_imu_signal(&r, act, 50, 1, acc, gyr, N);
            double m, v, gm, gv;
            mag_stats(acc, N, mag, &m, &v);
            mag_stats(gyr, N, gmag, &gm, &gv);
            mean += m / W, var += v / W, gyro += gm / W;
            if (act == TL_SYNTH_STILL)
                for (int i = 0; i < N; i++) zsum += acc[i][2] / mag[i] / (N * W);
            if (f_hi[act] > 0) { /* |a| peaks at the step / pedalling rate */
                double f = peak_freq(mag, N, 50, 0.5, 5, 0.01);
                in_band += f >= f_lo[act] - 0.15 && f <= f_hi[act] + 0.15;
            }
        }
        var_of[act] = var;
        fprintf(stderr, "imu %d: mean |a| %.2f, var |a| %.3f, mean |w| %.3f, %d/%d windows peak in the gait band\n", act, mean,
                var, gyro, in_band, W);
        CHECK(fabs(mean - 9.81) < (act == TL_SYNTH_RUNNING ? 2.0 : 0.4), "activity %d: mean |a| %g, not gravity", act, mean);
        if (f_hi[act] > 0) CHECK(in_band >= W - 1, "activity %d: %d of %d windows peak in %g..%g Hz", act, in_band, W, f_lo[act], f_hi[act]);
        if (act == TL_SYNTH_STILL) CHECK(var < 0.01 && gyro < 0.1, "still: variance of |a| %g, mean |w| %g", var, gyro);
    }
    CHECK(var_of[TL_SYNTH_RUNNING] > 3 * var_of[TL_SYNTH_WALKING] && var_of[TL_SYNTH_WALKING] > 100 * var_of[TL_SYNTH_STILL] &&
              var_of[TL_SYNTH_VEHICLE] < var_of[TL_SYNTH_WALKING],
          "variance of |a|: still %g, walking %g, running %g, vehicle %g", var_of[0], var_of[1], var_of[2], var_of[4]);
    CHECK(fabs(zsum) < 0.25, "random orientation: mean gravity share on the z axis %g", zsum);
}

/* Parses "a,b,c,d,e,f,g,h" */
static int parse8(const char *s, double v[8]) {
    return sscanf(s, "%lf,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) == 8;
}

static void test_environment(void) {
    tl_synth_opts o = {.kind = TL_SYNTH_ENVIRONMENT};
    tl_synth s;
    tl_err e;
    CHECK(!tl_synth_init(&s, &o, 9, &e), "init: %s", e.msg);
    tl_buf b = {0};
    enum { ROWS = 6000 };
    double sum[3][8] = {{0}}, prev[8] = {0}, sxy = 0, sx = 0, sy = 0, sxx = 0, syy = 0;
    int count[3] = {0}, prev_label = -1, same = 0, small_step = 0;
    for (int k = 0; k < ROWS; k++) {
        int label;
        double t, v[8];
        b.n = 0;
        CHECK(!tl_synth_next(&s, &b, &label, &t, &e), "%s", e.msg);
        tl_buf_append(&b, "", 1, &e);
        CHECK(parse8(b.p, v), "row '%s'", b.p);
        for (int c = 0; c < 8; c++) sum[label][c] += v[c];
        count[label]++;
        sx += v[0], sy += v[1], sxx += v[0] * v[0], syy += v[1] * v[1], sxy += v[0] * v[1];
        if (label == prev_label) same++, small_step += fabs(v[0] - prev[0]) < 0.15;
        prev_label = label;
        memcpy(prev, v, sizeof prev);
    }
    /* documented per-place means (docs/synth.md): pressure, temperature, humidity 2, red, green, blue, sound */
    static const double want[3][8] = {{1004.42, 62.2, 24.89, 53.16, 7.99, 6.18, 4.86, 201.2},
                                      {1004.23, 63.8, 24.65, 54.21, 120.8, 78.4, 56.7, 214.8},
                                      {1004.80, 59.1, 25.31, 53.52, 26.7, 21.3, 19.1, 493.4}};
    static const double tol[8] = {0.3, 3, 0.3, 0.5, 3, 3, 3, 12};
    for (int p = 0; p < 3; p++) {
        CHECK(count[p] > ROWS / 4, "place %d drawn %d times of %d", p, count[p], ROWS);
        for (int c = 0; c < 8; c++) {
            double m = sum[p][c] / count[p];
            CHECK(fabs(m - want[p][c]) < tol[c], "place %d column %d: mean %g, documented %g", p, c, m, want[p][c]);
        }
    }
    double red[3] = {sum[0][4] / count[0], sum[1][4] / count[1], sum[2][4] / count[2]};
    CHECK(red[0] < red[2] && red[2] < red[1] && sum[2][7] / count[2] > 1.8 * sum[1][7] / count[1], "places' light / sound order");
    double n = ROWS, corr = (sxy / n - sx / n * sy / n) / sqrt((sxx / n - sx * sx / n / n) * (syy / n - sy * sy / n / n));
    CHECK(corr < -0.95, "humidity follows pressure as in the reference rows: r = %g", corr);
    CHECK(small_step > 0.9 * same, "slow drift: %d of %d consecutive rows at one place change pressure by < 0.15 hPa", small_step, same);

    /* more places: 5 labels, a new name's profile depends on the name only */
    double kitchen[2] = {0};
    for (int seed = 0; seed < 2; seed++) {
        o.places = "Charging Station, Entrance,Server Rack,Kitchen,Lab 2";
        CHECK(!tl_synth_init(&s, &o, 100 + (uint64_t)seed, &e), "init: %s", e.msg);
        CHECK(s.n_labels == 5 && !strcmp(s.labels[1], "Entrance") && !strcmp(s.labels[4], "Lab 2"), "places parsed");
        int c = 0;
        for (int k = 0; k < 3000; k++) {
            int label;
            double t, v[8];
            b.n = 0;
            tl_synth_next(&s, &b, &label, &t, &e);
            tl_buf_append(&b, "", 1, &e);
            parse8(b.p, v);
            if (label == 3) kitchen[seed] += v[7], c++;
        }
        kitchen[seed] /= c;
    }
    CHECK(fabs(kitchen[0] - kitchen[1]) < 0.1 * kitchen[0], "Kitchen's sound level depends on the seed: %g vs %g", kitchen[0],
          kitchen[1]);
    o.places = "A,,B";
    CHECK(tl_synth_init(&s, &o, 1, &e) && strstr(e.msg, "--places"), "empty place name accepted");
    o.places = "A,B,A";
    CHECK(tl_synth_init(&s, &o, 1, &e) && strstr(e.msg, "twice"), "duplicate place accepted");
    tl_buf_free(&b);
}

/* Dips of the proximity reading: a dip starts where the drop below the resting level exceeds half
 * the window's largest drop and ends where it falls below a quarter (hysteresis against noise);
 * the longest dip's length goes to *longest. */
static int dips(const double *prox, int n, int *longest) {
    double base = 253.6, maxdrop = 0;
    for (int i = 0; i < n; i++) maxdrop = fmax(maxdrop, base - prox[i]);
    int runs = 0, len = 0;
    *longest = 0;
    for (int i = 0; i < n; i++) {
        double drop = base - prox[i];
        int low = maxdrop > 15 && (drop > maxdrop / 2 || (len > 0 && drop > maxdrop / 4));
        if (low) {
            runs += len == 0;
            len++;
            if (len > *longest) *longest = len;
        } else {
            len = 0;
        }
    }
    return runs;
}

static void test_gesture(void) {
    enum { W = 600 };
    double prox[51], red[51], green[51], blue[51];
    int nd[3][4] = {{0}}, plateau[3] = {0}, shadow_ok = 0, total = 0;
    for (int g = 0; g < 3; g++) {
        tl_rng r;
        tl_rng_seed(&r, 7 + (uint64_t)g);
        for (int k = 0; k < W; k++) {
            tl_synth_gesture_signal(&r, g, 1, 51, prox, red, green, blue);
            int longest, d = dips(prox, 51, &longest);
            nd[g][d > 3 ? 3 : d]++;
            plateau[g] += longest;
            int pmin = 0, lmin = 0;
            for (int i = 0; i < 51; i++) {
                CHECK(prox[i] >= 0 && prox[i] <= 255 && red[i] >= 0 && green[i] >= 0 && blue[i] >= 0, "range");
                if (prox[i] < prox[pmin]) pmin = i;
                if (red[i] + green[i] + blue[i] < red[lmin] + green[lmin] + blue[lmin]) lmin = i;
            }
            if (g != TL_SYNTH_DOUBLE && prox[pmin] < 200) total++, shadow_ok += abs(pmin - lmin) <= 4 || g == TL_SYNTH_HOLD;
        }
    }
    fprintf(stderr, "gesture dips (0/1/2/3+): Tap %d/%d/%d/%d, Double %d/%d/%d/%d, Hold %d/%d/%d/%d; plateau Tap %.1f, Double %.1f, Hold %.1f\n",
            nd[0][0], nd[0][1], nd[0][2], nd[0][3], nd[1][0], nd[1][1], nd[1][2], nd[1][3], nd[2][0], nd[2][1], nd[2][2], nd[2][3],
            (double)plateau[0] / W, (double)plateau[1] / W, (double)plateau[2] / W);
    CHECK(nd[0][1] > 0.97 * W, "Tap: one proximity dip in %d of %d", nd[0][1], W);
    CHECK(nd[1][2] > 0.85 * W, "Double: two proximity dips in %d of %d", nd[1][2], W);
    CHECK(nd[2][1] > 0.9 * W, "Hold: one proximity dip in %d of %d", nd[2][1], W);
    CHECK(plateau[2] > 3 * plateau[0] && plateau[2] > 10 * W, "Hold's plateau %g samples vs Tap's %g", (double)plateau[2] / W,
          (double)plateau[0] / W);
    CHECK(shadow_ok == total, "the light's shadow and the proximity dip coincide (%d of %d)", shadow_ok, total);

    /* rows: the reference file's layout, 50 or 51 readings per channel, balanced labels */
    tl_synth_opts o = {.kind = TL_SYNTH_GESTURE};
    tl_synth s;
    tl_err e;
    tl_synth_init(&s, &o, 3, &e);
    tl_buf b = {0};
    int count[3] = {0};
    for (int k = 0; k < 300; k++) {
        int label;
        double t;
        b.n = 0;
        tl_synth_next(&s, &b, &label, &t, &e);
        tl_buf_append(&b, "", 1, &e);
        count[label]++;
        const char *p = b.p, *names[4] = {"Proximity: [", "Red: [", "Green: [", "Blue: ["};
        int values = 0;
        for (int c = 0; c < 4; c++) {
            CHECK(!strncmp(p, names[c], strlen(names[c])), "channel %d at '%.20s'", c, p);
            p = strchr(p, '[') + 1;
            for (;;) {
                char *end;
                strtol(p, &end, 10);
                CHECK(end > p, "number at '%.10s'", p);
                values++;
                if (*end == ']') break;
                CHECK(end[0] == ',' && end[1] == ' ', "separator");
                p = end + 2;
            }
            p = strchr(p, ']') + 1;
            CHECK(*p == '\n', "line end");
            p++;
        }
        CHECK(*p == 0 && (values == 200 || values == 204), "%d values", values);
    }
    CHECK(count[0] == 100 && count[1] == 100 && count[2] == 100, "balanced: %d %d %d", count[0], count[1], count[2]);
    tl_buf_free(&b);
}

static void test_rows_and_options(void) {
    tl_err e;
    tl_buf a = {0}, b = {0};
    for (int kind = 0; kind < TL_SYNTH_N_KINDS; kind++) {
        for (int text = 0; text < 2; text++) {
            tl_synth_opts o = {.kind = (tl_synth_kind)kind};
            tl_synth s1, s2, s3;
            tl_synth_init(&s1, &o, 42, &e), tl_synth_init(&s2, &o, 42, &e), tl_synth_init(&s3, &o, 43, &e);
            a.n = b.n = 0;
            for (int k = 0; k < 20; k++) tl_synth_row(&s1, text, &a, &e), tl_synth_row(&s2, text, &b, &e);
            CHECK(a.n == b.n && !memcmp(a.p, b.p, a.n), "kind %d: same seed, different output", kind);
            b.n = 0;
            for (int k = 0; k < 20; k++) tl_synth_row(&s3, text, &b, &e);
            CHECK(a.n != b.n || memcmp(a.p, b.p, a.n), "kind %d: different seeds, same output", kind);
            if (text) { /* 20 documents, each ending in a blank line */
                int docs = 0;
                for (size_t i = 0; i + 1 < a.n; i++) docs += a.p[i] == '\n' && a.p[i + 1] == '\n';
                CHECK(docs == 20, "kind %d: %d text documents", kind, docs);
            }
        }
    }
    /* breathing rows: 477 integers, the target 2 decimals inside the range */
    tl_synth_opts o = {.kind = TL_SYNTH_BREATHING, .rate_min = 9.5, .rate_max = 12.5};
    tl_synth s;
    CHECK(!tl_synth_init(&s, &o, 5, &e), "%s", e.msg);
    for (int k = 0; k < 50; k++) {
        int label, count = 0;
        double t;
        a.n = 0;
        tl_synth_next(&s, &a, &label, &t, &e);
        for (size_t i = 0; i < a.n; i++) count += a.p[i] == ' ';
        CHECK(label == -1 && t >= 9.5 && t <= 12.5 && fabs(t * 100 - round(t * 100)) < 1e-6 && count == 477, "target %g, %d values",
              t, count);
    }
    /* imu rows: 6 channels of 25 readings by default */
    o = (tl_synth_opts){.kind = TL_SYNTH_IMU};
    tl_synth_init(&s, &o, 5, &e);
    int label;
    double t;
    a.n = 0;
    tl_synth_next(&s, &a, &label, &t, &e);
    int commas = 0, lines = 0;
    for (size_t i = 0; i < a.n; i++) commas += a.p[i] == ',', lines += a.p[i] == '\n';
    CHECK(s.n == 25 && lines == 6 && commas == 6 * 24 && label >= 0 && label < 6, "imu row: %d lines, %d commas", lines, commas);

    /* CSV quoting */
    a.n = 0;
    tl_synth_csv_field(&a, "plain", 5, &e), tl_synth_csv_field(&a, "|a,b|", 5, &e), tl_synth_csv_field(&a, "say \"hi\"", 8, &e);
    tl_synth_csv_field(&a, "x\ny", 3, &e);
    tl_buf_append(&a, "", 1, &e);
    CHECK(!strcmp(a.p, "plain\"|a,b|\"\"say \"\"hi\"\"\"\"x\ny\""), "quoting: %s", a.p);

    /* option errors name the option */
    struct {
        tl_synth_opts o;
        const char *want;
    } bad[] = {
        {{.kind = TL_SYNTH_BREATHING, .rate_min = 20, .rate_max = 10}, "--rate-min"},
        {{.kind = TL_SYNTH_BREATHING, .rate_min = 2, .rate_max = 4}, "do not fit"},
        {{.kind = TL_SYNTH_BREATHING, .cycles_per_breath = 3}, "--cycles-per-breath"},
        {{.kind = TL_SYNTH_GESTURE, .hz = 50}, "--hz"},
        {{.kind = TL_SYNTH_IMU, .rate_max = 10}, "--rate-max"},
        {{.kind = TL_SYNTH_IMU, .places = "A,B"}, "--places"},
        {{.kind = TL_SYNTH_IMU, .hz = 1000, .seconds = 10}, "samples per channel"},
        {{.kind = TL_SYNTH_IMU, .noise = -1}, "--noise"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.msg[0] = 0;
        CHECK(tl_synth_init(&s, &bad[i].o, 1, &e) && strstr(e.msg, bad[i].want), "bad option %zu: '%s'", i, e.msg);
    }
    tl_buf_free(&a);
    tl_buf_free(&b);
}

int main(void) {
    test_breathing();
    test_imu();
    test_environment();
    test_gesture();
    test_rows_and_options();
    CHECK_DONE();
}
