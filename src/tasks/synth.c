/* Synthetic sensor generators: IMU activities, places' environment readings, proximity/RGB gestures,
 * chest-motion breathing. The physics and parameters are described in docs/synth.md. */
#include "tasks/synth.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define TWO_PI 6.283185307179586

static const char *const kind_names[TL_SYNTH_N_KINDS] = {"imu", "environment", "gesture", "breathing"};
static const char *const activities[] = {"still", "walking", "running", "cycling", "vehicle", "stairs"};
static const char *const places[] = {"Charging Station", "Entrance", "Server Rack"};
static const char *const gestures[] = {"Tap", "Double", "Hold"};

int tl_synth_kind_parse(const char *name) {
    for (int k = 0; k < TL_SYNTH_N_KINDS; k++)
        if (!strcmp(name, kind_names[k])) return k;
    return -1;
}

const char *tl_synth_kind_name(tl_synth_kind k) { return kind_names[k]; }

const char *const *tl_synth_labels(tl_synth_kind k, int *n) {
    switch (k) {
    case TL_SYNTH_IMU: *n = 6; return activities;
    case TL_SYNTH_ENVIRONMENT: *n = 3; return places;
    case TL_SYNTH_GESTURE: *n = 3; return gestures;
    default: *n = 0; return NULL;
    }
}

const char *tl_synth_instruction(tl_synth_kind k) {
    switch (k) {
    case TL_SYNTH_IMU:
        return "The input is a phone's accelerometer (m/s^2) and gyroscope (rad/s) on three axes. Classify the activity: "
               "still, walking, running, cycling, vehicle or stairs.";
    case TL_SYNTH_ENVIRONMENT:
        return "The input is sensor values in the order pressure, humidity, temperature, humidity, red, green, blue light, "
               "sound. Determine the location of the device.";
    case TL_SYNTH_GESTURE: /* the reference dataset's instruction column, verbatim */
        return "Sensors readings are used to detect the gestures from their readings. Categorize the given four input sensor "
               "readings: proximity, red, green and blue sensor data readings into one of the 3 gestures:\n\nTap\nDouble\nHold\n\n";
    default:
        return "The input is an array of chest-movement values recorded at 31.8 Hz. Compute the breathing rate in breaths "
               "per minute.";
    }
}

static double uni(tl_rng *r, double a, double b) { return a + (b - a) * (double)tl_rng_f32(r); }
static double gauss(tl_rng *r, double sd) { return sd * (double)tl_rng_normal(r); }
static double clampd(double x, double lo, double hi) { return x < lo ? lo : x > hi ? hi : x; }

