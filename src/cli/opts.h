/* Command-line options for every subcommand: one table per command gives long name, short name,
 * type, destination and help. The same table parses the command line, a `--config FILE`
 * (key = value lines, keys are the long names; the command line wins), prints --help, and prints
 * the resolved settings at start. */
#ifndef TL_CLI_OPTS_H
#define TL_CLI_OPTS_H

#include <stdio.h>

#include "base/err.h"

typedef enum { TL_OPT_INT, TL_OPT_I64, TL_OPT_FLOAT, TL_OPT_STR, TL_OPT_FLAG, TL_OPT_LIST } tl_opt_type;

/* A repeatable option: each occurrence appends; occurrences on the command line replace those of
 * the config file. */
#define TL_OPT_LIST_MAX 64
typedef struct tl_opt_list {
    const char *v[TL_OPT_LIST_MAX];
    int n, from_cli;
} tl_opt_list;

typedef struct tl_opt {
    const char *name;  /* long name without dashes, e.g. "batch-size" */
    char short_name;   /* 0 for none */
    tl_opt_type type;
    void *ptr;         /* int*, long long*, float*, const char**, int* (flag), tl_opt_list* */
    const char *help;
} tl_opt;

typedef struct tl_cmd {
    const char *name;     /* "pretrain" */
    const char *usage;    /* "tinyllm pretrain --train DIR [options]" */
    const char *summary;  /* one paragraph shown by --help */
    const tl_opt *opts;
    int n_opts;
} tl_cmd;

/* Parses argv (argv[0] is the subcommand name). Positional arguments are stored in pos (up to
 * max_pos). Returns 0 to go on, 1 when --help was printed (exit 0), -1 on error (e set). */
int tl_opts_parse(const tl_cmd *c, int argc, char **argv, const char **pos, int max_pos, int *n_pos, tl_err *e);
void tl_opts_help(const tl_cmd *c, FILE *f);
/* Prints "settings:" and every option's resolved value, one per line. */
void tl_opts_print(const tl_cmd *c, FILE *f);

/* A command's prologue: parses argv like tl_opts_parse. Returns -1 to go on, otherwise the exit
 * code the command must return now (0 after --help, 1 after printing the error). */
int tl_cli_parse(const tl_cmd *c, int argc, char **argv, const char **pos, int max_pos, int *n_pos);

/* Prints `tinyllm: <msg>` to stderr and returns the CLI's failure exit code (1). */
int tl_cli_fail(const tl_err *e);

#endif
