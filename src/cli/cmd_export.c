/* `tinyllm export`: a checkpoint (+ adapter) as a GGUF file for llama.cpp and the edge runtime. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "formats/gguf.h"
#include "formats/gguf_gpt2.h"
#include "model/lora.h"
#include "train/checkpoint.h"

int tl_cmd_export(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *format = "gguf", *out = NULL, *type = "f16", *task_path = NULL,
               *tokenizer = "gpt2", *name = "tinyllm-gpt2";
    tl_opt opts[] = {
        {"model", 'm', TL_OPT_STR, &model, "checkpoint file or run directory"},
        {"adapter", 0, TL_OPT_STR, &adapter, "LoRA adapter folded into the weights first"},
        {"format", 'f', TL_OPT_STR, &format, "gguf (hf comes next)"},
        {"out", 'o', TL_OPT_STR, &out, "output file"},
        {"type", 0, TL_OPT_STR, &type, "weight matrices as f32 or f16 (norms and biases stay f32)"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec stored under tinyllm.task.* (labels, instruction, template)"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or the trained tokenizer folder the model uses"},
        {"name", 0, TL_OPT_STR, &name, "general.name"},
    };
    tl_cmd cmd = {"export", "tinyllm export -m CKPT -o model.gguf [options]",
                  "Writes a GGUF v3 file, architecture gpt2, with the tokenizer inside (tokens, merges, token\n"
                  "types, bos/eos) and the task metadata under tinyllm.*; llama.cpp and `tinyllm import` read it.\n\n"
                  "example: tinyllm export -m runs/gesture/merged.safetensors --task tasks/gesture.task -o gesture.gguf",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 0, &npos);
    if (r >= 0) return r;
    tl_err e;
    uint32_t t = !strcmp(type, "f32") ? TL_GGML_F32 : TL_GGML_F16;
    if (!model || !out) return tl_errf(&e, "export: -m and -o are required"), tl_cli_fail(&e);
    if (strcmp(format, "gguf")) return tl_errf(&e, "export: --format %s is not supported yet (gguf)", format), tl_cli_fail(&e);
    if (strcmp(type, "f32") && strcmp(type, "f16")) return tl_errf(&e, "--type must be f32 or f16, not '%s'", type), tl_cli_fail(&e);
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
    if (tl_gguf_export_gpt2(&m, bpe, have_task ? &task : NULL, name, t, out, &e)) goto done;
    printf("exported %s: gpt2 %dx%dx%d, vocab %d, %s\n", out, m.cfg.n_layer, m.cfg.n_head, m.cfg.n_embd, m.cfg.vocab, type);
    rc = 0;
done:
    if (rc) tl_cli_fail(&e);
    tl_gpt2_free(&m);
    tl_bpe_free(bpe);
    if (have_task) tl_task_free(&task);
    return rc;
}
