/* A phone's IMU during six activities: world-frame motion and body rotation per activity, a random
 * mounting orientation, an averaging (anti-alias) front end and sensor noise and bias
 * (docs/synth.md). */
#include <math.h>
#include <string.h>

#include "tasks/synth.h"

#define TWO_PI 6.283185307179586
#define G 9.81

typedef struct motion {
    int act;
    double f, ph;                    /* step / cadence frequency (Hz) and phase */
    double av, h2, ph2, af, phf, al, phl; /* vertical (+ 2nd harmonic), fore-aft, lateral amplitudes (m/s^2) */
    double th_a, th_p, phi_a, psi_a; /* pitch, roll, yaw sway (rad) */
    double psi0, psi_r;              /* heading (rad) and turn rate (rad/s) */
    double duty;                     /* running: stance share of a step */
    double lift;                     /* stairs: step height (m), negative going down */
    double arm, th0;                 /* cycling: phone's distance from the hip (m), thigh angle (rad) */
    double v, om0, om, f2, p2, alon, f1, p1, ab, fb, pb, ae, fe, pe; /* vehicle */
    double trem;                     /* still: hand tremor (rad), 0 on a table */
} motion;

static void draw_motion(tl_rng *r, int act, motion *m) {
    memset(m, 0, sizeof *m);
    m->act = act;
    m->ph = tl_synth_uniform(r, 0, TWO_PI);
    m->psi0 = tl_synth_uniform(r, 0, TWO_PI);
    switch (act) {
    case TL_SYNTH_STILL:
        m->trem = tl_rng_f32(r) < 0.5f ? tl_synth_uniform(r, 0.0002, 0.0008) : 0; /* in the hand: 0.01..0.05 rad/s */
        m->f = tl_synth_uniform(r, 8, 12); /* physiological tremor */
        break;
    case TL_SYNTH_WALKING:
    case TL_SYNTH_STAIRS:
    case TL_SYNTH_RUNNING: {
        int run = act == TL_SYNTH_RUNNING, stairs = act == TL_SYNTH_STAIRS;
        m->f = run ? tl_synth_uniform(r, 2.5, 3.0) : stairs ? tl_synth_uniform(r, 1.4, 2.0) : tl_synth_uniform(r, 1.8, 2.2);
        m->av = stairs ? tl_synth_uniform(r, 0.8, 2.0) : tl_synth_uniform(r, 1.5, 3.5);
        m->h2 = tl_synth_uniform(r, 0.1, 0.4), m->ph2 = tl_synth_uniform(r, 0, TWO_PI);
        m->af = run ? tl_synth_uniform(r, 2, 4) : stairs ? tl_synth_uniform(r, 0.3, 1.0) : tl_synth_uniform(r, 0.5, 1.5);
        m->al = run ? tl_synth_uniform(r, 1, 2) : tl_synth_uniform(r, 0.3, 1.0);
        m->phf = tl_synth_uniform(r, 0, TWO_PI), m->phl = tl_synth_uniform(r, 0, TWO_PI);
        m->th_a = run ? tl_synth_uniform(r, 0.08, 0.2) : tl_synth_uniform(r, 0.03, 0.1), m->th_p = tl_synth_uniform(r, 0, TWO_PI);
        m->phi_a = run ? tl_synth_uniform(r, 0.05, 0.12) : tl_synth_uniform(r, 0.03, 0.08);
        m->psi_a = run ? tl_synth_uniform(r, 0.03, 0.08) : tl_synth_uniform(r, 0.02, 0.06);
        m->psi_r = tl_synth_gauss(r, 0.15);
        m->duty = tl_synth_uniform(r, 0.35, 0.5);
        if (stairs) { /* up or down one step per step period; going down lands harder */
            int down = tl_rng_f32(r) < 0.5f;
            m->lift = tl_synth_uniform(r, 0.15, 0.19) * (down ? -1 : 1);
            if (down) m->h2 = tl_synth_uniform(r, 0.3, 0.5);
        }
        break;
    }
    case TL_SYNTH_CYCLING: /* phone in a trouser pocket: the thigh rocks at the pedalling cadence */
        m->f = tl_synth_uniform(r, 1.2, 1.6);
        m->th_a = tl_synth_uniform(r, 0.25, 0.4), m->th0 = tl_synth_uniform(r, 0.5, 0.9);
        m->arm = tl_synth_uniform(r, 0.1, 0.2);
        m->phi_a = tl_synth_uniform(r, 0.02, 0.06);
        m->psi_r = tl_synth_gauss(r, 0.1);
        break;
    default: /* vehicle */
        m->v = tl_synth_uniform(r, 3, 25);
        m->om0 = tl_synth_gauss(r, 0.03), m->om = tl_synth_uniform(r, 0, 0.15);
        m->f2 = tl_synth_uniform(r, 0.05, 0.3), m->p2 = tl_synth_uniform(r, 0, TWO_PI);
        m->alon = tl_synth_uniform(r, 0.2, 1.5), m->f1 = tl_synth_uniform(r, 0.03, 0.15), m->p1 = tl_synth_uniform(r, 0, TWO_PI);
        m->ab = tl_synth_uniform(r, 0.1, 0.5), m->fb = tl_synth_uniform(r, 1, 2), m->pb = tl_synth_uniform(r, 0, TWO_PI);
        m->ae = tl_synth_uniform(r, 0.05, 0.3), m->fe = tl_synth_uniform(r, 25, 100), m->pe = tl_synth_uniform(r, 0, TWO_PI);
        break;
    }
}

