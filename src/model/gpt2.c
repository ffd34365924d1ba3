/* GPT-2 on the CPU in fp32: parameter layout, per-op forward/backward pairs, the model's forward
 * and backward passes, and KV-cached decoding (contracts in gpt2.h).
 *
 * Shapes in comments: B batch, T time, C channels, NH heads, hs = C/NH, Vp padded vocabulary.
 * Every parallel loop gives each output element to one thread with a fixed summation order, so
 * results are bit-identical for any thread count. */
#include "model/gpt2.h"

#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/rng.h"
#include "model/lora.h"
#include "model/matmul.h"
#include "model/ops.h"


/* ---------------------------------------------------------------- configuration and layout */

int tl_gpt2_config_check(const tl_gpt2_config *c, tl_err *e) {
    if (c->n_layer < 1 || c->n_head < 1 || c->n_embd < 1 || c->n_ctx < 1 || c->vocab < 1)
        return tl_errf(e, "model config: layers, heads, embedding, context and vocabulary must be positive");
    if (c->n_layer > 1024 || c->n_embd > 65536 || c->n_ctx > 1 << 20 || c->vocab > 1 << 24)
        return tl_errf(e, "model config: implausibly large (layers %d, embd %d, ctx %d, vocab %d)", c->n_layer,
                       c->n_embd, c->n_ctx, c->vocab);
    if (c->n_embd % c->n_head) return tl_errf(e, "model config: embedding %d is not divisible by %d heads", c->n_embd, c->n_head);
    if (c->padded_vocab < c->vocab || c->padded_vocab > c->vocab + 4096)
        return tl_errf(e, "model config: padded vocabulary %d must be in [%d, %d]", c->padded_vocab, c->vocab, c->vocab + 4096);
    return 0;
}

int tl_gpt2_config_make(tl_gpt2_config *c, const char *preset, int n_ctx, int vocab, tl_err *e) {
    static const struct {
        const char *name;
        int l, h, d;
    } presets[] = {{"30M", 6, 6, 384}, {"51M", 8, 8, 512}, {"82M", 10, 10, 640}, {"101M", 11, 11, 704}, {"124M", 12, 12, 768}};
    int l = 0, h = 0, d = 0;
    for (size_t i = 0; i < sizeof presets / sizeof *presets; i++)
        if (!strcmp(preset, presets[i].name)) l = presets[i].l, h = presets[i].h, d = presets[i].d;
    if (!l) { /* LAYERSxHEADSxEMBD; strtol, not sscanf: a number beyond int is clamped (the check refuses it), not undefined */
        int *dims[3] = {&l, &h, &d};
        const char *s = preset;
        for (int i = 0; i < 3; i++) {
            char *end;
            errno = 0;
            long v = strtol(s, &end, 10);
            if (end == s || !isdigit((unsigned char)*s) || *end != (i < 2 ? 'x' : 0))
                return tl_errf(e, "unknown model '%s' (presets 30M 51M 82M 101M 124M, or LAYERSxHEADSxEMBD like 4x4x128)", preset);
            *dims[i] = errno == ERANGE || v > INT_MAX ? INT_MAX : (int)v;
            s = end + 1;
        }
    }
    *c = (tl_gpt2_config){l, h, d, n_ctx, vocab, (vocab + 127) / 128 * 128};
    return tl_gpt2_config_check(c, e) ? tl_err_wrap(e, "--model %s", preset) : 0;
}

enum { P_LN1W, P_LN1B, P_QKVW, P_QKVB, P_PROJW, P_PROJB, P_LN2W, P_LN2B, P_FCW, P_FCB, P_FCPW, P_FCPB, P_PER_LAYER };

int tl_gpt2_num_tensors(const tl_gpt2_config *c) { return 2 + P_PER_LAYER * c->n_layer + 2; }

static void add(tl_tensor_info *t, int *i, size_t *off, const char *name, int d0, int d1, int decay) {
    tl_tensor_info *x = &t[(*i)++];
    snprintf(x->name, sizeof x->name, "%s", name);
    x->offset = *off;
    x->ndim = d1 ? 2 : 1;
    x->shape[0] = d0;
    x->shape[1] = d1;
    x->numel = (size_t)d0 * (size_t)(d1 ? d1 : 1);
    x->decay = decay;
    *off += x->numel;
}

