/* Opening a GGUF model for the runtime: the checked gpt2 schema (formats/gguf_gpt2.h) turned into
 * weight views over the mapping, f32 copies of the vectors, the tokenizer and the task. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/vec.h"
#include "quant/quant.h"
#include "runtime/model.h"

/* A matrix for the kernels: F32/F16 in place, Q8_0/Q4_0 repacked at *arena (advanced; NULL when
 * the file has no quantized matrix, so it never moves then), the file's copy then let go of so
 * that the weights are in memory once (124M q8_0: peak RSS of tinyllm bench 458 -> 332 MB). */
static tl_wmat wmat(const tl_gguf_mat *g, unsigned char **arena, const tl_map *file) {
    tl_wmat w = tl_wmat_pack(g->type, (int)g->rows, (int)g->cols, g->data, *arena);
    size_t n = tl_wmat_packed_bytes(g->type, (int)g->rows, (int)g->cols);
    if (n) {
        *arena += n;
        tl_map_drop(file, g->data, tl_ggml_row_bytes(g->type, (int)g->cols) * (size_t)g->rows);
    }
    return w;
}

static size_t packed_bytes(const tl_gguf_mat *g) { return tl_wmat_packed_bytes(g->type, (int)g->rows, (int)g->cols); }

/* A vector's f32 values, decoded into *arena (advanced). Copied even when f32: a read of a few
 * bytes in the mapping can map a whole large folio of the file back in (the pages of the matrices
 * around it that wmat let go of: 124M q8_0, 64 MB of them at the first token). */
static const float *vec(const tl_gguf_mat *g, float **arena) {
    float *out = *arena;
    tl_dequant_row(g->type, g->data, g->cols, out);
    *arena += g->cols;
    return out;
}

static void free_model(tl_model *m) {
    tl_task_free(&m->task);
    tl_bpe_free(m->bpe);
    free(m->layer);
    free(m->vec);
    free(m->packed);
    tl_gguf_close(&m->gguf);
    free(m);
}

int tl_model_open(tl_model **out, const char *path, tl_err *e) {
    *out = NULL;
    tl_model *m = tl_calloc(1, sizeof *m, e);
    if (!m) return -1;
    tl_gguf_gpt2 s = {0};
    if (tl_gguf_open(&m->gguf, path, e) || tl_gguf_gpt2_read(&m->gguf, path, &s, e)) {
        free(m);
        return -1;
    }
    int rc = 0;
    m->C = s.n_embd, m->H = s.n_head, m->L = s.n_layer, m->V = s.vocab, m->n_ctx = s.n_ctx, m->ln_eps = s.ln_eps;
    size_t packed = packed_bytes(&s.wte) + packed_bytes(&s.wpe) + (s.tied ? 0 : packed_bytes(&s.head));
    for (size_t i = 0; i < (size_t)m->L * TL_G2_PER_LAYER; i++) packed += packed_bytes(&s.layer[i]);
    size_t copy_floats = s.lnf_w.cols + s.lnf_b.cols; /* the vectors */
    for (int l = 0; l < m->L; l++)
        for (int k = 0; k < TL_G2_PER_LAYER; k++) {
            const tl_gguf_mat *g = &s.layer[(size_t)l * TL_G2_PER_LAYER + k];
            if (g->rows == 1) copy_floats += g->cols;
        }
    m->layer = tl_calloc((size_t)m->L, sizeof *m->layer, e);
    m->vec = tl_calloc(copy_floats, sizeof(float), e);
    if (packed && posix_memalign(&m->packed, 64, packed)) {
        m->packed = NULL;
        rc = tl_errf(e, "%s: out of memory repacking %zu MB of quantized weights", path, packed >> 20);
    }
    if (!m->layer || !m->vec) rc = -1;
    float *arena = m->vec;
    unsigned char *pk = m->packed;
    const tl_map *f = &m->gguf.map;
    if (!rc) {
        m->wte = wmat(&s.wte, &pk, f), m->wpe = wmat(&s.wpe, &pk, f);
        m->head = s.tied ? m->wte : wmat(&s.head, &pk, f);
        m->lnf_w = vec(&s.lnf_w, &arena), m->lnf_b = vec(&s.lnf_b, &arena);
        for (int l = 0; l < m->L; l++) {
            const tl_gguf_mat *g = &s.layer[(size_t)l * TL_G2_PER_LAYER];
            m->layer[l] = (tl_rt_layer){
                vec(&g[TL_G2_LN1_W], &arena), vec(&g[TL_G2_LN1_B], &arena), vec(&g[TL_G2_QKV_B], &arena),
                vec(&g[TL_G2_PROJ_B], &arena), vec(&g[TL_G2_LN2_W], &arena), vec(&g[TL_G2_LN2_B], &arena),
                vec(&g[TL_G2_FC_B], &arena),   vec(&g[TL_G2_DOWN_B], &arena), wmat(&g[TL_G2_QKV_W], &pk, f),
                wmat(&g[TL_G2_PROJ_W], &pk, f),   wmat(&g[TL_G2_FC_W], &pk, f),    wmat(&g[TL_G2_DOWN_W], &pk, f)};
        }
    }
    tl_gguf_gpt2_free(&s);
    if (!rc) rc = tl_gguf_gpt2_tokenizer(&m->gguf, path, &m->bpe, e);
    if (!rc && tl_bpe_vocab_size(m->bpe) != m->V)
        rc = tl_errf(e, "%s: the tokenizer has %d tokens and token_embd.weight %d rows", path, tl_bpe_vocab_size(m->bpe), m->V);
    if (!rc && tl_gguf_gpt2_task(&m->gguf, path, &m->task, e) < 0) rc = -1;
    if (rc) {
        free_model(m);
        return -1;
    }
    /* the public description */
    tl_model_info *in = &m->info;
    const tl_gguf_str *name = tl_gguf_get_str(&m->gguf, "general.name");
    if (name) snprintf(m->name, sizeof m->name, "%.*s", (int)(name->n < 127 ? name->n : 127), name->p);
    size_t bytes[TL_GGML_Q8_0 + 1] = {0}, total = 0;
    long long params = 0;
    for (uint64_t i = 0; i < m->gguf.n_tensors; i++) {
        const tl_gguf_tensor *t = &m->gguf.tensors[i];
        long long ne = 1;
        for (uint32_t d = 0; d < t->n_dims; d++) ne *= (long long)t->ne[d];
        params += ne;
        total += t->nbytes;
        if (t->type <= TL_GGML_Q8_0 && t->n_dims == 2) bytes[t->type] += t->nbytes;
    }
    uint32_t main_type = 0;
    for (uint32_t t = 0; t <= TL_GGML_Q8_0; t++)
        if (bytes[t] > bytes[main_type]) main_type = t;
    *in = (tl_model_info){m->L, m->H, m->C, m->n_ctx, m->V, main_type, tl_ggml_type_name(main_type), total, params,
                          tl_bpe_eot(m->bpe), m->name, tl_bpe_name(m->bpe), m->task.name, m->task.instruction,
                          m->task.kind == TL_TASK_REGRESS, m->task.n_labels, (const char *const *)m->task.labels};
    *out = m;
    return 0;
}

