/* GPT-2 <-> HuggingFace directory: config, tokenizer files, model card and the tensor mapping
 * (table in the header). */
#include "formats/hf_gpt2.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "formats/gguf.h"
#include "formats/safetensors.h"

/* our per-layer tensor suffix -> HF's, and whether it is a Conv1D weight (stored transposed) */
static const struct {
    const char *ours, *hf;
    int conv;
} layer_map[] = {{"ln1.w", "ln_1.weight", 0},          {"ln1.b", "ln_1.bias", 0},
                 {"attn.qkv.w", "attn.c_attn.weight", 1}, {"attn.qkv.b", "attn.c_attn.bias", 0},
                 {"attn.proj.w", "attn.c_proj.weight", 1}, {"attn.proj.b", "attn.c_proj.bias", 0},
                 {"ln2.w", "ln_2.weight", 0},          {"ln2.b", "ln_2.bias", 0},
                 {"mlp.fc.w", "mlp.c_fc.weight", 1},    {"mlp.fc.b", "mlp.c_fc.bias", 0},
                 {"mlp.proj.w", "mlp.c_proj.weight", 1}, {"mlp.proj.b", "mlp.c_proj.bias", 0}};

/* The HF name (without "transformer.") of one of our tensors; *conv = 1 for Conv1D weights. */
static void hf_name(const char *ours, char *out, size_t n, int *conv) {
    *conv = 0;
    if (!strcmp(ours, "wte")) snprintf(out, n, "wte.weight");
    else if (!strcmp(ours, "wpe")) snprintf(out, n, "wpe.weight");
    else if (!strcmp(ours, "lnf.w")) snprintf(out, n, "ln_f.weight");
    else if (!strcmp(ours, "lnf.b")) snprintf(out, n, "ln_f.bias");
    else {
        int l, k = 0;
        sscanf(ours, "h.%d.%n", &l, &k); // NOLINT(cert-err34-c): our own tensor names (h.<layer>.*), never a file's
        for (size_t i = 0; i < sizeof layer_map / sizeof *layer_map; i++)
            if (k && !strcmp(ours + k, layer_map[i].ours)) {
                snprintf(out, n, "h.%d.%s", l, layer_map[i].hf);
                *conv = layer_map[i].conv;
            }
    }
}

/* ---------------------------------------------------------------- writing */

/* out = dir/name, or an error when it does not fit. */
static int join(char *out, size_t n, const char *dir, const char *name, tl_err *e) {
    int k = snprintf(out, n, "%s/%s", dir, name);
    return k < 0 || (size_t)k >= n ? tl_errf(e, "%s: path too long", dir) : 0;
}

static int dump_json(json_t *j, const char *dir, const char *name, size_t flags, tl_err *e) {
    char path[4200];
    if (join(path, sizeof path, dir, name, e)) return json_decref(j), -1;
    if (!j) return tl_errf(e, "%s: out of memory", path);
    int rc = json_dump_file(j, path, flags | JSON_REAL_PRECISION(8)) ? tl_errf(e, "%s: cannot write: %s", path, strerror(errno)) : 0;
    json_decref(j);
    return rc;
}

static int write_text(const char *dir, const char *name, const char *s, size_t n, tl_err *e) {
    char path[4200];
    if (join(path, sizeof path, dir, name, e)) return -1;
    FILE *f = fopen(path, "wb");
    if (!f) return tl_errf(e, "%s: cannot create: %s", path, strerror(errno));
    int bad = fwrite(s, 1, n, f) != n;
    bad |= fclose(f) != 0;
    return bad ? tl_errf(e, "%s: write failed (disk full?)", path) : 0;
}

/* GPT-2's pre-tokenizer pattern with digit runs cut into groups of `digits` (tokenizer/pretok.h). */
static void pretok_regex(char *out, size_t n, int digits) {
    snprintf(out, n, "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}{1,%d}| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", digits);
}

