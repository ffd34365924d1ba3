/* LoRA adapters: parameter table, forward/backward of the low-rank branch, merge into the base. */
#include "model/lora.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/matmul.h"

static const char *target_name[TL_LORA_N_TARGETS] = {"attn.qkv", "attn.proj", "mlp.fc", "mlp.proj"};
static const int target_in[TL_LORA_N_TARGETS] = {1, 1, 1, 4}, target_out[TL_LORA_N_TARGETS] = {3, 1, 4, 1}; /* x C */

static long mask_words(long n) { return (n + 63) / 64; }

int tl_lora_parse_targets(const char *s, unsigned *targets, tl_err *e) {
    *targets = 0;
    while (*s) {
        size_t n = strcspn(s, ",");
        unsigned bits = 0;
        if (n == 3 && !strncmp(s, "all", 3)) bits = 15;
        else if (n == 4 && !strncmp(s, "attn", 4)) bits = 3;
        else if (n == 3 && !strncmp(s, "mlp", 3)) bits = 12;
        for (int t = 0; t < TL_LORA_N_TARGETS; t++)
            if (strlen(target_name[t]) == n && !strncmp(s, target_name[t], n)) bits = 1u << t;
        if (!bits)
            return tl_errf(e, "--lora-targets: unknown module '%.*s' (known: attn.qkv, attn.proj, mlp.fc, mlp.proj, attn, mlp, all)",
                           (int)n, s);
        *targets |= bits;
        s += n + (s[n] == ',');
    }
    return *targets ? 0 : tl_errf(e, "--lora-targets: no module given, so LoRA would train nothing");
}

void tl_lora_targets_str(unsigned targets, char *buf, size_t n) {
    buf[0] = 0;
    for (int t = 0; t < TL_LORA_N_TARGETS; t++)
        if (targets & (1u << t)) snprintf(buf + strlen(buf), n - strlen(buf), "%s%s", buf[0] ? "," : "", target_name[t]);
}

int tl_lora_init(tl_lora *lo, const tl_gpt2_config *c, const tl_lora_config *lc, tl_err *e) {
    memset(lo, 0, sizeof *lo);
    if (lc->rank < 1 || lc->rank > c->n_embd) return tl_errf(e, "--lora-rank %d must be in 1..%d", lc->rank, c->n_embd);
    if (!(lc->dropout >= 0 && lc->dropout < 1)) return tl_errf(e, "--lora-dropout %g must be in [0, 1)", (double)lc->dropout);
    if (!(lc->alpha > 0)) return tl_errf(e, "--lora-alpha %g must be > 0", (double)lc->alpha);
    if (!(lc->targets & 15)) return tl_errf(e, "LoRA: no target module, so LoRA would train nothing");
    if (lc->layers < 0 || lc->layers > c->n_layer)
        return tl_errf(e, "--lora-layers %d must be in 0..%d (0: every block)", lc->layers, c->n_layer);
    lo->cfg = *lc;
    lo->model = *c;
    lo->first_layer = lc->layers ? c->n_layer - lc->layers : 0;
    int per = 0, r = lc->rank, C = c->n_embd;
    for (int t = 0; t < TL_LORA_N_TARGETS; t++) per += (lc->targets >> t) & 1;
    lo->n_tensors = 2 * per * (c->n_layer - lo->first_layer);
    lo->tensors = tl_calloc((size_t)lo->n_tensors, sizeof *lo->tensors, e);
    lo->index = tl_calloc((size_t)c->n_layer * TL_LORA_N_TARGETS, sizeof *lo->index, e);
    if (!lo->tensors || !lo->index) {
        tl_lora_free(lo);
        return -1;
    }
    size_t off = 0;
    int k = 0;
    for (int l = 0; l < c->n_layer; l++)
        for (int t = 0; t < TL_LORA_N_TARGETS; t++) {
            lo->index[l * TL_LORA_N_TARGETS + t] = -1;
            if (!(lc->targets & (1u << t)) || l < lo->first_layer) continue;
            lo->index[l * TL_LORA_N_TARGETS + t] = k;
            int dims[2][2] = {{r, target_in[t] * C}, {target_out[t] * C, r}};
            for (int ab = 0; ab < 2; ab++, k++) {
                tl_tensor_info *x = &lo->tensors[k];
                snprintf(x->name, sizeof x->name, "h.%d.%s.lora_%c", l, target_name[t], ab ? 'b' : 'a');
                x->offset = off;
                x->ndim = 2;
                x->shape[0] = dims[ab][0];
                x->shape[1] = dims[ab][1];
                x->numel = (size_t)dims[ab][0] * (size_t)dims[ab][1];
                x->decay = 0; /* PEFT's default: no weight decay on adapters unless asked */
                off += x->numel;
            }
        }
    lo->n_params = off;
    lo->params = tl_calloc(off, sizeof(float), e);
    lo->grads = lo->params ? tl_calloc(off, sizeof(float), e) : NULL;
    if (!lo->grads) {
        tl_lora_free(lo);
        return -1;
    }
    return 0;
}