int tl_model_estimate(const char *path, int n_ctx, size_t *weights, size_t *ctx, tl_err *e) {
    tl_gguf g;
    tl_gguf_gpt2 s;
    if (tl_gguf_open(&g, path, e)) return -1;
    if (tl_gguf_gpt2_read(&g, path, &s, e)) {
        tl_gguf_close(&g);
        return -1;
    }
    *weights = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) *weights += g.tensors[i].nbytes;
    *ctx = tl_rt_ctx_bytes(s.n_layer, s.n_embd, s.vocab, n_ctx > 0 && n_ctx < s.n_ctx ? n_ctx : s.n_ctx);
    tl_gguf_gpt2_free(&s);
    tl_gguf_close(&g);
    return 0;
}

void tl_model_free(tl_model *m) {
    if (m) free_model(m);
}

const tl_model_info *tl_model_get_info(const tl_model *m) { return &m->info; }

long tl_tokenize(const tl_model *m, const char *text, size_t len, int32_t *ids, long cap, tl_err *e) {
    tl_ivec v = {0};
    if (tl_bpe_encode(m->bpe, text, len, &v, e)) {
        tl_ivec_free(&v);
        return -1;
    }
    long n = (long)v.n;
    if (ids && n && cap > 0) memcpy(ids, v.v, (size_t)(n < cap ? n : cap) * sizeof *ids);
    tl_ivec_free(&v);
    return n;
}

const char *tl_token_bytes(const tl_model *m, int32_t id, size_t *len) { return tl_bpe_token(m->bpe, id, len); }

char *tl_task_prompt_for(const tl_model *m, const char *instruction, const char *input, tl_err *e) {
    if (!m->task.name) return tl_errf(e, "the model carries no task (export it with --task)"), NULL;
    if (!instruction) instruction = m->task.instruction;
    if (!instruction)
        return tl_errf(e, "task '%s' takes its instruction from a CSV column: give the instruction the model was trained with", m->task.name), NULL;
    tl_buf b = {0};
    if (tl_task_prompt(&m->task, instruction, strlen(instruction), input, strlen(input), &b, e) ||
        tl_buf_append(&b, "", 1, e)) {
        tl_buf_free(&b);
        return NULL;
    }
    return b.p;
}
