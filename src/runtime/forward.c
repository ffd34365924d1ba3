/* The runtime's forward pass: contexts (KV cache + scratch + thread team) and GPT-2 over a chunk
 * of tokens, the same code for prefill (n tokens) and decode (n = 1).
 *
 * Per layer, for tokens x[n, C] at positions pos..pos+n-1:
 *   h = LN1(x); qkv[n, 3C] = h Wqkv^T + b; k, v -> cache; a[n, C] = causal attention over the cache;
 *   x += a Wproj^T + b; h = LN2(x); f[n, 4C] = GELU(h Wfc^T + b); x += f Wdown^T + b
 * then logits[V] = LNf(x[n-1]) Whead^T (every row's with all_logits). The team's threads claim
 * chunks of weight rows of the matrix products and (head, query block) pairs of attention; the
 * rest runs on the caller. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/vmath.h"
#include "quant/quant.h"
#include "runtime/model.h"

#define UBATCH 256 /* tokens per forward chunk */
#define QB 4       /* queries per attention tile: each key and value row loaded once for all of them */
#define MM_CHUNK 64 /* weight rows a thread claims at a time: a multiple of this, about 1/4 of a
                       thread's share (124M tg128 on 2 threads, this 2-core AMD EPYC: always 64
                       rows q8_0 97 tok/s, q4_0 134; always 256 rows 104, 147) */

size_t tl_rt_ctx_bytes(int L, int C, int V, int n_ctx) {
    size_t ub = UBATCH, c = (size_t)C;
    size_t kv = 2 * (size_t)L * (size_t)(n_ctx + 15) * c * sizeof(float);
    size_t scratch = ub * c * (1 + 1 + 3 + 1 + 4) * sizeof(float) + ub * 4 * c * (1 + sizeof(float) / 32.0) +
                     (size_t)V * sizeof(float) + (size_t)n_ctx * (4 + 8 * QB * sizeof(float));
    return kv + scratch;
}

size_t tl_ctx_bytes(const tl_model *m, int n_ctx) { return tl_rt_ctx_bytes(m->L, m->C, m->V, n_ctx > 0 ? n_ctx : m->n_ctx); }

int tl_ctx_init(tl_ctx **out, const tl_model *m, int n_ctx, int n_threads, tl_err *e) {
    return tl_ctx_init_kernels(out, m, n_ctx, n_threads, NULL, e);
}

int tl_ctx_init_kernels(tl_ctx **out, const tl_model *m, int n_ctx, int n_threads, const char *kernels, tl_err *e) {
    *out = NULL;
    if (n_ctx == 0) n_ctx = m->n_ctx;
    if (n_ctx < 1 || n_ctx > m->n_ctx)
        return tl_errf(e, "context %d is outside 1..%d (the model's context length)", n_ctx, m->n_ctx);
    if (n_threads < 1 || n_threads > 1024) return tl_errf(e, "threads must be 1..1024, not %d", n_threads);
    if (!kernels) kernels = getenv("TINYLLM_KERNELS");
    const tl_kernels *k = kernels && *kernels ? tl_kernels_get(kernels) : tl_kernels_best();
    if (!k) {
        char have[256] = "";
        for (int i = 0; tl_kernels_at(i); i++)
            if (tl_kernels_get(tl_kernels_at(i)->name))
                snprintf(have + strlen(have), sizeof have - strlen(have), "%s%s", *have ? ", " : "", tl_kernels_at(i)->name);
        return tl_errf(e, "kernels '%s' do not run on this build or CPU (available: %s)", kernels, have);
    }
    tl_ctx *c = tl_calloc(1, sizeof *c, e);
    if (!c) return -1;
    *c = (tl_ctx){.m = m, .k = k, .n_ctx = n_ctx, .n_ctx16 = (n_ctx + 15) / 16 * 16, .ubatch = UBATCH};
    size_t C = (size_t)m->C, ub = UBATCH, kv = (size_t)m->L * (size_t)n_ctx * C;
    int ok = !tl_team_init(&c->team, n_threads, e) && (c->kc = tl_calloc((size_t)m->L * (size_t)c->n_ctx16 * C, sizeof(float), e)) &&
             (c->vc = tl_calloc(kv, sizeof(float), e)) && (c->x = tl_calloc(ub * C, sizeof(float), e)) &&
             (c->h = tl_calloc(ub * C, sizeof(float), e)) && (c->qkv = tl_calloc(ub * 3 * C, sizeof(float), e)) &&
             (c->att = tl_calloc(ub * C, sizeof(float), e)) && (c->ff = tl_calloc(ub * 4 * C, sizeof(float), e)) &&
             (c->logits = tl_calloc((size_t)m->V, sizeof(float), e)) && (c->q = tl_calloc(ub * 4 * C + 64, 1, e)) &&
             (c->qd = tl_calloc(ub * 4 * C / 32 + 16, sizeof(float), e)) && /* + the slack kernels may read */
             (c->scores = tl_calloc((size_t)n_threads * QB * (size_t)n_ctx, sizeof(float), e)) &&
             (c->hist = tl_calloc((size_t)n_ctx, sizeof(int32_t), e));
    if (!ok) {
        tl_err_wrap(e, "context of %d positions (%zu MB)", n_ctx, tl_ctx_bytes(m, n_ctx) >> 20);
        tl_ctx_free(c);
        return -1;
    }
    *out = c;
    return 0;
}

