/* `tinyllm export`: a checkpoint (+ adapter) as a GGUF file (llama.cpp, the edge runtime), a
 * HuggingFace directory (transformers) or an llm.c model file. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "formats/gguf.h"
#include "formats/gguf_model.h"
#include "formats/hf_gpt2.h"
#include "formats/llmc.h"
#include "model/lora.h"
#include "train/checkpoint.h"

int tl_cmd_export(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *format = "gguf", *out = NULL, *type = NULL, *task_path = NULL,
               *tokenizer = "gpt2", *name = "tinyllm-gpt2", *base = NULL, *datasets = NULL, *eval_json = NULL;
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "checkpoint file or run directory"},
        {"adapter", 0, TL_OPT_STR, &adapter, "LoRA adapter folded into the weights first"},
        {"format", 'f', TL_OPT_STR, &format, "gguf, hf (a transformers directory) or llmc (llm.c model + tokenizer files)"},
        {"out", 'o', TL_OPT_STR, &out, "output file (gguf, llmc) or directory (hf)"},
        {"type", 0, TL_OPT_STR, &type, "gguf: f32, f16 (default), q8_0 or q4_0 for the 2-D tensors (norms, biases stay f32); hf: f32 (default) or f16; llmc: f32"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec stored under tinyllm.task.* (labels, instruction, template)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the model uses"},
        {"name", 0, TL_OPT_STR, &name, "the model's name (GGUF general.name, the HF model card's title)"},
        {"base-model", 0, TL_OPT_STR, &base, "hf model card: the model this one was fine-tuned from"},
        {"datasets", 0, TL_OPT_STR, &datasets, "hf model card: training datasets, comma-separated"},
        {"eval", 0, TL_OPT_STR, &eval_json, "hf model card: a `tinyllm eval --json` summary for its metrics"},
    };
    tl_cmd cmd = {"export", "tinyllm export -m CKPT -o OUT [--format gguf|hf|llmc] [options]",
                  "gguf: a GGUF v3 file, architecture gpt2, with the tokenizer inside (tokens, merges, token types,\n"
                  "bos/eos) and the task metadata under tinyllm.*, for llama.cpp and `tinyllm run`.\n"
                  "hf: a directory transformers loads (config.json, model.safetensors, vocab.json, merges.txt,\n"
                  "tokenizer.json, a model card README.md).\n"
                  "llmc: llm.c's model file (version 3, fp32) and, beside it, OUT's stem + _tokenizer.bin.\n"
                  "`tinyllm import` reads all three back.\n\n"
                  "example: tinyllm export -m runs/gesture/merged.safetensors --task tasks/gesture.task -o gesture.gguf\n"
                  "         tinyllm export -m runs/30M -f hf -o gpt2-30M-hf --datasets corpus,gesture --eval summary.json",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!model || !out) return tl_errf(&e, "export: -m and -o are required"), tl_cli_fail(&e);
    if (strcmp(format, "gguf") && strcmp(format, "hf") && strcmp(format, "llmc"))
        return tl_errf(&e, "export: --format must be gguf, hf or llmc, not '%s'", format), tl_cli_fail(&e);
    if (!type) type = strcmp(format, "gguf") ? "f32" : "f16";
    int ty = tl_ggml_type_parse(type);
    if (ty < 0 || (strcmp(format, "gguf") && ty != TL_GGML_F32 && ty != TL_GGML_F16))
        return tl_errf(&e, "--type must be f32, f16%s, not '%s'", strcmp(format, "gguf") ? "" : ", q8_0 or q4_0", type), tl_cli_fail(&e);
    if (!strcmp(format, "llmc") && strcmp(type, "f32")) return tl_errf(&e, "--format llmc writes f32 (llm.c's version 3)"), tl_cli_fail(&e);
    uint32_t t = (uint32_t)ty;
    tl_opts_print(&cmd, stderr);
    tl_gpt2 m = {0};
    tl_bpe *bpe = NULL;
    tl_task task;
    tl_train_state st;
    int rc = 1, have_task = 0;
    if (task_path) {
        if (tl_task_load(&task, task_path, &e)) goto done;
        have_task = 1;
    }
    if (tl_bpe_load(&bpe, tokenizer, &e) || tl_ckpt_load(model, &m, NULL, &st, &e)) goto done;
    if (strcmp(st.tokenizer, tl_bpe_name(bpe))) {
        tl_errf(&e, "%s: the model was trained with tokenizer '%s', not '%s' (give it with --tokenizer)", model, st.tokenizer, tl_bpe_name(bpe));
        goto done;
    }
    if (adapter) {
        tl_lora lo;
        if (tl_ckpt_load_adapter(adapter, &m, &lo, NULL, NULL, &e)) goto done;
        tl_lora_merge(&lo, &m);
        tl_lora_free(&lo);
    }
    if (!strcmp(format, "gguf")) {
        if (tl_gguf_export_gpt2(&m, bpe, have_task ? &task : NULL, name, t, out, &e)) goto done;
    } else if (!strcmp(format, "hf")) {
        tl_hf_card card = {name, base, datasets, eval_json, (long)st.step, st.total_batch, st.seq_len, st.seed};
        if (tl_hf_export_gpt2(&m, bpe, &card, t == TL_GGML_F16, out, &e)) goto done;
    } else {
        char tok[4096];
        size_t n = strlen(out);
        if (n > 4 && !strcmp(out + n - 4, ".bin")) n -= 4;
        if (n + 15 > sizeof tok) {
            tl_errf(&e, "%s: path too long", out);
            goto done;
        }
        snprintf(tok, sizeof tok, "%.*s_tokenizer.bin", (int)n, out);
        if (tl_llmc_write_model(&m, out, &e) || tl_llmc_write_tokenizer(bpe, tok, &e)) goto done;
        printf("wrote %s (llm.c tokenizer)\n", tok);
    }
    printf("exported %s (%s): gpt2 %dx%dx%d, vocab %d, %s\n", out, format, m.cfg.n_layer, m.cfg.n_head, m.cfg.n_embd,
           m.cfg.vocab, type);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_gpt2_free(&m);
    tl_bpe_free(bpe);
    if (have_task) tl_task_free(&task);
    return rc;
}