void tl_lora_free(tl_lora *lo) {
    free(lo->tensors);
    free(lo->index);
    free(lo->params);
    free(lo->grads);
    free(lo->u);
    free(lo->xd);
    free(lo->tmp);
    free(lo->mask);
    memset(lo, 0, sizeof *lo);
}

void tl_lora_init_weights(tl_lora *lo, uint64_t seed) {
    tl_rng rng;
    tl_rng_seed(&rng, seed);
    for (int k = 0; k < lo->n_tensors; k++) {
        tl_tensor_info *x = &lo->tensors[k];
        float *p = lo->params + x->offset, bound = 1.0f / sqrtf((float)x->shape[1]);
        for (size_t i = 0; i < x->numel; i++) p[i] = k % 2 ? 0.0f : bound * (2.0f * tl_rng_f32(&rng) - 1.0f);
    }
}

void tl_lora_zero_grad(tl_lora *lo) { memset(lo->grads, 0, sizeof(float) * lo->n_params); }

int tl_lora_reserve(tl_lora *lo, long BT, tl_err *e) {
    if (BT <= lo->bt_cap) return 0;
    free(lo->u);
    free(lo->xd);
    free(lo->tmp);
    free(lo->mask);
    size_t C4 = 4 * (size_t)lo->model.n_embd, slots = (size_t)lo->model.n_layer * TL_LORA_N_TARGETS;
    lo->u = tl_calloc(slots * (size_t)BT * (size_t)lo->cfg.rank, sizeof(float), e);
    lo->xd = tl_calloc((size_t)BT * C4, sizeof(float), e);
    lo->tmp = tl_calloc((size_t)BT * (C4 + (size_t)lo->cfg.rank), sizeof(float), e);
    lo->mask = lo->cfg.dropout > 0 ? tl_calloc(slots * mask_words(BT * (long)C4), sizeof(uint64_t), e) : NULL;
    lo->bt_cap = lo->u && lo->xd && lo->tmp && (lo->mask || lo->cfg.dropout == 0) ? BT : 0;
    return lo->bt_cap ? 0 : -1;
}

/* Dropout keep-mask of element i of (l, t): a hash of the micro-batch's seed. */
static int keep(const tl_lora *lo, int l, int t, long i) {
    uint64_t z = lo->drop_seed ^ ((uint64_t)(l * TL_LORA_N_TARGETS + t) << 48) ^ (uint64_t)i;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return (float)(z >> 40) / 16777216.0f >= lo->cfg.dropout;
}

/* The keep bits of (l, t): element i is bit i % 64 of word i / 64. */
static uint64_t *mask_of(tl_lora *lo, int l, int t) {
    return lo->mask + (size_t)(l * TL_LORA_N_TARGETS + t) * mask_words(lo->bt_cap * 4L * lo->model.n_embd);
}

/* dropout(inp) into lo->xd, or inp itself when dropout is off. The forward (`fresh`) hashes the
 * keep bits into the mask; the backward rebuilds xd from them. */
static const float *dropped(tl_lora *lo, int l, int t, const float *inp, long n, int fresh) {
    if (!lo->train || lo->cfg.dropout == 0) return inp;
    float s = 1.0f / (1.0f - lo->cfg.dropout);
    uint64_t *mask = mask_of(lo, l, t);
#pragma omp parallel for schedule(static)
    for (long w = 0; w < mask_words(n); w++) {
        long i0 = w * 64, i1 = i0 + 64 < n ? i0 + 64 : n;
        uint64_t bits = 0;
        if (fresh) {
            for (long i = i0; i < i1; i++) bits |= (uint64_t)keep(lo, l, t, i) << (i - i0);
            mask[w] = bits;
        } else {
            bits = mask[w];
        }
        for (long i = i0; i < i1; i++) lo->xd[i] = bits >> (i - i0) & 1 ? inp[i] * s : 0.0f;
    }
    return lo->xd;
}