void tl_ctx_free(tl_ctx *c) {
    if (!c) return;
    tl_team_free(c->team);
    free(c->kc);
    free(c->vc);
    free(c->x);
    free(c->h);
    free(c->qkv);
    free(c->att);
    free(c->ff);
    free(c->logits);
    free(c->q);
    free(c->qd);
    free(c->scores);
    free(c->hist);
    free(c);
}

const char *tl_ctx_kernels(const tl_ctx *c) { return c->k->name; }
int tl_ctx_n_ctx(const tl_ctx *c) { return c->n_ctx; }
int tl_ctx_pos(const tl_ctx *c) { return c->pos; }
void tl_ctx_rewind(tl_ctx *c, int pos) {
    if (pos >= 0 && pos <= c->pos) c->pos = pos;
}

const float *tl_ctx_eval(tl_ctx *c, const int32_t *tokens, int n, float *all_logits, tl_err *e) {
    if (n < 1) return tl_errf(e, "no tokens to evaluate"), NULL;
    if (n > c->n_ctx - c->pos)
        return tl_errf(e, "%d tokens after %d would overflow the context of %d", n, c->pos, c->n_ctx), NULL;
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->m->V)
            return tl_errf(e, "token id %d is outside the vocabulary (0..%d)", tokens[i], c->m->V - 1), NULL;
    for (int i = 0; i < n; i += c->ubatch) {
        int k = n - i < c->ubatch ? n - i : c->ubatch;
        memcpy(c->hist + c->pos, tokens + i, (size_t)k * sizeof *tokens);
        tl_rt_forward(c, tokens + i, k, all_logits ? all_logits + (size_t)i * (size_t)c->m->V : NULL);
    }
    return c->logits;
}

/* ---------------------------------------------------------------- the pieces */

/* out[C] = LayerNorm(x[C]) * w + b */
static void layernorm(float *out, const float *x, const float *w, const float *b, int C, float eps) {
    float mean = 0, var = 0;
    for (int i = 0; i < C; i++) mean += x[i];
    mean /= (float)C;
    for (int i = 0; i < C; i++) var += (x[i] - mean) * (x[i] - mean);
    float rs = 1.0f / sqrtf(var / (float)C + eps);
    for (int i = 0; i < C; i++) out[i] = (x[i] - mean) * rs * w[i] + b[i];
}

typedef struct mm_job {
    const tl_kernels *k;
    const tl_wmat *w;
    const tl_act *a;
    const float *bias;
    float *y;
    long ldy;
} mm_job;

static void mm_part(void *p, long lo, long hi, int slot) {
    mm_job *j = p;
    (void)slot;
    j->k->matmul(j->w, (int)lo, (int)hi, j->a, j->bias, j->y, j->ldy);
}

/* y[n, w.rows] (row stride ldy) = x[n, w.cols] W^T + bias */
static void matmul(tl_ctx *c, float *y, long ldy, const float *x, int n, const tl_wmat *w, const float *bias) {
    tl_act a = {n, w->cols, x, c->q, c->qd};
    if (w->type == TL_GGML_Q8_0 || w->type == TL_GGML_Q4_0)
        for (int t = 0; t < n; t++)
            c->k->quantize(x + (size_t)t * w->cols, w->cols, c->q + (size_t)t * w->cols, c->qd + (size_t)t * (w->cols / 32));
    mm_job j = {c->k, w, &a, bias, y, ldy};
    long share = (w->rows + 4L * tl_team_size(c->team) - 1) / (4L * tl_team_size(c->team));
    tl_team_for(c->team, w->rows, (share + MM_CHUNK - 1) / MM_CHUNK * MM_CHUNK, mm_part, &j);
}

