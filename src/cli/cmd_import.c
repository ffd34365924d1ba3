/* `tinyllm import`: a GGUF file, a HuggingFace GPT-2 directory or an llm.c model file as a
 * tinyllm checkpoint (to fine-tune, evaluate, run or export again). */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/hf_gpt2.h"
#include "formats/llmc.h"
#include "train/checkpoint.h"

/* The format of `path`: a directory is hf, llm.c's magic is llmc, anything else goes to the GGUF
 * reader (whose errors say what is wrong with a file that is not GGUF). */
static const char *sniff(const char *path, tl_err *e) {
    struct stat sb;
    if (stat(path, &sb)) return tl_errf(e, "%s: cannot open", path), NULL;
    if (S_ISDIR(sb.st_mode)) return "hf";
    unsigned char b[4] = {0};
    FILE *f = fopen(path, "rb");
    size_t n = f ? fread(b, 1, 4, f) : 0;
    if (f) fclose(f);
    if (n == 4 && (b[0] | b[1] << 8 | b[2] << 16 | (uint32_t)b[3] << 24) == TL_LLMC_MODEL_MAGIC) return "llmc";
    return "gguf";
}

int tl_cmd_import(int argc, char **argv) {
    const char *out = NULL, *tokenizer = "gpt2", *llmc_tok = NULL;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "checkpoint file to write (.safetensors)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "hf, llmc: gpt2, or the trained tokenizer folder the model uses"},
        {"llmc-tokenizer", 0, TL_OPT_STR, &llmc_tok, "llmc: the model's llm.c tokenizer file, checked against --tokenizer"},
    };
    tl_cmd cmd = {"import", "tinyllm import MODEL -o CKPT.safetensors [options]",
                  "MODEL is a GGUF file of architecture gpt2 (F32/F16/Q8_0/Q4_0 weights, decoded to f32; the tokenizer name comes from\n"
                  "tinyllm.tokenizer.name, gpt2 when absent), a HuggingFace GPT-2 directory (config.json +\n"
                  "model.safetensors; its vocab.json/merges.txt must be --tokenizer's), or an llm.c model file\n"
                  "(version 3 fp32 or 5 bf16). Writes a model-only checkpoint that finetune, eval, run and export\n"
                  "take.\n\n"
                  "example: tinyllm import gesture.gguf -o gesture.safetensors\n"
                  "         tinyllm import ~/Downloads/gpt2 -o gpt2-124M.safetensors\n"
                  "         tinyllm import gpt2_124M.bin --llmc-tokenizer gpt2_tokenizer.bin -o gpt2-124M.safetensors",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 1, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos != 1 || !out) return tl_errf(&e, "import: give MODEL and -o CKPT.safetensors"), tl_cli_fail(&e);
    const char *format = sniff(pos[0], &e);
    if (!format) return tl_cli_fail(&e);
    tl_gpt2 m = {0};
    tl_bpe *bpe = NULL;
    tl_train_state st = {.tokenizer = "gpt2"};
    int rc = -1;
    if (!strcmp(format, "gguf")) {
        if (tl_gguf_import_gpt2(pos[0], &m, &e)) goto done;
        tl_gguf g;
        if (!tl_gguf_open(&g, pos[0], &e)) {
            const tl_gguf_kv *k = tl_gguf_find_kv(&g, "tinyllm.tokenizer.name");
            if (k && k->type == TL_GGUF_STRING && k->strs[0].n < sizeof st.tokenizer)
                snprintf(st.tokenizer, sizeof st.tokenizer, "%.*s", (int)k->strs[0].n, k->strs[0].p);
            tl_gguf_close(&g);
        }
    } else {
        if (tl_bpe_load(&bpe, tokenizer, &e)) goto done;
        snprintf(st.tokenizer, sizeof st.tokenizer, "%s", tl_bpe_name(bpe));
        if (!strcmp(format, "hf") ? tl_hf_import_gpt2(pos[0], bpe, &m, &e) : tl_llmc_read_model(pos[0], &m, &e)) goto done;
        if (llmc_tok && tl_llmc_check_tokenizer(llmc_tok, bpe, &e)) goto done;
        if (m.cfg.vocab != tl_bpe_vocab_size(bpe)) {
            tl_errf(&e, "%s: vocabulary of %d tokens, but tokenizer '%s' has %d (give the model's with --tokenizer)", pos[0],
                    m.cfg.vocab, tl_bpe_name(bpe), tl_bpe_vocab_size(bpe));
            goto done;
        }
    }
    if (tl_ckpt_write(out, &m, NULL, &st, &e)) goto done;
    printf("imported %s (%s) -> %s: gpt2 %dx%dx%d, vocab %d, tokenizer %s\n", pos[0], format, out, m.cfg.n_layer,
           m.cfg.n_head, m.cfg.n_embd, m.cfg.vocab, st.tokenizer);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_gpt2_free(&m);
    tl_bpe_free(bpe);
    return rc ? 1 : 0;
}