void tl_gpt2_tensors(const tl_gpt2_config *c, tl_tensor_info *t) {
    int i = 0, C = c->n_embd;
    size_t off = 0;
    char n[48];
    add(t, &i, &off, "wte", c->padded_vocab, C, 1);
    add(t, &i, &off, "wpe", c->n_ctx, C, 1);
    for (int l = 0; l < c->n_layer; l++) {
        static const struct {
            const char *name;
            int rows, cols, decay; /* in units of C; cols 0 = vector */
        } per[P_PER_LAYER] = {{"ln1.w", 1, 0, 0},       {"ln1.b", 1, 0, 0},       {"attn.qkv.w", 3, 1, 1},
                              {"attn.qkv.b", 3, 0, 0},  {"attn.proj.w", 1, 1, 1}, {"attn.proj.b", 1, 0, 0},
                              {"ln2.w", 1, 0, 0},       {"ln2.b", 1, 0, 0},       {"mlp.fc.w", 4, 1, 1},
                              {"mlp.fc.b", 4, 0, 0},    {"mlp.proj.w", 1, 4, 1},  {"mlp.proj.b", 1, 0, 0}};
        for (int p = 0; p < P_PER_LAYER; p++) {
            snprintf(n, sizeof n, "h.%d.%s", l, per[p].name);
            add(t, &i, &off, n, per[p].rows * C, per[p].cols * C, per[p].decay);
        }
    }
    add(t, &i, &off, "lnf.w", C, 0, 0);
    add(t, &i, &off, "lnf.b", C, 0, 0);
}

size_t tl_gpt2_num_params(const tl_gpt2_config *c) {
    size_t C = (size_t)c->n_embd;
    return (size_t)c->padded_vocab * C + (size_t)c->n_ctx * C + (size_t)c->n_layer * (12 * C * C + 13 * C) + 2 * C;
}

/* ---------------------------------------------------------------- the model */

/* Training activations for B x T positions; per-layer buffers are [n_layer][...]. With
 * head_counted_only the last layer's rows after its attention (atty, res2, ln2, fch, fch_gelu,
 * res3) and lnf hold the n_head counted positions only, packed at the start of their slots. */
struct tl_gpt2_acts {
    int B, T;                        /* the shape of the last forward */
    long cap_bt, cap_btt;            /* allocated for B*T positions and B*T*T attention entries */
    float *encoded;                  /* [BT, C] */
    float *ln1, *ln1_mean, *ln1_rstd; /* [L, BT, C], [L, BT], [L, BT] */
    float *qkv;                      /* [L, BT, 3C] */
    float *att;                      /* [L, B, NH, T, T] */
    float *atty;                     /* [L, BT, C] attention output before its projection */
    float *res2;                     /* [L, BT, C] residual after attention */
    float *ln2, *ln2_mean, *ln2_rstd;
    float *fch, *fch_gelu;           /* [L, BT, 4C] */
    float *res3;                     /* [L, BT, C] layer output */
    float *lnf, *lnf_mean, *lnf_rstd;
    float *logits;                   /* [BT, Vp] (dlogits after backward); [n_head, Vp] with head_counted_only */
    int32_t *head_pos, *head_tg;     /* [BT] head_counted_only: the counted positions and their targets */
    long n_head;                     /* rows the head ran on */
    float *losses, *lse;             /* [BT] */
    int32_t *inputs, *targets;       /* [BT] copies for the backward */
    /* backward scratch */
    float *dres, *dln, *datty, *dfch, *dqkv, *datt; /* [BT,C] [BT,C] [BT,C] [BT,4C] [BT,3C] [B,NH,T,T] */
    int n_counted;
};

static void acts_free(tl_gpt2_acts *a) {
    if (!a) return;
    float **f[] = {&a->encoded, &a->ln1, &a->ln1_mean, &a->ln1_rstd, &a->qkv, &a->att, &a->atty, &a->res2, &a->ln2,
                   &a->ln2_mean, &a->ln2_rstd, &a->fch, &a->fch_gelu, &a->res3, &a->lnf, &a->lnf_mean, &a->lnf_rstd,
                   &a->logits, &a->losses, &a->lse, &a->dres, &a->dln, &a->datty, &a->dfch, &a->dqkv, &a->datt};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
    free(a->head_pos);
    free(a->head_tg);
    free(a->inputs);
    free(a->targets);
    free(a);
}

