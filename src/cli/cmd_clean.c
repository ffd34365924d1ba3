/* `tinyllm clean`: JSONL files and text folders -> one normalised, deduplicated JSONL corpus. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include "base/file.h"
#include "cli/commands.h"
#include "cli/opts.h"
#include "data/clean.h"

enum { MAX_INPUTS = 4096 };

static void print_row(FILE *f, const tl_clean_stats *s) {
    fprintf(f, "%-20s %9llu %9llu %9.2f %9.2f %7llu %7llu %7llu %7llu %7llu\n", s->source,
            (unsigned long long)s->docs_in, (unsigned long long)s->docs_out, (double)s->bytes_in / 1e6,
            (double)s->bytes_out / 1e6, (unsigned long long)s->short_docs, (unsigned long long)s->bad_utf8,
            (unsigned long long)s->exact_dups, (unsigned long long)s->near_dups, (unsigned long long)s->utf8_fixed);
}

/* Writes the per-source table as TSV (atomically). */
static int write_stats(const char *path, const tl_clean_report *r, tl_err *e) {
    tl_afile a;
    if (tl_afile_open(&a, path, e)) return -1;
    fprintf(a.f, "source\tdocs_in\tdocs_out\tbytes_in\tbytes_out\tshort\tbad_utf8\texact_dups\tnear_dups\tutf8_fixed\n");
    for (int i = 0; i <= r->n_src; i++) {
        const tl_clean_stats *s = i < r->n_src ? &r->src[i] : &r->total;
        fprintf(a.f, "%s\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\t%llu\n", s->source,
                (unsigned long long)s->docs_in, (unsigned long long)s->docs_out, (unsigned long long)s->bytes_in,
                (unsigned long long)s->bytes_out, (unsigned long long)s->short_docs, (unsigned long long)s->bad_utf8,
                (unsigned long long)s->exact_dups, (unsigned long long)s->near_dups, (unsigned long long)s->utf8_fixed);
    }
    return tl_afile_commit(&a, e);
}

int tl_cmd_clean(int argc, char **argv) {
    const char *out = NULL, *stats = NULL;
    long long min_chars = 200;
    float near = 0.8f;
    tl_opt opts[] = {
        {"out", 'o', TL_OPT_STR, &out, "the corpus to write (JSONL: {\"text\", \"source\"} per line)"},
        {"min-chars", 0, TL_OPT_I64, &min_chars, "drop documents with fewer characters after normalisation"},
        {"near-dup", 0, TL_OPT_FLOAT, &near, "drop documents this similar (estimated Jaccard of word 5-grams) to a kept one; 0: off"},
        {"stats", 0, TL_OPT_STR, &stats, "also write the per-source summary to this TSV file"},
    };
    tl_cmd cmd = {"clean", "tinyllm clean -o CORPUS.jsonl [NAME=]PATH... [options]",
                  "Normalises white space, replaces invalid UTF-8, drops tiny documents, exact and near\n"
                  "duplicates (MinHash over word 5-grams + LSH), and writes one JSONL corpus for `prepare`.\n"
                  "PATH is a JSONL file ({\"text\": ..., \"source\": ...} per line) or a folder of text files\n"
                  "(one document per file). A document's source is NAME when given, else the line's \"source\",\n"
                  "else the file name. Inputs are read in the order given: the first copy of a document wins.\n\n"
                  "example: tinyllm clean -o corpus.jsonl --stats clean.tsv raw/*.jsonl notes=my_texts/",
                  opts, sizeof opts / sizeof *opts};
    static const char *pos[MAX_INPUTS];
    int npos, r = tl_cli_parse(&cmd, argc, argv, pos, MAX_INPUTS, &npos);
    if (r >= 0) return r;
    tl_err e;
    if (!out || npos < 1) {
        tl_errf(&e, "clean: give -o CORPUS.jsonl and at least one input");
        return tl_cli_fail(&e);
    }
    if (min_chars < 0) {
        tl_errf(&e, "--min-chars must be >= 0");
        return tl_cli_fail(&e);
    }
    static tl_clean_input in[MAX_INPUTS];
    static char names[MAX_INPUTS][64];
    for (int i = 0; i < npos; i++) {
        const char *eq = strchr(pos[i], '=');
        struct stat sb;
        in[i] = (tl_clean_input){pos[i], NULL};
        /* NAME=PATH, unless the whole argument names an existing file or the "name" has a slash */
        if (eq && stat(pos[i], &sb) != 0 && !memchr(pos[i], '/', (size_t)(eq - pos[i]))) {
            if (eq == pos[i] || (size_t)(eq - pos[i]) >= sizeof names[i] || !eq[1]) {
                tl_errf(&e, "clean: input '%s' is not [NAME=]PATH (a name of 1 to 63 characters)", pos[i]);
                return tl_cli_fail(&e);
            }
            snprintf(names[i], sizeof names[i], "%.*s", (int)(eq - pos[i]), pos[i]);
            in[i] = (tl_clean_input){eq + 1, names[i]};
        }
    }
    tl_opts_print(&cmd, stderr);
    tl_clean_opts o = {.min_chars = (size_t)min_chars, .near_dup = near};
    tl_clean_report rep;
    if (tl_clean_run(in, npos, &o, out, &rep, &e) || (stats && write_stats(stats, &rep, &e))) {
        tl_clean_report_free(&rep);
        return tl_cli_fail(&e);
    }
    printf("%-20s %9s %9s %9s %9s %7s %7s %7s %7s %7s\n", "source", "docs in", "docs out", "MB in", "MB out", "short",
           "badutf8", "exact", "near", "fixed");
    for (int i = 0; i < rep.n_src; i++) print_row(stdout, &rep.src[i]);
    print_row(stdout, &rep.total);
    const tl_clean_stats *t = &rep.total;
    printf("clean: %llu of %llu documents kept (%.1f of %.1f MB) -> %s; dropped: %llu short, %llu invalid UTF-8, "
           "%llu exact and %llu near duplicates; %llu kept with invalid bytes replaced\n",
           (unsigned long long)t->docs_out, (unsigned long long)t->docs_in, (double)t->bytes_out / 1e6,
           (double)t->bytes_in / 1e6, out, (unsigned long long)t->short_docs, (unsigned long long)t->bad_utf8,
           (unsigned long long)t->exact_dups, (unsigned long long)t->near_dups, (unsigned long long)t->utf8_fixed);
    tl_clean_report_free(&rep);
    return 0;
}
