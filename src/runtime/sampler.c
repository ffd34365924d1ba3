/* Next-token sampling: softmax at a temperature, then min-p / top-k / top-p filtering, one draw. */
#include "runtime/sampler.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/vmath.h"

int tl_sampler_init(tl_sampler *s, int vocab, float temp, int top_k, float top_p, float min_p, uint64_t seed, tl_err *e) {
    if (vocab < 1) return tl_errf(e, "sampler: empty vocabulary");
    if (!(temp >= 0)) return tl_errf(e, "--temp must be >= 0");
    if (top_k < 0) return tl_errf(e, "--top-k must be >= 0");
    if (!(top_p > 0 && top_p <= 1)) return tl_errf(e, "--top-p must be in (0, 1]");
    if (!(min_p >= 0 && min_p < 1)) return tl_errf(e, "--min-p must be in [0, 1)");
    *s = (tl_sampler){.vocab = vocab, .temp = temp, .top_k = top_k, .top_p = top_p, .min_p = min_p};
    tl_rng_seed(&s->rng, seed);
    s->cand = tl_calloc((size_t)vocab, sizeof *s->cand, e);
    return s->cand ? 0 : -1;
}

void tl_sampler_free(tl_sampler *s) {
    free(s->cand);
    s->cand = NULL;
}

/* Descending weight, ties by ascending id: a total order, so the draw is reproducible. */
static int cand_cmp(const void *a, const void *b) {
    const tl_cand *x = a, *y = b;
    if (x->w != y->w) return x->w > y->w ? -1 : 1;
    return (x->id > y->id) - (x->id < y->id);
}

/* Restores the min-heap order (the worst candidate, by cand_cmp, at the root) below node i. */
static void sift_down(tl_cand *h, int n, int i) {
    for (;;) {
        int c = 2 * i + 1;
        if (c >= n) return;
        if (c + 1 < n && cand_cmp(&h[c + 1], &h[c]) > 0) c++;
        if (cand_cmp(&h[c], &h[i]) <= 0) return;
        tl_cand x = h[i];
        h[i] = h[c];
        h[c] = x;
        i = c;
    }
}

int tl_sampler_sample(tl_sampler *s, const float *logits) {
    int V = s->vocab, best = 0;
    for (int i = 1; i < V; i++)
        if (logits[i] > logits[best]) best = i;
    if (s->temp == 0) return best;
    /* weights relative to the best token (whose weight is 1), so min-p is a plain threshold */
    int n = 0, j = 0;
    float inv = 1.0f / s->temp, top = logits[best];
    for (; j + 16 <= V; j += 16) { /* 16 exps at a time (base/vmath.h), then the threshold */
        v16 x, w;
        memcpy(&x, logits + j, sizeof x);
        w = tl_vexp((x - top) * inv);
        for (int l = 0; l < 16; l++)
            if (w[l] >= s->min_p && w[l] > 0) s->cand[n++] = (tl_cand){w[l], j + l};
    }
    for (; j < V; j++) {
        float w = expf((logits[j] - top) * inv);
        if (w >= s->min_p && w > 0) s->cand[n++] = (tl_cand){w, j};
    }
    if (s->top_k > 0 && s->top_k < n) { /* the k best by a bounded min-heap: O(n log k), not a sort of n */
        tl_cand *h = s->cand;
        int k = s->top_k;
        for (int i = k / 2 - 1; i >= 0; i--) sift_down(h, k, i);
        for (int i = k; i < n; i++)
            if (cand_cmp(&s->cand[i], &h[0]) < 0) {
                h[0] = s->cand[i];
                sift_down(h, k, 0);
            }
        n = k;
    }
    if (s->top_k > 0 || s->top_p < 1) qsort(s->cand, (size_t)n, sizeof *s->cand, cand_cmp);
    double tot = 0;
    for (int i = 0; i < n; i++) tot += s->cand[i].w;
    if (s->top_p < 1) {
        double acc = 0;
        int m = 0;
        while (m < n && acc < s->top_p * tot) acc += s->cand[m++].w;
        n = m;
        tot = acc;
    }
    double r = (double)tl_rng_f32(&s->rng) * tot, acc = 0;
    for (int i = 0; i < n; i++) {
        acc += s->cand[i].w;
        if (r < acc) return s->cand[i].id;
    }
    return s->cand[n - 1].id;
}
