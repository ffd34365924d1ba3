/* `tinyllm prepare`: text / JSONL files -> train and val token shards. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/prepare.h"
#include "tokenizer/bpe.h"

int tl_cmd_prepare(int argc, char **argv) {
    const char *out = "data", *docs = "paragraph", *field = "text", *task_path = NULL;
    float val = 0.1f;
    long long shard = 100000000, seed = 1337;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "output directory for train_*.bin, val_*.bin and meta.json"},
        {"val-fraction", 0, TL_OPT_FLOAT, &val, "share of documents drawn into the val split"},
        {"shard-tokens", 0, TL_OPT_I64, &shard, "tokens per shard file (k/M/G suffixes)"},
        {"docs", 0, TL_OPT_STR, &docs, "plain-text documents: paragraph (blank-line separated), line, or file"},
        {"field", 0, TL_OPT_STR, &field, "JSONL field holding the text"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec for .csv inputs (see tasks/*.task): rows become prompt documents"},
        {"seed", 's', TL_OPT_I64, &seed, "seed of the train/val draw"},
    };
    tl_cmd cmd = {"prepare", "tinyllm prepare [options] FILE...",
                  "Tokenizes documents with the GPT-2 tokenizer and writes llm.c-compatible token shards.\n"
                  "FILE ending in .jsonl/.json: one JSON object per line, text in --field; anything else: UTF-8\n"
                  "text cut into documents by --docs. Each document goes wholly to train or val and is\n"
                  "preceded by <|endoftext|>. Nothing is written unless every input succeeds.\n"
                  "FILE ending in .csv: sensing-task rows (header row first) rendered with --task into the\n"
                  "paper's ### Instruction / ### Input / ### Response / ### End template; also writes\n"
                  "finetune_train.jsonl and finetune_val.jsonl ({\"prompt\", \"response\"} per row, same split).\n\n"
                  "example: tinyllm prepare --out data/tiny --val-fraction 0.05 notes.txt logs.jsonl\n"
                  "         tinyllm prepare --task tasks/gesture.task --out data/gesture ../shared/datasets/gesture/train.csv",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[4096];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 4096, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos == 0) {
        tl_errf(&e, "prepare: no input files (see 'tinyllm prepare --help')");
        return tl_cli_fail(&e);
    }
    tl_prepare_opts po = {.out_dir = out, .val_fraction = val, .shard_tokens = (uint64_t)shard, .seed = (uint64_t)seed,
                          .field = field, .tokenizer_name = "gpt2"};
    if (!strcmp(docs, "paragraph")) po.split = TL_DOCS_PARAGRAPH;
    else if (!strcmp(docs, "line")) po.split = TL_DOCS_LINE;
    else if (!strcmp(docs, "file")) po.split = TL_DOCS_FILE;
    else {
        tl_errf(&e, "--docs must be paragraph, line or file, not '%s'", docs);
        return tl_cli_fail(&e);
    }
    if (shard < 1) {
        tl_errf(&e, "--shard-tokens must be >= 1");
        return tl_cli_fail(&e);
    }
    tl_opts_print(&cmd, stderr);
    tl_task task;
    if (task_path && tl_task_load(&task, task_path, &e)) return tl_cli_fail(&e);
    po.task = task_path ? &task : NULL;
    tl_bpe *bpe;
    if (tl_bpe_load_gpt2_default(&bpe, &e)) {
        if (task_path) tl_task_free(&task);
        return tl_cli_fail(&e);
    }
    tl_prepare_stats st;
    r = tl_prepare(bpe, &po, pos, npos, &st, &e);
    tl_bpe_free(bpe);
    if (task_path) tl_task_free(&task);
    if (r) return tl_cli_fail(&e);
    printf("prepared %s: %.2f MB of text -> train %llu tokens (%llu docs, %d shards), val %llu tokens (%llu docs, %d shards)\n",
           out, (double)st.bytes / 1e6, (unsigned long long)st.tokens[0], (unsigned long long)st.docs[0], st.shards[0],
           (unsigned long long)st.tokens[1], (unsigned long long)st.docs[1], st.shards[1]);
    return 0;
}