/* Buffers for up to cap_bt positions (B*T) and cap_btt attention entries per head and layer (B*T*T). */
static tl_gpt2_acts *acts_alloc(const tl_gpt2_config *c, long cap_bt, long cap_btt, tl_err *e) {
    tl_gpt2_acts *a = tl_calloc(1, sizeof *a, e);
    if (!a) return NULL;
    a->cap_bt = cap_bt;
    a->cap_btt = cap_btt;
    size_t L = (size_t)c->n_layer, BT = (size_t)cap_bt, C = (size_t)c->n_embd, NH = (size_t)c->n_head;
    struct {
        float **p;
        size_t n;
    } f[] = {{&a->encoded, BT * C},  {&a->ln1, L * BT * C},      {&a->ln1_mean, L * BT},   {&a->ln1_rstd, L * BT},
             {&a->qkv, L * BT * 3 * C}, {&a->att, L * NH * (size_t)cap_btt}, {&a->atty, L * BT * C}, {&a->res2, L * BT * C},
             {&a->ln2, L * BT * C},  {&a->ln2_mean, L * BT},     {&a->ln2_rstd, L * BT},   {&a->fch, L * BT * 4 * C},
             {&a->fch_gelu, L * BT * 4 * C}, {&a->res3, L * BT * C}, {&a->lnf, BT * C},    {&a->lnf_mean, BT},
             {&a->lnf_rstd, BT},     {&a->logits, BT * (size_t)c->padded_vocab}, {&a->losses, BT}, {&a->lse, BT},
             {&a->dres, BT * C},     {&a->dln, BT * C},          {&a->datty, BT * C},      {&a->dfch, BT * 4 * C},
             {&a->dqkv, BT * 3 * C}, {&a->datt, NH * (size_t)cap_btt}};
    for (size_t i = 0; i < sizeof f / sizeof *f; i++)
        if (!(*f[i].p = tl_calloc(f[i].n, sizeof(float), e))) {
            acts_free(a);
            return NULL;
        }
    a->inputs = tl_calloc(BT, sizeof(int32_t), e);
    a->targets = tl_calloc(BT, sizeof(int32_t), e);
    a->head_pos = tl_calloc(BT, sizeof(int32_t), e);
    a->head_tg = tl_calloc(BT, sizeof(int32_t), e);
    if (!a->inputs || !a->targets || !a->head_pos || !a->head_tg) {
        acts_free(a);
        return NULL;
    }
    return a;
}

int tl_gpt2_init(tl_gpt2 *m, const tl_gpt2_config *c, tl_err *e) {
    memset(m, 0, sizeof *m);
    if (tl_gpt2_config_check(c, e)) return -1;
    m->cfg = *c;
    m->n_tensors = tl_gpt2_num_tensors(c);
    m->tensors = tl_calloc((size_t)m->n_tensors, sizeof *m->tensors, e);
    if (!m->tensors) return -1;
    tl_gpt2_tensors(c, m->tensors);
    m->n_params = tl_gpt2_num_params(c);
    m->params = tl_calloc(m->n_params, sizeof(float), e);
    if (!m->params) {
        tl_gpt2_free(m);
        return -1;
    }
    return 0;
}

void tl_gpt2_free(tl_gpt2 *m) {
    free(m->tensors);
    free(m->params);
    free(m->grads);
    acts_free(m->acts);
    memset(m, 0, sizeof *m);
}

void tl_gpt2_init_weights(tl_gpt2 *m, uint64_t seed) {
    tl_rng r;
    tl_rng_seed(&r, seed);
    float proj_std = 0.02f / sqrtf(2.0f * (float)m->cfg.n_layer);
    for (int i = 0; i < m->n_tensors; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        float *p = m->params + t->offset;
        const char *dot = strrchr(t->name, '.');
        if (t->ndim == 2) {
            size_t n = !strcmp(t->name, "wte") ? (size_t)m->cfg.vocab * t->shape[1] : t->numel; /* padded rows stay 0 */
            float sd = strstr(t->name, ".proj.w") ? proj_std : 0.02f;
            for (size_t j = 0; j < n; j++) p[j] = sd * tl_rng_normal(&r);
            for (size_t j = n; j < t->numel; j++) p[j] = 0;
        } else {
            float v = dot && !strcmp(dot, ".w") && strstr(t->name, "ln") ? 1.0f : 0.0f;
            for (size_t j = 0; j < t->numel; j++) p[j] = v;
        }
    }
}

static const float *P(const tl_gpt2 *m, int l, int which) {
    return m->params + m->tensors[2 + l * P_PER_LAYER + which].offset;
}
/* Gradient of a layer tensor; NULL when the base is frozen (LoRA), which the ops take as "skip". */
static float *G(const tl_gpt2 *m, int l, int which) {
    return m->grads ? m->grads + m->tensors[2 + l * P_PER_LAYER + which].offset : NULL;
}

