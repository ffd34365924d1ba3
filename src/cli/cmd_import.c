/* `tinyllm import`: a gpt2-architecture GGUF file as a tinyllm checkpoint (to fine-tune or evaluate). */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "formats/gguf.h"
#include "formats/gguf_gpt2.h"
#include "train/checkpoint.h"

int tl_cmd_import(int argc, char **argv) {
    const char *out = NULL;
    tl_opt opts[] = {{"out", 'o', TL_OPT_STR, &out, "checkpoint file to write (.safetensors)"}};
    tl_cmd cmd = {"import", "tinyllm import MODEL.gguf -o CKPT.safetensors",
                  "Reads a GGUF file of architecture gpt2 (F32/F16 weights) into a model-only checkpoint that\n"
                  "finetune, eval, run and export take. The tokenizer name comes from tinyllm.tokenizer.name\n"
                  "(gpt2 when absent).\n\n"
                  "example: tinyllm import gesture.gguf -o gesture.safetensors",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[1];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 1, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos != 1 || !out) return tl_errf(&e, "import: give MODEL.gguf and -o CKPT.safetensors"), tl_cli_fail(&e);
    tl_gpt2 m;
    if (tl_gguf_import_gpt2(pos[0], &m, &e)) return tl_cli_fail(&e);
    tl_train_state st = {.tokenizer = "gpt2"};
    tl_gguf g;
    if (!tl_gguf_open(&g, pos[0], &e)) {
        const tl_gguf_kv *k = tl_gguf_find_kv(&g, "tinyllm.tokenizer.name");
        if (k && k->type == TL_GGUF_STRING && k->strs[0].n < sizeof st.tokenizer)
            snprintf(st.tokenizer, sizeof st.tokenizer, "%.*s", (int)k->strs[0].n, k->strs[0].p);
        tl_gguf_close(&g);
    }
    r = tl_ckpt_write(out, &m, NULL, &st, &e);
    if (!r) printf("imported %s -> %s: gpt2 %dx%dx%d, vocab %d, tokenizer %s\n", pos[0], out, m.cfg.n_layer, m.cfg.n_head,
                   m.cfg.n_embd, m.cfg.vocab, st.tokenizer);
    tl_gpt2_free(&m);
    return r ? tl_cli_fail(&e) : 0;
}