/* vocab.json, merges.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json */
static int write_tokenizer(const tl_bpe *bpe, int n_ctx, const char *dir, tl_err *e) {
    int V = tl_bpe_vocab_size(bpe), nm = tl_bpe_n_merges(bpe), eot = tl_bpe_eot(bpe), rc = 0;
    json_t *vocab = json_object(), *merges = json_array();
    tl_buf sp = {0}, mtxt = {0};
    if (!vocab || !merges) rc = tl_errf(e, "out of memory");
    for (int i = 0; i < V && !rc; i++)
        if (tl_bpe_token_spelled(bpe, i, &sp, e) < 0 || json_object_set_new(vocab, sp.p, json_integer(i)))
            rc = tl_errf(e, "%s/vocab.json: token %d cannot be stored", dir, i);
    if (!rc && json_object_size(vocab) != (size_t)V) rc = tl_errf(e, "%s/vocab.json: two tokens spell the same", dir);
    rc = rc || tl_buf_append(&mtxt, "#version: 0.2\n", 14, e);
    for (int r = 0; r < nm && !rc; r++) {
        rc = tl_bpe_merge_spelled(bpe, r, &sp, e) || json_array_append_new(merges, json_string(sp.p)) ||
             tl_buf_append(&mtxt, sp.p, sp.n - 1, e) || tl_buf_append(&mtxt, "\n", 1, e);
    }
    size_t eos_len;
    const char *eos = tl_bpe_token(bpe, eot, &eos_len);
    char eos_s[64];
    snprintf(eos_s, sizeof eos_s, "%.*s", (int)eos_len, eos);
    rc = rc || dump_json(json_incref(vocab), dir, "vocab.json", JSON_COMPACT, e) ||
         write_text(dir, "merges.txt", mtxt.p, mtxt.n, e);
    if (!rc) {
        char re[256];
        pretok_regex(re, sizeof re, tl_bpe_digits(bpe));
        json_t *byte_level = json_pack("{s:s, s:b, s:b, s:b}", "type", "ByteLevel", "add_prefix_space", 0, "trim_offsets", 1,
                                       "use_regex", tl_bpe_digits(bpe) == 0);
        json_t *pre = tl_bpe_digits(bpe) == 0
                          ? byte_level
                          : json_pack("{s:s, s:[{s:s, s:{s:s}, s:s, s:b}, o]}", "type", "Sequence", "pretokenizers", "type",
                                      "Split", "pattern", "Regex", re, "behavior", "Isolated", "invert", 0, byte_level);
        json_t *tok = json_pack(
            "{s:s, s:n, s:n, s:[{s:i, s:s, s:b, s:b, s:b, s:b, s:b}], s:n, s:o, s:{s:s, s:b, s:b, s:b}, "
            "s:{s:s, s:b, s:b, s:b}, s:{s:s, s:n, s:n, s:s, s:s, s:b, s:b, s:O, s:O}}",
            "version", "1.0", "truncation", "padding", "added_tokens", "id", eot, "content", eos_s, "single_word", 0,
            "lstrip", 0, "rstrip", 0, "normalized", 1, "special", 1, "normalizer", "pre_tokenizer", pre, "post_processor",
            "type", "ByteLevel", "add_prefix_space", 1, "trim_offsets", 0, "use_regex", 1, "decoder", "type", "ByteLevel",
            "add_prefix_space", 1, "trim_offsets", 1, "use_regex", 1, "model", "type", "BPE", "dropout", "unk_token",
            "continuing_subword_prefix", "", "end_of_word_suffix", "", "fuse_unk", 0, "byte_fallback", 0, "vocab", vocab,
            "merges", merges);
        rc = dump_json(tok, dir, "tokenizer.json", JSON_COMPACT, e) ||
             dump_json(json_pack("{s:s, s:i, s:s, s:s, s:s, s:b, s:b}", "tokenizer_class",
                                 /* GPT2Tokenizer rebuilds GPT-2's own pre-tokenizer (transformers 5): digit
                                    groups need the generic class, which takes tokenizer.json as written */
                                 tl_bpe_digits(bpe) ? "PreTrainedTokenizerFast" : "GPT2Tokenizer", "model_max_length",
                                 n_ctx, "bos_token", eos_s, "eos_token", eos_s, "unk_token", eos_s, "add_prefix_space", 0,
                                 "clean_up_tokenization_spaces", 0),
                       dir, "tokenizer_config.json", JSON_INDENT(2), e) ||
             dump_json(json_pack("{s:s, s:s, s:s}", "bos_token", eos_s, "eos_token", eos_s, "unk_token", eos_s), dir,
                       "special_tokens_map.json", JSON_INDENT(2), e);
    }
    json_decref(vocab);
    json_decref(merges);
    tl_buf_free(&sp);
    tl_buf_free(&mtxt);
    return rc ? -1 : 0;
}