int tl_gpt2_reserve(tl_gpt2 *m, int B, int T, tl_err *e) {
    long bt = (long)B * T, btt = bt * T;
    if (m->acts && m->acts->cap_bt >= bt && m->acts->cap_btt >= btt) return 0;
    long cap_bt = m->acts && m->acts->cap_bt > bt ? m->acts->cap_bt : bt;
    long cap_btt = m->acts && m->acts->cap_btt > btt ? m->acts->cap_btt : btt;
    acts_free(m->acts);
    return (m->acts = acts_alloc(&m->cfg, cap_bt, cap_btt, e)) ? 0 : -1;
}

/* dst[i] = src[pos[i]] for i < n (rows of C floats); pos ascending with pos[i] >= i, so dst may be src. */
static void gather_rows(float *dst, const float *src, const int32_t *pos, long n, int C) {
    for (long i = 0; i < n; i++)
        if (dst + i * C != src + (long)pos[i] * C) memcpy(dst + i * C, src + (long)pos[i] * C, sizeof(float) * (size_t)C);
}

/* The inverse in place: row i of buf's first n moves to row pos[i], every other of its BT rows becomes 0. */
static void scatter_rows(float *buf, const int32_t *pos, long n, long BT, int C) {
    long next = BT; /* rows from here on are placed */
    for (long i = n - 1; i >= 0; i--) {
        long p = pos[i];
        memset(buf + (p + 1) * C, 0, sizeof(float) * (size_t)((next - p - 1) * C));
        if (p != i) memcpy(buf + p * C, buf + i * C, sizeof(float) * (size_t)C);
        next = p;
    }
    memset(buf, 0, sizeof(float) * (size_t)(next * C));
}

int tl_gpt2_forward(tl_gpt2 *m, const int32_t *inputs, const int32_t *targets, int B, int T, tl_err *e) {
    return tl_gpt2_forward_from(m, 0, NULL, inputs, targets, B, T, e);
}

const float *tl_gpt2_block_input(const tl_gpt2 *m, int l) {
    long BT = (long)m->acts->B * m->acts->T;
    return l ? m->acts->res3 + (long)(l - 1) * BT * m->cfg.n_embd : m->acts->encoded;
}

