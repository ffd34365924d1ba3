/* The demo's embedded corpus: a seeded grammar of sensor reports, gestures and small stories. */
#include "data/democorpus.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/file.h"
#include "base/rng.h"

#define PICK(r, arr) ((arr)[tl_rng_below((r), sizeof(arr) / sizeof *(arr))])

static const char *rooms[] = {"kitchen", "bedroom", "office", "hallway", "garage", "lab", "greenhouse", "basement"};
static const char *names[] = {"Ada", "Ben", "Chen", "Dara", "Eli", "Fatima", "Goran", "Hana", "Ivan", "Jun"};
static const char *devices[] = {"thermometer", "humidity sensor", "light meter", "air monitor", "sound meter"};
static const char *gestures[] = {"Tap", "Double", "Hold"};

typedef struct out {
    char buf[1024];
    size_t n;
} out;

static void put(out *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(out *o, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int w = vsnprintf(o->buf + o->n, sizeof o->buf - o->n, fmt, ap);
    va_end(ap);
    if (w > 0) o->n += (size_t)w < sizeof o->buf - o->n ? (size_t)w : sizeof o->buf - o->n - 1;
}

static void report(out *o, tl_rng *r) {
    const char *room = PICK(r, rooms);
    float temp = 12.0f + 16.0f * tl_rng_f32(r);
    int hum = 25 + (int)tl_rng_below(r, 60), hh = (int)tl_rng_below(r, 24), mm = (int)tl_rng_below(r, 60);
    put(o, "At %02d:%02d the %s sensor read %.1f degrees and %d%% humidity. ", hh, mm, room, (double)temp, hum);
    if (temp < 17.0f) put(o, "It was cold, so the heater in the %s turned on.", room);
    else if (temp > 24.0f) put(o, "It was warm, so the %s window was opened.", room);
    else put(o, "The %s was comfortable, and nothing changed.", room);
    if (hum > 70) put(o, " The air felt damp, and the fan started.");
    else if (hum < 30) put(o, " The air was dry.");
}

static void gesture(out *o, tl_rng *r) {
    int g = (int)tl_rng_below(r, 3), lo = 5 + (int)tl_rng_below(r, 10), hi = 120 + (int)tl_rng_below(r, 120);
    put(o, "Proximity readings: ");
    int len = 12 + (int)tl_rng_below(r, 6);
    for (int i = 0; i < len; i++) {
        int v = lo;
        if (g == 0 && i >= 4 && i < 7) v = hi - 20 * (i - 4);          /* one short peak */
        if (g == 1 && ((i >= 2 && i < 4) || (i >= 7 && i < 9))) v = hi; /* two short peaks */
        if (g == 2 && i >= 3 && i < len - 2) v = hi;                     /* one long plateau */
        v += (int)tl_rng_below(r, 5);
        put(o, "%d%s", v, i + 1 < len ? ", " : ". ");
    }
    put(o, "The gesture was a %s.", gestures[g]);
}

static void story(out *o, tl_rng *r) {
    const char *name = PICK(r, names), *room = PICK(r, rooms), *dev = PICK(r, devices);
    int v = 10 + (int)tl_rng_below(r, 90);
    put(o, "%s walked into the %s and looked at the %s. It showed %d. ", name, room, dev, v);
    if (v > 70) put(o, "%s wrote the number down, because it was high, and called for help.", name);
    else if (v < 30) put(o, "%s smiled, because the number was low, and went back to work.", name);
    else put(o, "%s nodded. The number was normal, so %s left the %s.", name, name, room);
}

int tl_democorpus_write(const char *path, int n_docs, uint64_t seed, tl_err *e) {
    tl_rng r;
    tl_rng_seed(&r, seed);
    tl_afile af;
    if (tl_afile_open(&af, path, e)) return -1;
    for (int i = 0; i < n_docs; i++) {
        out o = {.n = 0};
        int sentences = 1 + (int)tl_rng_below(&r, 3);
        for (int s = 0; s < sentences; s++) {
            uint64_t kind = tl_rng_below(&r, 3);
            if (s) put(&o, " ");
            if (kind == 0) report(&o, &r);
            else if (kind == 1) gesture(&o, &r);
            else story(&o, &r);
        }
        put(&o, "\n\n");
        if (tl_afile_write(&af, o.buf, o.n, e)) {
            tl_afile_abort(&af);
            return -1;
        }
    }
    return tl_afile_commit(&af, e);
}
