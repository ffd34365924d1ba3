/* llama.cpp's gpt2 GGUF schema: names, checked tensor views, the tokenizer and task keys (table in
 * the header). */
#include "formats/gguf_gpt2.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* our per-layer tensor suffix -> llama.cpp's, in TL_G2_* order */
static const char *const layer_map[TL_G2_PER_LAYER][2] = {
    {"ln1.w", "attn_norm.weight"},        {"ln1.b", "attn_norm.bias"},     {"attn.qkv.w", "attn_qkv.weight"},
    {"attn.qkv.b", "attn_qkv.bias"},      {"attn.proj.w", "attn_output.weight"}, {"attn.proj.b", "attn_output.bias"},
    {"ln2.w", "ffn_norm.weight"},         {"ln2.b", "ffn_norm.bias"},      {"mlp.fc.w", "ffn_up.weight"},
    {"mlp.fc.b", "ffn_up.bias"},          {"mlp.proj.w", "ffn_down.weight"}, {"mlp.proj.b", "ffn_down.bias"}};

int tl_gguf_gpt2_name(const char *ours, char *out, size_t n, int *layer, int *slot) {
    static const char *const global[][2] = {{"wte", "token_embd.weight"},
                                            {"wpe", "position_embd.weight"},
                                            {"lnf.w", "output_norm.weight"},
                                            {"lnf.b", "output_norm.bias"}};
    *layer = *slot = -1;
    for (size_t i = 0; i < sizeof global / sizeof *global; i++)
        if (!strcmp(ours, global[i][0])) return snprintf(out, n, "%s", global[i][1]), 0;
    int l, k;
    if (sscanf(ours, "h.%d.%n", &l, &k) == 1 && l >= 0) // NOLINT(cert-err34-c): our own tensor names (h.<layer>.*), never a file's
        for (int i = 0; i < TL_G2_PER_LAYER; i++)
            if (!strcmp(ours + k, layer_map[i][0])) {
                *layer = l;
                *slot = i;
                return snprintf(out, n, "blk.%d.%s", l, layer_map[i][1]), 0;
            }
    return -1;
}

/* Finds tensor `name` with shape [rows, cols] (rows 0: a vector) and an allowed type. */
static int view(const tl_gguf *g, const char *path, const char *name, uint64_t cols, uint64_t rows, tl_gguf_mat *out,
                tl_err *e) {
    const tl_gguf_tensor *t = tl_gguf_find_tensor(g, name);
    if (!t) return tl_errf(e, "%s: tensor '%s' is missing", path, name);
    int shape_ok = rows ? t->n_dims == 2 && t->ne[0] == cols && t->ne[1] == rows : t->n_dims == 1 && t->ne[0] == cols;
    if (!shape_ok) {
        char got[96] = "";
        for (uint32_t d = 0, k = 0; d < t->n_dims; d++)
            k += (unsigned)snprintf(got + k, sizeof got - k, "%s%llu", d ? ", " : "", (unsigned long long)t->ne[d]);
        if (rows) return tl_errf(e, "%s: tensor '%s' has ne {%s}, not {%llu, %llu}", path, name, got, (unsigned long long)cols,
                                 (unsigned long long)rows);
        return tl_errf(e, "%s: tensor '%s' has ne {%s}, not {%llu}", path, name, got, (unsigned long long)cols);
    }
    int ok = t->type == TL_GGML_F32 || t->type == TL_GGML_F16 || (rows && (t->type == TL_GGML_Q8_0 || t->type == TL_GGML_Q4_0));
    if (!ok) {
        const char *tn = tl_ggml_type_name(t->type);
        return tl_errf(e, "%s: tensor '%s' is %s%s%u, which tinyllm does not run (%s); requantize with tinyllm quantize", path, name,
                       tn ? tn : "", tn ? " = ggml type " : "ggml type ", t->type,
                       rows ? "matrices: f32, f16, q8_0, q4_0" : "vectors: f32, f16");
    }
    *out = (tl_gguf_mat){t->type, cols, rows ? rows : 1, tl_ggml_row_bytes(t->type, cols), t->data};
    return 0;
}

