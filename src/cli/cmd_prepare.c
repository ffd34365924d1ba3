/* `tinyllm prepare`: text / JSONL / task CSV sources -> mixed, tokenized train and val shards. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/prepare.h"
#include "tokenizer/bpe.h"

/* "PATH=RATIO" -> a one-path source named PATH. */
static int parse_mix(const char *spec, tl_prepare_source *s, tl_err *e) {
    const char *eq = strrchr(spec, '=');
    char *end;
    double r = eq ? strtod(eq + 1, &end) : 0;
    if (!eq || eq == spec || end == eq + 1 || *end)
        return tl_errf(e, "--mix '%s': expected PATH=RATIO, e.g. --mix web.jsonl=0.7", spec);
    char *name = strndup(spec, (size_t)(eq - spec));
    if (!name) return tl_errf(e, "out of memory");
    *s = (tl_prepare_source){.name = name, .paths = (const char *const *)&s->name, .n_paths = 1, .ratio = r};
    return 0;
}

static void print_summary(const char *out, const tl_prepare_source *src, int n, const tl_prepare_stats *st) {
    uint64_t total = st->tokens[0] + st->tokens[1];
    printf("prepared %s: %.2f MB of text -> train %llu tokens (%llu docs, %d shards), val %llu tokens (%llu docs, %d shards)\n",
           out, (double)st->bytes / 1e6, (unsigned long long)st->tokens[0], (unsigned long long)st->docs[0], st->shards[0],
           (unsigned long long)st->tokens[1], (unsigned long long)st->docs[1], st->shards[1]);
    if (n < 2 && st->src[0].repeats == 0) return;
    printf("  %-32s %7s %7s %12s %12s %9s %9s %7s\n", "source", "ratio", "share", "train tok", "val tok", "train doc",
           "val doc", "repeats");
    for (int i = 0; i < n; i++) {
        const tl_prepare_src_stats *s = &st->src[i];
        printf("  %-32s %7.3f %7.3f %12llu %12llu %9llu %9llu %7d\n", src[i].name, src[i].ratio,
               total ? (double)(s->tokens[0] + s->tokens[1]) / (double)total : 0.0, (unsigned long long)s->tokens[0],
               (unsigned long long)s->tokens[1], (unsigned long long)s->docs[0], (unsigned long long)s->docs[1], s->repeats);
    }
}

