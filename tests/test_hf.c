/* HuggingFace directories and llm.c files: our HF export run by an independent PyTorch GPT-2
 * (tests/hf_ref.py, reading config.json and model.safetensors itself) gives our logits; export ->
 * import is bit-exact (f32) and f16-close; one random model written by Python as llm.c v3, v5
 * (bf16) and an HF directory imports to identical weights all three ways; llm.c's tokenizer file of
 * GPT-2 built by Python passes our check and equals ours byte for byte; and tables of bad HF
 * directories and bad llm.c files fail with a message naming the problem. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "formats/hf_gpt2.h"
#include "formats/llmc.h"
#include "formats/safetensors.h"
#include "model/gpt2.h"

static char py[4200];

static int run_py(const char *args) {
    char cmd[8400];
    snprintf(cmd, sizeof cmd, "/usr/bin/python3 %s %s", py, args);
    return system(cmd);
}

static void write_str(const char *path, const char *s) {
    FILE *f = fopen(path, "wb");
    fputs(s, f);
    fclose(f);
}

static int same_params(const tl_gpt2 *a, const tl_gpt2 *b) {
    return a->n_params == b->n_params && !memcmp(&a->cfg, &b->cfg, sizeof a->cfg) &&
           !memcmp(a->params, b->params, a->n_params * sizeof(float));
}

/* A directory holding `config` and the tensors of `from` minus `drop`, plus `extra` (a copy of wte
 * under that name, changed in one value when `perturb`). */
static void bad_dir(const char *dir, const char *config, const tl_st_file *from, const char *drop, const char *extra,
                    int perturb) {
    char path[512];
    tl_err e;
    mkdir(dir, 0755);
    snprintf(path, sizeof path, "%s/config.json", dir);
    write_str(path, config);
    tl_st_tensor ts[64];
    int n = 0;
    float *copy = NULL;
    for (int i = 0; i < from->n_tensors; i++)
        if (!drop || strcmp(from->tensors[i].name, drop)) ts[n++] = from->tensors[i];
    if (extra) {
        const tl_st_tensor *w = tl_st_find(from, "transformer.wte.weight");
        copy = malloc(w->nbytes);
        memcpy(copy, w->data, w->nbytes);
        if (perturb) copy[5] += 1;
        ts[n] = *w;
        ts[n].name = (char *)extra;
        ts[n++].data = copy;
    }
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    if (tl_st_write(path, ts, n, NULL, NULL, 0, &e)) fprintf(stderr, "bad_dir: %s\n", e.msg);
    free(copy);
}