int tl_gpt2_forward_from(tl_gpt2 *m, int l0, const float *x0, const int32_t *inputs, const int32_t *targets, int B, int T,
                         tl_err *e) {
    const tl_gpt2_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, V = c->vocab, Vp = c->padded_vocab, L = c->n_layer;
    long BT = (long)B * T;
    if (B < 1 || T < 1 || T > c->n_ctx) return tl_errf(e, "forward: B=%d, T=%d outside 1..context %d", B, T, c->n_ctx);
    for (long i = 0; i < BT; i++) {
        if (inputs[i] < 0 || inputs[i] >= V) return tl_errf(e, "forward: input token %d outside the vocabulary of %d", inputs[i], V);
        if (targets && (targets[i] < -1 || targets[i] >= V))
            return tl_errf(e, "forward: target %d outside the vocabulary of %d", targets[i], V);
    }
    if (tl_gpt2_reserve(m, B, T, e)) return -1; /* grows; smaller shapes reuse the buffers */
    if (m->lora && tl_lora_reserve(m->lora, BT, e)) return -1;
    tl_gpt2_acts *a = m->acts;
    a->B = B;
    a->T = T;
    memcpy(a->inputs, inputs, sizeof(int32_t) * (size_t)BT);
    if (targets) memcpy(a->targets, targets, sizeof(int32_t) * (size_t)BT);
    else for (long i = 0; i < BT; i++) a->targets[i] = -1;

    assert(l0 >= 0 && l0 < L && (l0 == 0) == (x0 == NULL));
    if (x0) memcpy((float *)tl_gpt2_block_input(m, l0), x0, sizeof(float) * (size_t)(BT * C));
    else tl_encoder_forward(a->encoded, inputs, m->params + m->tensors[0].offset, m->params + m->tensors[1].offset, B, T, C);
    /* with head_counted_only, the last block past its attention, the final LayerNorm and the head
     * run on the counted positions alone (nothing else reads them): R rows, gathered in order */
    const int32_t *htg = a->targets;
    a->n_head = BT;
    if (targets && m->head_counted_only) {
        a->n_head = 0;
        for (long i = 0; i < BT; i++)
            if (targets[i] >= 0) {
                a->head_pos[a->n_head] = (int32_t)i;
                a->head_tg[a->n_head++] = targets[i];
            }
        htg = a->head_tg;
    }
    const float *x = tl_gpt2_block_input(m, l0);
    for (int l = l0; l < L; l++) {
        long o = l * BT * C, R = l == L - 1 ? a->n_head : BT;
        float *ln1 = a->ln1 + o, *qkv = a->qkv + 3 * o, *atty = a->atty + o, *res2 = a->res2 + o, *ln2 = a->ln2 + o;
        float *fch = a->fch + 4 * o, *fchg = a->fch_gelu + 4 * o, *res3 = a->res3 + o;
        float *att = a->att + (long)l * B * NH * T * T;
        tl_layernorm_forward(ln1, a->ln1_mean + l * BT, a->ln1_rstd + l * BT, x, P(m, l, P_LN1W), P(m, l, P_LN1B), (int)BT, C);
        tl_matmul_forward(qkv, ln1, P(m, l, P_QKVW), P(m, l, P_QKVB), (int)BT, C, 3 * C);
        if (m->lora) tl_lora_forward(m->lora, l, TL_LORA_QKV, qkv, ln1, (int)BT);
        tl_attention_forward(atty, att, qkv, B, T, C, NH);
        if (R < BT) { /* atty's and x's counted rows: atty in place, x into res2 */
            gather_rows(atty, atty, a->head_pos, R, C);
            gather_rows(res2, x, a->head_pos, R, C);
            x = res2;
        }
        tl_matmul_forward(a->dres, atty, P(m, l, P_PROJW), P(m, l, P_PROJB), (int)R, C, C); /* dres: scratch */
        if (m->lora) tl_lora_forward(m->lora, l, TL_LORA_PROJ, a->dres, atty, (int)R);
        tl_residual_forward(res2, x, a->dres, R * C);
        tl_layernorm_forward(ln2, a->ln2_mean + l * BT, a->ln2_rstd + l * BT, res2, P(m, l, P_LN2W), P(m, l, P_LN2B), (int)R, C);
        tl_matmul_forward(fch, ln2, P(m, l, P_FCW), P(m, l, P_FCB), (int)R, C, 4 * C);
        if (m->lora) tl_lora_forward(m->lora, l, TL_LORA_FC, fch, ln2, (int)R);
        tl_gelu_forward(fchg, fch, R * 4 * C);
        tl_matmul_forward(a->dres, fchg, P(m, l, P_FCPW), P(m, l, P_FCPB), (int)R, 4 * C, C);
        if (m->lora) tl_lora_forward(m->lora, l, TL_LORA_FCPROJ, a->dres, fchg, (int)R);
        tl_residual_forward(res3, res2, a->dres, R * C);
        x = res3;
    }
    const tl_tensor_info *lnf = &m->tensors[m->n_tensors - 2];
    tl_layernorm_forward(a->lnf, a->lnf_mean, a->lnf_rstd, x, m->params + lnf->offset, m->params + lnf[1].offset,
                         (int)a->n_head, C);
    if (a->n_head) tl_matmul_forward(a->logits, a->lnf, m->params + m->tensors[0].offset, NULL, (int)a->n_head, C, Vp);
    m->mean_loss = 0;
    a->n_counted = 0;
    if (targets && a->n_head)
        a->n_counted = tl_crossentropy_forward(a->losses, a->lse, a->logits, htg, (int)a->n_head, V, Vp, &m->mean_loss);
    return 0;
}

const float *tl_gpt2_logits(const tl_gpt2 *m) { return m->acts ? m->acts->logits : NULL; }

void tl_gpt2_zero_grad(tl_gpt2 *m) {
    if (m->grads) memset(m->grads, 0, sizeof(float) * m->n_params);
}

