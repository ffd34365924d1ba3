/* GPT-2 <-> GGUF: tensor and key mapping for llama.cpp's gpt2 architecture (table in the header). */
#include "formats/gguf_gpt2.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"

/* our per-layer tensor suffix -> llama.cpp's */
static const char *const layer_map[][2] = {
    {"ln1.w", "attn_norm.weight"}, {"ln1.b", "attn_norm.bias"},     {"attn.qkv.w", "attn_qkv.weight"},
    {"attn.qkv.b", "attn_qkv.bias"}, {"attn.proj.w", "attn_output.weight"}, {"attn.proj.b", "attn_output.bias"},
    {"ln2.w", "ffn_norm.weight"},  {"ln2.b", "ffn_norm.bias"},      {"mlp.fc.w", "ffn_up.weight"},
    {"mlp.fc.b", "ffn_up.bias"},   {"mlp.proj.w", "ffn_down.weight"}, {"mlp.proj.b", "ffn_down.bias"}};

/* The GGUF name of one of our tensors ("wte" -> "token_embd.weight", "h.3.ln1.w" -> "blk.3.attn_norm.weight"). */
static int gguf_name(const char *ours, char *out, size_t n) {
    if (!strcmp(ours, "wte")) return snprintf(out, n, "token_embd.weight"), 0;
    if (!strcmp(ours, "wpe")) return snprintf(out, n, "position_embd.weight"), 0;
    if (!strcmp(ours, "lnf.w")) return snprintf(out, n, "output_norm.weight"), 0;
    if (!strcmp(ours, "lnf.b")) return snprintf(out, n, "output_norm.bias"), 0;
    int l, k;
    if (sscanf(ours, "h.%d.%n", &l, &k) == 1)
        for (size_t i = 0; i < sizeof layer_map / sizeof *layer_map; i++)
            if (!strcmp(ours + k, layer_map[i][0])) return snprintf(out, n, "blk.%d.%s", l, layer_map[i][1]), 0;
    return -1;
}

int tl_gguf_export_gpt2(const tl_gpt2 *m, const tl_bpe *bpe, const tl_task *task, const char *name, uint32_t type,
                        const char *path, tl_err *e) {
    const tl_gpt2_config *c = &m->cfg;
    if (tl_bpe_vocab_size(bpe) != c->vocab)
        return tl_errf(e, "export: the tokenizer has %d tokens, the model %d", tl_bpe_vocab_size(bpe), c->vocab);
    tl_gguf_writer *w;
    if (tl_gguf_writer_init(&w, e)) return -1;
    int V = c->vocab, nm = tl_bpe_n_merges(bpe), rc = 0;
    char **toks = tl_calloc((size_t)V, sizeof *toks, e), **merges = tl_calloc((size_t)nm + 1, sizeof *merges, e);
    int32_t *types = tl_calloc((size_t)V, sizeof *types, e);
    tl_buf sp = {0};
    if (!toks || !merges || !types) rc = -1;
    for (int i = 0; i < V && !rc; i++) {
        int special = tl_bpe_token_spelled(bpe, i, &sp, e);
        if (special < 0) rc = -1;
        else if (!(toks[i] = strdup(sp.p))) rc = tl_errf(e, "out of memory");
        types[i] = special ? 3 : 1; /* llama.cpp: 1 normal, 3 control */
    }
    for (int r = 0; r < nm && !rc; r++)
        if (tl_bpe_merge_spelled(bpe, r, &sp, e)) rc = -1;
        else if (!(merges[r] = strdup(sp.p))) rc = tl_errf(e, "out of memory");
    uint32_t eot = (uint32_t)tl_bpe_eot(bpe);
    rc = rc || tl_gguf_put_str(w, "general.architecture", "gpt2", e) || tl_gguf_put_str(w, "general.name", name, e) ||
         tl_gguf_put_u32(w, "general.file_type", tl_ggml_file_type(type), e) ||
         tl_gguf_put_u32(w, "general.alignment", 32, e) ||
         tl_gguf_put_u32(w, "gpt2.context_length", (uint32_t)c->n_ctx, e) ||
         tl_gguf_put_u32(w, "gpt2.embedding_length", (uint32_t)c->n_embd, e) ||
         tl_gguf_put_u32(w, "gpt2.feed_forward_length", 4 * (uint32_t)c->n_embd, e) ||
         tl_gguf_put_u32(w, "gpt2.block_count", (uint32_t)c->n_layer, e) ||
         tl_gguf_put_u32(w, "gpt2.attention.head_count", (uint32_t)c->n_head, e) ||
         tl_gguf_put_f32(w, "gpt2.attention.layer_norm_epsilon", 1e-5f, e) ||
         tl_gguf_put_str(w, "tokenizer.ggml.model", "gpt2", e) || tl_gguf_put_str(w, "tokenizer.ggml.pre", "gpt-2", e) ||
         tl_gguf_put_strs(w, "tokenizer.ggml.tokens", (const char *const *)toks, (uint64_t)V, e) ||
         tl_gguf_put_i32s(w, "tokenizer.ggml.token_type", types, (uint64_t)V, e) ||
         tl_gguf_put_strs(w, "tokenizer.ggml.merges", (const char *const *)merges, (uint64_t)nm, e) ||
         tl_gguf_put_u32(w, "tokenizer.ggml.bos_token_id", eot, e) || tl_gguf_put_u32(w, "tokenizer.ggml.eos_token_id", eot, e) ||
         tl_gguf_put_str(w, "tinyllm.tokenizer.name", tl_bpe_name(bpe), e) ||
         tl_gguf_put_u32(w, "tinyllm.tokenizer.digits", (uint32_t)tl_bpe_digits(bpe), e);
    if (!rc && task) {
        char num[64] = "keep"; /* the spec's own spelling */
        if (task->numbers == TL_NUM_ROUND) snprintf(num, sizeof num, "round:%d", task->digits);
        if (task->numbers == TL_NUM_SCALE) snprintf(num, sizeof num, "scale:%.9g", task->scale);
        rc = tl_gguf_put_str(w, "tinyllm.task.name", task->name, e) ||
             tl_gguf_put_str(w, "tinyllm.task.kind", task->kind == TL_TASK_CLASSIFY ? "classify" : "regression", e) ||
             tl_gguf_put_str(w, "tinyllm.task.numbers", num, e) ||
             tl_gguf_put_str(w, "tinyllm.prompt_template",
                             "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n{output}\n\n### End", e) ||
             (task->instruction && tl_gguf_put_str(w, "tinyllm.task.instruction", task->instruction, e)) ||
             (task->n_labels && tl_gguf_put_strs(w, "tinyllm.task.labels", (const char *const *)task->labels, (uint64_t)task->n_labels, e));
    }
    for (int i = 0; i < m->n_tensors && !rc; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        char gname[64];
        if (gguf_name(t->name, gname, sizeof gname)) {
            rc = tl_errf(e, "export: no GGUF name for tensor '%s'", t->name);
            break;
        }
        uint64_t ne[2] = {(uint64_t)(t->ndim == 2 ? t->shape[1] : t->shape[0]), (uint64_t)t->shape[0]};
        if (!strcmp(t->name, "wte")) ne[1] = (uint64_t)V; /* padding rows dropped */
        rc = tl_gguf_add_tensor(w, gname, m->params + t->offset, t->ndim, ne, t->ndim == 2 ? type : TL_GGML_F32, e);
    }
    if (!rc) rc = tl_gguf_write(w, path, e);
    for (int i = 0; toks && i < V; i++) free(toks[i]);
    for (int r = 0; merges && r < nm; r++) free(merges[r]);
    free(toks);
    free(merges);
    free(types);
    tl_buf_free(&sp);
    tl_gguf_writer_free(w);
    return rc ? -1 : 0;
}

