/* Seed generator: writes small valid inputs for each harness with the project's own writers
 * (safetensors, GGUF, llm.c, checkpoints, shards, HF directories), into OUT/<harness>/.
 *   tl_fuzz_seeds OUT TASK_SPEC      (the fixture tokenizer is fuzz/data/tok; the task goes into GGUF) */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/file.h"
#include "common.h"
#include "data/shard.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/hf_gpt2.h"
#include "formats/llmc.h"
#include "formats/safetensors.h"
#include "model/lora.h"
#include "train/checkpoint.h"

static const char *out_root;

static void die(const tl_err *e) {
    fprintf(stderr, "tl_fuzz_seeds: %s\n", e->msg);
    exit(1);
}

/* OUT/<harness>/<name> */
static const char *seed_path(const char *harness, const char *name) {
    static char p[4096];
    snprintf(p, sizeof p, "%s/%s", out_root, harness);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "tl_fuzz_seeds: %s: %s\n", p, strerror(errno));
        exit(1);
    }
    snprintf(p, sizeof p, "%s/%s/%s", out_root, harness, name);
    return p;
}

static unsigned char *slurp(const char *path, size_t *n) {
    tl_map m;
    tl_err e;
    if (tl_map_open(&m, path, &e)) die(&e);
    unsigned char *p = malloc(m.size + 1);
    if (!p) exit(1);
    if (m.size) memcpy(p, m.data, m.size);
    *n = m.size;
    tl_map_close(&m);
    return p;
}

/* Writes the files' contents joined by TL_FUZZ_SEP as one multi-file seed. */
static void join_seed(const char *harness, const char *name, const char *const *files, int n) {
    FILE *f = fopen(seed_path(harness, name), "wb");
    if (!f) exit(1);
    for (int i = 0; i < n; i++) {
        size_t len;
        unsigned char *p = slurp(files[i], &len);
        if (i) fputs(TL_FUZZ_SEP, f);
        fwrite(p, 1, len, f);
        free(p);
    }
    if (fclose(f)) exit(1);
}

static void tiny_model(tl_gpt2 *m, int vocab, int C, uint64_t seed) {
    tl_gpt2_config c = {1, 1, C, 4, vocab, (vocab + 127) / 128 * 128};
    tl_err e;
    if (tl_gpt2_init(m, &c, &e)) die(&e);
    tl_gpt2_init_weights(m, seed);
}

static void safetensors_seeds(void) {
    float f[6] = {1, -2, 3.5f, 0, 1e-3f, 7};
    uint16_t h[4] = {0x3c00, 0xc000, 0x7bff, 0};
    int64_t i64[2] = {-1, 1LL << 40};
    unsigned char u8[3] = {1, 2, 255};
    tl_st_tensor t[4] = {{.name = "a.weight", .dtype = TL_ST_F32, .ndim = 2, .shape = {2, 3}, .data = f, .nbytes = sizeof f},
                         {.name = "b", .dtype = TL_ST_F16, .ndim = 1, .shape = {4}, .data = h, .nbytes = sizeof h},
                         {.name = "c", .dtype = TL_ST_I64, .ndim = 2, .shape = {1, 2}, .data = i64, .nbytes = sizeof i64},
                         {.name = "empty", .dtype = TL_ST_U8, .ndim = 2, .shape = {0, 3}, .data = u8, .nbytes = 0}};
    const char *keys[2] = {"format", "note"}, *vals[2] = {"pt", "seed"};
    tl_err e;
    if (tl_st_write(seed_path("safetensors", "four_tensors.safetensors"), t, 4, keys, vals, 2, &e) ||
        tl_st_write(seed_path("safetensors", "one_bf16.safetensors"),
                    &(tl_st_tensor){.name = "x", .dtype = TL_ST_BF16, .ndim = 3, .shape = {1, 2, 2}, .data = h, .nbytes = 8}, 1,
                    NULL, NULL, 0, &e) ||
        tl_st_write(seed_path("safetensors", "no_tensors.safetensors"), NULL, 0, keys, vals, 1, &e))
        die(&e);
}

