/* Matmul throughput on the GPT-2 30M training shapes (B=4, T=256): tinyllm's kernel vs OpenBLAS
 * sgemm (Debian's libopenblas0-pthread, loaded at run time; skipped if absent), same products,
 * same run. Prints GFLOP/s for forward and backward at 1 and 2 threads. */
#include <dlfcn.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "base/log.h"
#include "model/matmul.h"

typedef void (*sgemm_fn)(int order, int ta, int tb, int m, int n, int k, float alpha, const float *a, int lda,
                         const float *b, int ldb, float beta, float *c, int ldc);
enum { ROW_MAJOR = 101, NO_TRANS = 111, TRANS = 112 };

static double best_of(int reps, void (*fn)(void *), void *ctx) {
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = tl_now();
        fn(ctx);
        double dt = tl_now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

typedef struct job {
    int BT, C, OC;
    float *inp, *w, *out, *dout, *dinp, *dw;
    sgemm_fn sgemm;
} job;

static void ours_fwd(void *p) {
    job *j = p;
    tl_matmul_forward(j->out, j->inp, j->w, NULL, j->BT, j->C, j->OC);
}
static void ours_bwd(void *p) {
    job *j = p;
    tl_matmul_backward(j->dinp, j->dw, NULL, j->dout, j->inp, j->w, j->BT, j->C, j->OC);
}
static void blas_fwd(void *p) {
    job *j = p; /* out = inp . w^T */
    j->sgemm(ROW_MAJOR, NO_TRANS, TRANS, j->BT, j->OC, j->C, 1, j->inp, j->C, j->w, j->C, 0, j->out, j->OC);
}
static void blas_bwd(void *p) {
    job *j = p; /* dinp += dout . w ; dw += dout^T . inp */
    j->sgemm(ROW_MAJOR, NO_TRANS, NO_TRANS, j->BT, j->C, j->OC, 1, j->dout, j->OC, j->w, j->C, 1, j->dinp, j->C);
    j->sgemm(ROW_MAJOR, TRANS, NO_TRANS, j->OC, j->C, j->BT, 1, j->dout, j->OC, j->inp, j->C, 1, j->dw, j->C);
}

static float *rnd(size_t n) {
    float *p = malloc(n * sizeof *p);
    for (size_t i = 0; i < n; i++) p[i] = (float)rand() / (float)RAND_MAX - 0.5f;
    return p;
}

int main(void) {
    void *h = dlopen("libopenblas.so.0", RTLD_NOW);
    sgemm_fn sgemm = h ? (sgemm_fn)dlsym(h, "cblas_sgemm") : NULL;
    void (*blas_threads)(int) = h ? (void (*)(int))dlsym(h, "openblas_set_num_threads") : NULL;
    static const struct {
        const char *name;
        int C, OC;
    } shapes[] = {{"qkv", 384, 1152}, {"attn.proj", 384, 384}, {"mlp.fc", 384, 1536}, {"mlp.proj", 1536, 384}, {"logits", 384, 50304}};
    int BT = 1024;
    printf("BT=%d; GFLOP/s, best of 3%s\n", BT, sgemm ? "" : " (OpenBLAS not found: no baseline)");
    printf("%-10s %3s | %8s %8s %6s | %8s %8s %6s\n", "shape", "thr", "fwd", "openblas", "ratio", "bwd", "openblas", "ratio");
    for (int t = 1; t <= 2; t++) {
        omp_set_num_threads(t);
        if (blas_threads) blas_threads(t);
        for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
            job j = {BT, shapes[s].C, shapes[s].OC, rnd((size_t)BT * shapes[s].C), rnd((size_t)shapes[s].OC * shapes[s].C),
                     rnd((size_t)BT * shapes[s].OC), rnd((size_t)BT * shapes[s].OC), rnd((size_t)BT * shapes[s].C),
                     rnd((size_t)shapes[s].OC * shapes[s].C), sgemm};
            double fl = 2.0 * BT * j.C * j.OC;
            double f = fl / best_of(3, ours_fwd, &j) / 1e9, b = 2 * fl / best_of(3, ours_bwd, &j) / 1e9;
            double fb = sgemm ? fl / best_of(3, blas_fwd, &j) / 1e9 : 0, bb = sgemm ? 2 * fl / best_of(3, blas_bwd, &j) / 1e9 : 0;
            printf("%-10s %3d | %8.1f %8.1f %5.2fx | %8.1f %8.1f %5.2fx\n", shapes[s].name, t, f, fb, fb ? f / fb : 0, b, bb,
                   bb ? b / bb : 0);
            free(j.inp), free(j.w), free(j.out), free(j.dout), free(j.dinp), free(j.dw);
        }
    }
    return 0;
}