int tl_gguf_gpt2_read(const tl_gguf *g, const char *path, tl_gguf_gpt2 *m, tl_err *e) {
    memset(m, 0, sizeof *m);
    const tl_gguf_str *arch = tl_gguf_get_str(g, "general.architecture");
    if (!arch || arch->n != 4 || memcmp(arch->p, "gpt2", 4)) {
        char q[200];
        return tl_errf(e, "%s: general.architecture is '%s', and tinyllm runs only 'gpt2'", path,
                       arch ? tl_err_quote(arch->p, arch->n, q) : "(missing)");
    }
    static const char *const keys[] = {"gpt2.context_length", "gpt2.embedding_length", "gpt2.block_count",
                                       "gpt2.attention.head_count"};
    static const uint32_t most[] = {1u << 20, 1u << 16, 1024, 1024};
    uint32_t v[4];
    for (int i = 0; i < 4; i++) {
        if (tl_gguf_get_u32(g, keys[i], &v[i])) return tl_errf(e, "%s: key %s is missing or not an unsigned integer", path, keys[i]);
        if (v[i] == 0 || v[i] > most[i]) return tl_errf(e, "%s: %s = %u is outside 1..%u", path, keys[i], v[i], most[i]);
    }
    m->n_ctx = (int)v[0], m->n_embd = (int)v[1], m->n_layer = (int)v[2], m->n_head = (int)v[3];
    uint32_t ff;
    if (!tl_gguf_get_u32(g, "gpt2.feed_forward_length", &ff) && ff != 4 * v[1])
        return tl_errf(e, "%s: feed_forward_length %u is not 4 x %u (the only GPT-2 shape tinyllm runs)", path, ff, v[1]);
    if (m->n_embd % m->n_head || (m->n_embd / m->n_head) % 2)
        return tl_errf(e, "%s: embedding_length %d is not a multiple of 2 x head_count %d", path, m->n_embd, m->n_head);
    m->ln_eps = 1e-5f;
    if (tl_gguf_find_kv(g, "gpt2.attention.layer_norm_epsilon") &&
        (tl_gguf_get_f32(g, "gpt2.attention.layer_norm_epsilon", &m->ln_eps) || !(m->ln_eps > 0 && m->ln_eps < 1)))
        return tl_errf(e, "%s: gpt2.attention.layer_norm_epsilon must be an f32 in (0, 1)", path);
    const tl_gguf_tensor *emb = tl_gguf_find_tensor(g, "token_embd.weight");
    if (!emb || emb->n_dims != 2 || emb->ne[1] < 1 || emb->ne[1] > (1u << 24))
        return tl_errf(e, "%s: token_embd.weight is missing or not [%d, vocab up to 16M]", path, m->n_embd);
    m->vocab = (int)emb->ne[1];
    uint64_t C = (uint64_t)m->n_embd, V = (uint64_t)m->vocab;
    if (view(g, path, "token_embd.weight", C, V, &m->wte, e) || view(g, path, "position_embd.weight", C, v[0], &m->wpe, e) ||
        view(g, path, "output_norm.weight", C, 0, &m->lnf_w, e) || view(g, path, "output_norm.bias", C, 0, &m->lnf_b, e))
        return -1;
    m->tied = !tl_gguf_find_tensor(g, "output.weight");
    if (m->tied) m->head = m->wte;
    else if (view(g, path, "output.weight", C, V, &m->head, e)) return -1;
    if (!(m->layer = tl_calloc((size_t)m->n_layer * TL_G2_PER_LAYER, sizeof *m->layer, e))) return -1;
    for (int l = 0; l < m->n_layer; l++)
        for (int s = 0; s < TL_G2_PER_LAYER; s++) {
            /* [rows, cols] in units of C; rows 0: a vector */
            static const uint64_t shape[TL_G2_PER_LAYER][2] = {{0, 1}, {0, 1}, {3, 1}, {0, 3}, {1, 1}, {0, 1},
                                                               {0, 1}, {0, 1}, {4, 1}, {0, 4}, {1, 4}, {0, 1}};
            uint64_t rows = shape[s][0] * C, cols = shape[s][1] * C;
            char name[64];
            snprintf(name, sizeof name, "blk.%d.%s", l, layer_map[s][1]);
            if (view(g, path, name, cols, rows, &m->layer[(size_t)l * TL_G2_PER_LAYER + s], e)) {
                tl_gguf_gpt2_free(m);
                return -1;
            }
        }
    return 0;
}

void tl_gguf_gpt2_free(tl_gguf_gpt2 *m) {
    free(m->layer);
    m->layer = NULL;
}

