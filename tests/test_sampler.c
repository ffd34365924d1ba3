/* The sampler against an independent definition of its distribution, computed here in double:
 * softmax at the temperature, then min-p (p >= min_p * p_max), top-k and top-p (the smallest set,
 * by falling probability with ties to the lower id, reaching top_p), renormalised. 200,000 draws
 * per setting must match it within 5 standard deviations on every token, never pick a token
 * outside it, and repeat for the same seed; greedy is the argmax with ties to the lowest id. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "check.h"
#include "runtime/sampler.h"

enum { V = 300, DRAWS = 200000 };

static const double *g_p;
static int by_prob(const void *a, const void *b) {
    int x = *(const int *)a, y = *(const int *)b;
    if (g_p[x] != g_p[y]) return g_p[x] > g_p[y] ? -1 : 1;
    return x - y;
}

/* want[V]: the distribution the settings define */
static void expected(const float *logits, float temp, int top_k, float top_p, float min_p, double *want) {
    double p[V], mx = -INFINITY, z = 0;
    for (int i = 0; i < V; i++) mx = fmax(mx, logits[i]);
    for (int i = 0; i < V; i++) z += p[i] = exp((logits[i] - mx) / temp);
    int order[V], n = 0;
    for (int i = 0; i < V; i++) p[i] /= z;
    double pmax = 0;
    for (int i = 0; i < V; i++) pmax = fmax(pmax, p[i]);
    for (int i = 0; i < V; i++)
        if (p[i] >= min_p * pmax) order[n++] = i;
    g_p = p;
    qsort(order, (size_t)n, sizeof *order, by_prob);
    if (top_k > 0 && top_k < n) n = top_k;
    double kept = 0;
    for (int i = 0; i < n; i++) kept += p[order[i]];
    if (top_p < 1) {
        double acc = 0;
        int m = 0;
        while (m < n && acc < top_p * kept) acc += p[order[m++]];
        n = m;
        kept = acc;
    }
    memset(want, 0, sizeof(double) * V);
    for (int i = 0; i < n; i++) want[order[i]] = p[order[i]] / kept;
}

static void check_setting(const float *logits, float temp, int top_k, float top_p, float min_p) {
    tl_sampler s;
    tl_err e;
    CHECK(tl_sampler_init(&s, V, temp, top_k, top_p, min_p, 99, &e) == 0, "init: %s", e.msg);
    double want[V];
    expected(logits, temp, top_k, top_p, min_p, want);
    static int count[V];
    memset(count, 0, sizeof count);
    int first[20];
    for (int d = 0; d < DRAWS; d++) {
        int t = tl_sampler_sample(&s, logits);
        if (d < 20) first[d] = t;
        count[t]++;
    }
    int outside = 0, off = 0;
    for (int i = 0; i < V; i++) {
        double f = (double)count[i] / DRAWS, sd = sqrt(want[i] * (1 - want[i]) / DRAWS);
        if (want[i] == 0 && count[i]) outside++;
        if (fabs(f - want[i]) > 5 * sd + 1e-9) off++;
    }
    CHECK(!outside && !off, "temp %.2f top_k %d top_p %.2f min_p %.2f: %d tokens drawn outside the set, %d off by > 5 sd", temp,
          top_k, top_p, min_p, outside, off);
    tl_sampler_free(&s);
    tl_sampler_init(&s, V, temp, top_k, top_p, min_p, 99, &e); /* the same seed, the same draws */
    int same = 1;
    for (int d = 0; d < 20; d++) same &= tl_sampler_sample(&s, logits) == first[d];
    CHECK(same, "the same seed gave other draws");
    tl_sampler_free(&s);
}

int main(void) {
    float logits[V];
    tl_rng g;
    tl_rng_seed(&g, 5);
    for (int i = 0; i < V; i++) logits[i] = 3.0f * tl_rng_normal(&g);
    logits[17] = logits[42] = 9.0f; /* a tie at the top */
    check_setting(logits, 1.0f, 0, 1.0f, 0.0f);
    check_setting(logits, 0.7f, 40, 0.95f, 0.05f); /* llama.cpp's defaults */
    check_setting(logits, 1.0f, 5, 1.0f, 0.0f);
    check_setting(logits, 2.0f, 0, 0.5f, 0.0f);
    check_setting(logits, 1.5f, 100, 1.0f, 0.01f);
    check_setting(logits, 1.0f, 1, 1.0f, 0.0f);
    tl_sampler s;
    tl_err e;
    tl_sampler_init(&s, V, 0.0f, 40, 0.95f, 0.05f, 1, &e);
    CHECK(tl_sampler_sample(&s, logits) == 17, "greedy: the tie goes to the lowest id");
    tl_sampler_free(&s);
    CHECK(tl_sampler_init(&s, V, -1, 0, 1, 0, 1, &e) == -1, "negative temperature accepted");
    CHECK(tl_sampler_init(&s, V, 1, 0, 0, 0, 1, &e) == -1, "top-p 0 accepted");
    CHECK(tl_sampler_init(&s, V, 1, 0, 1, 1, 1, &e) == -1, "min-p 1 accepted");
    CHECK_DONE();
}