static int write_config(const tl_gpt2_config *c, const tl_bpe *bpe, int f16, const char *dir, tl_err *e) {
    int eot = tl_bpe_eot(bpe);
    json_t *cfg = json_pack(
        "{s:[s], s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:n, s:s, s:f, s:f, s:f, s:f, s:f, s:b, s:b, s:i, s:i, s:b, s:s, "
        "s:s, s:i}",
        "architectures", "GPT2LMHeadModel", "model_type", "gpt2", "vocab_size", c->vocab, "n_positions", c->n_ctx, "n_ctx",
        c->n_ctx, "n_embd", c->n_embd, "n_layer", c->n_layer, "n_head", c->n_head, "n_inner", "activation_function",
        "gelu_new", "layer_norm_epsilon", 1e-5, "initializer_range", 0.02, "resid_pdrop", 0.0, "embd_pdrop", 0.0,
        "attn_pdrop", 0.0, "scale_attn_weights", 1, "use_cache", 1, "bos_token_id", eot, "eos_token_id", eot,
        "tie_word_embeddings", 1, "torch_dtype", f16 ? "float16" : "float32", "tinyllm_tokenizer", tl_bpe_name(bpe),
        "tinyllm_digits", tl_bpe_digits(bpe));
    return dump_json(cfg, dir, "config.json", JSON_INDENT(2), e) ||
           dump_json(json_pack("{s:i, s:i}", "bos_token_id", eot, "eos_token_id", eot), dir, "generation_config.json",
                     JSON_INDENT(2), e);
}

static int write_weights(const tl_gpt2 *m, int f16, const char *dir, tl_err *e) {
    int n = m->n_tensors, rc = 0;
    tl_st_tensor *ts = tl_calloc((size_t)n, sizeof *ts, e);
    void **bufs = tl_calloc((size_t)n, sizeof *bufs, e);
    char (*names)[80] = tl_calloc((size_t)n, sizeof *names, e);
    if (!ts || !bufs || !names) rc = -1;
    for (int i = 0; i < n && !rc; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        int conv, rows = t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 1;
        char hf[64];
        hf_name(t->name, hf, sizeof hf, &conv);
        if (!strcmp(t->name, "wte")) rows = m->cfg.vocab; /* padding rows dropped */
        snprintf(names[i], sizeof names[i], "transformer.%s", hf);
        size_t ne = (size_t)rows * (size_t)cols, es = f16 ? 2 : 4;
        if (!(bufs[i] = tl_calloc(ne, es, e))) {
            rc = -1;
            break;
        }
        const float *src = m->params + t->offset;
        for (size_t r = 0; r < (size_t)rows; r++)
            for (size_t k = 0; k < (size_t)cols; k++) {
                size_t at = conv ? k * (size_t)rows + r : r * (size_t)cols + k; /* Conv1D: [in, out] */
                float v = src[r * (size_t)cols + k];
                if (f16) ((uint16_t *)bufs[i])[at] = tl_f32_to_f16(v);
                else ((float *)bufs[i])[at] = v;
            }
        ts[i] = (tl_st_tensor){.name = names[i], .dtype = f16 ? TL_ST_F16 : TL_ST_F32, .data = bufs[i], .nbytes = ne * es};
        ts[i].ndim = t->ndim;
        ts[i].shape[0] = conv ? cols : rows;
        ts[i].shape[1] = conv ? rows : cols;
    }
    char path[4200];
    const char *mk[] = {"format"}, *mv[] = {"pt"};
    if (!rc) rc = join(path, sizeof path, dir, "model.safetensors", e) || tl_st_write(path, ts, n, mk, mv, 1, e);
    for (int i = 0; bufs && i < n; i++) free(bufs[i]);
    free(bufs);
    free(ts);
    free(names);
    return rc ? -1 : 0;
}

