/* `tinyllm`: the one entry point; dispatches to a subcommand. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"

#ifdef TL_NO_SERVE
static int no_serve(int argc, char **argv) {
    (void)argc, (void)argv;
    fprintf(stderr, "tinyllm: serve: this build has no HTTP server (a static build, TL_STATIC: Debian's libmicrohttpd needs "
                    "GnuTLS, which has no static library); build with TL_SERVE=ON and libmicrohttpd installed\n");
    return 1;
}
#define tl_cmd_serve no_serve
#endif

static const struct {
    const char *name;
    int (*fn)(int, char **);
    const char *summary;
} commands[] = {
    {"demo", tl_cmd_demo, "the pipeline on the shipped base: LoRA fine-tune, eval, q8_0, classify, speed (demo pretrain: from scratch)"},
    {"tokenizer", tl_cmd_tokenizer, "encode text to token ids or decode ids to text (GPT-2 BPE)"},
    {"synth", tl_cmd_synth, "synthetic sensor data (IMU, environment, gesture, breathing) as task CSV or text"},
    {"clean", tl_cmd_clean, "normalise and deduplicate documents (exact + MinHash near-duplicates) into a JSONL corpus"},
    {"prepare", tl_cmd_prepare, "tokenize text / JSONL into train and val token shards"},
    {"pretrain", tl_cmd_pretrain, "train a GPT-2 from scratch (or resume) on token shards"},
    {"finetune", tl_cmd_finetune, "fine-tune a checkpoint on prompt/response examples (full or LoRA)"},
    {"eval", tl_cmd_eval, "accuracy / error of a model on a task CSV (label likelihood and generation)"},
    {"export", tl_cmd_export, "write a checkpoint as GGUF (llama.cpp), a HuggingFace directory or llm.c files"},
    {"import", tl_cmd_import, "read a GGUF file, HF directory or llm.c file into a checkpoint"},
    {"quantize", tl_cmd_quantize, "re-encode a GGUF file's matrices as q8_0, q4_0, f16 or f32"},
    {"run", tl_cmd_run, "generate text from a GGUF model (or a checkpoint) on the CPU runtime"},
    {"classify", tl_cmd_classify, "label sensor inputs with a task model: best label and probabilities"},
    {"bench", tl_cmd_bench, "prompt-processing and generation speed (pp/tg tokens per second), like llama-bench"},
    {"serve", tl_cmd_serve, "an OpenAI-compatible HTTP server (llama-server's API) with a web page, on the CPU runtime"},
};

static void usage(FILE *f) {
    fprintf(f, "usage: tinyllm <command> [options]   (tinyllm <command> --help for each)\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        fprintf(f, "  %-10s %s\n", commands[i].name, commands[i].summary);
}

int main(int argc, char **argv) {
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help") || !strcmp(argv[1], "help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof *commands; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].fn(argc - 1, argv + 1);
    fprintf(stderr, "tinyllm: unknown command '%s' (see 'tinyllm --help')\n", argv[1]);
    return 2;
}