int main(void) {
    const char *src = getenv("TL_SRC"), *data = getenv("TINYLLM_DATA"), *home = getenv("HOME");
    char gpt2dir[4200];
    snprintf(gpt2dir, sizeof gpt2dir, "%s/gpt2/vocab.bpe", data ? data : "");
    if (!data) snprintf(gpt2dir, sizeof gpt2dir, "%s/.cache/tinyllm/gpt2/vocab.bpe", home ? home : "");
    if (!src || access(gpt2dir, R_OK) || system("/usr/bin/python3 -c 'import torch, numpy' 2>/dev/null")) {
        printf("skip: needs TL_SRC, the GPT-2 tokenizer files and /usr/bin/python3 with torch (scripts/install-deps)\n");
        return 77;
    }
    snprintf(py, sizeof py, "%s/tests/hf_ref.py", src);
    tl_err e;
    tl_bpe *bpe;
    CHECK(tl_bpe_load(&bpe, "gpt2", &e) == 0, "%s", e.msg);
    CHECK(system("rm -rf t_hf && mkdir -p t_hf") == 0, "command failed: %s", "rm -rf t_hf && mkdir -p t_hf");

    /* ---- a random model, exported, run by PyTorch from the files alone */
    tl_gpt2_config c;
    tl_gpt2 m, back;
    CHECK(tl_gpt2_config_make(&c, "2x2x32", 64, 50257, &e) == 0, "%s", e.msg);
    CHECK(tl_gpt2_init(&m, &c, &e) == 0, "%s", e.msg);
    tl_gpt2_init_weights(&m, 5);
    for (size_t i = 0; i < m.n_params; i++) /* biases and norms away from 0 / 1, so a mix-up shows */
        if (m.params[i] == 0 || m.params[i] == 1) m.params[i] += 0.01f * (float)((i * 2654435761u) % 97) - 0.48f;
    for (size_t i = (size_t)c.vocab * c.n_embd; i < (size_t)c.padded_vocab * c.n_embd; i++) m.params[i] = 0;
    tl_hf_card card = {"test-model", NULL, "a,b", NULL, 10, 4096, 64, 5};
    CHECK(tl_hf_export_gpt2(&m, bpe, &card, 0, "t_hf/a", &e) == 0, "%s", e.msg);
    static const char *files[] = {"config.json", "generation_config.json", "model.safetensors", "vocab.json", "merges.txt",
                                  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "README.md"};
    for (size_t i = 0; i < sizeof files / sizeof *files; i++) {
        char p[256];
        snprintf(p, sizeof p, "t_hf/a/%s", files[i]);
        CHECK(access(p, R_OK) == 0, "export lacks %s", files[i]);
    }
    enum { T = 24 };
    int32_t tok[T];
    for (int t = 0; t < T; t++) tok[t] = (int32_t)((t * 7919u + 13) % 50257);
    tok[3] = 50256;
    FILE *f = fopen("t_hf/tokens.i32", "wb");
    fwrite(tok, sizeof tok, 1, f);
    fclose(f);
    CHECK(run_py("logits t_hf/a t_hf/tokens.i32 t_hf/logits.f32") == 0, "PyTorch reference failed");
    float *ref = calloc((size_t)T * c.vocab, sizeof(float));
    f = fopen("t_hf/logits.f32", "rb");
    CHECK(f && fread(ref, sizeof(float), (size_t)T * c.vocab, f) == (size_t)T * c.vocab, "reference logits");
    if (f) fclose(f);
    CHECK(tl_gpt2_forward(&m, tok, NULL, 1, T, &e) == 0, "%s", e.msg);
    const float *lg = tl_gpt2_logits(&m);
    double maxdiff = 0, maxref = 0;
    for (int t = 0; t < T; t++)
        for (int v = 0; v < c.vocab; v++) {
            maxdiff = fmax(maxdiff, fabs(lg[(size_t)t * c.padded_vocab + v] - ref[(size_t)t * c.vocab + v]));
            maxref = fmax(maxref, fabs(ref[(size_t)t * c.vocab + v]));
        }
    CHECK(maxref > 0.1 && maxdiff <= 1e-4 * maxref, "logits differ from PyTorch's: max |diff| %g, max |ref| %g", maxdiff, maxref);
    fprintf(stderr, "logits vs PyTorch: max |diff| %.3g, relative %.3g\n", maxdiff, maxdiff / maxref);
    free(ref);

    /* ---- round trips */
    CHECK(tl_hf_import_gpt2("t_hf/a", bpe, &back, &e) == 0, "%s", e.msg);
    CHECK(same_params(&m, &back), "f32 export -> import is not bit-exact");
    tl_gpt2_free(&back);
    CHECK(tl_hf_export_gpt2(&m, bpe, &card, 1, "t_hf/a", &e) == 0, "re-export over an export: %s", e.msg);
    CHECK(tl_hf_import_gpt2("t_hf/a", bpe, &back, &e) == 0, "%s", e.msg);
    int close = back.n_params == m.n_params;
    for (size_t i = 0; close && i < m.n_params; i++) close = fabsf(back.params[i] - m.params[i]) <= 1e-3f * fabsf(m.params[i]) + 1e-7f;
    CHECK(close, "f16 export -> import is not within f16 rounding");
    tl_gpt2_free(&back);
    mkdir("t_hf/other", 0755);
    write_str("t_hf/other/notes.txt", "mine");
    CHECK(tl_hf_export_gpt2(&m, bpe, &card, 0, "t_hf/other", &e) == -1 && strstr(e.msg, "not an earlier export"), "%s", e.msg);
    CHECK(system("ls t_hf | grep -q tmp") != 0, "a failed export left its temp folder");
    CHECK(tl_llmc_write_model(&m, "t_hf/m.bin", &e) == 0, "%s", e.msg);
    CHECK(tl_llmc_read_model("t_hf/m.bin", &back, &e) == 0, "%s", e.msg);
    CHECK(same_params(&m, &back), "llm.c write -> read is not bit-exact");
    tl_gpt2_free(&back);

    /* ---- one model, written by Python three ways */
    CHECK(run_py("llmc t_hf/py") == 0, "python llm.c writer failed");
    tl_gpt2 v3, v5, hf;
    int ok3 = tl_llmc_read_model("t_hf/py/model_v3.bin", &v3, &e) == 0;
    CHECK(ok3, "llm.c v3: %s", e.msg);
    int ok5 = tl_llmc_read_model("t_hf/py/model_v5.bin", &v5, &e) == 0;
    CHECK(ok5, "llm.c v5: %s", e.msg);
    int okh = tl_hf_import_gpt2("t_hf/py/hf", bpe, &hf, &e) == 0;
    CHECK(okh, "python HF dir: %s", e.msg);
    if (ok3 && ok5 && okh) {
        CHECK(same_params(&v3, &hf), "llm.c v3 and HF imports of the same weights differ");
        CHECK(same_params(&v3, &v5), "llm.c v3 and v5 (bf16) imports of the same weights differ");
        CHECK(v3.cfg.n_layer == 2 && v3.cfg.n_embd == 16 && v3.cfg.n_ctx == 8 && v3.cfg.vocab == 50257, "llm.c header");
    }
    if (ok3) tl_gpt2_free(&v3);
    if (ok5) tl_gpt2_free(&v5);
    if (okh) tl_gpt2_free(&hf);
    CHECK(tl_llmc_check_tokenizer("t_hf/py/tokenizer.bin", bpe, &e) == 0, "python's llm.c tokenizer: %s", e.msg);
    CHECK(tl_llmc_write_tokenizer(bpe, "t_hf/tok.bin", &e) == 0, "%s", e.msg);
    CHECK(system("cmp -s t_hf/tok.bin t_hf/py/tokenizer.bin") == 0, "our llm.c tokenizer file differs from Python's");

    /* ---- bad HF directories */
    tl_st_file good;
    CHECK(tl_hf_export_gpt2(&m, bpe, &card, 0, "t_hf/a", &e) == 0, "%s", e.msg);
    CHECK(tl_st_open(&good, "t_hf/a/model.safetensors", &e) == 0, "%s", e.msg);
    const char *cfg_ok = "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_head\":2,\"n_embd\":32,\"n_positions\":64,\"vocab_size\":50257";
    static const struct {
        const char *what, *config_tail, *drop, *extra;
        int perturb;
        const char *expect;
    } hfbad[] = {
        {"not JSON", NULL, NULL, NULL, 0, "config.json"},
        {"not gpt2", "\"model_type\":\"llama\"}", NULL, NULL, 0, "not 'gpt2'"},
        {"relu", ",\"activation_function\":\"relu\"}", NULL, NULL, 0, "activation_function"},
        {"epsilon", ",\"layer_norm_epsilon\":1e-6}", NULL, NULL, 0, "layer_norm_epsilon"},
        {"untied", ",\"tie_word_embeddings\":false}", NULL, NULL, 0, "tie_word_embeddings"},
        {"n_inner", ",\"n_inner\":100}", NULL, NULL, 0, "n_inner"},
        {"layer scaling", ",\"scale_attn_by_inverse_layer_idx\":true}", NULL, NULL, 0, "attention scaling"},
        {"heads", ",\"n_head\":3}", NULL, NULL, 0, "config.json"},
        {"vocab", ",\"vocab_size\":1000}", NULL, NULL, 0, "vocab_size 1000"},
        {"missing tensor", "}", "transformer.h.1.mlp.c_fc.bias", NULL, 0, "'h.1.mlp.c_fc.bias' is missing"},
        {"unexpected tensor", "}", NULL, "transformer.h.0.attn.q_proj.weight", 0, "unexpected tensor"},
        {"untied head", "}", NULL, "lm_head.weight", 1, "untied"},
        {"wrong shape", "}", "transformer.wpe.weight", "transformer.wpe.weight", 0, "wrong shape"},
        {"other tokenizer", ",\"tinyllm_tokenizer\":\"mytok\"}", NULL, NULL, 0, "tokenizer 'mytok'"},
    };
    char cfg[1024];
    for (size_t i = 0; i < sizeof hfbad / sizeof *hfbad; i++) {
        if (!hfbad[i].config_tail) snprintf(cfg, sizeof cfg, "{\"model_type\": ");
        else if (hfbad[i].config_tail[0] == '"') snprintf(cfg, sizeof cfg, "{%s", hfbad[i].config_tail);
        else if (!strcmp(hfbad[i].what, "heads") || !strcmp(hfbad[i].what, "vocab"))
            snprintf(cfg, sizeof cfg, "{\"model_type\":\"gpt2\",\"n_layer\":2,\"n_embd\":32,\"n_positions\":64%s%s",
                     !strcmp(hfbad[i].what, "heads") ? ",\"vocab_size\":50257" : ",\"n_head\":2", hfbad[i].config_tail);
        else snprintf(cfg, sizeof cfg, "%s%s", cfg_ok, hfbad[i].config_tail);
        CHECK(system("rm -rf t_hf/bad") == 0, "command failed: %s", "rm -rf t_hf/bad");
        bad_dir("t_hf/bad", cfg, &good, hfbad[i].drop, hfbad[i].extra, hfbad[i].perturb);
        int rc = tl_hf_import_gpt2("t_hf/bad", bpe, &back, &e);
        CHECK(rc == -1 && strstr(e.msg, hfbad[i].expect), "bad HF dir '%s': got '%s'", hfbad[i].what, rc ? e.msg : "success");
        if (!rc) tl_gpt2_free(&back);
    }
    /* a tied lm_head equal to wte, and the attention-mask buffers of older exports, are accepted */
    CHECK(system("rm -rf t_hf/bad") == 0, "command failed: %s", "rm -rf t_hf/bad");
    snprintf(cfg, sizeof cfg, "%s}", cfg_ok);
    bad_dir("t_hf/bad", cfg, &good, NULL, "lm_head.weight", 0);
    CHECK(tl_hf_import_gpt2("t_hf/bad", bpe, &back, &e) == 0 && same_params(&m, &back), "tied lm_head: %s", e.msg);
    tl_gpt2_free(&back);
    const char *shard_cmd = "rm -f t_hf/bad/model.safetensors && touch t_hf/bad/model.safetensors.index.json";
    CHECK(system(shard_cmd) == 0, "command failed: %s", shard_cmd);
    CHECK(tl_hf_import_gpt2("t_hf/bad", bpe, &back, &e) == -1 && strstr(e.msg, "sharded"), "%s", e.msg);
    tl_st_close(&good);

    /* ---- bad llm.c files: each a copy of t_hf/py/model_v3.bin or tokenizer.bin with one change */
    static const struct {
        const char *what, *from;
        long at;  /* byte offset to overwrite (-1: truncate by `value` bytes; -2: append) */
        uint32_t value;
        const char *expect;
    } lbad[] = {
        {"model magic", "model_v3.bin", 0, 1234, "bad magic"},
        {"model version", "model_v3.bin", 4, 4, "version 4"},
        {"heads", "model_v3.bin", 20, 3, "bad.bin"},
        {"padded < vocab", "model_v3.bin", 28, 50000, "bad.bin"},
        {"layers", "model_v3.bin", 16, 3, "parameter bytes"},
        {"absurd width", "model_v3.bin", 24, 0x40000000, "bad.bin"},
        {"truncated", "model_v3.bin", -1, 4, "parameter bytes"},
        {"trailing", "model_v3.bin", -2, 0, "parameter bytes"},
        {"header only", "model_v3.bin", -3, 0, "parameter bytes"},
        {"tokenizer magic", "tokenizer.bin", 0, 7, "bad magic"},
        {"tokenizer count", "tokenizer.bin", 8, 50256, "50256 tokens"},
        {"tokenizer eot", "tokenizer.bin", 12, 5, "end-of-text"},
        {"zero-length token", "tokenizer.bin", 1024, 0, "zero length"},
        {"changed token", "tokenizer.bin", 1025, 'B', "token 0 differs"},
        {"tokenizer truncated", "tokenizer.bin", -1, 3, "runs past the end"},
        {"tokenizer trailing", "tokenizer.bin", -2, 0, "after the last token"},
    };
    for (size_t i = 0; i < sizeof lbad / sizeof *lbad; i++) {
        char cmd[512];
        snprintf(cmd, sizeof cmd, "cp t_hf/py/%s t_hf/bad.bin", lbad[i].from);
        CHECK(system(cmd) == 0, "command failed: %s", cmd);
        if (lbad[i].at == -1) {
            struct stat sb;
            stat("t_hf/bad.bin", &sb);
            CHECK(truncate("t_hf/bad.bin", sb.st_size - lbad[i].value) == 0, "cannot truncate t_hf/bad.bin");
        } else if (lbad[i].at == -3) {
            CHECK(truncate("t_hf/bad.bin", 1024) == 0, "cannot truncate t_hf/bad.bin");
        } else {
            f = fopen("t_hf/bad.bin", lbad[i].at == -2 ? "ab" : "r+b");
            if (lbad[i].at >= 0) fseek(f, lbad[i].at, SEEK_SET);
            if (lbad[i].at == 1024 || lbad[i].at == 1025) fputc((int)lbad[i].value, f);
            else fwrite(&lbad[i].value, 4, 1, f);
            fclose(f);
        }
        int rc;
        if (!strcmp(lbad[i].from, "model_v3.bin")) {
            rc = tl_llmc_read_model("t_hf/bad.bin", &back, &e);
            if (!rc) tl_gpt2_free(&back);
        } else rc = tl_llmc_check_tokenizer("t_hf/bad.bin", bpe, &e);
        CHECK(rc == -1 && strstr(e.msg, lbad[i].expect) && strstr(e.msg, "bad.bin"), "bad llm.c file '%s': got '%s'",
              lbad[i].what, rc ? e.msg : "success");
    }
    tl_gpt2_free(&m);
    tl_bpe_free(bpe);
    CHECK(system("rm -rf t_hf") == 0, "command failed: %s", "rm -rf t_hf");
    CHECK_DONE();
}