/* The metrics of a `tinyllm eval --json` summary as model-index YAML lines. */
static int card_metrics(tl_buf *b, const char *name, const char *path, tl_err *e) {
    static const char *const metrics[][3] = {{"likelihood", "accuracy", "label likelihood accuracy"},
                                             {"likelihood", "macro_f1", "label likelihood macro F1"},
                                             {"generation", "accuracy", "generation accuracy (label exactly once)"},
                                             {"regression", "mae", "mean absolute error"},
                                             {"regression", "rmse", "root mean squared error"}};
    json_error_t je;
    json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!j) return tl_errf(e, "%s: not valid JSON: %s (line %d)", path, je.text, je.line);
    const char *task = json_string_value(json_object_get(j, "task")), *data = json_string_value(json_object_get(j, "data"));
    int rc = 0, n = 0;
    if (!task || !data) rc = tl_errf(e, "%s: not a `tinyllm eval --json` summary (no \"task\" and \"data\")", path);
    else
        rc = tl_buf_appendf(b, e,
                            "model-index:\n- name: %s\n  results:\n  - task:\n      type: text-generation\n    dataset:\n"
                            "      name: %s\n      type: %s\n    metrics:\n",
                            name, task, data);
    for (size_t i = 0; i < sizeof metrics / sizeof *metrics && !rc; i++) {
        json_t *v = json_object_get(json_object_get(j, metrics[i][0]), metrics[i][1]);
        if (!json_is_number(v)) continue;
        rc = tl_buf_appendf(b, e, "    - type: %s\n      name: %s\n      value: %.6g\n", metrics[i][1], metrics[i][2],
                            json_number_value(v));
        n++;
    }
    json_decref(j);
    if (!rc && !n) rc = tl_errf(e, "%s: the summary has no likelihood, generation or regression metrics", path);
    return rc;
}

/* README.md: YAML front matter (library, tags, base model, datasets, model-index) and a body with
 * the shape, the tokenizer, the training run and how to load it. `final` is the folder's name. */