static void checkpoint_seeds(void) {
    const tl_gpt2 *base = tl_fuzz_base_model();
    tl_err e;
    tl_adamw opt;
    if (tl_adamw_init(&opt, base->n_params, 0.9f, 0.95f, 1e-8f, 0.1f, &e)) die(&e);
    for (size_t i = 0; i < opt.n; i++) opt.m[i] = 1e-3f * (float)i, opt.v[i] = 1e-6f * (float)i;
    opt.t = 3;
    tl_train_state st = {.step = 1, .data = {0, 96, 0}, .rng_state = 42, .seed = 1337, .batch_size = 4, .seq_len = 4,
                         .total_batch = 16, .steps = 10, .best_val = 2.5, .tokenizer = "gpt2"};
    char model_path[4096];
    snprintf(model_path, sizeof model_path, "%s", seed_path("checkpoint", "model.safetensors"));
    if (tl_ckpt_write(model_path, base, &opt, &st, &e) ||
        tl_ckpt_write(seed_path("checkpoint", "model_only.safetensors"), base, NULL, &st, &e))
        die(&e);
    /* the run-folder form: checkpoint, separator, manifest */
    FILE *f = fopen(seed_path("checkpoint", "manifest.txt"), "w");
    if (!f) exit(1);
    fputs("step_00000001.safetensors\n", f);
    fclose(f);
    char manifest[4096];
    snprintf(manifest, sizeof manifest, "%s", seed_path("checkpoint", "manifest.txt"));
    join_seed("checkpoint", "run_folder", (const char *const[]){model_path, manifest}, 2);
    remove(manifest);
    /* a LoRA adapter for the fixture base */
    tl_gpt2 m = *base;
    tl_lora lo;
    tl_lora_config lc = {.rank = 2, .alpha = 4, .dropout = 0.1f};
    if (tl_lora_parse_targets("all", &lc.targets, &e) || tl_lora_init(&lo, &m.cfg, &lc, &e)) die(&e);
    tl_lora_init_weights(&lo, 3);
    tl_adamw lopt;
    if (tl_adamw_init(&lopt, lo.n_params, 0.9f, 0.95f, 1e-8f, 0.0f, &e)) die(&e);
    m.lora = &lo;
    if (tl_ckpt_write(seed_path("checkpoint", "adapter.safetensors"), &m, &lopt, &st, &e)) die(&e);
    tl_adamw_free(&lopt);
    tl_lora_free(&lo);
    tl_adamw_free(&opt);
}

static void shard_seeds(void) {
    int32_t ids[12] = {50256, 40, 766, 530, 3797, 11, 788, 734, 13, 50256, 0, 1};
    int32_t big[8] = {70000, 1, 65535, 65536, 2, 3, 99999, 4};
    tl_shard_writer w;
    tl_err e;
    if (tl_shard_writer_open(&w, seed_path("shard", "v1.bin"), 50257, &e) || tl_shard_writer_push(&w, ids, 12, &e) ||
        tl_shard_writer_commit(&w, &e) || tl_shard_writer_open(&w, seed_path("shard", "v2.bin"), 100000, &e) ||
        tl_shard_writer_push(&w, big, 8, &e) || tl_shard_writer_commit(&w, &e) ||
        tl_shard_writer_open(&w, seed_path("shard", "empty.bin"), 50257, &e) || tl_shard_writer_commit(&w, &e))
        die(&e);
}

static void llmc_seeds(const tl_bpe *bpe) {
    tl_gpt2 m;
    tl_err e;
    tiny_model(&m, tl_bpe_vocab_size(bpe), 4, 5);
    if (tl_llmc_write_model(&m, seed_path("llmc_model", "tiny_v3.bin"), &e) ||
        tl_llmc_write_tokenizer(bpe, seed_path("llmc_tokenizer", "fixture_v2.bin"), &e))
        die(&e);
    tl_gpt2_free(&m);
}