int tl_cmd_prepare(int argc, char **argv) {
    const char *out = "data", *docs = "paragraph", *field = "text", *task_path = NULL, *tokenizer = "gpt2";
    float val = 0.1f;
    long long shard = 100000000, seed = 1337, tokens = 0;
    int threads = (int)sysconf(_SC_NPROCESSORS_ONLN);
    tl_opt_list mixes = {0};
    if (threads < 1) threads = 1;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "output directory for train_*.bin, val_*.bin and meta.json"},
        {"mix", 0, TL_OPT_LIST, &mixes, "PATH=RATIO: a source (file or folder) and its share of the tokens; repeat per source"},
        {"tokens", 0, TL_OPT_I64, &tokens, "stop after this many tokens (sources that run out start over); 0: until the first runs out"},
        {"val-fraction", 0, TL_OPT_FLOAT, &val, "share of documents drawn into the val split"},
        {"shard-tokens", 0, TL_OPT_I64, &shard, "tokens per shard file (k/M/G suffixes)"},
        {"docs", 0, TL_OPT_STR, &docs, "plain-text documents: paragraph (blank-line separated), line, or file"},
        {"field", 0, TL_OPT_STR, &field, "JSONL field holding the text"},
        {"task", 0, TL_OPT_STR, &task_path, "task spec for .csv inputs (see tasks/*.task): rows become prompt documents"},
        {"tokenizer", 0, TL_OPT_STR, &tokenizer, "gpt2, or a folder written by 'tinyllm tokenizer train'"},
        {"threads", 't', TL_OPT_INT, &threads, "tokenizer threads (output does not depend on it)"},
        {"seed", 's', TL_OPT_I64, &seed, "seed of the train/val draw"},
    };
    tl_cmd cmd = {"prepare", "tinyllm prepare [options] FILE...   or   tinyllm prepare --mix PATH=RATIO... [options]",
                  "Tokenizes documents (GPT-2's tokenizer, or --tokenizer) and writes llm.c-compatible token shards.\n"
                  "FILE ending in .jsonl/.json: one JSON object per line, text in --field; .csv: sensing-task\n"
                  "rows (header first) rendered with --task into the paper's ### Instruction / ### Input /\n"
                  "### Response / ### End template, also written to finetune_train.jsonl / finetune_val.jsonl\n"
                  "({\"prompt\", \"response\"}, same split); anything else: UTF-8 text cut into documents by --docs.\n"
                  "A folder stands for its files. Each document is preceded by <|endoftext|> and goes wholly to\n"
                  "train or val (a seeded hash of source and document, so never both). With --mix, the next\n"
                  "document comes from the source furthest below its share of the tokens. Nothing is written\n"
                  "unless every input succeeds.\n\n"
                  "example: tinyllm prepare --out data/tiny --val-fraction 0.05 notes.txt logs.jsonl\n"
                  "         tinyllm prepare --task tasks/gesture.task --out data/gesture ../shared/datasets/gesture/train.csv\n"
                  "         tinyllm prepare --mix corpus.jsonl=0.8 --mix sensors/=0.2 --tokens 50M --out data/mix",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[4096];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 4096, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (npos == 0 && mixes.n == 0) {
        tl_errf(&e, "prepare: no input files (see 'tinyllm prepare --help')");
        return tl_cli_fail(&e);
    }
    if (npos > 0 && mixes.n > 0) {
        tl_errf(&e, "prepare: give the inputs either as FILE... or as --mix PATH=RATIO, not both");
        return tl_cli_fail(&e);
    }
    tl_prepare_opts po = {.out_dir = out, .val_fraction = val, .shard_tokens = (uint64_t)shard, .seed = (uint64_t)seed,
                          .max_tokens = tokens > 0 ? (uint64_t)tokens : 0, .threads = threads, .field = field};
    if (!strcmp(docs, "paragraph")) po.split = TL_DOCS_PARAGRAPH;
    else if (!strcmp(docs, "line")) po.split = TL_DOCS_LINE;
    else if (!strcmp(docs, "file")) po.split = TL_DOCS_FILE;
    else {
        tl_errf(&e, "--docs must be paragraph, line or file, not '%s'", docs);
        return tl_cli_fail(&e);
    }
    if (shard < 1 || tokens < 0) {
        tl_errf(&e, shard < 1 ? "--shard-tokens must be >= 1" : "--tokens must be >= 0");
        return tl_cli_fail(&e);
    }
    tl_prepare_source src[TL_OPT_LIST_MAX];
    int nsrc = 0, rc = 1;
    tl_task task;
    tl_bpe *bpe = NULL;
    tl_prepare_stats st;
    if (mixes.n == 0) src[nsrc++] = (tl_prepare_source){.name = "inputs", .paths = pos, .n_paths = npos, .ratio = 1};
    for (; nsrc < mixes.n; nsrc++)
        if (parse_mix(mixes.v[nsrc], &src[nsrc], &e)) goto done;
    tl_opts_print(&cmd, stderr);
    if (task_path && tl_task_load(&task, task_path, &e)) goto done;
    po.task = task_path ? &task : NULL;
    if (tl_bpe_load(&bpe, tokenizer, &e)) goto done_task;
    po.tokenizer_name = tl_bpe_name(bpe);
    po.tokenizer_spec = tokenizer;
    if (!tl_prepare(bpe, &po, src, nsrc, &st, &e)) {
        print_summary(out, src, nsrc, &st);
        rc = 0;
    }
done_task:
    tl_bpe_free(bpe);
    if (task_path) tl_task_free(&task);
done:
    if (rc) tl_cli_fail(&e);
    for (int i = 0; i < nsrc && mixes.n; i++) free((char *)src[i].name);
    return rc;
}
