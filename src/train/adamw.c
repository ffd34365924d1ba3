/* AdamW, global-norm clipping and the cosine schedule (contracts in adamw.h). */
#include "train/adamw.h"

#include <math.h>
#include <stdlib.h>

int tl_adamw_init(tl_adamw *o, size_t n, float beta1, float beta2, float eps, float weight_decay, tl_err *e) {
    *o = (tl_adamw){.beta1 = beta1, .beta2 = beta2, .eps = eps, .weight_decay = weight_decay, .n = n};
    o->m = tl_calloc(n, sizeof(float), e);
    o->v = tl_calloc(n, sizeof(float), e);
    if (!o->m || !o->v) {
        tl_adamw_free(o);
        return -1;
    }
    return 0;
}

void tl_adamw_free(tl_adamw *o) {
    free(o->m);
    free(o->v);
    o->m = o->v = NULL;
}

void tl_adamw_update(tl_adamw *o, float *params, const float *grads, const tl_tensor_info *tensors, int n_tensors,
                     float lr) {
    o->t++;
    float c1 = 1.0f - powf(o->beta1, (float)o->t), c2 = 1.0f - powf(o->beta2, (float)o->t);
    for (int ti = 0; ti < n_tensors; ti++) {
        const tl_tensor_info *t = &tensors[ti];
        float wd = t->decay ? o->weight_decay : 0.0f;
        float *p = params + t->offset, *m = o->m + t->offset, *v = o->v + t->offset;
        const float *g = grads + t->offset;
        long n = (long)t->numel;
#pragma omp parallel for schedule(static)
        for (long i = 0; i < n; i++) {
            m[i] = o->beta1 * m[i] + (1.0f - o->beta1) * g[i];
            v[i] = o->beta2 * v[i] + (1.0f - o->beta2) * g[i] * g[i];
            float mh = m[i] / c1, vh = v[i] / c2;
            p[i] -= lr * (mh / (sqrtf(vh) + o->eps) + wd * p[i]);
        }
    }
}

#define NORM_CHUNKS 256

double tl_grad_norm(const float *g, size_t n) {
    double part[NORM_CHUNKS];
    size_t per = (n + NORM_CHUNKS - 1) / NORM_CHUNKS;
#pragma omp parallel for schedule(static)
    for (int c = 0; c < NORM_CHUNKS; c++) {
        double s = 0;
        size_t lo = (size_t)c * per, hi = lo + per < n ? lo + per : n;
        for (size_t i = lo; i < hi; i++) s += (double)g[i] * g[i];
        part[c] = s;
    }
    double s = 0;
    for (int c = 0; c < NORM_CHUNKS; c++) s += part[c];
    return sqrt(s);
}

void tl_grad_clip(float *g, size_t n, double norm, float max_norm) {
    if (max_norm <= 0 || !(norm > max_norm)) return;
    float k = (float)(max_norm / norm);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)n; i++) g[i] *= k;
}

float tl_lr_cosine(int step, int warmup, int total, float lr, float final_frac) {
    if (step < warmup) return lr * (float)(step + 1) / (float)warmup;
    if (total <= warmup) return lr;
    double r = (double)(step - warmup) / (double)(total - warmup);
    if (r > 1) r = 1;
    double coeff = 0.5 * (1.0 + cos(M_PI * r));
    double lo = (double)lr * final_frac;
    return (float)(lo + coeff * ((double)lr - lo));
}