/* Motion at time t: linear acceleration in the world frame (z up, gravity excluded), and the
 * carrier's (torso, thigh, car) roll / pitch / yaw and their rates. */
static void eval_motion(const motion *m, double t, double aw[3], double eul[3], double rate[3]) {
    double w = TWO_PI * m->f, p = w * t + m->ph, fwd = 0, lat = 0, up = 0;
    double u = p / TWO_PI - floor(p / TWO_PI); /* phase within the step, 0..1 */
    eul[0] = eul[1] = rate[0] = rate[1] = 0;
    eul[2] = m->psi0 + m->psi_r * t, rate[2] = m->psi_r;
    switch (m->act) {
    case TL_SYNTH_STILL:
        eul[1] = m->trem * sin(p), rate[1] = m->trem * w * cos(p);
        eul[0] = 0.7 * m->trem * sin(1.1 * p + 1), rate[0] = 0.7 * m->trem * 1.1 * w * cos(1.1 * p + 1);
        break;
    case TL_SYNTH_WALKING:
    case TL_SYNTH_STAIRS:
    case TL_SYNTH_RUNNING:
        if (m->act == TL_SYNTH_RUNNING) /* stance: a half-sine push averaging g; flight: free fall */
            up = (u < m->duty ? G * (TWO_PI / 4 / m->duty) * sin(TWO_PI / 2 * u / m->duty) : 0) - G;
        else
            up = m->av * (sin(p) + m->h2 * sin(2 * p + m->ph2));
        if (m->act == TL_SYNTH_STAIRS) /* the body moves one step up (or down) per step: z'' of a smoothstep
                                        * profile; up at push-off going up and at landing going down */
            up += fabs(m->lift) * m->f * m->f * (6 - 12 * u);
        fwd = m->af * sin(p + m->phf);
        lat = m->al * sin(p / 2 + m->phl); /* a stride is two steps */
        eul[1] = m->th_a * sin(p + m->th_p), rate[1] = m->th_a * w * cos(p + m->th_p);
        eul[0] = m->phi_a * sin(p / 2), rate[0] = m->phi_a * w / 2 * cos(p / 2);
        eul[2] += m->psi_a * sin(p / 2 + 1), rate[2] += m->psi_a * w / 2 * cos(p / 2 + 1);
        break;
    case TL_SYNTH_CYCLING: { /* the pocket swings on an arc about the hip: tangential r * theta'' */
        double at = -m->arm * m->th_a * w * w * sin(p);
        fwd = at * sin(m->th0), up = at * cos(m->th0);
        eul[1] = m->th_a * sin(p), rate[1] = m->th_a * w * cos(p);
        eul[0] = m->phi_a * sin(p + 1), rate[0] = m->phi_a * w * cos(p + 1);
        break;
    }
    default: { /* vehicle: turns (lateral = speed x yaw rate), speeding up / braking, suspension, engine */
        double a2 = TWO_PI * m->f2 * t + m->p2, a1 = TWO_PI * m->f1 * t + m->p1, ae = TWO_PI * m->fe * t + m->pe;
        double yr = m->om0 + m->om * sin(a2), yacc = m->om * TWO_PI * m->f2 * cos(a2);
        eul[2] = m->psi0 + m->om0 * t - m->om / (TWO_PI * m->f2) * cos(a2), rate[2] = yr;
        lat = m->v * yr;
        fwd = m->alon * sin(a1) + 0.5 * m->ae * sin(ae + 1);
        up = m->ab * sin(TWO_PI * m->fb * t + m->pb) + m->ae * sin(ae);
        eul[0] = 0.007 * lat, rate[0] = 0.007 * m->v * yacc; /* body roll ~4 degrees per g */
        eul[1] = -0.005 * fwd, rate[1] = -0.005 * m->alon * TWO_PI * m->f1 * cos(a1);
        break;
    }
    }
    double cy = cos(eul[2]), sy = sin(eul[2]);
    aw[0] = cy * fwd - sy * lat, aw[1] = sy * fwd + cy * lat, aw[2] = up;
}