typedef struct att_job {
    tl_ctx *c;
    const float *kt, *vc; /* this layer's cache: keys [H][n_ctx16 / 16][hs][16], values [n_ctx][C] */
    int n, pos0;
} att_job;

/* Attention of queries t0..t0+nq-1 (nq <= qb) of the chunk for head h: query t attends to cache
 * positions 0..pos0+t. With the keys stored in blocks of 16 positions, dimension-major within a
 * block, 16 positions' scores are 16-lane FMAs over the head's dimensions on contiguous memory
 * (a block's positions past the last are computed from the zeroed cache and not kept); each value
 * row is added into the qb outputs 16 lanes at a time, nd chunks of 16 dimensions per pass over
 * the positions. qb and nd are constants at each call (decode with head size 64: 1 query, the
 * whole value row in one pass and 4 partial sums per score; otherwise qb queries, one chunk a
 * pass) so the tile's loops unroll and its sums stay in registers. */
static inline __attribute__((always_inline)) void att_tile(const att_job *j, int h, int t0, int nq, float *sc, const int qb,
                                                           const int nd) {
    const tl_ctx *c = j->c;
    int C = c->m->C, hs = C / c->m->H, N = c->n_ctx;
    int P = j->pos0 + t0 + nq; /* positions the block's last query sees */
    float scale = 1.0f / sqrtf((float)hs);
    const float *kt = j->kt + (size_t)h * hs * c->n_ctx16, *q[QB];
    for (int a = 0; a < qb; a++) q[a] = c->qkv + (size_t)(t0 + (a < nq ? a : nq - 1)) * 3 * C + (size_t)h * hs;
    for (int s = 0; s < P; s += 16) {
        v16 acc[QB][4] = {{{0}}}; /* nd partial sums per score: a decode's single chain would wait on each FMA */
        const float *kb = kt + (size_t)(s / 16) * hs * 16;
        for (int d = 0; d < hs; d += nd)
            #pragma GCC unroll 4
            for (int i = 0; i < nd; i++) {
                v16 k;
                memcpy(&k, kb + (size_t)(d + i) * 16, sizeof k);
                #pragma GCC unroll 4
                for (int a = 0; a < qb; a++) acc[a][i] += q[a][d + i] * k;
            }
        int ns = P - s < 16 ? P - s : 16;
        for (int a = 0; a < qb; a++) {
            #pragma GCC unroll 4
            for (int i = 1; i < nd; i++) acc[a][0] += acc[a][i];
            acc[a][0] *= scale;
            if (ns == 16) memcpy(sc + (size_t)a * N + s, &acc[a][0], sizeof acc[a][0]);
            else memcpy(sc + (size_t)a * N + s, &acc[a][0], (size_t)ns * sizeof(float));
        }
    }
    float w[QB] = {0}; /* 1 / the softmax denominator, per query */
    for (int a = 0; a < qb; a++) {
        float *row = sc + (size_t)a * N;
        if (a >= nq) { /* a padding query: adds nothing */
            memset(row, 0, (size_t)P * sizeof(float));
            w[a] = 0;
            continue;
        }
        int Pa = j->pos0 + t0 + a + 1;
        float mx = tl_vmax(row, Pa);
        w[a] = 1.0f / tl_exp_shift(row, row, mx, 1.0f, Pa);
        for (int x = Pa; x < P; x++) row[x] = 0; /* causal: later positions add nothing */
    }
    for (int d0 = 0; d0 < hs; d0 += 16 * nd) { /* the outputs, nd x 16 of the head's dimensions at a time */
        int rest = hs - d0 < 16 ? hs - d0 : 16; /* nd > 1 only for head size 64: whole chunks */
        v16 acc[QB][4] = {{{0}}};
        for (int s = 0; s < P; s++) {
            const float *src = j->vc + (size_t)s * C + (size_t)h * hs + d0;
            #pragma GCC unroll 4
            for (int i = 0; i < nd; i++) {
                v16 v = {0};
                if (nd > 1 || rest == 16) memcpy(&v, src + 16 * i, sizeof v); /* constant size: one vector load */
                else memcpy(&v, src, (size_t)rest * sizeof(float));
                #pragma GCC unroll 4
                for (int a = 0; a < qb; a++) acc[a][i] += sc[(size_t)a * N + s] * v;
            }
        }
        for (int a = 0; a < nq; a++)
            #pragma GCC unroll 4
            for (int i = 0; i < nd; i++) {
                acc[a][i] *= w[a];
                float *dst = c->att + (size_t)(t0 + a) * C + (size_t)h * hs + d0 + 16 * i;
                if (nd > 1 || rest == 16) memcpy(dst, &acc[a][i], sizeof acc[a][i]);
                else memcpy(dst, &acc[a][i], (size_t)rest * sizeof(float));
            }
    }
}