int tl_gpt2_backward(tl_gpt2 *m, float scale, tl_err *e) {
    tl_gpt2_acts *a = m->acts;
    if (!a) return tl_errf(e, "backward: no forward pass to differentiate");
    if (!m->lora && !m->grads && !(m->grads = tl_calloc(m->n_params, sizeof(float), e))) return -1;
    const tl_gpt2_config *c = &m->cfg;
    int B = a->B, T = a->T, C = c->n_embd, NH = c->n_head, V = c->vocab, Vp = c->padded_vocab, L = c->n_layer;
    long BT = (long)B * T;
    if (a->n_counted == 0) return 0; /* no counted target: the loss is constant */
    const tl_tensor_info *lnf = &m->tensors[m->n_tensors - 2];
    float *dwte = m->grads ? m->grads + m->tensors[0].offset : NULL, *dlnf = m->grads ? m->grads + lnf->offset : NULL;

    long HN = a->n_head; /* BT, or with head_counted_only the counted rows */
    tl_crossentropy_backward(a->logits, a->lse, HN < BT ? a->head_tg : a->targets, (int)HN, V, Vp, scale / (float)a->n_counted);
    memset(a->dln, 0, sizeof(float) * (size_t)(HN * C));
    tl_matmul_backward(a->dln, dwte, NULL, a->logits, a->lnf, m->params + m->tensors[0].offset, (int)HN, C, Vp);
    const float *xl = a->res3 + (long)(L - 1) * BT * C;
    memset(a->dres, 0, sizeof(float) * (size_t)(HN * C));
    tl_layernorm_backward(a->dres, dlnf, dlnf ? dlnf + C : NULL, a->dln, xl, m->params + lnf->offset,
                       a->lnf_mean, a->lnf_rstd, (int)HN, C);
    /* a->dres is d(loss)/d(residual stream) flowing down through the layers; a frozen base needs
     * none below its lowest adapted block's qkv product (the embeddings do not train either) */
    int lowest = m->lora ? m->lora->first_layer : 0;
    for (int l = L - 1; l >= lowest; l--) {
        int below = m->grads || l > lowest;
        long o = l * BT * C, R = l == L - 1 ? HN : BT; /* rows past the attention (the forward's) */
        const float *x = l ? a->res3 + o - BT * C : a->encoded;
        float *ln1 = a->ln1 + o, *qkv = a->qkv + 3 * o, *atty = a->atty + o, *res2 = a->res2 + o, *ln2 = a->ln2 + o;
        float *fch = a->fch + 4 * o, *fchg = a->fch_gelu + 4 * o;
        float *att = a->att + (long)l * B * NH * T * T;
        /* res3 = res2 + proj(gelu(fc(ln2(res2)))): dres flows to res2 unchanged, plus the MLP branch */
        memset(a->dfch, 0, sizeof(float) * (size_t)(R * 4 * C));
        tl_matmul_backward(a->dfch, G(m, l, P_FCPW), G(m, l, P_FCPB), a->dres, fchg, P(m, l, P_FCPW), (int)R, 4 * C, C);
        if (m->lora) tl_lora_backward(m->lora, l, TL_LORA_FCPROJ, a->dfch, a->dres, fchg, (int)R);
        tl_gelu_backward(a->dfch, fch, a->dfch, R * 4 * C);
        memset(a->dln, 0, sizeof(float) * (size_t)(R * C));
        tl_matmul_backward(a->dln, G(m, l, P_FCW), G(m, l, P_FCB), a->dfch, ln2, P(m, l, P_FCW), (int)R, C, 4 * C);
        if (m->lora) tl_lora_backward(m->lora, l, TL_LORA_FC, a->dln, a->dfch, ln2, (int)R);
        tl_layernorm_backward(a->dres, G(m, l, P_LN2W), G(m, l, P_LN2B), a->dln, res2, P(m, l, P_LN2W),
                           a->ln2_mean + l * BT, a->ln2_rstd + l * BT, (int)R, C);
        /* res2 = x + proj(attention(qkv(ln1(x)))) */
        memset(a->datty, 0, sizeof(float) * (size_t)(R * C));
        tl_matmul_backward(a->datty, G(m, l, P_PROJW), G(m, l, P_PROJB), a->dres, atty, P(m, l, P_PROJW), (int)R, C, C);
        if (m->lora) tl_lora_backward(m->lora, l, TL_LORA_PROJ, a->datty, a->dres, atty, (int)R);
        if (R < BT) { /* back to every position: the others' gradients are 0 */
            scatter_rows(a->datty, a->head_pos, R, BT, C);
            scatter_rows(a->dres, a->head_pos, R, BT, C);
        }
        memset(a->dqkv, 0, sizeof(float) * (size_t)(BT * 3 * C));
        tl_attention_backward(a->dqkv, a->datt, a->datty, qkv, att, B, T, C, NH);
        if (!below) {
            if (m->lora) tl_lora_backward(m->lora, l, TL_LORA_QKV, NULL, a->dqkv, ln1, (int)BT);
            break;
        }
        memset(a->dln, 0, sizeof(float) * (size_t)(BT * C));
        tl_matmul_backward(a->dln, G(m, l, P_QKVW), G(m, l, P_QKVB), a->dqkv, ln1, P(m, l, P_QKVW), (int)BT, C, 3 * C);
        if (m->lora) tl_lora_backward(m->lora, l, TL_LORA_QKV, a->dln, a->dqkv, ln1, (int)BT);
        tl_layernorm_backward(a->dres, G(m, l, P_LN1W), G(m, l, P_LN1B), a->dln, x, P(m, l, P_LN1W), a->ln1_mean + l * BT,
                           a->ln1_rstd + l * BT, (int)BT, C);
    }
    if (m->grads) tl_encoder_backward(dwte, m->grads + m->tensors[1].offset, a->dres, a->inputs, B, T, C);
    return 0;
}