/* Uniformly random rotation (unit quaternion from 4 normals). */
static void random_rotation(tl_rng *r, double R[3][3]) {
    double q[4], n = 0;
    for (int i = 0; i < 4; i++) {
        q[i] = tl_synth_gauss(r, 1);
        n += q[i] * q[i];
    }
    n = sqrt(n);
    double w = q[0] / n, x = q[1] / n, y = q[2] / n, z = q[3] / n;
    double m[3][3] = {{1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)},
                      {2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)},
                      {2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)}};
    memcpy(R, m, sizeof m);
}

/* out = M^T v */
static void mul_t(double M[3][3], const double v[3], double out[3]) {
    for (int k = 0; k < 3; k++) out[k] = M[0][k] * v[0] + M[1][k] * v[1] + M[2][k] * v[2];
}

void tl_synth_imu_signal(tl_rng *r, int act, double hz, double noise, double (*accel)[3], double (*gyro)[3], int n) {
    static const double vib[6] = {0, 0.1, 0.3, 0, 0, 0.1}; /* body / road vibration, m/s^2 (cycling, vehicle: drawn) */
    motion m;
    draw_motion(r, act, &m);
    double R0[3][3], ba[3], bg[3], scale[3];
    random_rotation(r, R0); /* how the phone sits in the pocket / hand / holder */
    double sv = act == TL_SYNTH_CYCLING ? tl_synth_uniform(r, 0.3, 0.8) : act == TL_SYNTH_VEHICLE ? tl_synth_uniform(r, 0.05, 0.25) : vib[act];
    for (int k = 0; k < 3; k++) {
        ba[k] = tl_synth_gauss(r, 0.05 * noise), bg[k] = tl_synth_gauss(r, 0.005 * noise);
        scale[k] = 1 + tl_synth_gauss(r, 0.005);
    }
    /* Each output sample is the mean over its sampling interval of K sub-samples at >= 400 Hz: the
     * averaging front end of a MEMS sensor, which damps (but does not remove) aliased vibration. */
    int K = (int)fmin(64, fmax(1, ceil(400 / hz)));
    for (int i = 0; i < n; i++) {
        double fs[3] = {0}, ws[3] = {0};
        for (int k = 0; k < K; k++) {
            double t = (i + (k + 0.5) / K) / hz, aw[3], eul[3], rt[3], fc[3], fd[3], wc[3], wd[3];
            eval_motion(&m, t, aw, eul, rt);
            aw[2] += G; /* specific force: what an accelerometer reads */
            double cf = cos(eul[0]), sf = sin(eul[0]), ct = cos(eul[1]), st = sin(eul[1]), cy = cos(eul[2]), sy = sin(eul[2]);
            double Rc[3][3] = {{cy * ct, cy * st * sf - sy * cf, cy * st * cf + sy * sf},
                               {sy * ct, sy * st * sf + cy * cf, sy * st * cf - cy * sf},
                               {-st, ct * sf, ct * cf}}; /* Rz(yaw) Ry(pitch) Rx(roll): carrier -> world */
            mul_t(Rc, aw, fc);
            wc[0] = rt[0] - rt[2] * st; /* body rates from Euler rates (ZYX) */
            wc[1] = rt[1] * cf + rt[2] * ct * sf;
            wc[2] = -rt[1] * sf + rt[2] * ct * cf;
            mul_t(R0, fc, fd);
            mul_t(R0, wc, wd);
            for (int c = 0; c < 3; c++) fs[c] += fd[c] / K, ws[c] += wd[c] / K;
        }
        for (int c = 0; c < 3; c++) {
            double a = scale[c] * fs[c] + ba[c] + tl_synth_gauss(r, 0.03 * noise) + tl_synth_gauss(r, sv * noise);
            double g = ws[c] + bg[c] + tl_synth_gauss(r, 0.005 * noise) + tl_synth_gauss(r, 0.05 * sv * noise);
            accel[i][c] = tl_synth_clamp(a, -78.45, 78.45); /* +-8 g */
            gyro[i][c] = tl_synth_clamp(g, -34.9, 34.9);    /* +-2000 deg/s */
        }
    }
}