static void gguf_seeds(const tl_bpe *bpe, const char *task_path, int big) {
    tl_err e;
    tl_task task;
    if (tl_task_load(&task, task_path, &e)) die(&e);
    tl_gpt2 m;
    tiny_model(&m, tl_bpe_vocab_size(bpe), big ? 32 : 4, 9);
    if (tl_gguf_export_gpt2(&m, bpe, &task, "tiny", TL_GGML_F32, seed_path("gguf", big ? "gpt2_c32_f32.gguf" : "gpt2_f32.gguf"), &e) ||
        tl_gguf_export_gpt2(&m, bpe, NULL, "tiny", TL_GGML_F16, seed_path("gguf", big ? "gpt2_c32_f16.gguf" : "gpt2_f16.gguf"), &e))
        die(&e);
    if (big && (tl_gguf_export_gpt2(&m, bpe, &task, "tiny", TL_GGML_Q8_0, seed_path("gguf", "gpt2_c32_q8_0.gguf"), &e) ||
                tl_gguf_export_gpt2(&m, bpe, &task, "tiny", TL_GGML_Q4_0, seed_path("gguf", "gpt2_c32_q4_0.gguf"), &e)))
        die(&e);
    tl_gpt2_free(&m);
    tl_task_free(&task);
    if (big) return;
    /* a generic file: every scalar kind the writer has, arrays, and tensors of each type */
    tl_gguf_writer *w;
    float x[64];
    for (int i = 0; i < 64; i++) x[i] = (float)i / 8 - 4;
    const char *strs[3] = {"a", "", "c d"};
    int32_t ints[4] = {-1, 0, 1, 1 << 30};
    uint64_t ne1[1] = {64}, ne2[2] = {32, 2}, ne3[3] = {2, 2, 2};
    if (tl_gguf_writer_init(&w, &e) || tl_gguf_put_u32(w, "general.alignment", 32, &e) ||
        tl_gguf_put_str(w, "general.architecture", "test", &e) || tl_gguf_put_f32(w, "test.f", 0.5f, &e) ||
        tl_gguf_put_strs(w, "test.strs", strs, 3, &e) || tl_gguf_put_i32s(w, "test.ints", ints, 4, &e) ||
        tl_gguf_add_tensor(w, "f32", x, 1, ne1, TL_GGML_F32, &e) || tl_gguf_add_tensor(w, "f16", x, 3, ne3, TL_GGML_F16, &e) ||
        tl_gguf_add_tensor(w, "q8", x, 2, ne2, TL_GGML_Q8_0, &e) || tl_gguf_add_tensor(w, "q4", x, 2, ne2, TL_GGML_Q4_0, &e) ||
        tl_gguf_write(w, seed_path("gguf", "generic.gguf"), &e))
        die(&e);
    tl_gguf_writer_free(w);
}

static void hf_seeds(const tl_bpe *bpe) {
    tl_gpt2 m;
    tl_err e;
    tiny_model(&m, tl_bpe_vocab_size(bpe), 4, 11);
    for (int f16 = 0; f16 < 2; f16++) {
        char dir[4096];
        snprintf(dir, sizeof dir, "%s/hf_tmp_%d", out_root, f16);
        if (tl_hf_export_gpt2(&m, bpe, NULL, f16, dir, &e)) die(&e);
        char files[4][4200];
        const char *names[4] = {"config.json", "model.safetensors", "vocab.json", "merges.txt"}, *list[4];
        for (int i = 0; i < 4; i++) snprintf(files[i], sizeof files[i], "%s/%s", dir, names[i]), list[i] = files[i];
        join_seed("hf_import", f16 ? "f16_with_tokenizer" : "f32_with_tokenizer", list, 4);
        join_seed("hf_import", f16 ? "f16" : "f32", list, 2);
        /* vocab.json and merges.txt are also tokenizer-loader seeds */
        if (!f16) join_seed("bpe_load", "hf_vocab_merges", list + 2, 2);
        for (const char *const *p = (const char *const[]){"config.json", "model.safetensors", "vocab.json", "merges.txt",
                                                           "generation_config.json", "tokenizer.json", "tokenizer_config.json",
                                                           "special_tokens_map.json", "README.md", NULL};
             *p; p++) {
            char f[4200];
            snprintf(f, sizeof f, "%s/%s", dir, *p);
            remove(f);
        }
        if (rmdir(dir)) fprintf(stderr, "tl_fuzz_seeds: %s: %s\n", dir, strerror(errno));
    }
    tl_gpt2_free(&m);
}

int main(int argc, char **argv) {
    if (argc != 3) {
        fprintf(stderr, "usage: tl_fuzz_seeds OUT TASK_SPEC\n");
        return 2;
    }
    out_root = argv[1];
    tl_err e;
    if (tl_mkdir_p(out_root, &e)) die(&e);
    const tl_bpe *bpe = tl_fuzz_tiny_bpe();
    safetensors_seeds();
    checkpoint_seeds();
    shard_seeds();
    llmc_seeds(bpe);
    gguf_seeds(bpe, argv[2], 0);
    gguf_seeds(bpe, argv[2], 1);
    hf_seeds(bpe);
    const char *tok[3] = {TL_FUZZ_DATA "/tok/encoder.json", TL_FUZZ_DATA "/tok/vocab.bpe", TL_FUZZ_DATA "/tok/tokenizer.cfg"};
    join_seed("bpe_load", "fixture_folder", tok, 3);
    join_seed("bpe_load", "fixture_files", tok, 2);
    return 0;
}