/* ---------------------------------------------------------------- KV-cached decoding */

int tl_gpt2_kv_init(tl_gpt2_kv *kv, const tl_gpt2_config *c, int n_ctx, tl_err *e) {
    memset(kv, 0, sizeof *kv);
    if (n_ctx < 1 || n_ctx > c->n_ctx) return tl_errf(e, "KV cache: context %d outside 1..%d", n_ctx, c->n_ctx);
    size_t C = (size_t)c->n_embd, cache = (size_t)c->n_layer * (size_t)n_ctx * C;
    kv->n_ctx = n_ctx;
    kv->k = tl_calloc(cache, sizeof(float), e);
    kv->v = tl_calloc(cache, sizeof(float), e);
    kv->x = tl_calloc(C, sizeof(float), e);
    kv->buf = tl_calloc(12 * C + (size_t)n_ctx, sizeof(float), e);
    kv->logits = tl_calloc((size_t)c->padded_vocab, sizeof(float), e);
    if (!kv->k || !kv->v || !kv->x || !kv->buf || !kv->logits) {
        tl_gpt2_kv_free(kv);
        return -1;
    }
    return 0;
}

void tl_gpt2_kv_free(tl_gpt2_kv *kv) {
    free(kv->k);
    free(kv->v);
    free(kv->x);
    free(kv->buf);
    free(kv->logits);
    memset(kv, 0, sizeof *kv);
}

const float *tl_gpt2_decode(const tl_gpt2 *m, tl_gpt2_kv *kv, int32_t token) {
    const tl_gpt2_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, hs = C / NH, pos = kv->pos;
    float *x = kv->x, *ln = kv->buf, *qkv = ln + C, *y = qkv + 3 * C, *h = y + C, *tmp = h + 4 * C, *sc = tmp + 2 * C;
    float mean, rstd, scale = 1.0f / sqrtf((float)hs);
    const float *wte = m->params + m->tensors[0].offset, *wpe = m->params + m->tensors[1].offset;
    for (int i = 0; i < C; i++) x[i] = wte[(long)token * C + i] + wpe[(long)pos * C + i];
    for (int l = 0; l < c->n_layer; l++) {
        float *kc = kv->k + (long)l * kv->n_ctx * C, *vc = kv->v + (long)l * kv->n_ctx * C;
        tl_layernorm_forward(ln, &mean, &rstd, x, P(m, l, P_LN1W), P(m, l, P_LN1B), 1, C);
        tl_matmul_forward(qkv, ln, P(m, l, P_QKVW), P(m, l, P_QKVB), 1, C, 3 * C);
        memcpy(kc + (long)pos * C, qkv + C, sizeof(float) * (size_t)C);
        memcpy(vc + (long)pos * C, qkv + 2 * C, sizeof(float) * (size_t)C);
        for (int hd = 0; hd < NH; hd++) {
            const float *q = qkv + hd * hs;
            float mx = -INFINITY, sum = 0;
            for (int u = 0; u <= pos; u++) {
                sc[u] = tl_dot(q, kc + (long)u * C + hd * hs, hs) * scale;
                mx = sc[u] > mx ? sc[u] : mx;
            }
            for (int u = 0; u <= pos; u++) sum += (sc[u] = expf(sc[u] - mx));
            float *o = y + hd * hs;
            for (int i = 0; i < hs; i++) o[i] = 0;
            for (int u = 0; u <= pos; u++) {
                tl_axpy(o, sc[u] / sum, vc + (long)u * C + hd * hs, hs);
            }
        }
        tl_matmul_forward(tmp, y, P(m, l, P_PROJW), P(m, l, P_PROJB), 1, C, C);
        for (int i = 0; i < C; i++) x[i] += tmp[i];
        tl_layernorm_forward(ln, &mean, &rstd, x, P(m, l, P_LN2W), P(m, l, P_LN2B), 1, C);
        tl_matmul_forward(h, ln, P(m, l, P_FCW), P(m, l, P_FCB), 1, C, 4 * C);
        tl_gelu_forward(h, h, 4 * C);
        tl_matmul_forward(tmp, h, P(m, l, P_FCPW), P(m, l, P_FCPB), 1, 4 * C, C);
        for (int i = 0; i < C; i++) x[i] += tmp[i];
    }
    const tl_tensor_info *lnf = &m->tensors[m->n_tensors - 2];
    tl_layernorm_forward(ln, &mean, &rstd, x, m->params + lnf->offset, m->params + lnf[1].offset, 1, C);
    tl_matmul_forward(kv->logits, ln, wte, NULL, 1, C, c->vocab);
    kv->pos++;
    return kv->logits;
}