int tl_gguf_gpt2_tokenizer(const tl_gguf *g, const char *path, tl_bpe **out, tl_err *e) {
    *out = NULL;
    const tl_gguf_str *model = tl_gguf_get_str(g, "tokenizer.ggml.model");
    const tl_gguf_kv *toks = tl_gguf_find_kv(g, "tokenizer.ggml.tokens"), *merges = tl_gguf_find_kv(g, "tokenizer.ggml.merges");
    if (!model || model->n != 4 || memcmp(model->p, "gpt2", 4))
        return tl_errf(e, "%s: tokenizer.ggml.model is not 'gpt2' (tinyllm reads byte-level BPE vocabularies only)", path);
    if (!toks || toks->type != TL_GGUF_ARRAY || toks->elem_type != TL_GGUF_STRING || !merges || merges->type != TL_GGUF_ARRAY ||
        merges->elem_type != TL_GGUF_STRING)
        return tl_errf(e, "%s: tokenizer.ggml.tokens and tokenizer.ggml.merges must be arrays of strings", path);
    if (toks->n < 256 || toks->n > (1u << 24)) return tl_errf(e, "%s: tokenizer.ggml.tokens has %llu entries (must be 256..16M)", path,
                                                             (unsigned long long)toks->n);
    uint64_t bytes = 0;
    for (uint64_t i = 0; i < toks->n; i++) bytes += toks->strs[i].n; /* each bounded by the file size */
    char where[4200];
    snprintf(where, sizeof where, "%s: tokenizer.ggml.tokens", path);
    if (bytes > UINT32_MAX || tl_bpe_begin(out, (int)toks->n, (size_t)bytes, e)) return tl_err_wrap(e, "%s", where);
    int rc = 0;
    for (uint64_t i = 0; i < toks->n && !rc; i++) rc = tl_bpe_add_token(*out, (long long)i, toks->strs[i].p, toks->strs[i].n, where, e);
    if (!rc) rc = tl_bpe_tokens_done(*out, where, e);
    for (uint64_t i = 0; i < merges->n && !rc; i++) {
        snprintf(where, sizeof where, "%s: tokenizer.ggml.merges[%llu]", path, (unsigned long long)i);
        rc = tl_bpe_add_merge(*out, merges->strs[i].p, merges->strs[i].n, where, e);
    }
    snprintf(where, sizeof where, "%s: tokenizer.ggml.merges", path);
    if (!rc) rc = tl_bpe_merges_done(*out, where, e);
    const tl_gguf_str *name = tl_gguf_get_str(g, "tinyllm.tokenizer.name");
    uint32_t digits = 0;
    if (!rc && tl_gguf_find_kv(g, "tinyllm.tokenizer.digits") && tl_gguf_get_u32(g, "tinyllm.tokenizer.digits", &digits))
        rc = tl_errf(e, "%s: tinyllm.tokenizer.digits is not an unsigned integer", path);
    if (!rc) {
        char nm[64] = "gpt2";
        if (name) {
            if (name->n == 0 || name->n >= sizeof nm) rc = tl_errf(e, "%s: tinyllm.tokenizer.name must be 1..63 bytes", path);
            else memcpy(nm, name->p, name->n), nm[name->n] = 0;
        }
        if (!rc && tl_bpe_set_pretok(*out, nm, (int)(digits > 64 ? 65 : digits), e)) rc = tl_err_wrap(e, "%s", path);
    }
    if (rc) {
        tl_bpe_free(*out);
        *out = NULL;
    }
    return rc;
}

/* A NUL-terminated copy of a GGUF string, refusing NUL bytes inside. */
static char *dup_str(const tl_gguf_str *s, const char *path, const char *key, tl_err *e) {
    if (memchr(s->p, 0, s->n)) return tl_errf(e, "%s: %s holds a NUL byte", path, key), NULL;
    char *p = tl_calloc(s->n + 1, 1, e);
    if (p) memcpy(p, s->p, s->n);
    return p;
}

int tl_gguf_gpt2_task(const tl_gguf *g, const char *path, tl_task *t, tl_err *e) {
    memset(t, 0, sizeof *t);
    const tl_gguf_str *name = tl_gguf_get_str(g, "tinyllm.task.name"), *kind = tl_gguf_get_str(g, "tinyllm.task.kind");
    const tl_gguf_str *instr = tl_gguf_get_str(g, "tinyllm.task.instruction"), *num = tl_gguf_get_str(g, "tinyllm.task.numbers");
    const tl_gguf_kv *labels = tl_gguf_find_kv(g, "tinyllm.task.labels");
    if (!name) return tl_gguf_find_kv(g, "tinyllm.task.name") ? tl_errf(e, "%s: tinyllm.task.name is not a string", path) : 0;
    int regress = kind && kind->n == 10 && !memcmp(kind->p, "regression", 10);
    if (!kind || (!regress && (kind->n != 8 || memcmp(kind->p, "classify", 8))))
        return tl_errf(e, "%s: tinyllm.task.kind must be 'classify' or 'regression'", path);
    t->kind = regress ? TL_TASK_REGRESS : TL_TASK_CLASSIFY;
    int rc = !(t->name = dup_str(name, path, "tinyllm.task.name", e)) ||
             (instr && !(t->instruction = dup_str(instr, path, "tinyllm.task.instruction", e)));
    if (!rc && num) {
        char *v = dup_str(num, path, "tinyllm.task.numbers", e);
        rc = !v || tl_task_parse_numbers(&t->numbers, v, path, e);
        free(v);
    }
    if (!rc && labels) {
        if (labels->type != TL_GGUF_ARRAY || labels->elem_type != TL_GGUF_STRING || labels->n > 4096)
            rc = tl_errf(e, "%s: tinyllm.task.labels must be an array of up to 4096 strings", path);
        else if (!(t->labels = tl_calloc(labels->n ? labels->n : 1, sizeof *t->labels, e))) rc = 1;
        for (uint64_t i = 0; !rc && i < labels->n; i++) {
            const tl_gguf_str *s = &labels->strs[i];
            if (!s->n || tl_task_label(t, s->p, s->n) >= 0) rc = tl_errf(e, "%s: tinyllm.task.labels[%llu] is empty or repeated", path, (unsigned long long)i);
            else if (!(t->labels[i] = dup_str(s, path, "tinyllm.task.labels", e))) rc = 1;
            else t->n_labels++;
        }
    }
    if (!rc && (t->kind == TL_TASK_CLASSIFY) != (t->n_labels >= 2))
        rc = tl_errf(e, "%s: a classify task needs at least 2 tinyllm.task.labels, a regression task none", path);
    if (rc) {
        tl_task_free(t);
        return -1;
    }
    return 1;
}