void tl_lora_forward(tl_lora *lo, int l, tl_lora_target t, float *out, const float *inp, int BT) {
    int k = lo->index[l * TL_LORA_N_TARGETS + t];
    if (k < 0) return;
    int r = lo->cfg.rank, I = target_in[t] * lo->model.n_embd, O = target_out[t] * lo->model.n_embd;
    const float *A = lo->params + lo->tensors[k].offset, *B = lo->params + lo->tensors[k + 1].offset;
    float *u = lo->u + ((long)l * TL_LORA_N_TARGETS + t) * lo->bt_cap * r, s = lo->cfg.alpha / (float)r;
    tl_matmul_forward(u, dropped(lo, l, t, inp, (long)BT * I, 1), A, NULL, BT, I, r);
    for (long i = 0; i < (long)BT * r; i++) u[i] *= s;
    tl_matmul_strided(out, O, u, r, 1, B, 1, r, BT, O, r, TL_MM_FULL, 0); /* out += u B^T */
}

/* With u = s * xd A^T (saved) and out += u B^T:  dB += dout^T u,  du = s * dout B,
 * dA += du^T xd,  dinp += dropout'(du A). */
void tl_lora_backward(tl_lora *lo, int l, tl_lora_target t, float *dinp, const float *dout, const float *inp, int BT) {
    int k = lo->index[l * TL_LORA_N_TARGETS + t];
    if (k < 0) return;
    int r = lo->cfg.rank, I = target_in[t] * lo->model.n_embd, O = target_out[t] * lo->model.n_embd;
    const float *A = lo->params + lo->tensors[k].offset, *B = lo->params + lo->tensors[k + 1].offset;
    float *dA = lo->grads + lo->tensors[k].offset, *dB = lo->grads + lo->tensors[k + 1].offset;
    const float *u = lo->u + ((long)l * TL_LORA_N_TARGETS + t) * lo->bt_cap * r;
    float s = lo->cfg.alpha / (float)r, *du = lo->tmp; /* [BT, r] */
    memset(du, 0, sizeof(float) * (size_t)BT * (size_t)r);
    tl_matmul_backward(du, dB, NULL, dout, u, B, BT, r, O);
    for (long i = 0; i < (long)BT * r; i++) du[i] *= s;
    int drop = lo->train && lo->cfg.dropout > 0;
    const float *xd = dropped(lo, l, t, inp, (long)BT * I, 0); /* rebuilt into lo->xd */
    if (!drop || !dinp) {
        tl_matmul_backward(dinp, dA, NULL, du, xd, A, BT, I, r);
        return;
    }
    float *dxd = lo->tmp + (long)BT * r; /* [BT, I] after du in the [BT, 4C + r] scratch */
    memset(dxd, 0, sizeof(float) * (size_t)BT * (size_t)I);
    tl_matmul_backward(dxd, dA, NULL, du, xd, A, BT, I, r);
    float sc = 1.0f / (1.0f - lo->cfg.dropout);
    const uint64_t *mask = mask_of(lo, l, t);
#pragma omp parallel for schedule(static)
    for (long i = 0; i < (long)BT * I; i++)
        if (mask[i / 64] >> (i % 64) & 1) dinp[i] += dxd[i] * sc;
}

void tl_lora_merge(const tl_lora *lo, tl_gpt2 *m) {
    int r = lo->cfg.rank, C = lo->model.n_embd;
    float s = lo->cfg.alpha / (float)r;
    for (int l = 0; l < lo->model.n_layer; l++)
        for (int t = 0; t < TL_LORA_N_TARGETS; t++) {
            int k = lo->index[l * TL_LORA_N_TARGETS + t];
            if (k < 0) continue;
            int I = target_in[t] * C, O = target_out[t] * C;
            const float *A = lo->params + lo->tensors[k].offset, *B = lo->params + lo->tensors[k + 1].offset;
            char name[48];
            snprintf(name, sizeof name, "h.%d.%s.w", l, target_name[t]);
            int w = 0;
            while (strcmp(m->tensors[w].name, name)) w++; /* present: same config */
            float *W = m->params + m->tensors[w].offset; /* [O, I] */
#pragma omp parallel for schedule(static)
            for (int o = 0; o < O; o++)
                for (int j = 0; j < r; j++) {
                    float b = s * B[(long)o * r + j];
                    for (int i = 0; i < I; i++) W[(long)o * I + i] += b * A[(long)j * I + i];
                }
        }
}