static int appendf(tl_buf *b, tl_err *e, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int appendf(tl_buf *b, tl_err *e, const char *fmt, ...) {
    char tmp[64];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    return tl_buf_append(b, tmp, (size_t)n, e);
}

/* "Name: [v0, v1, ...]\n" with `decimals` digits after the point. */
static int append_list(tl_buf *b, const char *name, const double *v, int n, int decimals, tl_err *e) {
    if (appendf(b, e, "%s: [", name)) return -1;
    for (int i = 0; i < n; i++) {
        if (i && tl_buf_append(b, ", ", 2, e)) return -1;
        if (appendf(b, e, "%.*f", decimals, v[i])) return -1;
    }
    return tl_buf_append(b, "]\n", 2, e);
}

/* ---- breathing: chest displacement at 31.8 Hz, 477 samples (15 s) ---- */

#define BREATH_HZ 31.8
#define BREATH_N 477

void tl_synth_breathing_signal(tl_rng *r, double rate, double *out, int n) {
    double f = rate / 60.0, phase = uni(r, 0, TWO_PI), amp = uni(r, 12, 40), base = uni(r, 15, 60);
    double h2 = uni(r, 0.1, 0.35), h2p = uni(r, 0, TWO_PI);        /* inhale/exhale asymmetry */
    double wander_f = uni(r, 0.01, 0.05), wander_a = uni(r, 0, 8), wander_p = uni(r, 0, TWO_PI);
    double noise = uni(r, 0.5, 2.5), jitter = 0;
    int artefact = tl_rng_f32(r) < 0.3f ? (int)tl_rng_below(r, (uint64_t)n) : -1; /* a body movement */
    double art_amp = uni(r, -35, 35);
    for (int i = 0; i < n; i++) {
        double t = i / BREATH_HZ;
        jitter += gauss(r, 0.002);                 /* breath-to-breath variability: slow phase drift */
        jitter = clampd(jitter, -0.6, 0.6);
        double p = TWO_PI * f * t + phase + jitter;
        double x = base + amp * (0.5 - 0.5 * cos(p)) + amp * h2 * 0.5 * sin(2 * p + h2p) +
                   wander_a * sin(TWO_PI * wander_f * t + wander_p) + gauss(r, noise);
        if (artefact >= 0 && i >= artefact && i < artefact + 16) x += art_amp * sin(M_PI * (i - artefact) / 16.0);
        out[i] = clampd(round(x), 0, 100);
    }
}

static int breathing(const tl_synth_opts *o, tl_rng *r, tl_buf *in, double *target, tl_err *e) {
    double v[BREATH_N], rate = uni(r, o->rate_min, o->rate_max);
    tl_synth_breathing_signal(r, rate, v, BREATH_N);
    for (int i = 0; i < BREATH_N; i++)
        if (appendf(in, e, i ? " %.0f" : "%.0f", v[i])) return -1;
    *target = round(rate * 100) / 100;
    return 0;
}

/* ---- environment: a robot's board at one of three places ---- */

/* Per place: mean and spread of pressure hPa, humidity %, temperature C, humidity 2 %, R, G, B,
 * sound; read off the localisation training data's per-class statistics (docs/synth.md). */
static const double place_mean[3][8] = {{1004.4, 62.2, 24.9, 53.2, 8.0, 6.2, 4.9, 201},
                                        {1004.2, 63.8, 24.7, 54.2, 120.8, 78.4, 56.7, 215},
                                        {1004.8, 59.1, 25.3, 53.5, 26.7, 21.3, 19.1, 493}};
static const double place_sd[3][8] = {{0.9, 7.7, 0.6, 1.9, 0.5, 0.5, 0.4, 36},
                                      {0.8, 6.9, 1.0, 1.9, 8.4, 6.1, 4.0, 37},
                                      {0.9, 7.8, 0.4, 1.2, 7.2, 7.5, 7.8, 33}};

static int environment(tl_rng *r, tl_buf *in, int *label, tl_err *e) {
    int p = (int)tl_rng_below(r, 3);
    double v[8], day = gauss(r, 1); /* a shared "weather" factor: humidity and pressure drift together */
    for (int c = 0; c < 8; c++) v[c] = place_mean[p][c] + place_sd[p][c] * (c == 0 || c == 1 || c == 3 ? 0.7 * day + 0.7 * gauss(r, 1) : gauss(r, 1));
    *label = p;
    return appendf(in, e, "%.2f,%.2f,%.2f,%.2f,", v[0], v[1], v[2], v[3]) ||
           appendf(in, e, "%.0f,%.0f,%.0f,%.0f", fmax(0, round(v[4])), fmax(0, round(v[5])), fmax(0, round(v[6])), fmax(0, round(v[7])));
}

/* ---- gesture: proximity (255 far .. 0 touching) and RGB shadow, 51 samples ---- */

static int gesture(tl_rng *r, tl_buf *in, int *label, tl_err *e) {
    enum { N = 51 };
    int g = (int)tl_rng_below(r, 3);
    double near[N] = {0}; /* 0 = no hand, 1 = hand at the closest point of this gesture */
    int start = (int)uni(r, 8, 20);
    int segs = g == 1 ? 2 : 1;
    for (int s = 0, at = start; s < segs; s++) {
        int len = g == 2 ? (int)uni(r, 14, 28) : (int)uni(r, 3, 7), ramp = (int)uni(r, 1, 3);
        for (int i = 0; i < N; i++) {
            double d = i < at ? (at - i) / (double)ramp : i > at + len ? (i - at - len) / (double)ramp : 0;
            double w = d >= 1 ? 0 : 1 - d;
            if (w > near[i]) near[i] = w;
        }
        at += len + (int)uni(r, 3, 8);
    }
    double depth = uni(r, 0.2, 1.0);            /* how close the hand comes: 1 = touching */
    double ambient = exp(uni(r, log(15), log(1500))), tint[3] = {1, uni(r, 0.7, 1.0), uni(r, 0.5, 0.95)};
    double prox[N], rgb[3][N];
    for (int i = 0; i < N; i++) {
        prox[i] = clampd(round(254 - 254 * depth * near[i] + gauss(r, 1)), 0, 255);
        double shade = 1 - 0.95 * depth * near[i];
        for (int c = 0; c < 3; c++) rgb[c][i] = fmax(0, round(ambient * tint[c] * shade * (1 + gauss(r, 0.004))));
    }
    *label = g;
    return append_list(in, "Proximity", prox, N, 0, e) || append_list(in, "Red", rgb[0], N, 0, e) ||
           append_list(in, "Green", rgb[1], N, 0, e) || append_list(in, "Blue", rgb[2], N, 0, e);
}

/* ---- IMU: a phone in a random orientation during an activity ---- */

/* Rotation matrix of a uniformly random orientation (unit quaternion from 4 normals). */
static void random_rotation(tl_rng *r, double R[3][3]) {
    double q[4], n = 0;
    for (int i = 0; i < 4; i++) {
        q[i] = gauss(r, 1);
        n += q[i] * q[i];
    }
    n = sqrt(n);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double m[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                      {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                      {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
    memcpy(R, m, sizeof m);
}

void tl_synth_imu_signal(tl_rng *r, int act, double hz, double (*accel)[3], double (*gyro)[3], int n) {
    /* activity: step/cadence frequency (Hz), vertical and horizontal amplitude (m/s^2), turn rate (rad/s) */
    static const double f_lo[6] = {0, 1.7, 2.5, 1.0, 0.2, 1.4}, f_hi[6] = {0, 2.2, 3.2, 1.6, 0.5, 1.9};
    static const double a_lo[6] = {0, 1.5, 5.0, 0.4, 0.2, 2.0}, a_hi[6] = {0, 3.0, 9.0, 1.2, 0.8, 4.0};
    static const double vib[6] = {0.02, 0.15, 0.3, 0.35, 0.25, 0.15};
    double R[3][3];
    random_rotation(r, R);
    double f = uni(r, f_lo[act], f_hi[act]), A = uni(r, a_lo[act], a_hi[act]), ph = uni(r, 0, TWO_PI);
    double yaw_a = act == 0 ? 0 : act == 4 ? uni(r, 0, 0.15) : uni(r, 0.1, 0.6), climb = act == 5 ? uni(r, 0.2, 0.5) : 0;
    for (int i = 0; i < n; i++) {
        double t = i / hz, p = TWO_PI * f * t + ph, aw[3], ww[3];
        switch (act) {
        case 1: case 5: /* walking, stairs: vertical bounce at the step rate, fore-aft push, lateral sway at half */
            aw[0] = 0.5 * A * sin(p + 1.2);
            aw[1] = 0.3 * A * sin(0.5 * p);
            aw[2] = A * sin(p) + climb * sin(0.5 * p);
            break;
        case 2: /* running: larger bounce with a sharp foot-strike harmonic */
            aw[0] = 0.4 * A * sin(p + 1.0);
            aw[1] = 0.25 * A * sin(0.5 * p);
            aw[2] = A * (sin(p) + 0.35 * sin(2 * p + 0.5));
            break;
        case 3: /* cycling: pedalling rocks the body side to side at the cadence, road vibration */
            aw[0] = 0.3 * A * sin(p + 0.7);
            aw[1] = A * sin(p);
            aw[2] = 0.4 * A * sin(2 * p);
            break;
        case 4: /* vehicle: slow sway, braking / accelerating */
            aw[0] = A * sin(p) + 0.3 * A * sin(0.37 * p + 1);
            aw[1] = 0.6 * A * sin(1.3 * p + 2);
            aw[2] = 0.2 * A * sin(0.7 * p);
            break;
        default: aw[0] = aw[1] = aw[2] = 0; /* still */
        }
        aw[2] += 9.81;
        ww[0] = act == 3 ? 0.4 * A * cos(p) : 0;
        ww[1] = 0.2 * yaw_a * sin(p);
        ww[2] = yaw_a * sin(0.5 * p);
        for (int k = 0; k < 3; k++) { /* device frame: R^T (world) + sensor noise and vibration */
            double a = 0, w = 0;
            for (int j = 0; j < 3; j++) a += R[j][k] * aw[j], w += R[j][k] * ww[j];
            accel[i][k] = a + gauss(r, vib[act]) + gauss(r, 0.03);
            gyro[i][k] = w + gauss(r, 0.3 * vib[act]) + gauss(r, 0.005);
        }
    }
}

static int imu(const tl_synth_opts *o, tl_rng *r, tl_buf *in, int *label, tl_err *e) {
    int n = (int)lround(o->hz * o->seconds), act = (int)tl_rng_below(r, 6);
    if (n < 2 || n > 1024) return tl_errf(e, "imu: --hz x --seconds gives %d samples; use 2..1024", n);
    double acc[1024][3], gyr[1024][3], col[1024];
    tl_synth_imu_signal(r, act, o->hz, acc, gyr, n);
    static const char *names[6] = {"Accel x", "Accel y", "Accel z", "Gyro x", "Gyro y", "Gyro z"};
    for (int c = 0; c < 6; c++) {
        for (int i = 0; i < n; i++) col[i] = c < 3 ? acc[i][c] : gyr[i][c - 3];
        if (append_list(in, names[c], col, n, c < 3 ? 1 : 2, e)) return -1;
    }
    *label = act;
    return 0;
}

int tl_synth_sample(const tl_synth_opts *o, tl_rng *r, tl_buf *input, int *label, double *target, tl_err *e) {
    *label = -1;
    *target = 0;
    switch (o->kind) {
    case TL_SYNTH_IMU: return imu(o, r, input, label, e);
    case TL_SYNTH_ENVIRONMENT: return environment(r, input, label, e);
    case TL_SYNTH_GESTURE: return gesture(r, input, label, e);
    default: return breathing(o, r, input, target, e);
    }
}