/* (head, query block) pairs [lo, hi), as the team hands them out. */
static void att_part(void *p, long lo, long hi, int slot) {
    att_job *j = p;
    int H = j->c->m->H, qb = j->n == 1 ? 1 : QB;
    float *sc = j->c->scores + (size_t)slot * QB * (size_t)j->c->n_ctx;
    for (long u = lo; u < hi; u++) {
        int h = (int)(u % H), t0 = (int)(u / H) * qb, nq = j->n - t0 < qb ? j->n - t0 : qb;
        if (qb > 1) att_tile(j, h, t0, nq, sc, QB, 1);
        else if (j->c->m->C / H == 64) att_tile(j, h, t0, nq, sc, 1, 4);
        else att_tile(j, h, t0, nq, sc, 1, 1);
    }
}

void tl_rt_forward(tl_ctx *c, const int32_t *tokens, int n, float *all_logits) {
    const tl_model *m = c->m;
    int C = m->C, pos0 = c->pos;
    float *x = c->x, *h = c->h;
    for (int t = 0; t < n; t++) { /* embeddings */
        float *xt = x + (size_t)t * C, *tmp = h;
        tl_wmat_row(&m->wte, tokens[t], xt);
        tl_wmat_row(&m->wpe, pos0 + t, tmp);
        for (int i = 0; i < C; i++) xt[i] += tmp[i];
    }
    for (int l = 0; l < m->L; l++) {
        const tl_rt_layer *w = &m->layer[l];
        float *kt = c->kc + (size_t)l * c->n_ctx16 * C, *vc = c->vc + (size_t)l * c->n_ctx * C;
        int H = m->H, hs = C / H;
        for (int t = 0; t < n; t++) layernorm(h + (size_t)t * C, x + (size_t)t * C, w->ln1_w, w->ln1_b, C, m->ln_eps);
        matmul(c, c->qkv, 3 * C, h, n, &w->qkv, w->qkv_b);
        for (int t = 0; t < n; t++) {
            const float *k = c->qkv + (size_t)t * 3 * C + C;
            for (int hd = 0; hd < H; hd++)
                for (int d = 0; d < hs; d++) {
                    int ps = pos0 + t;
                    kt[(size_t)hd * hs * c->n_ctx16 + ((size_t)(ps / 16) * hs + d) * 16 + ps % 16] = k[hd * hs + d];
                }
            memcpy(vc + (size_t)(pos0 + t) * C, c->qkv + (size_t)t * 3 * C + 2 * C, (size_t)C * sizeof(float));
        }
        att_job aj = {c, kt, vc, n, pos0};
        tl_team_for(c->team, (long)H * ((n + (n == 1 ? 1 : QB) - 1) / (n == 1 ? 1 : QB)), 1, att_part, &aj);
        matmul(c, h, C, c->att, n, &w->proj, w->proj_b);
        for (size_t i = 0; i < (size_t)n * C; i++) x[i] += h[i];
        for (int t = 0; t < n; t++) layernorm(h + (size_t)t * C, x + (size_t)t * C, w->ln2_w, w->ln2_b, C, m->ln_eps);
        matmul(c, c->ff, 4 * C, h, n, &w->fc, w->fc_b);
        tl_gelu(c->ff, c->ff, n * 4 * C);
        matmul(c, h, C, c->ff, n, &w->down, w->down_b);
        for (size_t i = 0; i < (size_t)n * C; i++) x[i] += h[i];
    }
    c->pos += n;
    int first = all_logits ? 0 : n - 1;
    for (int t = first; t < n; t++) layernorm(h + (size_t)(t - first) * C, x + (size_t)t * C, m->lnf_w, m->lnf_b, C, m->ln_eps);
    if (all_logits) matmul(c, all_logits, m->V, h, n, &m->head, NULL);
    else matmul(c, c->logits, m->V, h, 1, &m->head, NULL);
    if (all_logits) memcpy(c->logits, all_logits + (size_t)(n - 1) * m->V, (size_t)m->V * sizeof(float));
}