static int write_card(const tl_gpt2 *m, const tl_bpe *bpe, const tl_hf_card *card, const char *dir, const char *final,
                      tl_err *e) {
    const tl_gpt2_config *c = &m->cfg;
    const tl_hf_card none = {0};
    if (!card) card = &none;
    const char *name = card->name ? card->name : "tinyllm-gpt2";
    size_t params = tl_gpt2_num_params(c) - (size_t)(c->padded_vocab - c->vocab) * (size_t)c->n_embd;
    tl_buf b = {0};
    int rc = tl_buf_appendf(&b, e, "---\nlibrary_name: transformers\npipeline_tag: text-generation\ntags:\n- gpt2\n- tinyllm\n");
    if (!rc && card->base_model) rc = tl_buf_appendf(&b, e, "base_model: %s\n", card->base_model);
    if (!rc && card->datasets) {
        rc = tl_buf_appendf(&b, e, "datasets:\n");
        for (const char *p = card->datasets; *p && !rc; p += strcspn(p, ","), p += *p == ',') {
            int k = (int)strcspn(p, ",");
            if (k) rc = tl_buf_appendf(&b, e, "- %.*s\n", k, p);
        }
    }
    if (!rc && card->eval_json) rc = card_metrics(&b, name, card->eval_json, e);
    rc = rc || tl_buf_appendf(&b, e,
                              "---\n\n# %s\n\nA GPT-2 model trained %s with tinyllm.\n\n| | |\n|---|---|\n"
                              "| parameters | %zu (%.1fM) |\n| layers x heads x width | %d x %d x %d |\n"
                              "| context | %d tokens |\n| vocabulary | %d (tokenizer `%s`, digit groups %d) |\n",
                              name, card->base_model ? "by fine-tuning" : "from scratch", params, params / 1e6, c->n_layer,
                              c->n_head, c->n_embd, c->n_ctx, c->vocab, tl_bpe_name(bpe), tl_bpe_digits(bpe));
    if (!rc && card->steps)
        rc = tl_buf_appendf(&b, e, "| training | %ld steps x %lld tokens, sequence %d, seed %llu |\n", card->steps,
                            card->batch_tokens, card->seq_len, (unsigned long long)card->seed);
    rc = rc || tl_buf_appendf(&b, e,
                              "\n## Use\n\n```python\nfrom transformers import AutoModelForCausalLM, AutoTokenizer\n"
                              "tok = AutoTokenizer.from_pretrained(\"%s\")\n"
                              "model = AutoModelForCausalLM.from_pretrained(\"%s\")\n```\n\n"
                              "Fine-tuned tinyllm models take prompts in the instruction template\n\n"
                              "```\n### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:\n```\n\n"
                              "and the answer ends with `### End`. On an edge computer, `tinyllm export --format gguf`\n"
                              "gives the same model for llama.cpp and `tinyllm run`.\n",
                              final, final);
    rc = rc || write_text(dir, "README.md", b.p, b.n, e);
    tl_buf_free(&b);
    return rc ? -1 : 0;
}

/* Removes a directory holding only files (a previous export). */
static int remove_flat_dir(const char *dir, tl_err *e) {
    DIR *d = opendir(dir);
    if (!d) return tl_errf(e, "%s: cannot open: %s", dir, strerror(errno));
    struct dirent *de;
    char path[4200];
    int rc = 0;
    while (!rc && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) continue;
        snprintf(path, sizeof path, "%s/%s", dir, de->d_name);
        if (unlink(path)) rc = tl_errf(e, "%s: cannot remove: %s", path, strerror(errno));
    }
    closedir(d);
    if (!rc && rmdir(dir)) rc = tl_errf(e, "%s: cannot remove: %s", dir, strerror(errno));
    return rc;
}

/* 1 if dir is missing or empty, 2 if it holds an export (config.json), 0 otherwise. */
static int dir_state(const char *dir) {
    DIR *d = opendir(dir);
    if (!d) return errno == ENOENT ? 1 : 0;
    struct dirent *de;
    int entries = 0;
    while ((de = readdir(d)))
        entries += strcmp(de->d_name, ".") && strcmp(de->d_name, "..");
    closedir(d);
    char cfg[4200];
    snprintf(cfg, sizeof cfg, "%s/config.json", dir);
    return !entries ? 1 : tl_file_exists(cfg) ? 2 : 0;
}

