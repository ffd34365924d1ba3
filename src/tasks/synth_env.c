/* Environmental readings of a service robot's sensor board at named places: a building-wide weather
 * state that drifts row to row, visits of a few rows per place with per-place levels, and the
 * reference localisation/ file's resolutions and correlations (docs/synth.md). */
#include <math.h>
#include <string.h>

#include "tasks/synth.h"

enum { P_PRES, P_HUM, P_TEMP, P_HUM2, P_RED, P_GREEN, P_BLUE, P_SOUND };

#define PRES_MEAN 1004.5
#define PRES_SD 0.9

/* The reference places, measured per class on localisation/train.csv (245 rows): mean and standard
 * deviation of pressure, humidity, temperature, humidity 2, red, green, blue, sound. Humidity follows
 * pressure (below), so its entries are unused; green and blue are ratios of red. */
static const tl_synth_place reference[3] = {
    {"Charging Station", {1004.42, 0, 24.89, 53.16, 7.99, 6.18, 4.86, 201.2}, {0.92, 0, 0.64, 1.92, 0.50, 0.47, 0.38, 36.4}, {0.77, 0.61}},
    {"Entrance", {1004.23, 0, 24.65, 54.21, 120.8, 78.4, 56.7, 214.8}, {0.82, 0, 0.99, 1.92, 8.40, 6.09, 4.03, 37.1}, {0.65, 0.47}},
    {"Server Rack", {1004.80, 0, 25.31, 53.52, 26.7, 21.3, 19.1, 493.4}, {0.93, 0, 0.41, 1.21, 7.23, 7.51, 7.79, 32.9}, {0.80, 0.71}},
};

/* A place that is not a reference one gets a profile drawn from its name (FNV-1a), so the same
 * name always reads alike whatever the seed. */
static void name_profile(tl_synth_place *p) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (const char *c = p->name; *c; c++) h = (h ^ (unsigned char)*c) * 0x100000001b3ULL;
    tl_rng r;
    tl_rng_seed(&r, h);
    p->mean[P_PRES] = PRES_MEAN + tl_synth_gauss(&r, 0.3), p->sd[P_PRES] = PRES_SD;
    p->mean[P_TEMP] = tl_synth_uniform(&r, 22, 27), p->sd[P_TEMP] = tl_synth_uniform(&r, 0.3, 1.0);
    p->mean[P_HUM2] = tl_synth_uniform(&r, 50, 57), p->sd[P_HUM2] = tl_synth_uniform(&r, 1, 2);
    p->mean[P_RED] = exp(tl_synth_uniform(&r, log(3), log(300))), p->sd[P_RED] = p->mean[P_RED] * tl_synth_uniform(&r, 0.05, 0.3);
    p->rgb_ratio[0] = tl_synth_uniform(&r, 0.6, 0.95), p->rgb_ratio[1] = p->rgb_ratio[0] * tl_synth_uniform(&r, 0.7, 0.95);
    p->mean[P_SOUND] = exp(tl_synth_uniform(&r, log(80), log(600))), p->sd[P_SOUND] = p->mean[P_SOUND] * tl_synth_uniform(&r, 0.07, 0.2);
}

int tl_synth_env_init(tl_synth *s, tl_err *e) {
    const char *list = s->o.places ? s->o.places : "Charging Station,Entrance,Server Rack";
    s->n_labels = 0;
    for (const char *p = list;;) {
        const char *end = strchr(p, ','), *b = p, *q = end ? end : p + strlen(p);
        while (b < q && (*b == ' ' || *b == '\t')) b++;
        while (q > b && (q[-1] == ' ' || q[-1] == '\t')) q--;
        size_t len = (size_t)(q - b);
        if (len == 0 || len >= sizeof s->place[0].name)
            return tl_errf(e, "--places '%s': each name must be 1..%d characters, comma-separated", list,
                           (int)sizeof s->place[0].name - 1);
        for (const char *c = b; c < q; c++)
            if (*c == '"' || *c == '\n' || *c == '\r') return tl_errf(e, "--places '%s': no quotes or line breaks in names", list);
        if (s->n_labels == TL_SYNTH_MAX_PLACES) return tl_errf(e, "--places: at most %d places", TL_SYNTH_MAX_PLACES);
        tl_synth_place *pl = &s->place[s->n_labels];
        memcpy(pl->name, b, len);
        pl->name[len] = 0;
        for (int i = 0; i < s->n_labels; i++)
            if (!strcmp(s->place[i].name, pl->name)) return tl_errf(e, "--places: '%s' given twice", pl->name);
        int ref = -1;
        for (int i = 0; i < 3; i++)
            if (!strcmp(reference[i].name, pl->name)) ref = i;
        if (ref >= 0) *pl = reference[ref];
        else name_profile(pl);
        s->labels[s->n_labels] = pl->name;
        s->n_labels++;
        if (!end) break;
        p = end + 1;
    }
    s->pressure = PRES_MEAN + tl_synth_gauss(&s->rng, PRES_SD);
    return 0;
}