int tl_gguf_import_gpt2(const char *path, tl_gpt2 *m, tl_err *e) {
    memset(m, 0, sizeof *m);
    tl_gguf g;
    if (tl_gguf_open(&g, path, e)) return -1;
    const tl_gguf_kv *arch = tl_gguf_find_kv(&g, "general.architecture");
    const tl_gguf_tensor *emb = tl_gguf_find_tensor(&g, "token_embd.weight");
    uint32_t ctx = 0, embd = 0, layers = 0, heads = 0, ff = 0;
    int rc = 0;
    if (!arch || arch->type != TL_GGUF_STRING || arch->strs[0].n != 4 || memcmp(arch->strs[0].p, "gpt2", 4))
        rc = tl_errf(e, "%s: general.architecture is not 'gpt2'", path);
    else if (tl_gguf_get_u32(&g, "gpt2.context_length", &ctx) || tl_gguf_get_u32(&g, "gpt2.embedding_length", &embd) ||
             tl_gguf_get_u32(&g, "gpt2.block_count", &layers) || tl_gguf_get_u32(&g, "gpt2.attention.head_count", &heads))
        rc = tl_errf(e, "%s: missing gpt2.context_length / embedding_length / block_count / attention.head_count", path);
    else if (!tl_gguf_get_u32(&g, "gpt2.feed_forward_length", &ff) && ff != 4 * embd)
        rc = tl_errf(e, "%s: feed_forward_length %u is not 4 x %u (the only GPT-2 shape tinyllm trains)", path, ff, embd);
    else if (!emb || emb->n_dims != 2 || emb->ne[0] != embd || emb->ne[1] > (1u << 24))
        rc = tl_errf(e, "%s: token_embd.weight missing or not [%u, vocab]", path, embd);
    tl_gpt2_config c = {(int)layers, (int)heads, (int)embd, (int)ctx, emb ? (int)emb->ne[1] : 0, 0};
    if (!rc) {
        c.padded_vocab = (c.vocab + 127) / 128 * 128;
        if (tl_gpt2_config_check(&c, e) || tl_gpt2_init(m, &c, e)) rc = tl_err_wrap(e, "%s", path);
    }
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        char gname[64];
        gguf_name(t->name, gname, sizeof gname);
        const tl_gguf_tensor *s = tl_gguf_find_tensor(&g, gname);
        uint64_t cols = (uint64_t)(t->ndim == 2 ? t->shape[1] : t->shape[0]);
        uint64_t rows = !strcmp(t->name, "wte") ? (uint64_t)c.vocab : (uint64_t)t->shape[0];
        if (!s) rc = tl_errf(e, "%s: tensor '%s' is missing", path, gname);
        else if (s->n_dims != (uint32_t)t->ndim || s->ne[0] != cols || (t->ndim == 2 && s->ne[1] != rows) ||
                 !tl_ggml_type_name(s->type))
            rc = tl_errf(e, "%s: tensor '%s' has the wrong shape or a type other than F32/F16/Q8_0/Q4_0", path, gname);
        else
            for (uint64_t r = 0; r < (t->ndim == 2 ? rows : 1); r++)
                tl_dequant_row(s->type, (const unsigned char *)s->data + r * tl_ggml_row_bytes(s->type, cols), cols,
                               m->params + t->offset + r * cols);
    }
    if (rc && m->params) tl_gpt2_free(m);
    tl_gguf_close(&g);
    return rc;
}