const float *tl_gpt2_prefill(const tl_gpt2 *m, tl_gpt2_kv *kv, const int32_t *tokens, int n, tl_err *e) {
    const tl_gpt2_config *c = &m->cfg;
    int C = c->n_embd, NH = c->n_head, hs = C / NH, pos = kv->pos;
    if (n < 1 || n > kv->n_ctx - pos) {
        tl_errf(e, "prefill: %d tokens at position %d do not fit the context of %d", n, pos, kv->n_ctx);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        if (tokens[i] < 0 || tokens[i] >= c->vocab) {
            tl_errf(e, "prefill: token %d outside the vocabulary of %d", tokens[i], c->vocab);
            return NULL;
        }
    size_t nc = (size_t)n * C;
    float *x = tl_calloc(nc * 11 + (size_t)2 * n, sizeof(float), e); /* x ln qkv(3) y tmp h(4) + mean, rstd */
    if (!x) return NULL;
    float *ln = x + nc, *qkv = ln + nc, *y = qkv + 3 * nc, *tmp = y + nc, *h = tmp + nc, *mean = h + 4 * nc, *rstd = mean + n;
    const float *wte = m->params + m->tensors[0].offset, *wpe = m->params + m->tensors[1].offset;
    float scale = 1.0f / sqrtf((float)hs);
    for (int i = 0; i < n; i++)
        for (int j = 0; j < C; j++) x[(long)i * C + j] = wte[(long)tokens[i] * C + j] + wpe[(long)(pos + i) * C + j];
    for (int l = 0; l < c->n_layer; l++) {
        float *kc = kv->k + (long)l * kv->n_ctx * C, *vc = kv->v + (long)l * kv->n_ctx * C;
        tl_layernorm_forward(ln, mean, rstd, x, P(m, l, P_LN1W), P(m, l, P_LN1B), n, C);
        tl_matmul_forward(qkv, ln, P(m, l, P_QKVW), P(m, l, P_QKVB), n, C, 3 * C);
        for (int i = 0; i < n; i++) {
            memcpy(kc + (long)(pos + i) * C, qkv + (long)i * 3 * C + C, sizeof(float) * (size_t)C);
            memcpy(vc + (long)(pos + i) * C, qkv + (long)i * 3 * C + 2 * C, sizeof(float) * (size_t)C);
        }
#pragma omp parallel for collapse(2) schedule(dynamic, 8)
        for (int i = 0; i < n; i++)
            for (int hd = 0; hd < NH; hd++) { /* query i (position pos + i) over the cache up to itself */
                const float *q = qkv + (long)i * 3 * C + hd * hs;
                float *o = y + (long)i * C + hd * hs, mx = -INFINITY, sum = 0, w;
                int last = pos + i;
                for (int u = 0; u <= last; u++) {
                    w = tl_dot(q, kc + (long)u * C + hd * hs, hs) * scale;
                    mx = w > mx ? w : mx;
                }
                for (int j = 0; j < hs; j++) o[j] = 0;
                for (int u = 0; u <= last; u++) {
                    w = expf(tl_dot(q, kc + (long)u * C + hd * hs, hs) * scale - mx);
                    sum += w;
                    tl_axpy(o, w, vc + (long)u * C + hd * hs, hs);
                }
                for (int j = 0; j < hs; j++) o[j] /= sum;
            }
        tl_matmul_forward(tmp, y, P(m, l, P_PROJW), P(m, l, P_PROJB), n, C, C);
        tl_residual_forward(x, x, tmp, (long)nc);
        tl_layernorm_forward(ln, mean, rstd, x, P(m, l, P_LN2W), P(m, l, P_LN2B), n, C);
        tl_matmul_forward(h, ln, P(m, l, P_FCW), P(m, l, P_FCB), n, C, 4 * C);
        tl_gelu_forward(h, h, (long)nc * 4);
        tl_matmul_forward(tmp, h, P(m, l, P_FCPW), P(m, l, P_FCPB), n, 4 * C, C);
        tl_residual_forward(x, x, tmp, (long)nc);
    }
    const tl_tensor_info *lnf = &m->tensors[m->n_tensors - 2];
    const float *xl = x + (long)(n - 1) * C;
    tl_layernorm_forward(ln, mean, rstd, xl, m->params + lnf->offset, m->params + lnf[1].offset, 1, C);
    tl_matmul_forward(kv->logits, ln, wte, NULL, 1, C, c->vocab);
    kv->pos += n;
    free(x);
    return kv->logits;
}