/* Humidity (%) as the reference rows have it: a linear function of pressure (fit over all 280
 * reference rows: r = -1.00, residual 0.25 %). */
static double humidity_of(double pressure) { return 8484.62 - 8.3853 * pressure; }

/* Temperature and humidity come in 1/16 steps (the reference sensor's resolution), printed with 2
 * decimals rounded half away from zero. */
static double q16(double x) { return round(x * 16) / 16; }
static double r2(double x) { return round(x * 100) / 100; }

int tl_synth_env_next(tl_synth *s, tl_buf *in, int *label, tl_err *e) {
    tl_rng *r = &s->rng;
    double nz = s->o.noise;
    if (s->visit_left == 0) { /* the robot goes to the next place for 3..12 readings */
        if (tl_rng_f32(r) < 0.5f) /* another day: new weather */
            s->pressure = PRES_MEAN + tl_synth_gauss(r, 1.15); /* clamped below: sd 0.9 as measured */
        else
            s->pressure += tl_synth_gauss(r, 0.1);
        const tl_synth_place *p = &s->place[s->visit_place = tl_synth_draw_label(s)];
        double zp = (s->pressure - PRES_MEAN) / PRES_SD, zt = tl_synth_gauss(r, 1);
        s->visit[P_PRES] = p->mean[P_PRES] - PRES_MEAN; /* the place's offset from the building's pressure */
        s->visit[P_TEMP] = p->mean[P_TEMP] + p->sd[P_TEMP] * (0.65 * zp + 0.76 * zt); /* warmer at high pressure */
        s->visit[P_HUM2] = p->mean[P_HUM2] + p->sd[P_HUM2] * (-0.25 * zp - 0.4 * zt + 0.88 * tl_synth_gauss(r, 1));
        double red = p->mean[P_RED] * exp(tl_synth_gauss(r, p->sd[P_RED] / p->mean[P_RED]));
        s->visit[P_RED] = red;
        s->visit[P_GREEN] = red * p->rgb_ratio[0] * exp(tl_synth_gauss(r, 0.03));
        s->visit[P_BLUE] = red * p->rgb_ratio[1] * exp(tl_synth_gauss(r, 0.03));
        s->visit[P_SOUND] = p->mean[P_SOUND] + tl_synth_gauss(r, 0.75 * p->sd[P_SOUND]);
        s->visit_left = 3 + (int)tl_rng_below(r, 10);
    }
    const tl_synth_place *p = &s->place[s->visit_place];
    s->visit_left--;
    /* slow drift within the visit: random walks of pressure, temperature and humidity 2 */
    s->pressure = tl_synth_clamp(s->pressure + tl_synth_gauss(r, 0.045 * nz), 1003.0, 1006.6);
    s->visit[P_TEMP] += tl_synth_gauss(r, 0.02 * nz);
    s->visit[P_HUM2] += tl_synth_gauss(r, 0.03 * nz);
    double pres = s->pressure + s->visit[P_PRES], v[8];
    v[P_PRES] = r2(pres);
    v[P_HUM] = r2(q16(humidity_of(pres) + tl_synth_gauss(r, 0.2 * nz)));
    v[P_TEMP] = r2(q16(s->visit[P_TEMP]));
    v[P_HUM2] = r2(s->visit[P_HUM2]);
    for (int c = P_RED; c <= P_BLUE; c++) v[c] = fmax(0, round(s->visit[c] + tl_synth_gauss(r, 0.4 * nz)));
    double snd = s->visit[P_SOUND] + tl_synth_gauss(r, 0.58 * p->sd[P_SOUND] * nz);
    if (tl_rng_f32(r) < 0.03f) snd += tl_synth_uniform(r, 50, 200); /* a door, a voice */
    v[P_SOUND] = fmax(0, round(snd));
    *label = s->visit_place;
    return tl_buf_appendf(in, e, "%.2f,%.2f,%.2f,%.2f,", v[0], v[1], v[2], v[3]) ||
           tl_buf_appendf(in, e, "%.0f,%.0f,%.0f,%.0f", v[4], v[5], v[6], v[7]);
}
