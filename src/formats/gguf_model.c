/* Our training model <-> a gpt2 GGUF file (the schema is in gguf_gpt2.h). */
#include "formats/gguf_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "formats/gguf.h"
#include "formats/gguf_gpt2.h"

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
         tl_gguf_put_u32(w, "general.alignment", 64, e) /* rows on cache lines */ ||
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
        char num[32]; /* the spec's own spelling */
        tl_task_numbers_spell(&task->numbers, num);
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
        int layer, slot;
        if (tl_gguf_gpt2_name(t->name, gname, sizeof gname, &layer, &slot)) {
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
    tl_gguf_gpt2 v;
    if (tl_gguf_open(&g, path, e)) return -1;
    int rc = tl_gguf_gpt2_read(&g, path, &v, e);
    if (!rc && !v.tied) rc = tl_errf(e, "%s: has an untied output.weight; tinyllm trains GPT-2 with the head tied to token_embd", path);
    tl_gpt2_config c = {v.n_layer, v.n_head, v.n_embd, v.n_ctx, v.vocab, (v.vocab + 127) / 128 * 128};
    if (!rc && (tl_gpt2_config_check(&c, e) || tl_gpt2_init(m, &c, e))) rc = tl_err_wrap(e, "%s", path);
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        char gname[64];
        int layer, slot;
        tl_gguf_gpt2_name(t->name, gname, sizeof gname, &layer, &slot);
        const tl_gguf_mat *s = slot >= 0                   ? &v.layer[(size_t)layer * TL_G2_PER_LAYER + slot]
                               : !strcmp(t->name, "wte")   ? &v.wte
                               : !strcmp(t->name, "wpe")   ? &v.wpe
                               : !strcmp(t->name, "lnf.w") ? &v.lnf_w
                                                           : &v.lnf_b;
        for (uint64_t r = 0; r < s->rows; r++)
            tl_dequant_row(s->type, (const unsigned char *)s->data + r * s->row_bytes, s->cols, m->params + t->offset + r * s->cols);
    }
    if (rc && m->params) tl_gpt2_free(m);
    tl_gguf_gpt2_free(&v);
    tl_gguf_close(&g);
    return rc;
}
