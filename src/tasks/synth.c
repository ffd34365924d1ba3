/* Synthetic sensor generators: option checks, balanced labels, and rendering of samples as task CSV
 * rows or pre-training text; the signal models live in synth_{imu,env,gesture,breathing}.c. */
#include "tasks/synth.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *const kind_names[TL_SYNTH_N_KINDS] = {"imu", "environment", "gesture", "breathing"};
static const char *const activities[] = {"still", "walking", "running", "cycling", "vehicle", "stairs"};
static const char *const gestures[] = {"Tap", "Double", "Hold"};

/* The reference gesture file's instruction column, byte for byte. */
static const char gesture_instruction[] =
    "Sensors readings are used to detect the gestures from their readings. Categorize the given four input sensor "
    "readings: proximity, red, green and blue sensor data readings into one of the 3 gestures:\n\nTap\nDouble\nHold\n\n";

int tl_synth_kind_parse(const char *name) {
    for (int k = 0; k < TL_SYNTH_N_KINDS; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

const char *tl_synth_kind_name(tl_synth_kind k) { return kind_names[k]; }

double tl_synth_uniform(tl_rng *r, double a, double b) { return a + (b - a) * (double)tl_rng_f32(r); }
double tl_synth_gauss(tl_rng *r, double sd) { return sd * (double)tl_rng_normal(r); }
double tl_synth_clamp(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

int tl_synth_append_list(tl_buf *b, const char *name, const double *v, int n, int decimals, tl_err *e) {
    double unit = pow(10, -decimals);
    if (tl_buf_appendf(b, e, "%s: [", name)) return -1;
    for (int i = 0; i < n; i++) {
        double x = round(v[i] / unit) * unit;
        if (x == 0) x = 0; /* no "-0.0" */
        if (tl_buf_appendf(b, e, i ? ", %.*f" : "%.*f", decimals, x)) return -1;
    }
    return tl_buf_append(b, "]\n", 2, e);
}

int tl_synth_draw_label(tl_synth *s) {
    if (s->order_left == 0) { /* a new block: Fisher-Yates shuffle of 0..n_labels-1 */
        for (int i = 0; i < s->n_labels; i++) s->order[i] = i;
        for (int i = s->n_labels - 1; i > 0; i--) {
            int j = (int)tl_rng_below(&s->rng, (uint64_t)i + 1), t = s->order[i];
            s->order[i] = s->order[j], s->order[j] = t;
        }
        s->order_left = s->n_labels;
    }
    return s->order[s->n_labels - s->order_left--];
}

int tl_synth_init(tl_synth *s, const tl_synth_opts *o, uint64_t seed, tl_err *e) {
    memset(s, 0, sizeof *s);
    s->o = *o;
    tl_synth_opts *p = &s->o;
    if ((unsigned)p->kind >= TL_SYNTH_N_KINDS) return tl_errf(e, "synth: unknown generator %d", (int)p->kind);
    int timed = p->kind == TL_SYNTH_IMU || p->kind == TL_SYNTH_BREATHING;
    if (!timed && (p->hz != 0 || p->seconds != 0))
        return tl_errf(e, "--hz and --seconds apply to imu and breathing, not %s", kind_names[p->kind]);
    if (p->kind != TL_SYNTH_BREATHING && (p->rate_min != 0 || p->rate_max != 0 || p->cycles_per_breath != 0))
        return tl_errf(e, "--rate-min, --rate-max and --cycles-per-breath apply to breathing, not %s", kind_names[p->kind]);
    if (p->kind != TL_SYNTH_ENVIRONMENT && p->places)
        return tl_errf(e, "--places applies to environment, not %s", kind_names[p->kind]);
    if (p->hz == 0) p->hz = p->kind == TL_SYNTH_IMU ? 10 : 31.8;
    if (p->seconds == 0) p->seconds = p->kind == TL_SYNTH_IMU ? 2.5 : 15;
    if (p->rate_min == 0) p->rate_min = p->rate_max > 0 && p->rate_max < 8 ? p->rate_max : 8;
    if (p->rate_max == 0) p->rate_max = p->rate_min > 20 ? p->rate_min : 20;
    if (p->cycles_per_breath == 0) p->cycles_per_breath = 1;
    if (p->noise == 0) p->noise = 1;
    if (!(p->noise > 0 && p->noise <= 10)) return tl_errf(e, "--noise must be in (0, 10], not %g", p->noise);
    if (timed) {
        if (!(p->hz >= 1 && p->hz <= 1000)) return tl_errf(e, "--hz must be in 1..1000, not %g", p->hz);
        if (!(p->seconds > 0)) return tl_errf(e, "--seconds must be > 0, not %g", p->seconds);
        double n = round(p->hz * p->seconds);
        if (n < 2 || n > TL_SYNTH_MAX_SAMPLES)
            return tl_errf(e, "--hz x --seconds gives %.0f samples per channel; use 2..%d", n, TL_SYNTH_MAX_SAMPLES);
        s->n = (int)n;
    }
    if (p->kind == TL_SYNTH_BREATHING) {
        if (!(p->rate_min > 0 && p->rate_min <= p->rate_max && p->rate_max <= 60))
            return tl_errf(e, "--rate-min / --rate-max: need 0 < min <= max <= 60 breaths per minute, not %g..%g", p->rate_min,
                           p->rate_max);
        if (p->cycles_per_breath != 1 && p->cycles_per_breath != 2)
            return tl_errf(e, "--cycles-per-breath must be 1 or 2, not %d", p->cycles_per_breath);
        /* at least 2 cycles in the window and 4 samples per cycle */
        double fmin = p->rate_min * p->cycles_per_breath / 60, fmax = p->rate_max * p->cycles_per_breath / 60;
        if (fmin * p->seconds < 2 || p->hz < 4 * fmax)
            return tl_errf(e, "--rate-min / --rate-max %g..%g do not fit %g s at %g Hz (need 2 cycles per window, 4 samples "
                           "per cycle)", p->rate_min, p->rate_max, p->seconds, p->hz);
    }
    tl_rng_seed(&s->rng, seed);
    switch (p->kind) {
    case TL_SYNTH_IMU:
        s->n_labels = 6;
        for (int i = 0; i < 6; i++) s->labels[i] = activities[i];
        break;
    case TL_SYNTH_GESTURE:
        s->n_labels = 3;
        for (int i = 0; i < 3; i++) s->labels[i] = gestures[i];
        break;
    case TL_SYNTH_ENVIRONMENT: return tl_synth_env_init(s, e);
    default: break;
    }
    return 0;
}

int tl_synth_next(tl_synth *s, tl_buf *in, int *label, double *target, tl_err *e) {
    static const char *imu_names[6] = {"Accel x", "Accel y", "Accel z", "Gyro x", "Gyro y", "Gyro z"};
    *label = -1;
    *target = 0;
    switch (s->o.kind) {
    case TL_SYNTH_ENVIRONMENT: return tl_synth_env_next(s, in, label, e);
    case TL_SYNTH_GESTURE: {
        double ch[4][64];
        int n = tl_rng_f32(&s->rng) < 0.6f ? 50 : 51; /* the reference file: 61 % of rows hold 50 readings */
        *label = tl_synth_draw_label(s);
        tl_synth_gesture_signal(&s->rng, *label, s->o.noise, n, ch[0], ch[1], ch[2], ch[3]);
        return tl_synth_append_list(in, "Proximity", ch[0], n, 0, e) || tl_synth_append_list(in, "Red", ch[1], n, 0, e) ||
               tl_synth_append_list(in, "Green", ch[2], n, 0, e) || tl_synth_append_list(in, "Blue", ch[3], n, 0, e);
    }
    case TL_SYNTH_IMU: {
        double acc[TL_SYNTH_MAX_SAMPLES][3], gyr[TL_SYNTH_MAX_SAMPLES][3], col[TL_SYNTH_MAX_SAMPLES]; /* 56 KiB */
        int rc = 0;
        *label = tl_synth_draw_label(s);
        tl_synth_imu_signal(&s->rng, *label, s->o.hz, s->o.noise, acc, gyr, s->n);
        for (int c = 0; c < 6 && !rc; c++) {
            for (int i = 0; i < s->n; i++) col[i] = c < 3 ? acc[i][c] : gyr[i][c - 3];
            rc = tl_synth_append_list(in, imu_names[c], col, s->n, c < 3 ? 1 : 2, e);
        }
        return rc;
    }
    default: {
        double v[TL_SYNTH_MAX_SAMPLES];
        double lo = ceil(s->o.rate_min * 100 - 1e-6) / 100, hi = fmax(lo, floor(s->o.rate_max * 100 + 1e-6) / 100);
        double rate = round(tl_synth_uniform(&s->rng, lo, hi) * 100) / 100; /* on the 0.01 grid, inside the range */
        tl_synth_breathing_signal(&s->rng, rate, s->o.cycles_per_breath, s->o.hz, s->o.noise, v, s->n);
        int rc = 0;
        for (int i = 0; i < s->n && !rc; i++) rc = tl_buf_appendf(in, e, "%.0f ", v[i]); /* a space after each, as in breathe/ */
        *target = rate;
        return rc;
    }
    }
}

const char *tl_synth_csv_header(tl_synth_kind k) {
    return k == TL_SYNTH_GESTURE ? "instruction,input,output\n" : "input,output\n";
}

int tl_synth_csv_field(tl_buf *b, const char *p, size_t n, tl_err *e) {
    int quote = 0;
    for (size_t i = 0; i < n; i++) quote |= p[i] == ',' || p[i] == '"' || p[i] == '\n' || p[i] == '\r';
    if (!quote) return tl_buf_append(b, p, n, e);
    if (tl_buf_append(b, "\"", 1, e)) return -1;
    for (size_t i = 0, from = 0; i <= n; i++)
        if (i == n || p[i] == '"') { /* copy up to and including the quote, then double it */
            size_t end = i < n ? i + 1 : n;
            if (tl_buf_append(b, p + from, end - from, e) || (i < n && tl_buf_append(b, "\"", 1, e))) return -1;
            from = end;
        }
    return tl_buf_append(b, "\"", 1, e);
}

/* The first line of a text document: what the sensor is, its units and rate. */
static int text_header(const tl_synth *s, tl_buf *b, tl_err *e) {
    switch (s->o.kind) {
    case TL_SYNTH_IMU:
        return tl_buf_appendf(b, e, "Phone IMU at %g Hz for %g s: accelerometer x/y/z (m/s^2), gyroscope x/y/z (rad/s).\n",
                                s->o.hz, s->o.seconds);
    case TL_SYNTH_ENVIRONMENT:
        return tl_buf_appendf(b, e, "%s", "Robot sensor board: pressure (hPa), humidity (%), temperature (°C), humidity 2 (%), ") ||
               tl_buf_appendf(b, e, "%s", "red, green, blue light, sound.\n");
    case TL_SYNTH_GESTURE:
        return tl_buf_appendf(b, e, "%s", "Proximity (255: nothing near, 0: touching) and red, green, blue light ") ||
               tl_buf_appendf(b, e, "%s", "while a hand moves over the sensor.\n");
    default:
        return tl_buf_appendf(b, e, "Chest movement at %g Hz, %d values (0-100).\n", s->o.hz, s->n);
    }
}

int tl_synth_row(tl_synth *s, int text, tl_buf *out, tl_err *e) {
    static const char *label_line[TL_SYNTH_N_KINDS] = {"Activity", "Location", "Gesture", "Breathing rate"};
    tl_buf in = {0};
    int label, rc;
    double target;
    char value[80];
    if ((rc = tl_synth_next(s, &in, &label, &target, e))) goto done;
    if (label >= 0) snprintf(value, sizeof value, "%s", s->labels[label]);
    else snprintf(value, sizeof value, "%.2f", target);
    if (text) {
        while (in.n && in.p[in.n - 1] == '\n') in.n--;
        rc = text_header(s, out, e) || tl_buf_append(out, in.p, in.n, e) ||
             tl_buf_appendf(out, e, "\n%s: %s%s\n\n", label_line[s->o.kind], value, label < 0 ? " breaths per minute" : "");
    } else {
        rc = (s->o.kind == TL_SYNTH_GESTURE &&
              (tl_synth_csv_field(out, gesture_instruction, sizeof gesture_instruction - 1, e) || tl_buf_append(out, ",", 1, e))) ||
             tl_synth_csv_field(out, in.p, in.n, e) || tl_buf_append(out, ",", 1, e) ||
             tl_synth_csv_field(out, value, strlen(value), e) || tl_buf_append(out, "\n", 1, e);
    }
done:
    tl_buf_free(&in);
    return rc ? -1 : 0;
}