int tl_hf_export_gpt2(const tl_gpt2 *m, const tl_bpe *bpe, const tl_hf_card *card, int f16, const char *dir, tl_err *e) {
    if (tl_bpe_vocab_size(bpe) != m->cfg.vocab)
        return tl_errf(e, "export: the tokenizer has %d tokens, the model %d", tl_bpe_vocab_size(bpe), m->cfg.vocab);
    int state = dir_state(dir);
    if (!state) return tl_errf(e, "%s: exists and is not an earlier export (no config.json): choose another folder", dir);
    char tmp[4096], old[4096];
    int kt = snprintf(tmp, sizeof tmp, "%s.tmp.%ld", dir, (long)getpid()), ko = snprintf(old, sizeof old, "%s.old.%ld", dir, (long)getpid());
    if (kt < 0 || ko < 0 || (size_t)kt >= sizeof tmp || (size_t)ko >= sizeof old) return tl_errf(e, "%s: path too long", dir);
    if (tl_mkdir_p(tmp, e)) return -1;
    int rc = write_config(&m->cfg, bpe, f16, tmp, e) || write_tokenizer(bpe, m->cfg.n_ctx, tmp, e) ||
             write_weights(m, f16, tmp, e) || write_card(m, bpe, card, tmp, dir, e);
    if (!rc && state == 1) rmdir(dir); /* empty: make room */
    if (!rc && state == 2 && rename(dir, old)) rc = tl_errf(e, "%s: cannot move the earlier export: %s", dir, strerror(errno));
    if (!rc && rename(tmp, dir)) rc = tl_errf(e, "%s: cannot rename %s into place: %s", dir, tmp, strerror(errno));
    if (!rc && state == 2) rc = remove_flat_dir(old, e);
    if (rc) remove_flat_dir(tmp, &(tl_err){0});
    return rc ? -1 : 0;
}

/* ---------------------------------------------------------------- reading */

static int cfg_int(json_t *cfg, const char *key, const char *alt, int *out) {
    json_t *v = json_object_get(cfg, key);
    if (!v && alt) v = json_object_get(cfg, alt);
    if (!json_is_integer(v) || json_integer_value(v) <= 0 || json_integer_value(v) > (1 << 24)) return -1;
    *out = (int)json_integer_value(v);
    return 0;
}

static int read_config(const char *dir, tl_gpt2_config *c, json_t **root, tl_err *e) {
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    json_error_t je;
    json_t *cfg = *root = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    if (!cfg && je.line < 1) /* not read at all: jansson's text repeats the path */
        return tl_errf(e, "%s: cannot read (not a HuggingFace GPT-2 folder?): %s", path, strerror(errno));
    if (!cfg) return tl_errf(e, "%s: %s (line %d)", path, je.text, je.line);
    if (!json_is_object(cfg)) return tl_errf(e, "%s: not a JSON object", path);
    const char *type = json_string_value(json_object_get(cfg, "model_type"));
    if (!type || strcmp(type, "gpt2")) return tl_errf(e, "%s: model_type is '%s', not 'gpt2'", path, type ? type : "(none)");
    memset(c, 0, sizeof *c);
    if (cfg_int(cfg, "n_layer", NULL, &c->n_layer) || cfg_int(cfg, "n_head", NULL, &c->n_head) ||
        cfg_int(cfg, "n_embd", NULL, &c->n_embd) || cfg_int(cfg, "n_positions", "n_ctx", &c->n_ctx) ||
        cfg_int(cfg, "vocab_size", NULL, &c->vocab))
        return tl_errf(e, "%s: n_layer, n_head, n_embd, n_positions and vocab_size must be positive integers", path);
    const char *act = json_string_value(json_object_get(cfg, "activation_function"));
    if (act && strcmp(act, "gelu_new") && strcmp(act, "gelu_pytorch_tanh"))
        return tl_errf(e, "%s: activation_function '%s': tinyllm computes GELU's tanh form (gelu_new)", path, act);
    json_t *eps = json_object_get(cfg, "layer_norm_epsilon"), *inner = json_object_get(cfg, "n_inner");
    if (eps && (!json_is_number(eps) || fabs(json_number_value(eps) - 1e-5) > 1e-12))
        return tl_errf(e, "%s: layer_norm_epsilon must be 1e-05 (tinyllm's LayerNorm)", path);
    if (inner && !json_is_null(inner) && (!json_is_integer(inner) || json_integer_value(inner) != 4 * (json_int_t)c->n_embd))
        return tl_errf(e, "%s: n_inner must be null or 4 x n_embd", path);
    if (json_is_false(json_object_get(cfg, "tie_word_embeddings")))
        return tl_errf(e, "%s: tie_word_embeddings is false: tinyllm's GPT-2 ties the output head to wte", path);
    if (json_is_true(json_object_get(cfg, "scale_attn_by_inverse_layer_idx")) ||
        json_is_false(json_object_get(cfg, "scale_attn_weights")))
        return tl_errf(e, "%s: attention scaling other than 1/sqrt(head size) is not supported", path);
    c->padded_vocab = (c->vocab + 127) / 128 * 128;
    if (tl_gpt2_config_check(c, e)) return tl_err_wrap(e, "%s", path);
    return 0;
}

