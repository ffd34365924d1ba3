/* `tinyllm clean`: documents from several sources -> one normalised, deduplicated JSONL corpus. */
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/opts.h"
#include "data/clean.h"

int tl_cmd_clean(int argc, char **argv) {
    const char *out = NULL;
    long long min_chars = 200;
    float near = 0.8f;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "the corpus to write (JSONL: {\"text\", \"source\"} per line)"},
        {"min-chars", 0, TL_OPT_I64, &min_chars, "drop documents shorter than this after normalisation"},
        {"near-dup", 0, TL_OPT_FLOAT, &near, "drop documents this similar (estimated Jaccard of word 5-grams) to a kept one; 0: off"},
    };
    tl_cmd cmd = {"clean", "tinyllm clean -o CORPUS.jsonl NAME=PATH... [options]",
                  "Normalises white space, drops invalid UTF-8, tiny documents, exact and near duplicates\n"
                  "(MinHash + LSH), and writes one JSONL corpus for `prepare`. PATH is a folder of text files\n"
                  "(one document per file) or a JSONL file (its \"text\" field); NAME goes into each line's\n"
                  "\"source\". Sources are read in the order given: the first copy of a document is kept.\n\n"
                  "example: tinyllm clean -o corpus.jsonl man=raw/man gcide=raw/gcide.jsonl",
                  opts, sizeof opts / sizeof *opts};
    const char *pos[256];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, 256, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!out || npos < 1) {
        tl_errf(&e, "clean: give -o CORPUS.jsonl and at least one NAME=PATH source");
        return tl_cli_fail(&e);
    }
    tl_clean_source src[256];
    char names[256][64];
    for (int i = 0; i < npos; i++) {
        const char *eq = strchr(pos[i], '=');
        if (!eq || eq == pos[i] || (size_t)(eq - pos[i]) >= sizeof names[i] || !eq[1]) {
            tl_errf(&e, "clean: source '%s' is not NAME=PATH (name up to 63 characters)", pos[i]);
            return tl_cli_fail(&e);
        }
        snprintf(names[i], sizeof names[i], "%.*s", (int)(eq - pos[i]), pos[i]);
        src[i] = (tl_clean_source){names[i], eq + 1};
    }
    tl_opts_print(&cmd, stderr);
    tl_clean_opts o = {.min_chars = min_chars > 0 ? (size_t)min_chars : 0, .near_dup = near};
    tl_clean_stats st[257];
    if (tl_clean(src, npos, &o, out, st, &e)) return tl_cli_fail(&e);
    printf("%-16s %9s %9s %10s %10s %7s %7s %7s %7s\n", "source", "docs in", "docs out", "MB in", "MB out", "short", "utf8",
           "exact", "near");
    for (int i = 0; i <= npos; i++) {
        const tl_clean_stats *s = &st[i];
        printf("%-16s %9llu %9llu %10.2f %10.2f %7llu %7llu %7llu %7llu\n", i < npos ? src[i].name : "total",
               (unsigned long long)s->docs_in, (unsigned long long)s->docs_out, (double)s->bytes_in / 1e6,
               (double)s->bytes_out / 1e6, (unsigned long long)s->short_docs, (unsigned long long)s->bad_utf8,
               (unsigned long long)s->exact_dups, (unsigned long long)s->near_dups);
    }
    return 0;
}