static int read_tokenizer(const char *dir, json_t *cfg, const tl_bpe *bpe, tl_err *e) {
    const char *name = json_string_value(json_object_get(cfg, "tinyllm_tokenizer"));
    if (name && strcmp(name, tl_bpe_name(bpe)))
        return tl_errf(e, "%s/config.json: the model uses tokenizer '%s', not '%s' (give it with --tokenizer)", dir, name,
                       tl_bpe_name(bpe));
    char enc[4200], merges[4200], why[128];
    snprintf(enc, sizeof enc, "%s/vocab.json", dir);
    snprintf(merges, sizeof merges, "%s/merges.txt", dir);
    if (!tl_file_exists(enc) && !tl_file_exists(merges)) return 0;
    tl_bpe *theirs;
    if (tl_bpe_load_gpt2(&theirs, enc, merges, e)) return -1;
    int same = tl_bpe_same(bpe, theirs, 0, why, sizeof why); /* vocab.json carries no digit grouping */
    tl_bpe_free(theirs);
    if (!same)
        return tl_errf(e, "%s: vocab.json/merges.txt are not tokenizer '%s' (%s): give the model's with --tokenizer", dir,
                       tl_bpe_name(bpe), why);
    return 0;
}

/* Copies HF tensor `s` into ours (rows x cols, row-major), transposing Conv1D weights. */
static void copy_tensor(float *dst, const tl_st_tensor *s, size_t rows, size_t cols, int conv) {
    const unsigned char *p = s->data;
    size_t es = tl_st_dtype_size(s->dtype);
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < cols; k++) {
            const unsigned char *q = p + es * (conv ? k * rows + r : r * cols + k);
            float v;
            uint16_t h;
            if (s->dtype == TL_ST_F32) memcpy(&v, q, 4);
            else {
                memcpy(&h, q, 2);
                if (s->dtype == TL_ST_F16) v = tl_f16_to_f32(h);
                else {
                    uint32_t u = (uint32_t)h << 16;
                    memcpy(&v, &u, 4);
                }
            }
            dst[r * cols + k] = v;
        }
}

/* The tensor `name` with or without the "transformer." prefix. */
static const tl_st_tensor *find(const tl_st_file *f, const char *name) {
    char full[96];
    snprintf(full, sizeof full, "transformer.%s", name);
    const tl_st_tensor *t = tl_st_find(f, full);
    return t ? t : tl_st_find(f, name);
}

/* Tensors we read or may ignore; anything else means a model we would compute wrongly. */
static int known_tensor(const char *name) {
    if (!strncmp(name, "transformer.", 12)) name += 12;
    size_t n = strlen(name);
    if (!strcmp(name, "lm_head.weight") || !strcmp(name, "wte.weight") || !strcmp(name, "wpe.weight") ||
        !strncmp(name, "ln_f.", 5))
        return 1;
    if (strncmp(name, "h.", 2)) return 0;
    return (n > 10 && !strcmp(name + n - 10, ".attn.bias")) || (n > 17 && !strcmp(name + n - 17, ".attn.masked_bias")) ||
           strstr(name, ".ln_1.") || strstr(name, ".ln_2.") || strstr(name, ".attn.c_") || strstr(name, ".mlp.c_");
}

int tl_hf_import_gpt2(const char *dir, const tl_bpe *bpe, tl_gpt2 *m, tl_err *e) {
    memset(m, 0, sizeof *m);
    json_t *cfg = NULL;
    tl_gpt2_config c;
    tl_st_file f = {0};
    char path[4200];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    int rc = read_config(dir, &c, &cfg, e) || read_tokenizer(dir, cfg, bpe, e);
    if (!rc && c.vocab != tl_bpe_vocab_size(bpe))
        rc = tl_errf(e, "%s/config.json: vocab_size %d, but tokenizer '%s' has %d tokens", dir, c.vocab, tl_bpe_name(bpe),
                     tl_bpe_vocab_size(bpe));
    if (!rc && !tl_file_exists(path)) {
        char idx[4200];
        snprintf(idx, sizeof idx, "%s/model.safetensors.index.json", dir);
        rc = tl_errf(e, "%s: missing%s", path,
                     tl_file_exists(idx) ? " (sharded checkpoints are not supported: merge the shards first)"
                                         : " (pytorch_model.bin checkpoints must be converted to safetensors first)");
    }
    rc = rc || tl_st_open(&f, path, e);
    /* every parameter but wte's padding rows takes at least 2 bytes (F16/BF16): check that before
     * allocating what config.json says */
    size_t need = rc ? 0 : tl_gpt2_num_params(&c) - (size_t)(c.padded_vocab - c.vocab) * (size_t)c.n_embd;
    if (!rc && need > f.map.size / 2)
        rc = tl_errf(e, "%s: config.json's shape needs %zu parameters, more than the file's %zu bytes hold", path, need,
                     f.map.size);
    rc = rc || tl_gpt2_init(m, &c, e);
    for (int i = 0; !rc && i < f.n_tensors; i++)
        if (!known_tensor(f.tensors[i].name)) rc = tl_errf(e, "%s: unexpected tensor '%s' (not GPT-2)", path, f.tensors[i].name);
    for (int i = 0; !rc && i < m->n_tensors; i++) {
        const tl_tensor_info *t = &m->tensors[i];
        char hf[64];
        int conv;
        hf_name(t->name, hf, sizeof hf, &conv);
        const tl_st_tensor *s = find(&f, hf);
        int64_t rows = !strcmp(t->name, "wte") ? c.vocab : t->shape[0], cols = t->ndim == 2 ? t->shape[1] : 1;
        int64_t want0 = conv ? cols : rows, want1 = conv ? rows : cols;
        if (!s) rc = tl_errf(e, "%s: tensor '%s' is missing", path, hf);
        else if (s->dtype != TL_ST_F32 && s->dtype != TL_ST_F16 && s->dtype != TL_ST_BF16)
            rc = tl_errf(e, "%s: tensor '%s': dtype must be F32, F16 or BF16", path, s->name);
        else if (s->ndim != t->ndim || s->shape[0] != want0 || (t->ndim == 2 && s->shape[1] != want1))
            rc = tl_errf(e, "%s: tensor '%s' has the wrong shape (want [%lld%s%lld])", path, s->name, (long long)want0,
                         t->ndim == 2 ? ", " : "", t->ndim == 2 ? (long long)want1 : 0LL);
        else copy_tensor(m->params + t->offset, s, (size_t)rows, (size_t)cols, conv);
    }
    const tl_st_tensor *head = rc ? NULL : tl_st_find(&f, "lm_head.weight"), *wte = rc ? NULL : find(&f, "wte.weight");
    if (head && (head->dtype != wte->dtype || head->nbytes != wte->nbytes || memcmp(head->data, wte->data, wte->nbytes)))
        rc = tl_errf(e, "%s: lm_head.weight differs from wte.weight: untied output heads are not supported", path);
    tl_st_close(&f);
    json_decref(cfg);
    if (rc) tl_gpt2_free(m);
    return rc ? -1 : 0;
}
